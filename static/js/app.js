// app.js: the page's entry point. Boot, one session, one EventSource, one draw loop.

import * as api from './api.js';
import { Controls } from './controls.js';
import { EventLog } from './eventlog.js';
import { Questions } from './questions.js';
import { Pipeline } from './pipeline.js';
import { Charts } from './charts.js';

const DEFAULT_LINK = 'v=1&preset=background-jobs';
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
  run: null, frame: null, dirty: false, drawn: false, paused: false, retryTimer: null,
  controls: null, log: null, questions: null, pipeline: null, charts: null, generation: 0,
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
  const t = `${frame.t.toFixed(1)} s`;
  switch (frame.status) {
    case 'paused':
      return setStatus('paused', `Paused at ${t}.`);
    case 'finished':
    case 'halted':
    case 'ended':
      return setStatus(frame.status, frame.message || `The run ${frame.status} at ${t}.`);
    default: {
      let text = `Live: ${t} at ${speedText(frame.speed)}`;
      if (frame.throttled) {
        text += `; the server is busy, so it runs at ${speedText(Math.round(frame.effective_speed * 100) / 100)} for now`;
      }
      if (frame.state?.draining) text += '; draining';
      return setStatus('live', `${text}.`);
    }
  }
}

function showNotice(text) {
  const node = $('notice');
  node.textContent = text;
  node.hidden = !text;
}

// Scenario and address bar ----------------------------------------------------------------------

function applyScenario(scenario, link) {
  if (scenario) {
    app.scenario = scenario;
    app.controls?.setScenario(scenario);
    syncPresetSelect(scenario);
  }
  if (link !== undefined && link !== null) {
    app.link = link;
    const url = `${location.pathname}?${link}`;
    if (url !== location.pathname + location.search) history.replaceState(null, '', url);
  }
}

function syncPresetSelect(scenario) {
  const select = $('presets');
  const name = scenario.preset && app.presets.some((p) => p.name === scenario.preset) ? scenario.preset : '';
  if (select.value !== name) select.value = name;
}

function showPresetNotice(name) {
  const preset = app.presets.find((p) => p.name === name);
  const node = $('preset-notice');
  node.textContent = preset ? `${preset.title}. ${preset.notice}` : '';
  node.hidden = !preset;
}

