// app.js: the page's entry point. Boot, one session, one EventSource, one draw loop.

import * as api from './api.js';
import { clip } from './api.js';
import { Controls } from './controls.js';
import { EventLog } from './eventlog.js';
import { Questions } from './questions.js';
import { Pipeline } from './pipeline.js';
import { Charts } from './charts.js';
import { CodeView } from './codeview.js';
import { TheoryView } from './theoryview.js';
import { CompareView, SHARED } from './compareview.js';
import { CurveView } from './curve.js';
import { fillPairs, guessWords, keyNumbers } from './roomwords.js';
import { opensPaused } from './start.js';

const DEFAULT_LINK = 'v=1&preset=background-jobs';
/** The Hiccup button's fault: the downstream 5 times slower for 3 s (a GC pause, a failover). */
const HICCUP = { factor: 5, seconds: 3 };
const BURST_N = 20;
const DRAW_TIMES = 600;
const SUMMARY_EVERY_MS = 5000;
const THEME_KEY = 'playground-theme';

const $ = (id) => document.getElementById(id);

const playground = window.playground = {
  frames: 0, lastFrame: null, drawTimes: [], firstDrawAt: null,
};

const app = {
  fields: [], presets: [], session: null, source: null, scenario: null, link: DEFAULT_LINK,
  run: null, frame: null, dirty: false, drawn: false, paused: false,
  recovery: null, recoveredAt: null, lastFailures: 0,
  controls: null, log: null, questions: null, pipeline: null, charts: null, codeView: null, theory: null, generation: 0,
  // Compare mode: the frame's {b_scenario, label, differs} while B runs beside A, else null.
  compare: null, compareView: null, pipelineB: null, theoryB: null, windowsB: [],
  // The address bar holds a link with errors: leave it as typed until the person changes something.
  keepAddress: false,
  // The run is over (finished, halted or ended): its status, else null.
  over: null, windows: [], windowColumns: [], summaryKey: '',
  // A note for the status line after a refused shortcut: {text, until}.
  note: null,
  // Open paused at t = 0 with a "Step ▶" prompt (the handbook's half-second run).
  stepFirst: false,
};

// Status ----------------------------------------------------------------------------------------

function setStatus(state, text) {
  const node = $('status');
  if (node.dataset.state !== state) node.dataset.state = state;
  const textNode = $('status-text');
  if (textNode.textContent !== text) textNode.textContent = text;
  $('restart-session').hidden = state !== 'ended';
}

const speedText = (s) => `${Number(s)}×`;

function statusFromFrame(frame) {
  const note = app.note && performance.now() < app.note.until ? ` ${app.note.text}` : '';
  if (!note) app.note = null;
  const t = `${frame.t.toFixed(1)} s`;
  switch (frame.status) {
    case 'paused':
      return setStatus('paused', `Paused at ${t}.${note}`);
    case 'finished':
    case 'halted':
    case 'ended':
      return setStatus(frame.status, clip(frame.message || `The run ${frame.status} at ${t}.`) + note);
    default: {
      let text = `Live: ${t} at ${speedText(frame.speed)}`;
      if (frame.throttled) {
        text += `; the server is busy, so it runs at ${speedText(Math.round(frame.effective_speed * 100) / 100)} for now`;
      }
      if (frame.state?.draining) text += '; draining';
      return setStatus('live', `${text}.${note}`);
    }
  }
}

function showNotice(text) {
  const node = $('notice');
  node.textContent = text;
  node.hidden = !text;
}

/** Every bad key of the link in the address bar, named in the (role=alert) notice. */
function showLinkErrors(errors, query, more = 0) {
  const node = $('notice');
  const intro = document.createElement('p');
  const n = errors.length + more;
  intro.textContent = `The link "?${clip(safeDecode(query))}" has ${n === 1 ? 'a problem' : `${n} problems`}; `
    + `${n === 1 ? 'that key was' : 'those keys were'} left out and the rest of the link applies:`;
  const list = document.createElement('ul');
  list.id = 'link-errors';
  for (const error of errors) {
    const item = document.createElement('li');
    if (error.field) {
      const key = document.createElement('code');
      key.textContent = clip(error.field, 40);
      item.append(key, ': ');
    }
    item.append(clip(error.message));
    list.append(item);
  }
  if (more) { // the server reports the first few and counts the rest
    const item = document.createElement('li');
    item.textContent = `and ${more} more.`;
    list.append(item);
  }
  const outro = document.createElement('p');
  outro.textContent = 'The address bar keeps your link so you can fix it; change a control or pick a preset '
    + 'to replace it with the running scenario.';
  node.replaceChildren(intro, list, outro);
  node.hidden = false;
}

/** A shortcut or button that cannot act now says why in the status line (and to screen readers). */
function sayWhy(text) {
  app.note = { text, until: performance.now() + 6000 };
  if (app.frame) statusFromFrame(app.frame);
  announce(text);
}

// Scenario and address bar ----------------------------------------------------------------------

function applyScenario(scenario, link) {
  if (scenario) {
    app.scenario = scenario;
    app.controls?.setScenario(controlledScenario());
    syncPresetSelect(scenario);
  }
  if (link !== undefined && link !== null) {
    if (link !== app.link || !app.noticeShown) showPresetNotice(link);
    app.noticeShown = true;
    app.link = link;
    app.codeView?.show(link);
    const url = `${location.pathname}?${link}`;
    if (!app.keepAddress && url !== location.pathname + location.search) history.replaceState(null, '', url);
  }
}

/** The scenario the controls show: B's while changes go to B alone, else A's. */
function controlledScenario() {
  return app.compare && app.compareView?.target === 'b' ? app.compare.b_scenario : app.scenario;
}

/** Enter, change or leave compare mode (`compare` from a full frame or a control's answer). */
function setCompare(compare) {
  const was = Boolean(app.compare);
  app.compare = compare || null;
  app.compareView.show(app.compare);
  if (app.compare && !app.pipelineB) {
    app.pipelineB = new Pipeline($('pipeline-b'));
    app.theoryB = new TheoryView($('theory-b'));
  }
  if (was !== Boolean(app.compare)) {
    app.charts?.setCompare(Boolean(app.compare));
    app.windowsB = [];
  }
  if (app.scenario) app.controls?.setScenario(controlledScenario());
}

/** Send control changes where the compare target says; arrival keys always to both. */
function applyValues(values) {
  if (!app.compare) return control({ set: values });
  const to = app.compareView.target;
  const shared = Object.fromEntries(Object.entries(values).filter(([key]) => SHARED.includes(key)));
  const own = Object.fromEntries(Object.entries(values).filter(([key]) => !SHARED.includes(key)));
  const sends = [];
  if (Object.keys(shared).length) sends.push(control({ set: shared, to: 'both' }));
  if (Object.keys(own).length) sends.push(control({ set: own, to }));
  return Promise.all(sends).then((results) => results[results.length - 1]);
}

/** Compare…, Fork B here, Swap, Stop comparing. */
async function compareControl(what) {
  const view = app.compareView;
  try {
    await control({ compare: what });
    if (what === 'start' || what === 'fork') {
      view.target = 'b';
      if (app.scenario) app.controls?.setScenario(controlledScenario());
      view.say(what === 'start'
        ? 'B is a copy of A, and both started again on the same arrivals. Changes now go to B.'
        : 'B is a copy of A\'s run as it is now. Changes now go to B: watch both futures.');
    } else {
      view.say(what === 'swap' ? 'A and B swapped.' : 'Stopped comparing: A runs on alone.');
    }
    announce(view.nodes.status.textContent);
  } catch (error) {
    view.say(`That did not work: ${clip(error.message)}`);
  }
}

