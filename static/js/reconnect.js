// reconnect.js: getting the scenario back by itself after the stream drops, the server forgets
// the session or a session cannot be started (backoff, Retry-After, hidden tabs).

import * as api from './api.js';
import { clip } from './api.js';
import { app, $, DEFAULT_LINK } from './state.js';
import { setStatus, showNotice, announce } from './status.js';
import { adoptSession, closeStream, openStream } from './stream.js';
import { control, setPaused } from './actions.js';

// When the stream drops, the server forgets the session (a restart) or a session cannot be
// started, the page gets its scenario back by itself: it reopens the old session's stream if that
// session may still live, otherwise it creates a new session from app.link (the link in the
// address bar, with every live change), retrying with capped exponential backoff and jitter while
// the server is unreachable or full (honouring Retry-After). A hidden tab waits until it is shown.
// Speed, pause and control changes made meanwhile are sent again once frames flow.

const BACKOFF_FIRST_MS = 500;
const BACKOFF_CAP_MS = 10_000;
const ATTEMPT_TIMEOUT_MS = 10_000;
export const RETRY_AFTER_CAP_S = 300;
/** A recovery that starts this soon after the last one carries its failure count on. */
const CALM_MS = 10_000;

/** The wait before the first attempt (0 failures so far) and after each failed one: 0.5 s, 1, 2,
 *  4, 8, 10, 10… less up to 20 % jitter, so pages cut off together do not come back together. */
export function backoffDelay(failures) {
  const base = Math.min(BACKOFF_CAP_MS, BACKOFF_FIRST_MS * 2 ** Math.max(0, failures));
  return Math.round(base * (0.8 + 0.2 * Math.random()));
}

export function timeoutSignal(ms = ATTEMPT_TIMEOUT_MS) {
  return typeof AbortSignal.timeout === 'function' ? AbortSignal.timeout(ms) : undefined;
}

/** Start (or redirect) the recovery. `session`: one that may still live, tried first; `keep`: send
 *  the speed and pause the page had to the session that comes back. */
export function beginRecovery({ session = null, link = app.link, why = '', delay = null, error = null,
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
      // Where the run was: a new session opens the link at that moment (the link is the whole
      // run, so its replay is the same run), or from the start if the server refuses the moment.
      moment: keep && app.frame?.t > 0 && ['running', 'paused'].includes(app.frame.status) ? app.frame.t : null,
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

export function stopRecovery() {
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

export async function attemptRecovery({ counted = true } = {}) {
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
  const link = rec.moment !== null && rec.link === app.link ? momentLink(rec.link, rec.moment) : rec.link;
  try {
    session = await api.createSession(link, { signal: timeoutSignal() });
  } catch (error) {
    if (app.recovery !== rec) return;
    if (error.status === 422 && link !== rec.link) { // the moment is refused: from the start, then
      rec.moment = null;
      attemptRecovery({ counted: false });
      return;
    }
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

export function recoveryFailed(error, why = '') {
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

/** The link opening at sim time t (at=, three decimals), whatever moment it named before. */
function momentLink(link, t) {
  const kept = link.split('&').filter((piece) => !piece.startsWith('at=')).join('&');
  return `${kept}&at=${(Math.round(t * 1000) / 1000).toFixed(3).replace(/\.?0+$/, '')}`;
}

export function finishRecovery(session, frame) {
  const rec = app.recovery;
  stopTimers(rec);
  app.recovery = null;
  app.recoveredAt = performance.now();
  app.lastFailures = rec.failures;
  const fresh = rec.created === session;
  if (fresh) {
    adoptSession(session);
    const back = frame.t > 0 ? `at ${frame.t} s, where it was` : 'from the beginning';
    app.log.mark(`— reconnected: a new session; the run goes on ${back} —`);
    announce(`Reconnected. The server had lost the session, so the run was rebuilt from its link, ${back}.`);
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
export function deferControl(body) {
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

export function onVisible() {
  const rec = app.recovery;
  if (!document.hidden && rec?.waiting) attemptRecovery();
}

export function onOnline() {
  const rec = app.recovery;
  if (rec && rec.timer !== null && !rec.waiting) attemptRecovery(); // the network is back: try now
}
