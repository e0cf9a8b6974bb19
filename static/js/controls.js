// controls.js: the scenario's fields as labelled sliders and selects, built from /api/fields.
//
// Integer sliders hold the real value for the first 100 steps (queue 0..100 is linear, so the
// slider's value *is* the queue size there) and become logarithmic above that; float sliders are
// logarithmic positions 0..1000. Every input carries its real value in data-value.

import { clip } from './api.js';

const POSITIONS = 1000;
const LINEAR_INTS = 1000; // int fields with a range up to this are plain step-1 sliders
const KNEE = 100; // big int ranges: linear up to here, then logarithmic

function sig(value, digits = 3) {
  if (value === 0) return 0;
  const p = Math.pow(10, digits - 1 - Math.floor(Math.log10(Math.abs(value))));
  return Math.round(value * p) / p;
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
    const knee = Math.min(KNEE, max);
    const logSpan = Math.log(max / knee);
    const top = knee + (POSITIONS - KNEE); // positions min..knee linear, knee..top log
    return {
      min, max: top, step: 1,
      toValue(p) {
        if (p <= knee) return Math.round(p);
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

const GROUP_ORDER = ['Arrivals', 'Queue', 'Workers', 'Downstream', 'Memory', 'Run'];

export class Controls {
  /**
   * @param {HTMLElement} container where the fieldsets go
   * @param {Array} fields from /api/fields
   * @param {{apply: (values: object) => Promise<object>, reseed: (seed: number) => void}} hooks
   *   apply resolves with the control response ({scenario, link, ...}) or rejects with an HttpError.
   */
  constructor(container, fields, hooks) {
    this.container = container;
    this.fields = new Map(fields.map((f) => [f.key, f]));
    this.hooks = hooks;
    this.inputs = new Map();
    this.scales = new Map();
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
      input.addEventListener('change', () => this.changed(field.key, input.value));
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
    const hint = el('small', { id: hintId, class: 'hint', text: field.key === 'seed'
      ? `${field.hint} Changing it starts a new run.` : field.hint });
    const error = el('p', { id: errorId, class: 'field-error', role: 'status' });
    wrap.append(head, input, hint, error);
    this.show(field.key, field.default);
    return wrap;
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