function syncPresetSelect(scenario) {
  const select = $('presets');
  const name = scenario.preset && app.presets.some((p) => p.name === scenario.preset) ? scenario.preset : '';
  if (select.value !== name) select.value = name;
}

/** The preset's one-click changes ("Set the limit to 8"), applied live; each is what one of its
 *  claims is about, and the notice then says what changed and what still holds. */
function showTryThis(preset) {
  const node = $('try-this');
  const tries = preset?.try_this || [];
  node.hidden = !tries.length;
  if (node.dataset.preset === (preset?.name || '')) return;
  node.dataset.preset = preset?.name || '';
  const label = document.createElement('span');
  label.className = 'try-this-label';
  label.textContent = 'Try this:';
  const buttons = tries.map((item) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = item.label;
    button.addEventListener('click', () => {
      app.keepAddress = false;
      if (item.open) { // a change that cannot be made live: open that link as a new run
        showNotice('');
        showPresetNotice(item.open);
        startSession(item.open);
      } else {
        control({ set: item.set });
      }
    });
    return button;
  });
  node.replaceChildren(...(tries.length ? [label, ...buttons] : []));
}

/** The preset's notice for the link: the whole notice for the preset as it is; for a link that
 *  changes it, "Modified from …" with the changes, and only the claims that do not depend on
 *  them (the rest of the notice may no longer be true). */
function showPresetNotice(link) {
  const query = new URLSearchParams(link);
  const preset = app.presets.find((p) => p.name === query.get('preset'));
  const node = $('preset-notice');
  node.hidden = !preset;
  showTryThis(preset);
  if (!preset) { node.textContent = ''; return; }
  const changes = [...query.entries()].filter(([key]) => !['v', 'preset', 'seed'].includes(key));
  if (!changes.length) {
    node.textContent = `${preset.title}. ${preset.notice}`;
    return;
  }
  const changed = new Set(changes.map(([key]) => key));
  const holding = (preset.claims || []).filter((c) => !c.depends_on.some((key) => changed.has(key)));
  const words = changes.map(([key, value]) => `${key.replaceAll('_', ' ')} ${value}`).join(', ');
  node.textContent = `Modified from "${preset.title}": ${words}.`
    + (holding.length ? ` Still true: ${holding.map((c) => c.sentence).join(' ')}` : '');
}

function setPaused(paused) {
  app.paused = paused;
  const banner = $('paused-banner'); // the presenter view says it big
  if (banner) banner.hidden = !(paused && document.body.classList.contains('presenting'));
  const button = $('pause');
  button.setAttribute('aria-pressed', String(paused));
  button.textContent = paused ? 'Resume' : 'Pause';
}

// Session and stream ----------------------------------------------------------------------------

function closeStream() {
  if (app.source) {
    app.source.close();
    app.source = null;
  }
}

function adoptSession(session) {
  app.session = session;
  app.run = null;
  app.windows = [];
  app.charts.reset();
  app.log.clear();
  app.controls?.clearErrors();
  applyScenario(session.scenario, session.link);
}

async function startSession(link, { replacing = true } = {}) {
  stopRecovery();
  const generation = ++app.generation;
  const old = app.session;
  closeStream();
  app.session = null;
  if (old && replacing) api.closeSession(old);
  setStatus('connecting', 'Starting a session…');
  let session;
  try {
    // The handbook's run is over in under half a second at 1x: it opens paused at an unplayed
    // t = 0, to step through (the session starts so, with no controls to send first).
    performance.mark('pg:session-request');
    session = await (api.takePrefetchedSession(link)
      || api.createSession(link, { signal: timeoutSignal(), paused: opensPaused(link) }));
    performance.mark('pg:session');
  } catch (error) {
    if (generation !== app.generation) return;
    if (error.status === 422 && link !== DEFAULT_LINK) {
      showNotice(`Ignored the link "${clip(link)}": ${clip(error.message)} Opened the defaults instead.`);
      startSession(DEFAULT_LINK);
      return;
    }
    // Unreachable, full (503, Retry-After), or any other refusal: retry with backoff.
    beginRecovery({ link, error, why: 'Could not start a session.', keep: false });
    return;
  }
  if (generation !== app.generation) { api.closeSession(session); return; }
  app.stepFirst = Boolean(session.frame?.paused) && opensPaused(session.link);
  adoptSession(session);
  // The session's answer carries its first frame: draw it now, before the stream opens.
  if (session.frame) onFrame(session.frame);
  openStream(session);
}

function openStream(session) {
  closeStream();
  const source = new EventSource(session.stream);
  app.source = source;
  let ended = null; // the server's own last word on this session ("reached its lifetime…")
  source.addEventListener('frame', (event) => {
    if (app.source !== source) return;
    let frame;
    try { frame = JSON.parse(event.data); } catch { return; }
    if (app.recovery) finishRecovery(session, frame);
    onFrame(frame);
    if (frame.status === 'ended') ended = frame.message || 'This session has ended.';
  });
  source.addEventListener('bye', () => {
    if (app.source !== source) return;
    // The server is stopping, and its sessions go with it: start this scenario again once it is back.
    beginRecovery({ why: 'The server is restarting.' });
  });
  source.addEventListener('error', () => {
    if (app.source !== source) return;
    if (ended) {
      // The server ended this session on purpose and said why (its lifetime): that stays ended
      // until the person asks for a new one, or a forgotten tab would run for ever.
      sessionEnded(ended);
      return;
    }
    const rec = app.recovery;
    if (source.readyState === EventSource.CLOSED) {
      // 404 or 410 (or another refusal): the server does not know this session (any more).
      closeStream();
      if (!rec) {
        beginRecovery({ why: 'The server no longer knows this session (it restarted, or the session timed out).',
          delay: 0 });
      } else if (rec.created === session) {
        // A session made by this recovery was refused at once: do not make another straight away.
        api.closeSession(session);
        rec.session = rec.created = null;
        recoveryFailed(null, 'the server refused the new session\'s stream');
      } else {
        rec.session = null; // the old session is gone: make a new one now, in this same attempt
        attemptRecovery({ counted: false });
      }
    } else if (!rec) {
      // The connection dropped; the session may well live on. The page takes over from the
      // browser's own retry (every second, for ever) with its backoff.
      beginRecovery({ session, why: 'Lost the connection to the server.' });
    } else {
      closeStream();
      recoveryFailed(null);
    }
  });
}

function sessionEnded(text) {
  stopRecovery();
  closeStream();
  app.session = null;
  setStatus('ended', clip(text));
  announce(clip(text));
}

// Recovery --------------------------------------------------------------------------------------
//
// When the stream drops, the server forgets the session (a restart) or a session cannot be
// started, the page gets its scenario back by itself: it reopens the old session's stream if that
// session may still live, otherwise it creates a new session from app.link (the link in the
// address bar, with every live change), retrying with capped exponential backoff and jitter while
// the server is unreachable or full (honouring Retry-After). A hidden tab waits until it is shown.
// Speed, pause and control changes made meanwhile are sent again once frames flow.

