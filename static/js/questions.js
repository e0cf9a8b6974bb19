// questions.js: the handbook's four questions, answered live from the scenario and the state.

import { formatNumber } from './controls.js';

const seconds = (s) => `${formatNumber(s)} s`;
const plural = (n, one, many = `${one}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;

function waitingNow(state) {
  if (!state) return 0;
  const blocked = state.blocked?.n || 0;
  const producers = (state.producers || []).filter((p) => p[1] === 'b').length;
  return Math.max(blocked, producers);
}

/** Every way work has been lost, with its count, in words: ["3 rejected", "1 call timed out"]. */
export function lossWords(totals) {
  const ways = [
    ['rejected', (n) => `${n.toLocaleString('en-US')} rejected`],
    ['dropped', (n) => `${n.toLocaleString('en-US')} dropped`],
    ['put_timeouts', (n) => plural(n, 'put timed out', 'puts timed out')],
    ['stale', (n) => `${n.toLocaleString('en-US')} stale`],
    ['timeouts', (n) => plural(n, 'call timed out', 'calls timed out')],
    ['throttled', (n) => `${n.toLocaleString('en-US')} throttled`],
    ['lost', (n) => `${n.toLocaleString('en-US')} lost in a crash`],
  ];
  return ways.filter(([key]) => (totals[key] || 0) > 0).map(([key, words]) => words(totals[key]));
}

export function answers(scenario, state) {
  const totals = state?.totals || {};
  const unbounded = scenario.queue === 0;
  const waiting = waitingNow(state);
  const queued = state?.queue?.n ?? 0;
  const { policy } = scenario;
  const out = [];

  // 1. Who waits?
  if (unbounded) {
    out.push(['Who waits?', `Producers never wait: the queue is unbounded (${plural(queued, 'item')} queued now)`]);
  } else if (policy === 'block') {
    out.push(['Who waits?', `Producers wait when the queue is full (${waiting} waiting now)`]);
  } else if (policy === 'timeout') {
    out.push(['Who waits?', `Producers wait when the queue is full, up to ${seconds(scenario.put_timeout)} (${waiting} waiting now)`]);
  } else if (policy === 'reject') {
    out.push(['Who waits?', 'Producers never wait: a full queue rejects new work']);
  } else {
    out.push(['Who waits?', 'Producers never wait: a full queue drops its oldest item']);
  }

  // 2. How long may a put wait?
  if (unbounded) {
    out.push(['How long can a put take?', 'A put never waits: the queue is unbounded']);
  } else if (policy === 'timeout') {
    out.push(['How long can a put take?', `A put fails after ${seconds(scenario.put_timeout)} (${plural(totals.put_timeouts || 0, 'timeout')} so far)`]);
  } else if (policy === 'block') {
    out.push(['How long can a put take?', 'A put waits as long as it takes']);
  } else {
    out.push(['How long can a put take?', 'A put never waits, so it never times out']);
  }

  // 3. What happens to new work when it is full?
  let full;
  const shed = scenario.codel === 'on' || scenario.max_age > 0; // what waits is dropped at the get
  if (unbounded && shed) {
    full = 'The queue is never full: it has no bound, but what has waited too long is dropped as workers take it';
  } else if (unbounded) {
    full = scenario.memory > 0
      ? `The queue is never full: it grows until memory runs out at ${plural(scenario.memory, 'item')} (${plural(state?.memory?.crashes || 0, 'crash', 'crashes')} so far)`
      : 'The queue is never full: it grows without limit';
  } else if (policy === 'reject') {
    full = `New work is rejected when full (${totals.rejected || 0} rejected so far)`;
  } else if (policy === 'drop-oldest') {
    full = `The oldest work is dropped when full (${(totals.dropped || 0) - (totals.codel_dropped || 0)} dropped so far)`;
  } else if (policy === 'timeout') {
    full = `New work waits when full, and is turned away after ${seconds(scenario.put_timeout)}`;
  } else {
    full = 'The producer waits until there is room: a full queue itself loses nothing';
  }
  if (scenario.max_age > 0) full += `; work older than ${seconds(scenario.max_age)} is dropped as stale (${totals.stale || 0} so far)`;
  if (scenario.codel === 'on') {
    full += `; CoDel drops work as it is taken once the wait in the queue has stayed above `
      + `${seconds(scenario.codel_target)} for ${seconds(scenario.codel_interval)} (${totals.codel_dropped || 0} dropped so far)`;
  }
  if (scenario.discipline === 'lifo') full += '; the newest work is served first (LIFO)';
  if (scenario.discipline === 'adaptive-lifo') {
    full += `; the newest work is served first once a queue has stood for ${seconds(scenario.codel_interval)} (adaptive LIFO)`;
  }
  out.push(['What happens when it is full?', full]);

  // 3b. What has been lost, every way at once: never "nothing is lost" while anything is.
  const lost = lossWords(totals);
  out.push(['Is any work lost?', lost.length ? `Yes: ${lost.join(', ')} so far` : 'No: every item so far was served or is still in the system']);

  // 4. How many downstream calls at once?
  const inFlight = state?.downstream?.in_flight ?? 0;
  const abandoned = state?.downstream?.abandoned ?? 0;
  const walkAway = scenario.abandon === 'continue' && scenario.timeout > 0;
  let calls;
  const sem = state?.semaphore;
  if (sem?.limiter && sem.limiter !== 'fixed') {
    // The limit moves: say what it is now, where it started and why it moves.
    const name = { aimd: 'An AIMD', vegas: 'A Vegas', gradient2: 'A Gradient2' }[sem.limiter];
    const rule = {
      aimd: `a failed call cuts it to ${formatNumber(scenario.aimd_backoff)} of itself, `
        + `rounded down and never below ${scenario.limit_min}, `
        + 'a call that succeeds while at least half of it is in use adds one',
      vegas: 'it grows while calls are about as fast as the fastest it has seen and shrinks as they slow '
        + `(more than ${scenario.vegas_beta} × log10 of it estimated queued at the downstream) or fail`,
      gradient2: `it shrinks while calls are slower than ${formatNumber(scenario.gradient_tolerance)} times `
        + 'their long-run average and grows by a few calls otherwise',
    }[sem.limiter];
    calls = `${name} limiter allows ${sem.limit} downstream ${sem.limit === 1 ? 'call' : 'calls'} at once now `
      + `(it started at ${sem.initial}; ${rule}; ${inFlight} in flight now)`;
    if (walkAway) calls += `, ${abandoned} of them abandoned by callers that timed out`;
  } else if (scenario.limit > 0 && walkAway) {
    // The semaphore bounds the calls workers wait on; abandoned calls are outside it.
    calls = `At most ${scenario.limit} downstream ${scenario.limit === 1 ? 'call' : 'calls'} waited on at once, `
      + `but calls that time out go on: ${inFlight} in flight now, ${abandoned} of them abandoned`;
  } else if (scenario.limit > 0) {
    calls = `At most ${scenario.limit} downstream ${scenario.limit === 1 ? 'call' : 'calls'} at once (${inFlight} in flight now)`;
    if (scenario.limit > scenario.workers) calls += `; only ${plural(scenario.workers, 'worker')}, so the limit never binds`;
  } else {
    calls = `No limit on downstream calls (${plural(scenario.workers, 'worker')} may call at once; ${inFlight} in flight now)`;
  }
  if (scenario.capacity > 0) calls += `; the downstream handles ${scenario.capacity} at full speed`;
  if (scenario.timeout > 0) calls += `; a call gives up after ${seconds(scenario.timeout)}`;
  out.push(['How many calls at once?', calls]);
  return out;
}

export class Questions {
  constructor(list) {
    this.list = list;
    this.items = [];
    this.last = [];
  }

  /** The answers for A, or in compare mode for A and B (bScenario, bState) one under the other. */
  update(scenario, state, bScenario = null, bState = null) {
    if (!scenario) return;
    const rows = answers(scenario, state);
    const rowsB = bScenario ? answers(bScenario, bState) : null;
    if (this.items.length !== rows.length) {
      this.list.replaceChildren();
      this.items = rows.map(() => {
        const li = document.createElement('li');
        const q = document.createElement('span');
        q.className = 'question';
        const a = document.createElement('span');
        a.className = 'answer';
        const b = document.createElement('span');
        b.className = 'answer answer-b';
        li.append(q, ' ', a, ' ', b);
        this.list.append(li);
        return { q, a, b };
      });
      this.last = [];
    }
    rows.forEach(([question, answer], i) => {
      const answerB = rowsB ? rowsB[i][1] : '';
      const key = `${question}${answer}${answerB}`;
      if (this.last[i] === key) return;
      this.last[i] = key;
      this.items[i].q.textContent = question;
      this.items[i].a.textContent = rowsB ? `A: ${answer}` : answer;
      this.items[i].b.textContent = rowsB ? `B: ${answerB}` : '';
      this.items[i].b.hidden = !rowsB;
    });
  }
}
