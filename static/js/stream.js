// stream.js: the session and its stream: start a session, adopt it, open its EventSource and
// hand each frame on; a dropped or refused stream goes to reconnect.js.

import * as api from './api.js';
import { clip } from './api.js';
import { opensPaused } from './start.js';
import { app, DEFAULT_LINK } from './state.js';
import { setStatus, showNotice, announce } from './status.js';
import { applyScenario } from './address.js';
import { onFrame } from './frame.js';
import {
  attemptRecovery, beginRecovery, finishRecovery, recoveryFailed, stopRecovery, timeoutSignal,
  onOnline, onVisible,
} from './reconnect.js';

export function closeStream() {
  if (app.source) {
    app.source.close();
    app.source = null;
  }
}

export function adoptSession(session) {
  app.session = session;
  app.run = null;
  app.windows = [];
  app.charts.reset();
  app.log.clear();
  app.controls?.clearErrors();
  applyScenario(session.scenario, session.link, session.settings_link);
}

export async function startSession(link, { replacing = true } = {}) {
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

export function openStream(session) {
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
    // The server is stopping. One that keeps its state (--state) brings this session back: try it
    // first; a server that does not know it any more answers 404, and a new session starts.
    beginRecovery({ session, why: 'The server is restarting.' });
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

/** Leaving the page closes its session (a room's stays); coming back from the back/forward cache
 *  starts it again; a tab shown again or a network back online lets a waiting recovery try now. */
export function wirePageLifecycle() {
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
