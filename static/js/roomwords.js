// roomwords.js: what a room shows in words, shared by the teacher's page (app.js) and the
// phones (room.js): the key numbers and the class's guesses. No names anywhere.

import { duration } from './controls.js';

const count = (n) => Number(n).toLocaleString('en-US');

/** Work lost every way so far. */
export function lostCount(totals) {
  return ['rejected', 'dropped', 'put_timeouts', 'stale', 'timeouts', 'throttled', 'lost']
    .reduce((sum, key) => sum + (totals[key] || 0), 0);
}


/** The key numbers of a frame: [[term, value], ...]; `p99` from the newest metrics window. */
export function keyNumbers(frame, p99) {
  const t = frame.state?.totals || {};
  return [['Completed', count(t.completed || 0)], ['Lost', count(lostCount(t))],
    ['Queued', String(frame.state?.queue?.n ?? 0)], ['p99', duration(p99)]];
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
