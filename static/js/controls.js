// controls.js: the scenario's fields as labelled sliders and selects, built from /api/fields.
//
// Integer sliders hold the real value in their low, linear part (workers 1..16, queue 0..20: the
// slider's value *is* the value there) and become logarithmic above it, in steps of about 10 %, so
// 1..256 workers is ~45 positions rather than 256 and small values are easy to hit by touch. Small
// ranges (up to 64) stay linear. Float sliders are logarithmic positions 0..1000. Every numeric
// slider has a number box beside it for an exact value. Every input carries its real value in
// data-value.

import { clip } from './api.js';

const POSITIONS = 1000;
const LINEAR_INTS = 64; // int fields with a range up to this are plain step-1 sliders
const LOG_STEP = Math.log(1.1); // above the knee, one position is about 10 % more

/** Where a wide int range stops being linear: 16 for ranges up to ~1000 (workers 1..256), else 20. */
const kneeOf = (max) => (max <= 1000 ? 16 : 20);

function retriesOff(s) {
  const clients = s.client_retries && s.producer === 'open' && ['reject', 'timeout'].includes(s.policy);
  const workers = s.retries && (s.timeout || s.rate_limit);
  if (clients || workers) return '';
  return 'Only used with retries (of calls that can fail, or of refused requests).';
}

/** When a control does not apply to the scenario as it stands, why (it is dimmed, not removed). */
const NOT_APPLICABLE = {
  burst: (s) => (s.arrivals !== 'bursts' ? 'Only used when the arrival pattern is bursts.' : ''),
  period: (s) => (!['bursts', 'wave'].includes(s.arrivals) ? 'Only used when arrivals are bursts or wave.' : ''),
  producers: (s) => (s.producer === 'open' ? 'Only used with closed producers (producer = closed).' : ''),
  put_timeout: (s) => (s.policy !== 'timeout' ? 'Only used when the queue policy is timeout.' : ''),
  codel_target: (s) => (s.codel !== 'on' ? 'Only used when CoDel is on.' : ''),
  codel_interval: (s) => (s.codel !== 'on' && s.discipline !== 'adaptive-lifo'
    ? 'Only used when CoDel is on or the queue order is adaptive-lifo.' : ''),
  limit_min: (s) => (s.limiter === 'fixed' ? 'Only used with an adaptive limiter (aimd, vegas, gradient2).' : ''),
  limit_max: (s) => (s.limiter === 'fixed' ? 'Only used with an adaptive limiter (aimd, vegas, gradient2).' : ''),
  aimd_backoff: (s) => (s.limiter !== 'aimd' ? 'Only used with the aimd limiter.' : ''),
  vegas_alpha: (s) => (s.limiter !== 'vegas' ? 'Only used with the vegas limiter.' : ''),
  vegas_beta: (s) => (s.limiter !== 'vegas' ? 'Only used with the vegas limiter.' : ''),
  gradient_tolerance: (s) => (s.limiter !== 'gradient2' ? 'Only used with the gradient2 limiter.' : ''),
  gradient_smoothing: (s) => (s.limiter !== 'gradient2' ? 'Only used with the gradient2 limiter.' : ''),
  contention: (s) => (!s.capacity ? 'Only used with a downstream capacity (capacity above 0).' : ''),
  abandon: (s) => (!s.timeout ? 'Only used with a call timeout.' : ''),
  rate_burst: (s) => (!s.rate_limit ? 'Only used with a rate limit.' : ''),
  retries: (s) => (!s.timeout && !s.rate_limit ? 'Only a call that can fail is retried: set a call timeout or a rate limit.' : ''),
  backoff: (s) => retriesOff(s),
  backoff_cap: (s) => retriesOff(s),
  jitter: (s) => retriesOff(s),
  retry_budget: (s) => (s.retries && (s.timeout || s.rate_limit) ? '' : 'Only used with retries of calls that can fail.'),
  client_retries: (s) => (s.producer !== 'open' ? 'Only used with open producers.'
    : !['reject', 'timeout'].includes(s.policy) ? 'Only used when a put can be refused (policy reject or timeout).' : ''),
  join: (s) => (s.join === 'at-start' || (s.producer === 'closed' && s.arrivals === 'asap' && s.items)
    ? '' : 'Joining at start (the handbook as printed) needs closed asap producers and a number of items.'),
};