function setPaused(paused) {
  app.paused = paused;
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

async function startSession(link, { replacing = true } = {}) {
  clearTimeout(app.retryTimer);
  const generation = ++app.generation;
  const old = app.session;
  closeStream();
  app.session = null;
  if (old && replacing) api.closeSession(old);
  setStatus('connecting', 'Starting a session…');
  let session;
  try {
    session = await api.createSession(link);
  } catch (error) {
    if (generation !== app.generation) return;
    if (error.status === 503) return retryFull(link, error.retryAfter);
    if (error.status === 422 && link !== DEFAULT_LINK) {
      showNotice(`Ignored the link "${link}": ${error.message} Opened the defaults instead.`);
      return startSession(DEFAULT_LINK);
    }
    setStatus('reconnecting', `Could not start a session (${error.message}); retrying in 2 s.`);
    app.retryTimer = setTimeout(() => startSession(link), 2000);
    return;
  }
  if (generation !== app.generation) { api.closeSession(session); return; }
  app.session = session;
  app.run = null;
  app.charts.reset();
  app.log.clear();
  app.controls?.clearErrors();
  applyScenario(session.scenario, session.link);
  openStream(session);
}

function retryFull(link, seconds) {
  let left = Math.max(1, Math.ceil(seconds || 1));
  const tick = () => {
    setStatus('full', `The playground is full, retrying in ${left} s.`);
    if (left-- <= 0) { startSession(link); return; }
    app.retryTimer = setTimeout(tick, 1000);
  };
  tick();
}

function openStream(session) {
  closeStream();
  const source = new EventSource(session.stream);
  app.source = source;
  source.addEventListener('frame', (event) => {
    if (app.source !== source) return;
    let frame;
    try { frame = JSON.parse(event.data); } catch { return; }
    onFrame(frame);
  });
  source.addEventListener('bye', () => {
    if (app.source !== source) return;
    setStatus('reconnecting', 'The server is restarting; reconnecting…');
  });
  source.addEventListener('error', () => {
    if (app.source !== source) return;
    if (source.readyState === EventSource.CLOSED) {
      sessionEnded('This session has ended (the server restarted or it timed out).');
    } else {
      setStatus('reconnecting', 'Connection lost; reconnecting…');
    }
  });
}

function sessionEnded(text) {
  closeStream();
  app.session = null;
  setStatus('ended', text);
}

function onFrame(frame) {
  playground.frames += 1;
  playground.lastFrame = frame;
  app.frame = frame;
  if (frame.full) {
    app.charts.reset();
    if (frame.scenario) applyScenario(frame.scenario, frame.link);
    setPaused(Boolean(frame.paused));
  }
  if (app.run !== null && frame.run !== app.run) {
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
  if (frame.windows?.length) app.charts.add(frame.windows);
  app.log.add(frame.events, frame.events_skipped);
  app.questions.update(app.scenario, frame.state);
  statusFromFrame(frame);
  app.dirty = true;
}

// Control requests ------------------------------------------------------------------------------

async function control(body, { retries = 2 } = {}) {
  const session = app.session;
  if (!session) throw new Error('There is no session right now.');
  try {
    const result = await api.sendControl(session, body);
    if (session === app.session) {
      applyScenario(result.scenario, result.link);
      setPaused(Boolean(result.paused));
    }
    return result;
  } catch (error) {
    if (error.status === 429 && retries > 0) {
      await new Promise((r) => setTimeout(r, 1000 * (error.retryAfter || 1)));
      return control(body, { retries: retries - 1 });
    }
    if (error.status === 404 || error.status === 410) sessionEnded('This session has ended.');
    throw error;
  }
}

function action(name, extra = {}) {
  return control({ action: name, ...extra }).catch((error) => {
    if (app.session) setStatus(app.frame?.status === 'paused' ? 'paused' : 'live', `${name} did not work: ${error.message}`);
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

// Drawing ---------------------------------------------------------------------------------------

function drawLoop(now) {
  if (app.frame) {
    const start = performance.now();
    try {
      app.pipeline.draw(now);
      app.charts.draw();
    } catch (error) {
      if (!app.drawError) console.warn('draw', error);
      app.drawError = true;
    }
    const took = performance.now() - start;
    const times = playground.drawTimes;
    times.push(took);
    if (times.length > DRAW_TIMES) times.splice(0, times.length - DRAW_TIMES);
    if (playground.firstDrawAt === null) playground.firstDrawAt = performance.now();
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

function isTyping(target) {
  if (!(target instanceof Element)) return false;
  if (target.isContentEditable) return true;
  return Boolean(target.closest('input, select, textarea'));
}

function onKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
  if (isTyping(event.target)) return;
  const key = event.key;
  if (key === '?') { event.preventDefault(); toggleShortcuts(); return; }
  if ($('shortcuts').open) return;
  const onButton = event.target instanceof Element && event.target.closest('button, a, summary');
  if (key === ' ' || key === 'Spacebar') {
    if (onButton) return; // the focused button takes its own space press
    event.preventDefault();
    togglePause();
  } else if (key === '.') {
    event.preventDefault(); action('step');
  } else if (key === 'b' || key === 'B') {
    event.preventDefault(); action('burst', { n: BURST_N });
  } else if (key === 'r' || key === 'R') {
    event.preventDefault(); action('reset');
  }
}

async function copyLink() {
  const result = $('copy-result');
  const url = location.href;
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

// Boot ------------------------------------------------------------------------------------------

function wireButtons() {
  $('pause').addEventListener('click', togglePause);
  $('step').addEventListener('click', () => action('step'));
  $('reset').addEventListener('click', () => action('reset'));
  $('burst').addEventListener('click', () => action('burst', { n: BURST_N }));
  $('drain').addEventListener('click', () => action('drain'));
  $('speed').addEventListener('change', (e) => {
    control({ speed: Number(e.target.value) }).catch((error) => setStatus('live', `Speed not changed: ${error.message}`));
  });
  $('copy-link').addEventListener('click', copyLink);
  $('presets').addEventListener('change', (e) => {
    const preset = app.presets.find((p) => p.name === e.target.value);
    if (!preset) return;
    showNotice('');
    showPresetNotice(preset.name);
    startSession(preset.link);
  });
  $('restart-session').addEventListener('click', () => startSession(app.link, { replacing: false }));
  $('show-shortcuts').addEventListener('click', toggleShortcuts);
  $('controls').addEventListener('submit', (e) => e.preventDefault());
  document.addEventListener('keydown', onKey);
  window.addEventListener('pagehide', () => {
    if (app.session) api.closeSession(app.session, { beacon: true });
    closeStream();
  });
  window.addEventListener('pageshow', (event) => {
    // Back/forward cache: the old session was closed on pagehide, so start again.
    if (event.persisted) startSession(app.link, { replacing: false });
  });
}

async function boot() {
  initTheme();
  initMotion();
  app.pipeline = new Pipeline($('pipeline'));
  app.log = new EventLog($('event-log'), $('pause-log'));
  app.questions = new Questions($('questions'));
  wireButtons();
  requestAnimationFrame(drawLoop);
  setInterval(summarize, SUMMARY_EVERY_MS);

  let link = location.search.replace(/^\?/, '');
  if (!link) link = DEFAULT_LINK;
  // Ask for the fields, the presets and the link's verdict at once: the first frame comes sooner.
  const checking = api.checkScenario(link).then((checked) => ({ checked }), (error) => ({ error }));
  let fields;
  try {
    [fields, app.presets] = await Promise.all([api.getFields(), api.getPresets()]);
  } catch (error) {
    setStatus('reconnecting', `Could not reach the server (${error.message}); reloading in 3 s.`);
    setTimeout(() => location.reload(), 3000);
    return;
  }
  app.fields = fields.fields;
  app.charts = new Charts($('charts'), fields.window_columns);
  app.controls = new Controls($('controls'), app.fields, {
    apply: (values) => control({ set: values }),
    reseed: (seed) => startSession(withSeed(app.link, seed)),
  });

  let scenario = null;
  const { checked, error } = await checking;
  if (checked) {
    link = checked.link;
    scenario = checked.scenario;
  } else if (error?.status === 422) {
    showNotice(`Ignored the link "?${safeDecode(link)}": ${error.message} Opened the defaults instead.`);
    link = DEFAULT_LINK;
  }
  if (scenario?.preset) showPresetNotice(scenario.preset);
  startSession(link, { replacing: false });
}

boot();
