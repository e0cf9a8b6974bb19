// eventlog.js: the last few hundred events in the handbook's vocabulary, newest at the bottom.

export const LOG_LIMIT = 300;

export function eventLine([t, , text]) {
  return `${Number(t).toFixed(3)} ${text}`;
}

export class EventLog {
  constructor(list, pauseButton, limit = LOG_LIMIT) {
    this.list = list;
    this.button = pauseButton;
    this.limit = limit;
    this.lines = []; // [text, kind] for the newest `limit` events, kept while paused too
    this.paused = false;
    this.rendered = 0; // how many of the lines at the end are still to be drawn
    pauseButton?.addEventListener('click', () => this.setPaused(!this.paused));
  }

  setPaused(paused) {
    this.paused = paused;
    if (this.button) {
      this.button.setAttribute('aria-pressed', String(paused));
      this.button.textContent = paused ? 'Resume log' : 'Pause log';
    }
    if (!paused) this.renderAll();
  }

  clear() {
    this.lines = [];
    this.list.replaceChildren();
  }

  /** Mark a new run (reset): a divider line, so old and new runs don't blur together. */
  mark(text) {
    this.push([[text, 'mark']]);
  }

  /** `tag` names the service in compare mode ("A", "B"), as the CLI's trace does. */
  add(events, skipped = 0, tag = '') {
    const lines = [];
    const prefix = tag ? `${tag} ` : '';
    if (skipped > 0) lines.push([`${prefix}… ${skipped} events not shown`, 'skipped']);
    const start = Math.max(0, (events?.length || 0) - this.limit);
    for (let i = start; i < (events?.length || 0); i++) lines.push([prefix + eventLine(events[i]), events[i][1]]);
    if (lines.length) this.push(lines);
  }

  push(lines) {
    this.lines.push(...lines);
    if (this.lines.length > this.limit) this.lines.splice(0, this.lines.length - this.limit);
    if (this.paused) return;
    const fragment = document.createDocumentFragment();
    for (const line of lines.slice(-this.limit)) fragment.append(this.item(line));
    this.list.append(fragment);
    let extra = this.list.childElementCount - this.limit;
    while (extra-- > 0) this.list.firstElementChild.remove();
    this.scroll();
  }

  renderAll() {
    const fragment = document.createDocumentFragment();
    for (const line of this.lines) fragment.append(this.item(line));
    this.list.replaceChildren(fragment);
    this.scroll();
  }

  item([text, kind]) {
    const li = document.createElement('li');
    li.textContent = text;
    li.className = `ev-${kind}`;
    return li;
  }

  scroll() {
    this.list.scrollTop = this.list.scrollHeight;
  }
}