const BACKOFF_FIRST_MS = 500;
const BACKOFF_CAP_MS = 10_000;
const ATTEMPT_TIMEOUT_MS = 10_000;
const RETRY_AFTER_CAP_S = 300;
/** A recovery that starts this soon after the last one carries its failure count on. */
const CALM_MS = 10_000;

/** The wait before the first attempt (0 failures so far) and after each failed one: 0.5 s, 1, 2,
 *  4, 8, 10, 10… less up to 20 % jitter, so pages cut off together do not come back together. */
function backoffDelay(failures) {
  const base = Math.min(BACKOFF_CAP_MS, BACKOFF_FIRST_MS * 2 ** Math.max(0, failures));
  return Math.round(base * (0.8 + 0.2 * Math.random()));
}

function timeoutSignal(ms = ATTEMPT_TIMEOUT_MS) {
  return typeof AbortSignal.timeout === 'function' ? AbortSignal.timeout(ms) : undefined;
}

function announce(text) {
  const node = $('status-announce');
  if (node && node.textContent !== text) node.textContent = text;
}

/** Start (or redirect) the recovery. `session`: one that may still live, tried first; `keep`: send
 *  the speed and pause the page had to the session that comes back. */
function beginRecovery({ session = null, link = app.link, why = '', delay = null, error = null,
  keep = true }) {
  closeStream();
  app.generation += 1; // a startSession still waiting for its answer drops it
  app.session = null; // gone, or (session) to be tried again: either way no control goes to it now
  let rec = app.recovery;
  if (!rec) {
    const recent = app.recoveredAt !== null && performance.now() - app.recoveredAt < CALM_MS;
    rec = app.recovery = {
      // Sessions lost again and again soon after coming back escalate the backoff too.
      link, session, created: null, attempt: 0, failures: recent ? app.lastFailures + 1 : 0,
      state: 'reconnecting', detail: '', nextAt: null, waiting: false,
      timer: null, ticker: null, guard: null,
      speed: keep ? Number($('speed').value) : null, paused: keep ? app.paused : null, pendingSet: {},
    };
    announce(`${why} Reconnecting automatically.`.trim());
    if (recent) delay = null; // no immediate retry for a session lost again so soon
  } else {
    rec.session = session;
    rec.link = link;
  }
  if (error) {
    rec.attempt += 1;
    recoveryFailed(error);
  } else {
    scheduleAttempt(delay ?? backoffDelay(rec.failures));
  }
}

function stopTimers(rec) {
  clearTimeout(rec.timer);
  clearInterval(rec.ticker);
  clearTimeout(rec.guard);
  rec.timer = rec.ticker = rec.guard = null;
}

function stopRecovery() {
  const rec = app.recovery;
  if (!rec) return;
  stopTimers(rec);
  app.recovery = null;
}

function scheduleAttempt(delay) {
  const rec = app.recovery;
  stopTimers(rec);
  rec.waiting = false;
  rec.nextAt = performance.now() + delay;
  showRecovery();
  rec.ticker = setInterval(showRecovery, 250);
  rec.timer = setTimeout(() => attemptRecovery(), delay);
}

function showRecovery() {
  const rec = app.recovery;
  if (!rec) return;
  let when;
  if (rec.waiting) {
    when = `attempt ${rec.attempt + 1} when this tab is shown again`;
  } else if (rec.nextAt === null) {
    when = `attempt ${rec.attempt}, trying now`;
  } else {
    const seconds = Math.max(1, Math.ceil((rec.nextAt - performance.now()) / 1000));
    when = `attempt ${rec.attempt + 1}, next try in ${seconds} s`;
  }
  if (rec.state === 'full') {
    setStatus('full', `The server is full${rec.detail ? `: ${rec.detail}` : '.'} Retrying… (${when})`);
  } else {
    setStatus('reconnecting', `Reconnecting to the server… (${when})${rec.detail ? `. ${rec.detail}` : ''}`);
  }
}

async function attemptRecovery({ counted = true } = {}) {
  const rec = app.recovery;
  if (!rec) return;
  stopTimers(rec);
  if (document.hidden) { // wait for the person to come back rather than retry in the background
    rec.waiting = true;
    showRecovery();
    return;
  }
  rec.waiting = false;
  if (counted) rec.attempt += 1;
  rec.nextAt = null;
  showRecovery();
  if (rec.session) {
    // The session may still live: its stream answers with frames (resumed), 404/410 (gone: a new
    // session next), or a network error (still unreachable: back off). See openStream's handlers.
    rec.guard = setTimeout(() => { if (app.recovery === rec) { closeStream(); recoveryFailed(null); } },
      ATTEMPT_TIMEOUT_MS);
    openStream(rec.session);
    return;
  }
  let session;
  try {
    session = await api.createSession(rec.link, { signal: timeoutSignal() });
  } catch (error) {
    if (app.recovery !== rec) return;
    if (error.status === 422 && rec.link !== DEFAULT_LINK) {
      showNotice(`Could not start the link "${clip(rec.link)}" again: ${clip(error.message)} `
        + 'Opened the defaults instead.');
      rec.link = DEFAULT_LINK;
      rec.pendingSet = {};
      attemptRecovery({ counted: false });
      return;
    }
    recoveryFailed(error);
    return;
  }
  if (app.recovery !== rec) { api.closeSession(session); return; }
  rec.session = rec.created = session;
  rec.guard = setTimeout(() => {
    if (app.recovery === rec) { closeStream(); recoveryFailed(null, 'the new session sent no frame'); }
  }, ATTEMPT_TIMEOUT_MS);
  openStream(session);
}

function recoveryFailed(error, why = '') {
  const rec = app.recovery;
  if (!rec) return;
  rec.failures += 1;
  let delay = backoffDelay(rec.failures);
  rec.state = 'reconnecting';
  rec.detail = why ? `Last try: ${why}.` : '';
  if (error?.status === 503 || error?.status === 429) {
    const wait = Math.min(RETRY_AFTER_CAP_S, Number(error.retryAfter) || 1) * 1000;
    delay = Math.max(delay, wait);
    if (error.status === 503) {
      rec.state = 'full';
      rec.detail = clip(error.message);
    } else {
      rec.detail = `The server said: ${clip(error.message)}`;
    }
  } else if (error instanceof api.HttpError) {
    rec.detail = `The server said: ${clip(error.message)}`;
  }
  scheduleAttempt(delay);
}

function finishRecovery(session, frame) {
  const rec = app.recovery;
  stopTimers(rec);
  app.recovery = null;
  app.recoveredAt = performance.now();
  app.lastFailures = rec.failures;
  const fresh = rec.created === session;
  if (fresh) {
    adoptSession(session);
    app.log.mark('— reconnected: a new session; the run starts again —');
    announce('Reconnected. The server had lost the session, so the scenario starts again from the beginning.');
  } else {
    app.session = session;
    announce('Reconnected.');
  }
  restoreAfterRecovery(session, frame, rec);
}