function sig(value, digits = 3) {
  if (value === 0) return 0;
  const p = Math.pow(10, digits - 1 - Math.floor(Math.log10(Math.abs(value))));
  return Math.round(value * p) / p;
}

/** A latency for people: "430 ms" under a second, "1.25 s" from one; "–" for none. */
export function duration(seconds) {
  if (seconds == null) return '–';
  return seconds >= 1 ? `${Math.round(seconds * 100) / 100} s` : `${Math.round(seconds * 1000)} ms`;
}

export function formatNumber(value) {
  if (typeof value !== 'number') return String(value);
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  const abs = Math.abs(value);
  if (abs >= 100) return String(Math.round(value * 10) / 10);
  if (abs >= 1) return String(sig(value, 3));
  return String(sig(value, 2));
}

// A scale maps slider positions to values and back.
function makeScale(field) {
  const { kind, minimum: min, maximum: max } = field;
  if (kind === 'int' && max - min <= LINEAR_INTS) {
    return { min, max, step: 1, toValue: (p) => Math.round(p), toPosition: (v) => v, linear: true };
  }
  if (kind === 'int') {
    const knee = kneeOf(max);
    const logSpan = Math.log(max / knee);
    const top = knee + Math.ceil(logSpan / LOG_STEP); // positions min..knee linear, knee..top log
    return {
      min, max: top, step: 1,
      toValue(p) {
        if (p <= knee) return Math.round(p);
        if (p >= top) return max;
        const v = knee * Math.exp(((p - knee) / (top - knee)) * logSpan);
        return Math.min(max, Math.round(sig(v, 2)));
      },
      toPosition(v) {
        if (v <= knee) return v;
        return knee + (Math.log(v / knee) / logSpan) * (top - knee);
      },
    };
  }
  // floats: logarithmic; a minimum of 0 gets position 0 and the log scale starts at 0.01
  const zero = min <= 0;
  const lo = zero ? Math.min(0.01, max / 1000) : min;
  const first = zero ? 1 : 0;
  const span = Math.log(max / lo);
  return {
    min: 0, max: POSITIONS, step: 1,
    toValue(p) {
      if (zero && p <= 0) return 0;
      const v = lo * Math.exp(((p - first) / (POSITIONS - first)) * span);
      return Math.min(max, Math.max(min, sig(v, 2)));
    },
    toPosition(v) {
      if (zero && v <= 0) return 0;
      if (v <= lo) return first;
      return first + (Math.log(v / lo) / span) * (POSITIONS - first);
    },
  };
}

