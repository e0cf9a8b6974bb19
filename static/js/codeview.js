/**
 * The code view: the asyncio program of the current scenario, highlighted by the server
 * (Pygments), in its Python 3.13+ variant by default or 3.11's. Lines a change just altered are
 * marked for a moment; an event log line points at the line of code that printed it.
 */

import * as api from './api.js';

const CHANGED_MS = 2500;
const DEBOUNCE_MS = 300;

export class CodeView {
  /** @param {{box: HTMLElement, python: HTMLSelectElement, copy: HTMLButtonElement,
   *   download: HTMLAnchorElement, status: HTMLElement}} nodes */
  constructor(nodes) {
    this.nodes = nodes;
    this.link = null;
    this.program = null; // the last answer of /api/code
    this.timer = 0;
    this.fetching = null;
    nodes.python.addEventListener('change', () => this.load(false));
    nodes.copy.addEventListener('click', () => this.copy());
  }

  /** Show the program of ``link`` (debounced: a slider drag changes the link many times). */
  show(link) {
    if (link === this.link) return;
    this.link = link;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.load(true), this.program ? DEBOUNCE_MS : 0);
  }

  async load(markChanges) {
    const python = this.nodes.python.value;
    const link = this.link;
    if (!link) return;
    this.fetching?.abort();
    const controller = new AbortController();
    this.fetching = controller;
    let program;
    try {
      program = await api.getProgram(python, link, { signal: controller.signal });
    } catch (error) {
      if (error.name === 'AbortError') return;
      this.say(`The program could not be shown: ${api.clip(error.message)}`);
      if (this.link === link) this.link = null; // the next frame's link asks again
      return;
    }
    const before = this.program && this.program.python === program.python && !this.program.diff
      ? this.program.source : null;
    this.program = program;
    const { box, download, python: select } = this.nodes;
    box.innerHTML = program.html; // Pygments' HTML from our server: the source, escaped
    for (const option of select.options) option.disabled = !program.pythons.includes(option.value);
    download.href = `/api/code/${program.python}/program.py?${program.link}`;
    download.setAttribute('download', program.filename);
    download.textContent = program.diff ? 'Download .diff' : 'Download .py';
    this.nodes.copy.textContent = program.diff ? 'Copy diff' : 'Copy';
    if (program.diff) { // a comparison: what B's program changes in A's
      this.say(`The difference between A's program and B's (${program.label}): lines starting with - are `
        + 'only in A\'s, + only in B\'s; the rest is the same in both.');
      return;
    }
    this.say(program.python === '3.13'
      ? 'Python 3.13 or newer: main() joins the queue, then queue.shutdown() stops the workers.'
      : 'Python 3.11 and 3.12: one None sentinel per worker stops them. Same trace as 3.13\'s.');
    if (markChanges && before !== null) this.markChanged(before.split('\n'), program.source.split('\n'));
  }

  /** Mark the lines of the new source that the old one did not have. */
  markChanged(oldLines, newLines) {
    const counts = new Map();
    for (const line of oldLines) counts.set(line, (counts.get(line) || 0) + 1);
    const changed = [];
    newLines.forEach((line, i) => {
      const n = counts.get(line) || 0;
      if (n) counts.set(line, n - 1); else if (line.trim()) changed.push(i + 1);
    });
    for (const n of changed) this.line(n)?.classList.add('changed');
    if (changed.length) {
      setTimeout(() => { for (const n of changed) this.line(n)?.classList.remove('changed'); }, CHANGED_MS);
    }
  }

  /** Point at the lines that print events of ``kind`` (an event log line was chosen). */
  pointAt(kind) {
    const lines = this.program?.printed_by?.[kind] || [];
    for (const node of this.nodes.box.querySelectorAll('.pointed')) node.classList.remove('pointed');
    if (!lines.length) {
      if (this.program?.diff) this.say('In compare mode the code view shows the diff; stop comparing to point at lines.');
      return false;
    }
    for (const n of lines) this.line(n)?.classList.add('pointed');
    const first = this.line(lines[0]);
    if (first) { // scroll the box only (the page stays where it is): the line a third of the way down
      const box = this.nodes.box;
      box.scrollTop = Math.max(0, first.offsetTop - box.clientHeight / 3);
    }
    this.say(`Line ${lines.join(' and ')} prints that event.`);
    return true;
  }

  line(n) {
    return this.nodes.box.querySelector(`#code-line-${n}`);
  }

  async copy() {
    if (!this.program) return;
    try {
      await navigator.clipboard.writeText(this.program.source);
      this.say(this.program.diff ? 'Copied the diff.' : 'Copied the program.');
    } catch {
      this.say('Copying is not allowed here: use Download .py, or select the code.');
    }
  }

  say(text) {
    this.nodes.status.textContent = text;
  }
}
