// actions.js: what the page asks of its session: control() (with its 429 retry and a recovery's
// deferral), the run's actions (pause, step, burst, drain, hiccup, reset) and the pause button.

import * as api from './api.js';
import { clip } from './api.js';
import { app, $ } from './state.js';
import { setStatus, sayWhy } from './status.js';
import { applyScenario } from './address.js';
import { setCompare } from './comparemode.js';
import { beginRecovery, deferControl } from './reconnect.js';
import { LIVE_ONLY, whyOver } from './runend.js';

/** The Hiccup button's fault: the downstream 5 times slower for 3 s (a GC pause, a failover). */
export const HICCUP = { factor: 5, seconds: 3 };
export const BURST_N = 20;

export function setPaused(paused) {
  app.paused = paused;
  document.body.classList.toggle('paused', paused);
  const banner = $('paused-banner'); // the presenter view says it big
  if (banner) banner.hidden = !(paused && document.body.classList.contains('presenting'));
  const button = $('pause');
  button.setAttribute('aria-pressed', String(paused));
  button.textContent = paused ? 'Resume' : 'Pause';
}

export async function control(body, { retries = 2 } = {}) {
  const session = app.session;
  if (!session) {
    if (app.recovery) return deferControl(body);
    throw new Error('There is no session right now.');
  }
  try {
    const result = await api.sendControl(session, body);
    if (session === app.session) {
      if ('compare' in body || result.compare) setCompare(result.compare || null);
      applyScenario(result.scenario, result.link, result.settings_link);
      setPaused(Boolean(result.paused));
      if (result.dropped) {
        const n = result.dropped;
        sayWhy(`You changed the run, so the link's ${n} later ${n === 1 ? 'entry is' : 'entries are'} dropped: `
          + 'the link now says what you did from here.');
      }
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

export function action(name, extra = {}) {
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

export const togglePause = () => action(app.paused ? 'resume' : 'pause');
