/**
 * Compare mode's own parts of the page: the labels over A's and B's pipelines, the buttons that
 * start, fork, swap and stop a comparison, the choice of where control changes go, and the table
 * that sets A's and B's outcomes side by side with the better value marked.
 */

import { duration } from './controls.js';

/** Keys A and B share (they are fed the same arrivals): a change always goes to both. */
export const SHARED = ['arrivals', 'rate', 'burst', 'period', 'producer', 'producers', 'items', 'seed'];

const count = (n) => (n == null ? '–' : Number(n).toLocaleString('en-US'));

/** Table rows: [key, label, format, better: 'more' | 'less' | null (never marked), always shown].
 *  Shedding (rejected, dropped, stale, timed out, throttled) and peak memory are trade-offs, not
 *  marked: a side is better by what it completes, how fast, and what it loses in crashes. */
const ROWS = [
  ['completed', 'Completed', count, 'more', true],
  ['rejected', 'Rejected', count, null, false],
  ['dropped', 'Dropped', count, null, false],
  ['put_timeouts', 'Puts timed out', count, null, false],
  ['stale', 'Stale', count, null, false],
  ['timeouts', 'Calls timed out', count, null, false],
  ['throttled', 'Throttled', count, null, false],
  ['lost', 'Lost in a crash', count, 'less', false],
  ['latency_p50', 'Latency p50', duration, 'less', true],
  ['latency_p95', 'Latency p95', duration, 'less', true],
  ['latency_p99', 'Latency p99', duration, 'less', true],
  ['peak_in_system', 'Peak memory (items)', count, null, true],
  ['crashes', 'Crashes', count, 'less', true],
];

/** Counts differ past the run's noise when apart by more than this share and this many items. */
export const COUNT_SHARE = 0.05;
export const COUNT_ITEMS = 10;

/** Whether A and B differ by more than the run's noise on a row (see #outcomes-rule). */
export function apart(name, a, b, row) {
  if (name === 'crashes') return a !== b;
  if (name.startsWith('latency_')) {
    const ca = row.a[`${name}_ci`], cb = row.b[`${name}_ci`];
    if (!ca || !cb) return false;
    return ca[1] < cb[0] || cb[1] < ca[0]; // the 95 % intervals do not overlap
  }
  return Math.abs(a - b) > COUNT_ITEMS && Math.abs(a - b) > COUNT_SHARE * Math.max(Math.abs(a), Math.abs(b));
}

/** Which side is better on a row: 'a', 'b' or '' (not marked, within the noise, or missing). */
export function better(a, b, want, name = '', row = null) {
  if (!want || a == null || b == null || a === b) return '';
  if (row && !apart(name, a, b, row)) return '';
  return (want === 'more') === (a > b) ? 'a' : 'b';
}

export class CompareView {
  /** @param {(id: string) => HTMLElement} $ */
  constructor($) {
    this.nodes = {
      labelA: $('side-a-label'), sideB: $('side-b'), labelB: $('side-b-label'),
      outcomes: $('outcomes'), body: $('outcomes-table').tBodies[0],
      start: $('compare-start'), fork: $('compare-fork'), swap: $('compare-swap'), stop: $('compare-stop'),
      status: $('compare-status'), target: $('edit-target'),
      theoryA: $('theory-a-label'), theoryB: $('theory-b-box'),
    };
    this.compare = null;
    this.cells = new Map(); // key -> {row, a, b}
    this.shownKey = '';
  }

  /** Where control changes go now: 'a', 'b' or 'both' (only while comparing). */
  get target() {
    return this.nodes.target.querySelector('input:checked')?.value || 'both';
  }

  set target(value) {
    const input = this.nodes.target.querySelector(`input[value="${value}"]`);
    if (input) input.checked = true;
  }

  /** Show or hide compare mode: `compare` is the frame's {b_scenario, label, differs} or null. */
  show(compare) {
    const on = Boolean(compare);
    const n = this.nodes;
    this.compare = compare || null;
    document.body.classList.toggle('comparing', on);
    for (const node of [n.labelA, n.sideB, n.outcomes, n.swap, n.stop, n.target, n.theoryA, n.theoryB]) node.hidden = !on;
    n.start.hidden = on;
    n.fork.hidden = on;
    if (!on) { this.clearTable(); return; }
    const [a, b] = compare.label.split(' · ');
    n.labelA.textContent = a === 'A' ? 'A' : a;
    n.labelB.textContent = b || 'B: the same as A (change a control for B)';
    n.theoryB.querySelector('.side-label').textContent = n.labelB.textContent;
    n.theoryA.textContent = n.labelA.textContent;
  }

  say(text) {
    this.nodes.status.textContent = text;
  }

  clearTable() {
    this.nodes.body.replaceChildren();
    this.cells.clear();
    this.shownKey = '';
  }

  /** The outcomes so far, side by side: always the main rows, a loss row once either side has it. */
  update(outcomes) {
    if (!outcomes || !this.compare) return;
    const { a, b } = outcomes;
    const key = JSON.stringify(outcomes);
    if (key === this.shownKey) return;
    this.shownKey = key;
    let at = 0;
    for (const [name, label, format, want, always] of ROWS) {
      const show = always || (a[name] || 0) > 0 || (b[name] || 0) > 0;
      let cells = this.cells.get(name);
      if (!show) { if (cells) cells.row.hidden = true; continue; }
      if (!cells) cells = this.addRow(name, label, at);
      cells.row.hidden = false;
      const winner = better(a[name], b[name], want, name, outcomes);
      this.fill(cells.a, format(a[name]), winner === 'a');
      this.fill(cells.b, format(b[name]), winner === 'b');
      at += 1;
    }
  }

  addRow(name, label, at) {
    const row = document.createElement('tr');
    row.dataset.outcome = name;
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = label;
    const a = document.createElement('td');
    const b = document.createElement('td');
    row.append(th, a, b);
    // Rows keep ROWS' order, whichever appears first.
    const order = ROWS.map((r) => r[0]);
    const next = [...this.nodes.body.rows].find((r) => order.indexOf(r.dataset.outcome) > order.indexOf(name));
    this.nodes.body.insertBefore(row, next || null);
    const cells = { row, a, b };
    this.cells.set(name, cells);
    return cells;
  }

  fill(cell, text, best) {
    const shown = best ? `${text} ✓` : text;
    if (cell.dataset.shown === shown) return;
    cell.dataset.shown = shown;
    cell.classList.toggle('better', best);
    cell.textContent = text;
    if (best) {
      const mark = document.createElement('span');
      mark.className = 'better-mark';
      mark.textContent = ' ✓';
      mark.title = "better by more than the run's noise (the rule is under the table)";
      const words = document.createElement('span');
      words.className = 'visually-hidden';
      words.textContent = ' (better)';
      cell.append(mark, words);
    }
  }
}