/** Send what the person had, or chose while waiting: speed, pause, control changes. */
function restoreAfterRecovery(session, frame, rec) {
  const body = {};
  const speed = rec.speed;
  if (speed !== null && Number.isFinite(speed) && frame.speed !== undefined && speed !== frame.speed) {
    body.speed = speed;
  }
  const paused = Boolean(frame.paused ?? frame.status === 'paused');
  if (rec.paused !== null && rec.paused !== paused && ['running', 'paused'].includes(frame.status)) {
    body.action = rec.paused ? 'pause' : 'resume';
  }
  const send = async () => {
    if (Object.keys(body).length) await control(body).catch(() => {});
    const values = rec.pendingSet;
    const keys = Object.keys(values);
    if (!keys.length || app.session !== session) return;
    try {
      await control({ set: values });
    } catch (error) {
      const key = error.field && keys.includes(error.field) ? error.field : keys[0];
      app.controls?.showError(key, clip(error.message || 'That value was not applied.'));
    }
  };
  send();
}

/** A control asked for while there is no session, during a recovery: kept for when it succeeds. */
function deferControl(body) {
  const rec = app.recovery;
  if (body.set) Object.assign(rec.pendingSet, body.set);
  if (body.speed !== undefined) rec.speed = Number(body.speed);
  if (body.action === 'pause' || body.action === 'resume') {
    rec.paused = body.action === 'pause';
    setPaused(rec.paused);
  } else if (body.action) {
    throw new Error('not connected to the server right now; reconnecting.');
  }
  return { deferred: true };
}

function onVisible() {
  const rec = app.recovery;
  if (!document.hidden && rec?.waiting) attemptRecovery();
}

function onOnline() {
  const rec = app.recovery;
  if (rec && rec.timer !== null && !rec.waiting) attemptRecovery(); // the network is back: try now
}

function onFrame(frame) {
  playground.frames += 1;
  playground.lastFrame = frame;
  app.frame = frame;
  if (frame.full) {
    app.windows = [];
    app.windowsB = [];
    if (frame.window_columns) app.windowColumns = frame.window_columns;
    if (frame.window) app.windowSeconds = frame.window;
    app.charts.reset();
    setCompare(frame.compare || null);
    if (frame.scenario) applyScenario(frame.scenario, frame.link);
    setPaused(Boolean(frame.paused));
  }
  if (app.run !== null && frame.run !== app.run) {
    app.windows = [];
    app.charts.reset();
    if (!frame.full) app.log.mark(`— run ${frame.run} starts —`);
  }
  app.run = frame.run;
  setPaused(frame.status === 'paused');
  if (frame.speed !== undefined) {
    const speed = $('speed');
    const value = String(frame.speed);
    if (speed.value !== value && [...speed.options].some((o) => o.value === value)) speed.value = value;
  }
  try { app.pipeline.setFrame(frame); } catch (error) { console.warn('pipeline.setFrame', error); }
  if (frame.windows?.length) {
    app.charts.add(frame.windows);
    app.windows.push(...frame.windows);
    if (app.windows.length > 2000) app.windows.splice(0, app.windows.length - 2000);
  }
  const b = app.compare ? frame.b : null;
  app.log.add(frame.events, frame.events_skipped, b ? 'A' : '');
  if (b) {
    const bFrame = { ...frame, ...b, scenario: frame.full ? app.compare.b_scenario : undefined };
    try { app.pipelineB.setFrame(bFrame); } catch (error) { console.warn('pipelineB.setFrame', error); }
    if (b.windows?.length) {
      app.charts.addB(b.windows);
      app.windowsB.push(...b.windows);
      if (app.windowsB.length > 2000) app.windowsB.splice(0, app.windowsB.length - 2000);
    }
    app.log.add(b.events, b.events_skipped, 'B');
    app.theoryB.update(b.theory, app.compare.b_scenario, { force: Boolean(frame.full) });
    app.compareView.update(frame.outcomes);
  }
  app.questions.update(app.scenario, frame.state, b ? app.compare.b_scenario : null, b?.state);
  app.theory.update(frame.theory, app.scenario, { force: Boolean(frame.full) });
  if (frame.theory) app.charts.setReferences(theoryReferences(frame.theory.model));
  if (app.session) app.curve.update(frame.sweep, app.session, app.link);
  if (frame.room) {
    showRoom(frame.room);
    showKeyNumbers(frame);
    if (frame.room.step && app.lesson && frame.room.step.index !== app.lesson.index) {
      app.lesson.index = frame.room.step.index; // after a reload, the room knows where the lesson is
      showStep();
    }
  }
  statusFromFrame(frame);
  updateRunOver(frame);
  updateStepPrompt(frame);
  app.dirty = true;
}

// The end of a run --------------------------------------------------------------------------------

const OVER = ['finished', 'halted', 'ended'];
const LIVE_ONLY = ['burst', 'step', 'drain', 'hiccup'];

function whyOver(status) {
  if (status === 'halted') return 'The run was stopped (it held too many items); Reset to start it again.';
  if (status === 'ended') return 'This session has ended; start a new session to run again.';
  return 'The run has finished: nothing more arrives. Reset (r) or Run again to start it again.';
}

/** Finished, halted or ended: Burst, Step and Drain cannot act, and the page says so; the canvas
 *  (pipeline.js) can read window.playground.runOver or listen for the playground:run event. */
function updateRunOver(frame) {
  const over = OVER.includes(frame.status) ? frame.status : null;
  if (over !== app.over) {
    app.over = over;
    playground.runOver = over;
    for (const id of LIVE_ONLY) {
      const button = $(id);
      if (button.dataset.title === undefined) button.dataset.title = button.title;
      button.disabled = Boolean(over);
      button.title = over ? whyOver(over) : button.dataset.title;
    }
    document.dispatchEvent(new CustomEvent('playground:run', { detail: { over, status: frame.status } }));
    if (over) {
      const t = frame.state?.totals;
      announce(`The run ${over === 'ended' ? 'session ended' : over} at ${frame.t.toFixed(2)} s`
        + (t ? `: ${t.arrived} arrived, ${t.completed} completed. A summary follows the pipeline.` : '.'));
    }
  }
  showSummary(over ? frame : null);
}

function fmt(value, digits = 3) {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return String(Math.round(value * 10 ** digits) / 10 ** digits);
}

function ms(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  return seconds < 1 ? `${Math.round(seconds * 1000 * 10) / 10} ms` : `${fmt(seconds, 2)} s`;
}

/** Latency over the run from the closed windows: the worst window's p50, p95 and p99. */
function windowLatency() {
  const cols = app.windowColumns;
  const at = (name) => cols.indexOf(name);
  const out = {};
  for (const name of ['p50', 'p95', 'p99']) {
    const i = at(name);
    const values = i < 0 ? [] : app.windows.map((w) => w[i]).filter((v) => typeof v === 'number');
    out[name] = values.length ? Math.max(...values) : null;
  }
  return out;
}