export function describeValue(field, value) {
  if (value === 0 && field.zero_means) return field.zero_means;
  if (field.kind === 'choice') return String(value);
  const text = formatNumber(value);
  return field.unit ? `${text} ${field.unit}` : text;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

/** Keys that cannot change while running (besides the seed): changing one starts a new run. */
const NEW_RUN_KEYS = ['join', 'limiter'];
const GROUP_ORDER = ['Arrivals', 'Queue', 'Workers', 'Downstream', 'Memory', 'Run'];

export class Controls {
  /**
   * @param {HTMLElement} container where the fieldsets go
   * @param {Array} fields from /api/fields
   * @param {{apply: (values: object) => Promise<object>, reseed: (seed: number) => void,
   *   reopen: (changes: object) => void}} hooks
   *   apply resolves with the control response ({scenario, link, ...}) or rejects with an HttpError.
   */
  constructor(container, fields, hooks) {
    this.container = container;
    this.fields = new Map(fields.map((f) => [f.key, f]));
    this.hooks = hooks;
    this.inputs = new Map();
    this.scales = new Map();
    this.boxes = new Map(); // key -> the number box beside a slider
    this.pending = new Map(); // key -> value waiting for the debounce
    this.timer = null;
    this.inFlight = false;
    this.scenario = null;
    this.build(fields);
  }

  build(fields) {
    const groups = new Map();
    for (const field of fields) {
      if (!groups.has(field.group)) groups.set(field.group, []);
      groups.get(field.group).push(field);
    }
    const names = [...groups.keys()].sort(
      (a, b) => (GROUP_ORDER.indexOf(a) + 99) % 99 - (GROUP_ORDER.indexOf(b) + 99) % 99);
    const fragment = document.createDocumentFragment();
    for (const name of names) {
      const fieldset = el('fieldset', { class: 'group', 'data-group': name.toLowerCase() },
        el('legend', { text: name }));
      for (const field of groups.get(name)) fieldset.append(this.buildField(field));
      fragment.append(fieldset);
    }
    this.container.replaceChildren(fragment);
  }

  buildField(field) {
    const id = `field-${field.key}`;
    const hintId = `hint-${field.key}`;
    const errorId = `error-${field.key}`;
    const wrap = el('div', { class: `field field-${field.kind}`, 'data-key': field.key });
    const label = el('label', { for: id, text: field.label });
    const output = el('output', { id: `value-${field.key}`, for: id });
    const head = el('div', { class: 'field-head' }, label, output);
    let input;
    if (field.key === 'seed') {
      // The seed cannot change while running: changing it starts a new session.
      input = el('input', { type: 'number', id, min: field.minimum, max: field.maximum, step: 1,
        inputmode: 'numeric', 'aria-describedby': `${hintId} ${errorId}` });
      input.addEventListener('change', () => {
        const seed = Number(input.value);
        if (!Number.isInteger(seed) || seed < field.minimum || seed > field.maximum) {
          this.showError(field.key, `seed must be a whole number from ${field.minimum} to ${field.maximum}.`);
          this.revert(field.key);
          return;
        }
        if (this.scenario && seed === this.scenario.seed) return;
        this.showError(field.key, '');
        this.hooks.reseed(seed);
      });
    } else if (field.kind === 'choice') {
      input = el('select', { id, 'aria-describedby': `${hintId} ${errorId}` });
      for (const choice of field.choices) input.append(el('option', { value: choice, text: choice }));
      input.addEventListener('change', () => {
        if (NEW_RUN_KEYS.includes(field.key)) { // cannot change while running: a new run
          this.hooks.reopen({ [field.key]: input.value });
          return;
        }
        this.changed(field.key, input.value);
        this.updateApplicable(this.shownScenario());
      });
    } else {
      const scale = makeScale(field);
      this.scales.set(field.key, scale);
      input = el('input', { type: 'range', id, min: scale.min, max: scale.max, step: scale.step,
        'aria-describedby': `${hintId} ${errorId}` });
      input.addEventListener('input', () => {
        const value = scale.toValue(Number(input.value));
        this.show(field.key, value);
        this.changed(field.key, value);
      });
    }
    this.inputs.set(field.key, input);
    const hint = el('small', { id: hintId, class: 'hint', text: field.key === 'seed' || NEW_RUN_KEYS.includes(field.key)
      ? `${field.hint} Changing it starts a new run.` : field.hint });
    const error = el('p', { id: errorId, class: 'field-error', role: 'status' });
    const note = el('small', { id: `note-${field.key}`, class: 'na-note', hidden: true });
    let row = input;
    if (this.scales.has(field.key)) {
      const box = this.buildNumberBox(field, `${hintId} ${errorId}`);
      row = el('div', { class: 'field-row' }, input, box);
    }
    if (NOT_APPLICABLE[field.key]) input.setAttribute('aria-describedby', `note-${field.key} ${hintId} ${errorId}`);
    wrap.append(head, row, note, hint, error);
    this.show(field.key, field.default);
    return wrap;
  }

  /** A number box beside a slider: typing a value (Enter or leaving the box) applies it, checked
   *  against the field's range first. */
  buildNumberBox(field, describedBy) {
    const box = el('input', { type: 'number', id: `number-${field.key}`, class: 'number-box',
      min: field.minimum, max: field.maximum, step: field.kind === 'int' ? 1 : 'any',
      inputmode: field.kind === 'int' ? 'numeric' : 'decimal',
      'aria-label': `${field.label}${field.unit ? ` in ${field.unit}` : ''}, exact value`,
      'aria-describedby': describedBy });
    const apply = () => {
      const text = box.value.trim();
      const value = Number(text);
      const range = `${formatNumber(field.minimum)} to ${formatNumber(field.maximum)}`;
      const whole = field.kind === 'int';
      if (text === '' || !Number.isFinite(value) || (whole && !Number.isInteger(value))
          || value < field.minimum || value > field.maximum) {
        this.showError(field.key, `${field.label} must be ${whole ? 'a whole number' : 'a number'} from ${range}`
          + `${field.unit ? ` ${field.unit}` : ''}; got "${clip(box.value || text, 20)}".`);
        box.setAttribute('aria-invalid', 'true');
        return;
      }
      box.setAttribute('aria-invalid', 'false');
      this.showError(field.key, '');
      if (Number(box.dataset.value) === value && !this.pending.has(field.key)) return;
      this.setInput(field.key, value);
      this.changed(field.key, value);
    };
    box.addEventListener('change', apply);
    box.addEventListener('keydown', (event) => { if (event.key === 'Enter') { event.preventDefault(); apply(); } });
    this.boxes.set(field.key, box);
    return box;
  }

  /** Dim the controls that do not apply to `scenario` (with a note why); they stay usable. */
  updateApplicable(scenario) {
    for (const [key, why] of Object.entries(NOT_APPLICABLE)) {
      const input = this.inputs.get(key);
      if (!input) continue;
      const text = why(scenario);
      const wrap = input.closest('.field');
      wrap.classList.toggle('not-applicable', Boolean(text));
      const note = document.getElementById(`note-${key}`);
      if (note.textContent !== text) note.textContent = text;
      note.hidden = !text;
    }
  }

  /** The scenario as the page shows it now: the running one with the changes not yet applied. */
  shownScenario() {
    const shown = { ...(this.scenario || {}) };
    for (const [key, input] of this.inputs) {
      if (input.tagName === 'SELECT') shown[key] = input.value;
    }
    return shown;
  }

  /** Show a value in the field's input, output and aria-valuetext without applying it. */
  show(key, value) {
    const field = this.fields.get(key);
    const input = this.inputs.get(key);
    const output = document.getElementById(`value-${key}`) || input.closest('.field').querySelector('output');
    const text = describeValue(field, value);
    output.textContent = text;
    input.dataset.value = String(value);
    if (input.type === 'range') input.setAttribute('aria-valuetext', text);
    const box = this.boxes?.get(key);
    if (box && document.activeElement !== box) {
      box.value = String(value);
      box.dataset.value = String(value);
      box.setAttribute('aria-invalid', 'false');
    }
  }

  setInput(key, value) {
    const input = this.inputs.get(key);
    if (!input) return;
    const scale = this.scales.get(key);
    if (scale) input.value = String(Math.round(scale.toPosition(value)));
    else input.value = String(value);
    this.show(key, value);
  }

  /** Set every control from a scenario (skipping fields the person is changing right now). */
  setScenario(scenario) {
    this.scenario = { ...scenario };
    for (const key of this.inputs.keys()) {
      if (this.pending.has(key) || !(key in scenario)) continue;
      if (key === 'seed' && document.activeElement === this.inputs.get(key)) {
        this.show(key, scenario[key]); // keep what is being typed; the output shows the running seed
        continue;
      }
      this.setInput(key, scenario[key]);
    }
    this.updateApplicable(this.shownScenario());
  }

  clearErrors() {
    for (const key of this.inputs.keys()) this.showError(key, '');
  }

  revert(key) {
    if (this.scenario && key in this.scenario) this.setInput(key, this.scenario[key]);
  }

  showError(key, message) {
    const node = document.getElementById(`error-${key}`);
    if (!node) return;
    node.textContent = message;
    this.inputs.get(key)?.setAttribute('aria-invalid', message ? 'true' : 'false');
    this.boxes.get(key)?.setAttribute('aria-invalid', message ? 'true' : 'false');
  }

  changed(key, value) {
    this.pending.set(key, value);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), 150);
  }

  async flush() {
    if (this.inFlight) { // one request at a time; try again when this one is done
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.flush(), 60);
      return;
    }
    if (!this.pending.size) return;
    const values = Object.fromEntries(this.pending);
    this.pending.clear();
    this.inFlight = true;
    try {
      await this.hooks.apply(values);
      for (const key of Object.keys(values)) this.showError(key, '');
    } catch (error) {
      const keys = Object.keys(values);
      const key = error.field && this.fields.has(error.field) ? error.field : keys[0];
      this.showError(key, clip(error.message || 'That value was not applied.'));
      for (const k of keys) if (!this.pending.has(k)) this.revert(k);
    } finally {
      this.inFlight = false;
    }
  }
}
