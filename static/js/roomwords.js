// roomwords.js: what a room shows in words, shared by the teacher's page (app.js) and the
// phones (room.js): the key numbers and the class's guesses. No names anywhere.

import { duration } from './controls.js';

const count = (n) => Number(n).toLocaleString('en-US');

/** Work lost every way so far. */
export function lostCount(totals) {
  return ['rejected', 'dropped', 'put_timeouts', 'stale', 'timeouts', 'throttled', 'lost']
    .reduce((sum, key) => sum + (totals[key] || 0), 0);
}


/** The key numbers of a frame: [[term, value], ...]. `p99` is the room's figure for one service
 * ({p99, span}: exact over the items completed in the last 10 s, or the whole run once it has
 * finished), or a bare number (the newest metrics window's) where a frame carries none. "Not
 * completed" is every way an item can fail (the CLI keeps "lost" for items lost in a crash). */
export function keyNumbers(frame, p99, state = frame.state) {
  const t = state?.totals || {};
  const figure = p99 && typeof p99 === 'object' ? p99 : { p99, span: null };
  return [['Completed', count(t.completed || 0)], ['Not completed', count(lostCount(t))],
    ['Queued', String(state?.queue?.n ?? 0)],
    [figure.span ? `p99 (${figure.span})` : 'p99', duration(figure.p99)]];
}

/** Fill a <dl> with term/value pairs (each pair in a div), only when they changed. */
export function fillPairs(list, rows) {
  const key = JSON.stringify(rows);
  if (!list || list.dataset.key === key) return;
  list.dataset.key = key;
  list.replaceChildren(...rows.map(([term, value]) => {
    const pair = document.createElement('div');
    const dt = document.createElement('dt');
    dt.textContent = term;
    const dd = document.createElement('dd');
    dd.textContent = value;
    pair.append(dt, dd);
    return pair;
  }));
}

/** The class's guesses in words: counts per choice, or how many, the median and the middle half. */
export function guessWords(question) {
  const g = question.guesses || {};
  if (question.kind === 'choice') return question.choices.map((c) => `${c} ${g[c] || 0}`).join(' · ');
  if (!g.count) return 'nothing';
  return `${count(g.count)} ${g.count === 1 ? 'guess' : 'guesses'}, median ${count(g.median)}, half between `
    + `${count(g.q1)} and ${count(g.q3)}`;
}