function showSummary(frame) {
  const panel = $('run-summary');
  if (!frame) {
    if (!panel.hidden) { panel.hidden = true; app.summaryKey = ''; }
    return;
  }
  const totals = frame.state?.totals || {};
  const t = frame.t;
  // Exact run-wide percentiles if the frame carries the engine's summary (frames.py may add it);
  // otherwise the worst closed metrics window's.
  const exact = frame.summary && 'latency_p50' in frame.summary;
  const latency = exact ? { p50: frame.summary.latency_p50, p95: frame.summary.latency_p95,
    p99: frame.summary.latency_p99 } : windowLatency();
  const rows = [
    ['Ended at', `${fmt(t)} s (${frame.status})`],
    ['Arrived', totals.arrived],
    ['Completed', totals.completed],
    ['Rejected (queue full)', totals.rejected],
    ['Dropped (oldest pushed out)', totals.dropped],
    ['Put timeouts', totals.put_timeouts],
    ['Stale (older than max age)', totals.stale],
    ['Call timeouts', totals.timeouts],
    ['Lost in crashes', totals.lost],
    ['Still in the system', totals.in_system],
    ['Throughput', t > 0 ? `${fmt(totals.completed / t, 2)} items/s` : '—'],
    ['Latency p50 / p95 / p99', latency.p50 === null || latency.p50 === undefined
      ? `not measured: the run ended before its first ${app.windowSeconds ? `${fmt(app.windowSeconds)}-s ` : ''}metrics window closed`
      : `${ms(latency.p50)} / ${ms(latency.p95)} / ${ms(latency.p99)}${exact ? '' : ' (worst window)'}`],
    ['Crashes (out of memory)', frame.state?.memory?.crashes ?? 0],
  ];
  const key = JSON.stringify([rows, frame.message || '']);
  if (key === app.summaryKey && !panel.hidden) return;
  app.summaryKey = key;
  const list = $('run-summary-list');
  const nodes = [];
  for (const [term, value] of rows) {
    const dt = document.createElement('dt');
    dt.textContent = term;
    const dd = document.createElement('dd');
    dd.textContent = String(value ?? '—');
    const pair = document.createElement('div'); // a dl may group each term with its value
    pair.append(dt, dd);
    nodes.push(pair);
  }
  list.replaceChildren(...nodes);
  $('run-summary-why').textContent = frame.message ? clip(frame.message, 400) : 'The run has finished.';
  $('run-summary-title').textContent = frame.failure ? 'The program failed' : 'End of run';
  panel.classList.toggle('failed', Boolean(frame.failure));
  $('run-again').textContent = frame.status === 'ended' ? 'Start a new session' : 'Run again';
  panel.hidden = false;
}

function runAgain() {
  if (app.over === 'ended' || !app.session) {
    startSession(app.link, { replacing: false });
  } else if (app.stepFirst) {
    control({ action: 'pause' }).then(() => action('reset')).catch(() => action('reset'));
  } else {
    action('reset');
  }
  $('pause').focus();
}

function updateStepPrompt(frame) {
  const show = app.stepFirst && frame.status === 'paused';
  const node = $('step-prompt');
  if (node.hidden === show) node.hidden = !show;
  if (show) {
    const printed = app.scenario?.join === 'at-start'; // the handbook as printed
    const text = frame.t === 0 && !frame.state?.totals?.arrived
      ? (printed ? 'Paused at t = 0 s: the program as printed fails at once. Step to see how.'
        : 'Paused at t = 0 s: the handbook\'s run is over in half a second, so step through it.')
      : `Paused at ${fmt(frame.t)} s: step to the next moment, or Resume (space) to play.`;
    const textNode = $('step-prompt-text');
    if (textNode.textContent !== text) textNode.textContent = text;
  }
}

// Control requests ------------------------------------------------------------------------------

async function control(body, { retries = 2 } = {}) {
  const session = app.session;
  if (!session) {
    if (app.recovery) return deferControl(body);
    throw new Error('There is no session right now.');
  }
  try {
    const result = await api.sendControl(session, body);
    if (session === app.session) {
      if ('compare' in body || result.compare) setCompare(result.compare || null);
      applyScenario(result.scenario, result.link);
      setPaused(Boolean(result.paused));
    }
    return result;
  } catch (error) {
    if (error.status === 429 && retries > 0) {
      await new Promise((r) => setTimeout(r, 1000 * (error.retryAfter || 1)));
      return control(body, { retries: retries - 1 });
    }
    if ((error.status === 404 || error.status === 410) && session === app.session) {
      // The server does not know the session (it restarted, or reaped it): start it again.
      beginRecovery({ why: 'The server no longer knows this session.', delay: 0 });
    }
    if (app.recovery && !app.session) return deferControl(body);
    throw error;
  }
}

function action(name, extra = {}) {
  if (app.over && LIVE_ONLY.includes(name)) {
    const what = { burst: 'Burst', step: 'Step', drain: 'Drain', hiccup: 'Hiccup' }[name];
    sayWhy(`${what} does nothing now. ${whyOver(app.over)}`);
    return Promise.resolve();
  }
  return control({ action: name, ...extra }).catch((error) => {
    if (!app.session) return; // reconnecting: the status says so already
    setStatus(app.frame?.status === 'paused' ? 'paused' : 'live', `${name} did not work: ${clip(error.message)}`);
  });
}

const togglePause = () => action(app.paused ? 'resume' : 'pause');

function safeDecode(text) {
  try { return decodeURIComponent(text); } catch { return text; }
}

function withSeed(link, seed) {
  const params = new URLSearchParams(link);
  params.set('seed', String(seed));
  return params.toString();
}

/** Where queueing theory applies, its predictions as the charts' reference lines: throughput
 *  and the mean number waiting in the queue (the charts' "queued"). */
function theoryReferences(model) {
  if (!model || !model.stable) return {};
  return {
    throughput: { value: model.throughput, label: `${model.name}: throughput` },
    queue: { value: model.mean_in_queue, label: `${model.name}: mean queued` },
  };
}

// Export ----------------------------------------------------------------------------------------

function download(filename, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function exportName(suffix) {
  const preset = new URLSearchParams(app.link || '').get('preset') || 'scenario';
  return `backpressure-${preset}-${suffix}`;
}

/** What the page holds of the run, as files: the windows the charts hold (up to 1,000 s), the
 *  events the log holds, and the engine's exact summary so far (asked of the server). */
async function exportRun(what) {
  if (what === 'csv') {
    const cols = app.windowColumns || [];
    const quote = (v) => (v === null || v === undefined ? '' : String(v));
    // A comparison's file has a first column saying which service a row is (the CLI's run --csv).
    const rows = app.compare
      ? [['service', ...cols].join(','), ...app.windows.map((w) => ['A', ...w].map(quote).join(',')),
        ...app.windowsB.map((w) => ['B', ...w].map(quote).join(','))]
      : [cols.join(','), ...app.windows.map((w) => w.map(quote).join(','))];
    download(exportName('windows.csv'), `${rows.join('\n')}\n`, 'text/csv');
    announce(`Downloaded ${rows.length - 1} metrics windows as CSV.`);
  } else if (what === 'trace') {
    const lines = app.log?.lines.map(([text]) => text) || [];
    download(exportName('trace.txt'), lines.length ? `${lines.join('\n')}\n` : '', 'text/plain');
    announce(`Downloaded ${lines.length} events.`);
  } else if (app.session) {
    try {
      const summary = await fetch(`/api/sessions/${app.session.id}/summary`, { cache: 'no-store' })
        .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`the server answered ${r.status}`))));
      download(exportName('summary.json'), `${JSON.stringify(summary, null, 1)}\n`, 'application/json');
      announce('Downloaded the run\'s summary.');
    } catch (error) {
      sayWhy(`The summary could not be downloaded: ${clip(error.message)}`);
    }
  } else {
    sayWhy('There is no run to summarise yet.');
  }
}

// Drawing ---------------------------------------------------------------------------------------

