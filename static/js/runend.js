// runend.js: the end of a run (finished, halted or ended): the live-only buttons disabled, the
// run's summary panel, Run again, and the handbook's "Step ▶" prompt.

import { clip } from './api.js';
import { app, playground, $ } from './state.js';
import { announce } from './status.js';
import { startSession } from './stream.js';
import { action, control } from './actions.js';

const OVER = ['finished', 'halted', 'ended'];
export const LIVE_ONLY = ['burst', 'step', 'drain', 'hiccup'];

export function whyOver(status) {
  if (status === 'halted') return 'The run was stopped (it held too many items); Reset to start it again.';
  if (status === 'ended') return 'This session has ended; start a new session to run again.';
  return 'The run has finished: nothing more arrives. Reset (r) or Run again to start it again.';
}

/** Finished, halted or ended: Burst, Step and Drain cannot act, and the page says so; the canvas
 *  (pipeline.js) can read window.playground.runOver or listen for the playground:run event. */
export function updateRunOver(frame) {
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
  // The run's own end (its last event, as the CLI reports it), not the frame's clock, which
  // may have moved past it.
  const t = frame.summary?.sim_time ?? frame.t;
  // Exact run-wide percentiles if the frame carries the engine's summary (frames.py may add it);
  // otherwise the worst closed metrics window's.
  const exact = frame.summary && 'latency_p50' in frame.summary;
  const latency = exact ? { p50: frame.summary.latency_p50, p95: frame.summary.latency_p95,
    p99: frame.summary.latency_p99 } : windowLatency();
  const rows = [
    ['Ended at', `${Number.isFinite(t) ? t.toFixed(3) : '—'} s (${frame.status})`],
    ['Arrived', totals.arrived],
    ['Completed', totals.completed],
    ['Rejected (queue full)', totals.rejected],
    ['Dropped (oldest pushed out)', totals.dropped],
    ['Put timeouts', totals.put_timeouts],
    ['Stale (older than max age)', totals.stale],
    ['Call timeouts', totals.timeouts],
    ['Lost in crashes', totals.lost],
    ['Still in the system', totals.in_system],
    ['Throughput', frame.summary?.throughput !== undefined ? `${fmt(frame.summary.throughput, 2)} items/s`
      : (t > 0 ? `${fmt(totals.completed / t, 2)} items/s` : '—')],
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

export function runAgain() {
  if (app.over === 'ended' || !app.session) {
    startSession(app.link, { replacing: false });
  } else if (app.stepFirst) {
    control({ action: 'pause' }).then(() => action('reset')).catch(() => action('reset'));
  } else {
    action('reset');
  }
  $('pause').focus();
}

export function updateStepPrompt(frame) {
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
