// status.js: the status line, the notice, the screen-reader announcements and the live summary.

import { clip } from './api.js';
import { app, $ } from './state.js';
import { fitClamp } from './clamp.js';

export function setStatus(state, text) {
  const node = $('status');
  if (node.dataset.state !== state) node.dataset.state = state;
  const textNode = $('status-text');
  if (textNode.textContent !== text) {
    // Refit the More button only when the text's length changes (not on every tick of the clock).
    const refit = textNode.textContent.length !== text.length;
    textNode.textContent = text;
    if (refit) fitClamp(node, $('status-more'), textNode);
  }
  $('restart-session').hidden = state !== 'ended';
}

const speedText = (s) => `${Number(s)}×`;

export function statusFromFrame(frame) {
  const note = app.note && performance.now() < app.note.until ? ` ${app.note.text}` : '';
  if (!note) app.note = null;
  const t = `${frame.t.toFixed(1)} s`;
  switch (frame.status) {
    case 'paused':
      return setStatus('paused', `Paused at ${t}.${note}`);
    case 'finished':
    case 'halted':
    case 'ended':
      // A run that is over names its last instant exactly (the CLI's three decimals).
      return setStatus(frame.status, clip(frame.message || `The run ${frame.status} at ${frame.t.toFixed(3)} s.`) + note);
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

export function showNotice(text) {
  const node = $('notice');
  node.textContent = text;
  node.hidden = !text;
}

/** A shortcut or button that cannot act now says why in the status line (and to screen readers). */
export function sayWhy(text) {
  app.note = { text, until: performance.now() + 6000 };
  if (app.frame) statusFromFrame(app.frame);
  announce(text);
}

export function announce(text) {
  const node = $('status-announce');
  if (node && node.textContent !== text) node.textContent = text;
}

/** Every few seconds, the run in words for screen readers (#live-summary). */
export function summarize() {
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