function drawLoop(now) {
  if (app.frame) {
    const start = performance.now();
    try {
      app.pipeline.draw(now);
      if (app.compare && app.pipelineB) app.pipelineB.draw(now);
      app.charts.draw();
    } catch (error) {
      if (!app.drawError) console.warn('draw', error);
      app.drawError = true;
    }
    const took = performance.now() - start;
    const times = playground.drawTimes;
    times.push(took);
    if (times.length > DRAW_TIMES) times.splice(0, times.length - DRAW_TIMES);
    if (playground.firstDrawAt === null) {
      playground.firstDrawAt = performance.now();
      performance.mark('pg:first-draw');
    }
    app.dirty = false;
  }
  requestAnimationFrame(drawLoop);
}

// Live summary for screen readers ---------------------------------------------------------------

function summarize() {
  const frame = app.frame;
  if (!frame?.state) return;
  const t = frame.state.totals;
  const parts = [`${t.arrived} arrived`, `${t.completed} completed`, `${t.rejected} rejected`];
  if (t.dropped) parts.push(`${t.dropped} dropped`);
  if (t.put_timeouts) parts.push(`${t.put_timeouts} put timeouts`);
  if (t.stale) parts.push(`${t.stale} stale`);
  if (t.timeouts) parts.push(`${t.timeouts} timed out`);
  if (t.lost) parts.push(`${t.lost} lost`);
  parts.push(`${t.in_system} in the system`);
  const text = `${frame.t.toFixed(1)} s: ${parts.join(', ')}`;
  const node = $('live-summary');
  if (node.textContent !== text) node.textContent = text;
}

// Theme, motion, shortcuts ----------------------------------------------------------------------

function setTheme(theme) {
  if (!['light', 'dark', 'projector'].includes(theme)) theme = 'light';
  document.documentElement.dataset.theme = theme;
  $('theme').value = theme;
  try { localStorage.setItem(THEME_KEY, theme); } catch { /* private mode */ }
  document.dispatchEvent(new CustomEvent('playground:theme', { detail: { theme } }));
  app.dirty = true;
}

function initTheme() {
  let theme = null;
  try { theme = localStorage.getItem(THEME_KEY); } catch { /* private mode */ }
  if (!theme) theme = matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  setTheme(theme);
  $('theme').addEventListener('change', (e) => setTheme(e.target.value));
}

function initMotion() {
  const query = matchMedia('(prefers-reduced-motion: reduce)');
  const apply = () => document.documentElement.classList.toggle('reduced-motion', query.matches);
  apply();
  query.addEventListener('change', apply);
}

function toggleShortcuts() {
  const dialog = $('shortcuts');
  if (dialog.open) dialog.close();
  else dialog.showModal();
}

/** Inputs that take typed text (a slider, checkbox or button does not). */
const NOT_TEXT = new Set(['range', 'checkbox', 'radio', 'button', 'submit', 'reset', 'color', 'file', 'image']);

function isTyping(target) {
  if (!(target instanceof Element)) return false;
  if (target.isContentEditable) return true;
  if (target.closest('textarea')) return true;
  const input = target.closest('input');
  return Boolean(input && !NOT_TEXT.has(input.type));
}

const SHORTCUTS = {
  ' ': () => togglePause(),
  Spacebar: () => togglePause(),
  '.': () => action('step'),
  b: () => action('burst', { n: BURST_N }),
  d: () => action('drain'),
  h: () => action('hiccup', HICCUP),
  r: () => action('reset'),
};

/** Keydown at the document, in the capture phase: shortcuts act the same wherever the focus is (a
 *  focused button is not also pressed, a focused select does not open) except in a text or number
 *  box, and a select whose list is open has the keys to itself in the browser anyway. */
function onKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
  if (isTyping(event.target)) return;
  const key = event.key;
  if (key === '?') { event.preventDefault(); toggleShortcuts(); return; }
  if ($('shortcuts').open) return;
  if ((key === 'ArrowRight' || key === 'ArrowLeft') && app.lesson) {
    // A lesson's next and previous step -- unless a slider or a list has the arrows.
    if (event.target instanceof Element && event.target.closest('input, select, textarea, canvas.chart')) return;
    event.preventDefault();
    if (!event.repeat) goStep(app.lesson.index + (key === 'ArrowRight' ? 1 : -1));
    return;
  }
  const run = SHORTCUTS[key.length === 1 ? key.toLowerCase() : key];
  if (!run) return;
  event.preventDefault();
  event.stopPropagation();
  if (!event.repeat || key === '.') run();
}

async function copyLink() {
  const result = $('copy-result');
  // While the address bar keeps a link with errors, copy the scenario that runs.
  const url = app.keepAddress ? `${location.origin}${location.pathname}?${app.link}` : location.href;
  try {
    if (!navigator.clipboard?.writeText) throw new Error('no clipboard');
    await navigator.clipboard.writeText(url);
    result.textContent = 'Copied';
  } catch {
    // Fall back: show the link selected, ready for Ctrl+C.
    let input = $('copy-fallback');
    if (!input) {
      input = document.createElement('input');
      input.id = 'copy-fallback';
      input.readOnly = true;
      input.setAttribute('aria-label', 'Link to this scenario');
      result.after(input);
    }
    input.value = url;
    input.hidden = false;
    input.focus();
    input.select();
    let copied = false;
    try { copied = document.execCommand('copy'); } catch { copied = false; }
    result.textContent = copied ? 'Copied' : 'Press Ctrl+C to copy';
  }
  clearTimeout(app.copyTimer);
  app.copyTimer = setTimeout(() => { result.textContent = ''; }, 3000);
}

// A room: the teacher's page of a class watching this session (/present) ------------------------

/** Open the room: a new one for `link` (/present?LINK), or the one this tab presents already
 *  (/present/CODE after a reload: its session and token are in the tab's session storage). */
async function startRoom(present, link) {
  setStatus('connecting', 'Opening the room…');
  let code = present.code;
  let session;
  if (!code) {
    try {
      const answer = await fetch('/api/rooms', {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ link }),
      });
      const body = await answer.json();
      if (!answer.ok) throw new Error(body.error || `the server answered ${answer.status}`);
      code = body.code;
      session = body.session;
    } catch (error) {
      showNotice(`Could not open a room: ${clip(error.message)}`);
      setStatus('ended', 'No room.');
      return;
    }
    const { id, token, stream } = session;
    sessionStorage.setItem(`playground-room:${code}`, JSON.stringify({ id, token, stream, control: session.control }));
    history.replaceState(null, '', `/present/${code}?${session.link}`);
  } else {
    session = JSON.parse(sessionStorage.getItem(`playground-room:${code}`) || 'null');
    if (!session) {
      showNotice(`This tab does not present room ${code} (its teacher token is kept in the tab that opened it). `
        + `Students join at /r/${code}; to present a new room, open /present.`);
      setStatus('ended', 'Not this tab\'s room.');
      return;
    }
  }
  app.room = code;
  setPresenting(true);
  $('room-code').textContent = code;
  if (app.lesson && !present.code) { // a new room on a lesson: the phones learn its first step
    api.roomControl(code, session, { step: { lesson: app.lesson.name, index: 0 } }).catch(() => {});
  }
  $('room-url').textContent = `${location.host}/r/${code}`;
  const qr = $('room-qr');
  qr.src = `/api/rooms/${code}/qr.svg`;
  qr.hidden = false;
  app.session = session;
  app.run = null;
  if (session.frame) { adoptSession(session); onFrame(session.frame); }
  openStream(session);
}

/** The presenter view (the projector's) or the console (the whole page, every control). */
function setPresenting(on) {
  document.body.classList.toggle('presenting', on);
  // The room's code goes to the top of the right-hand column on the projector, back on top of the page in the console.
  const panel = $('room-panel');
  if (panel) {
    if (on) document.querySelector('.charts-panel').prepend(panel);
    else document.querySelector('main.layout').before(panel);
  }
  const toggle = $('present-toggle');
  if (toggle) {
    toggle.setAttribute('aria-pressed', String(on));
    toggle.textContent = on ? 'Console' : 'Presenter view';
  }
  pickCharts();
  setPaused(app.paused);
  fitPresenter();
}

/** Size the presenter view to the screen: the pipeline from where it starts to the bottom, the
 *  two charts share what is left of the right-hand column (measured, so nothing above is guessed). */
function fitPresenter() {
  if (!document.body.classList.contains('presenting')) return;
  const root = document.documentElement;
  const top = (node) => node.getBoundingClientRect().top + window.scrollY;
  const chrome = `${Math.round(top($('pipeline')) + 16)}px`;
  if (root.style.getPropertyValue('--presenter-chrome') !== chrome) root.style.setProperty('--presenter-chrome', chrome);
  const first = document.querySelector('#charts canvas.chart.picked');
  if (first) {
    const chartsTop = `${Math.round(top(first) + 8)}px`;
    if (root.style.getPropertyValue('--presenter-charts-top') !== chartsTop) root.style.setProperty('--presenter-charts-top', chartsTop);
  }
}

/** The two charts the presenter view shows (the console shows all five). */
function pickCharts() {
  const picks = [...document.querySelectorAll('.chart-pick')].map((select) => select.value);
  for (const canvas of document.querySelectorAll('#charts canvas.chart')) {
    canvas.classList.toggle('picked', picks.includes(canvas.dataset.chart));
  }
}

/** The presenter view's key numbers, in words a room can read from the back. */
function showKeyNumbers(frame) {
  if (!document.body.classList.contains('presenting')) return;
  const last = app.windows[app.windows.length - 1];
  fillPairs($('key-numbers'), keyNumbers(frame, last ? last[app.windowColumns.indexOf('p99')] : null));
}

function showRoom(room) {
  const watching = `${room.watching.toLocaleString('en-US')} watching`;
  if ($('room-watching')?.textContent !== watching) $('room-watching').textContent = watching;
  const allow = $('room-allow-send');
  if (allow && document.activeElement !== allow) allow.checked = room.allow_send;
  const sent = room.allow_send
    ? `The class sent ${room.class_sent.toLocaleString('en-US')} requests in the last ${room.class_window} s.` : '';
  if ($('room-class-sent') && $('room-class-sent').textContent !== sent) $('room-class-sent').textContent = sent;
  const question = room.question;
  $('question-reveal').disabled = !question || question.revealed;
  const text = !question ? ''
    : question.revealed
      ? `"${question.text}" The run: ${question.actual ?? 'no answer'} (${question.detail}). The class guessed ${guessWords(question)}.`
      : `"${question.text}" ${question.answered.toLocaleString('en-US')} answered.`;
  if ($('question-status').textContent !== text) $('question-status').textContent = text;
}

function wireRoom() {
  const allow = $('room-allow-send');
  if (!allow) return;
  allow.addEventListener('change', async () => {
    const session = app.session;
    if (!session || !app.room) return;
    try {
      await api.roomControl(app.room, session, { allow_send: allow.checked });
    } catch (error) {
      allow.checked = !allow.checked;
      showNotice(`The room did not change: ${clip(error.message)}`);
    }
  });
  const roomSwitch = async (body) => {
    try {
      await api.roomControl(app.room, app.session, body);
    } catch (error) {
      showNotice(`The room did not change: ${clip(error.message)}`);
    }
  };
  $('question-ask').addEventListener('click', () => roomSwitch({ ask: $('question-pick').value }));
  $('question-reveal').addEventListener('click', () => roomSwitch({ reveal: true }));
  $('present-toggle').addEventListener('click', () => setPresenting(!document.body.classList.contains('presenting')));
  for (const select of document.querySelectorAll('.chart-pick')) {
    select.addEventListener('change', () => { pickCharts(); fitPresenter(); });
  }
  window.addEventListener('resize', fitPresenter);
  setInterval(fitPresenter, 1000); // what sits above may change height (a notice, a status line)
  $('room-hide').addEventListener('click', () => {
    const panel = $('room-panel');
    const hidden = panel.classList.toggle('small');
    $('room-hide').setAttribute('aria-pressed', String(hidden));
    $('room-hide').textContent = hidden ? 'Show the code' : 'Hide the code';
  });
}

// A lesson: steps advanced with → (or Next); in a room every viewer follows ---------------------

function showStep() {
  const lesson = app.lesson;
  if (!lesson || !$('lesson-bar')) return;
  const step = lesson.steps[lesson.index];
  $('lesson-step').textContent = `Step ${lesson.index + 1} of ${lesson.steps.length}: ${step.title}`;
  $('lesson-notice').textContent = step.notice;
  $('lesson-try').textContent = step.try_this ? `Try this: ${step.try_this}` : '';
  $('lesson-prev').disabled = lesson.index === 0;
  $('lesson-next').disabled = lesson.index === lesson.steps.length - 1;
}

async function goStep(index) {
  const lesson = app.lesson;
  if (!lesson || index < 0 || index >= lesson.steps.length) return;
  lesson.index = index;
  showStep();
  app.keepAddress = false;
  const step = lesson.steps[index];
  if (app.room && app.session) {
    try {
      await api.roomControl(app.room, app.session, { step: { lesson: lesson.name, index } });
    } catch (error) {
      showNotice(`The room did not move to that step: ${clip(error.message)}`);
    }
  } else {
    showPresetNotice(step.link);
    startSession(step.link);
  }
  announce(`Step ${index + 1} of ${lesson.steps.length}: ${step.title}`);
}

function wireLesson() {
  if (!app.lesson || !$('lesson-bar')) return;
  $('lesson-next').addEventListener('click', () => goStep(app.lesson.index + 1));
  $('lesson-prev').addEventListener('click', () => goStep(app.lesson.index - 1));
  showStep();
}

// Boot ------------------------------------------------------------------------------------------

function wireButtons() {
  $('pause').addEventListener('click', togglePause);
  $('step').addEventListener('click', () => action('step'));
  $('reset').addEventListener('click', () => action('reset'));
  $('burst').addEventListener('click', () => action('burst', { n: BURST_N }));
  $('drain').addEventListener('click', () => action('drain'));
  $('hiccup').addEventListener('click', () => action('hiccup', HICCUP));
  $('run-again').addEventListener('click', runAgain);
  $('step-prompt-button').addEventListener('click', () => action('step'));
  $('speed').addEventListener('change', (e) => {
    control({ speed: Number(e.target.value) }).catch((error) => {
      if (app.session) setStatus('live', `Speed not changed: ${clip(error.message)}`);
    });
  });
  $('copy-link').addEventListener('click', copyLink);
  $('compare-start').addEventListener('click', () => compareControl('start'));
  $('compare-fork').addEventListener('click', () => compareControl('fork'));
  $('compare-swap').addEventListener('click', () => compareControl('swap'));
  $('compare-stop').addEventListener('click', () => compareControl('stop'));
  $('edit-target').addEventListener('change', () => {
    if (app.scenario) app.controls?.setScenario(controlledScenario());
  });
  $('export-csv').addEventListener('click', () => exportRun('csv'));
  $('export-trace').addEventListener('click', () => exportRun('trace'));
  $('export-summary').addEventListener('click', () => exportRun('summary'));
  $('presets').addEventListener('change', (e) => {
    const preset = app.presets.find((p) => p.name === e.target.value);
    if (!preset) return;
    app.keepAddress = false;
    showNotice('');
    showPresetNotice(preset.link);
    startSession(preset.link);
  });
  $('restart-session').addEventListener('click', () => startSession(app.link, { replacing: false }));
  $('show-shortcuts').addEventListener('click', toggleShortcuts);
  $('controls').addEventListener('submit', (e) => e.preventDefault());
  document.addEventListener('keydown', onKey, true);
  window.addEventListener('pagehide', () => {
    const session = app.session || app.recovery?.session;
    stopRecovery();
    // A room outlives its teacher's tab (a reload keeps it): only a one-person session closes.
    if (session && !app.room) api.closeSession(session, { beacon: true });
    app.session = null;
    closeStream();
  });
  document.addEventListener('visibilitychange', onVisible);
  window.addEventListener('online', onOnline);
  window.addEventListener('pageshow', (event) => {
    // Back/forward cache: the old session was closed on pagehide, so start again.
    if (event.persisted) startSession(app.link, { replacing: false });
  });
}

/** On a phone the pipeline panel is sticky at the top: a control scrolled or tabbed into view
 *  must land below it, not under it (scroll-padding-top follows the panel's height). */
function keepScrollTargetsClearOfThePipeline() {
  const panel = document.querySelector('.pipeline-panel');
  const root = document.documentElement;
  const update = () => {
    const sticky = getComputedStyle(panel).position === 'sticky';
    root.style.setProperty('--sticky-top', sticky ? `${Math.ceil(panel.getBoundingClientRect().height)}px` : '0px');
  };
  new ResizeObserver(update).observe(panel);
  window.addEventListener('resize', update);
  update();
}

/** Fields, presets and the verdict on the address bar's link, rendered into the page by the server. */
function readBootData() {
  try { return JSON.parse($('boot-data').textContent); } catch { return null; }
}

/** Fields and presets from the API: only when the page came without them (a cached copy, say). */
async function fetchBootData(link) {
  for (let failures = 1; ; failures += 1) {
    try {
      const [fields, presets, checked] = await Promise.all([api.getFields(), api.getPresets(),
        api.checkScenario(link).catch((error) => ({ error }))]);
      const verdict = checked.error ? null : { ...checked, errors: [] };
      return { fields, presets, verdict, checkError: checked.error };
    } catch (error) {
      // The same backoff as a lost session: 0.5 s, 1, 2, 4… up to 10 s, or what Retry-After says.
      let delay = backoffDelay(failures);
      if (error.status === 503 || error.status === 429) {
        delay = Math.max(delay, Math.min(RETRY_AFTER_CAP_S, Number(error.retryAfter) || 1) * 1000);
      }
      const reason = error instanceof api.HttpError ? clip(error.message) : 'the server cannot be reached';
      setStatus('reconnecting', `Connecting to the server… (attempt ${failures + 1}, next try in `
        + `${Math.ceil(delay / 1000)} s). Last try: ${reason}.`);
      await new Promise((resolve) => setTimeout(resolve, delay));
      while (document.hidden) await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

async function boot() {
  performance.mark('pg:boot'); // bench/page.py reads these marks: where the first frame's time goes
  const typed = location.search.replace(/^\?/, '');
  const rendered = readBootData();
  // With the page's own data (the usual case) the session is asked for first of all, and the
  // page is built while the request is out; the controls, the biggest piece, after the first draw.
  if (rendered?.lesson) app.lesson = { ...rendered.lesson, index: 0 };
  if (rendered?.present) {
    app.presets = rendered.presets;
    app.present = rendered.present;
  } else if (rendered) {
    app.presets = rendered.presets;
    startSession(openingLink(rendered, typed), { replacing: false });
  }
  initTheme();
  initMotion();
  app.pipeline = new Pipeline($('pipeline'));
  app.log = new EventLog($('event-log'), $('pause-log'));
  app.questions = new Questions($('questions'));
  app.theory = new TheoryView($('theory'));
  app.compareView = new CompareView($);
  wireRoom();
  wireLesson();
  app.curve = new CurveView($, { control: (body) => control(body) });
  wireButtons();
  keepScrollTargetsClearOfThePipeline();
  requestAnimationFrame(drawLoop);
  setInterval(summarize, SUMMARY_EVERY_MS);
  const data = rendered || await fetchBootData(typed || DEFAULT_LINK);
  app.presets = data.presets;  // before any await: the session's answer finds the page whole
  app.fields = data.fields.fields;
  app.charts = new Charts($('charts'), data.fields.window_columns);
  if (app.present) startRoom(app.present, openingLink(data, typed));
  else if (!rendered) startSession(openingLink(data, typed), { replacing: false });
  afterFirstDraw(() => {
    app.codeView = new CodeView({ box: $('code'), python: $('code-python'), copy: $('code-copy'),
      download: $('code-download'), status: $('code-status') });
    if (app.link) app.codeView.show(app.link);
    $('event-log').addEventListener('click', (e) => {
      const kind = e.target.closest('li')?.className.replace(/^ev-/, '');
      if (kind && app.codeView.pointAt(kind)) $('code').scrollIntoView({ block: 'nearest' });
    });
    app.controls = new Controls($('controls'), app.fields, {
      apply: (values) => { app.keepAddress = false; return applyValues(values); },
      reseed: (seed) => { app.keepAddress = false; startSession(withSeed(app.link, seed)); },
      reopen: (changes) => {
        app.keepAddress = false;
        const params = new URLSearchParams(app.link);
        for (const [key, value] of Object.entries(changes)) params.set(key, String(value));
        showPresetNotice(params.toString());
        startSession(params.toString());
      },
    });
    if (app.scenario) app.controls.setScenario(app.scenario);
    performance.mark('pg:controls');
  });
}

/** The link to open, from the server's verdict on the typed one; says what was wrong with it. */
function openingLink(data, typed) {
  const { verdict } = data;
  if (verdict) {
    if (verdict.errors?.length) {
      app.keepAddress = true; // the typed link stays in the address bar, to be fixed
      showLinkErrors(verdict.errors, typed, verdict.more_errors);
    }
    showPresetNotice(verdict.link);
    return verdict.link;
  }
  if (data.checkError?.status === 422) {
    showNotice(`Ignored the link "?${clip(safeDecode(typed))}": ${clip(data.checkError.message)} Opened the defaults instead.`);
  }
  return DEFAULT_LINK;
}

/** Run `task` once the first frame has been drawn (or after 1 s, if no frame comes). */
function afterFirstDraw(task) {
  const started = performance.now();
  const wait = () => {
    if (playground.firstDrawAt !== null || performance.now() - started > 1000) setTimeout(task, 0);
    else requestAnimationFrame(wait);
  };
  requestAnimationFrame(wait);
}

boot();
