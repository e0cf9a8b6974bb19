// room.js: a student's view of a room (/r/CODE), made for a phone. The room's pipeline live, a
// few numbers in words, and -- when the teacher allows it -- "Send requests", which adds a small
// burst to the room's arrivals. Nothing here can change the scenario.

import { fitClamp, wireClamp } from './clamp.js';
import { Pipeline } from './pipeline.js';
import { fillPairs, guessWords, keyNumbers } from './roomwords.js';

const $ = (id) => document.getElementById(id);
const code = document.querySelector('main').dataset.code;
const playground = window.playground = { frames: 0, lastFrame: null, drawTimes: [], firstDrawAt: null };

const STUDENT_KEY = `playground-student-${code}`;

/** This tab's student id: anonymous, issued by the room (a phone cannot make one up), kept in
 * session storage so a reload is the same student. */
async function studentId() {
  let id = sessionStorage.getItem(STUDENT_KEY);
  if (!id) {
    const reply = await fetch(`/api/rooms/${code}/join`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}',
    });
    const body = await reply.json().catch(() => ({}));
    if (!reply.ok) throw new Error(body.error || `Could not join the room (${reply.status}).`);
    id = body.student;
    sessionStorage.setItem(STUDENT_KEY, id);
  }
  return id;
}

/** POST as this student; an id the room no longer knows (released after a long idle, or a
 * restarted server) is replaced once by a fresh one. Returns [reply, body]. */
async function postAsStudent(path, extra = {}) {
  for (let attempt = 0; ; attempt += 1) {
    const reply = await fetch(`/api/rooms/${code}/${path}`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ student: await studentId(), ...extra }),
    });
    const body = await reply.json().catch(() => ({}));
    if (reply.status !== 403 || body.field !== 'student' || attempt > 0) return [reply, body];
    sessionStorage.removeItem(STUDENT_KEY);
  }
}

const plural = (n, one, many = `${one}s`) => `${Number(n).toLocaleString('en-US')} ${n === 1 ? one : many}`;

let pipeline = null;
let pipelineB = null;
let columns = [];
let lastWindow = null;
let lastWindowB = null;
/** The comparison the room shows ({b_scenario, label, differs}, from full frames) or null. */
let compare = null;
let broken = false; // a draw or a frame threw: both pipelines start afresh on the next full frame
let drawErrorLogged = false;
playground.drawnFrames = 0;
playground.drawErrors = 0;

/** The side labels, as the presenter's page has them: "A: limit 0" and "B: limit 8". */
function sideLabels(label) {
  const [a, b] = String(label || '').split(' · ');
  return [a || 'A', b || 'B: the same as A'];
}

function showCompare(next) {
  compare = next || null;
  playground.compare = compare;
  document.body.classList.toggle('room-comparing', Boolean(compare));
  $('room-side-b').hidden = !compare;
  $('room-label-a').hidden = !compare;
  if (!compare) return;
  const [a, b] = sideLabels(compare.label);
  $('room-label-a').textContent = a;
  $('room-label-b').textContent = b;
  if (!pipelineB) pipelineB = playground.pipelineB = new Pipeline($('pipeline-b'));
  else pipelineB.resize();
}

function p99Of(windowRow) {
  const at = columns.indexOf('p99');
  return windowRow && at >= 0 ? windowRow[at] : null;
}

function numbers(frame, b) {
  if (frame.windows?.length) lastWindow = frame.windows[frame.windows.length - 1];
  fillPairs($('room-numbers-a'), keyNumbers(frame, frame.room?.p99?.a ?? p99Of(lastWindow)));
  if (!b) return;
  if (b.windows?.length) lastWindowB = b.windows[b.windows.length - 1];
  fillPairs($('room-numbers-b'), keyNumbers(b, frame.room?.p99?.b ?? p99Of(lastWindowB)));
}

/** Log the first failure only (a broken frame would otherwise log 60 times a second). */
function failed(where, error) {
  playground.drawErrors += 1;
  broken = true;
  if (drawErrorLogged) return;
  drawErrorLogged = true;
  console.error(`The room's pipeline (${where}) failed; it starts again with the next full frame.`, error);
}

function onFrame(frame) {
  playground.frames += 1;
  playground.lastFrame = frame;
  if (frame.full) {
    if (frame.window_columns) columns = frame.window_columns;
    lastWindow = null;
    lastWindowB = null;
    if (broken) {
      broken = false;
      pipeline.reset();
      if (pipelineB) pipelineB.reset();
    }
    showCompare(frame.compare);
  } else if (!frame.b && compare) {
    showCompare(null);
  }
  const b = compare && frame.b ? { ...frame, ...frame.b, scenario: frame.full ? compare.b_scenario : undefined } : null;
  try { pipeline.setFrame(frame); } catch (error) { failed('A, a frame', error); }
  if (b) {
    try { pipelineB.setFrame(b); } catch (error) { failed('B, a frame', error); }
  }
  numbers(frame, b);
  const room = frame.room || {};
  $('room-send').hidden = !room.allow_send;
  showQuestion(room.question);
  const notice = $('room-notice');
  const step = room.step ? `Step ${room.step.index + 1} of ${room.step.of}: ${room.step.title}${/[.?!:]$/.test(room.step.title) ? '' : '.'} ${room.step.notice}` : '';
  if (notice.textContent !== step || notice.hidden !== !step) {
    notice.textContent = step;
    notice.hidden = !step;
    fitClamp(notice, $('notice-more'));
  }
  $('class-sent').textContent = `${plural(room.watching || 0, 'person', 'people')} watching · the class sent `
    + `${plural(room.class_sent || 0, 'request')} in the last ${room.class_window || 10} s`;
  const status = frame.status === 'ended' ? (frame.message || 'This room has ended.')
    : frame.status === 'paused' ? 'Paused by the teacher.' : `Live: ${frame.t.toFixed(1)} s`;
  if ($('room-status').textContent !== status) $('room-status').textContent = status;
}

let shownQuestion = '';
let myAnswer = null;

function showQuestion(question) {
  const box = $('question');
  box.hidden = !question;
  if (!question) { shownQuestion = ''; return; }
  const key = `${question.key}:${question.revealed}:${Boolean(compare)}`;
  if (key !== shownQuestion) {
    if (!question.revealed && !shownQuestion.startsWith(`${question.key}:`)) myAnswer = null;
    shownQuestion = key;
    // The room's questions read service A: in a comparison, the phone says so.
    $('question-text').textContent = compare ? `${question.text} (service A)` : question.text;
    const answers = $('question-answers');
    if (question.revealed) {
      answers.replaceChildren();
    } else if (question.kind === 'choice') {
      answers.replaceChildren(...question.choices.map((choice) => {
        const button = document.createElement('button');
        button.type = 'button';
        button.textContent = choice;
        button.addEventListener('click', () => answer(choice));
        return button;
      }));
    } else {
      const input = document.createElement('input');
      input.type = 'number'; input.min = '0'; input.step = '1'; input.id = 'question-number';
      input.setAttribute('aria-label', 'Your guess');
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = 'Answer';
      button.addEventListener('click', () => answer(Number(input.value)));
      answers.replaceChildren(input, button);
    }
  }
  const result = question.revealed
    ? `The run: ${question.actual ?? 'no answer'} (${question.detail}). The class guessed ${guessWords(question)}.`
      + (myAnswer !== null ? ` You said ${myAnswer}.` : '')
    : (myAnswer !== null ? `Your answer: ${myAnswer}. ` : '') + `${plural(question.answered, 'answer')} so far.`;
  if ($('question-result').textContent !== result) $('question-result').textContent = result;
}

async function answer(value) {
  try {
    const [reply, body] = await postAsStudent('answer', { value });
    if (reply.ok) myAnswer = value;
    else $('question-result').textContent = body.error || `Not sent (${reply.status}).`;
  } catch (error) {
    // fetch fails with a TypeError when there is no connection; a refused join says why.
    $('question-result').textContent = error instanceof TypeError ? 'Not sent: no connection to the room.' : error.message;
  }
}

async function send() {
  const button = $('send-requests');
  button.disabled = true;
  try {
    const [answer, body] = await postAsStudent('send');
    $('send-result').textContent = answer.ok ? `Sent ${body.sent} requests.` : (body.error || `Not sent (${answer.status}).`);
  } catch (error) {
    $('send-result').textContent = error instanceof TypeError ? 'Not sent: no connection to the room.' : error.message;
  } finally {
    setTimeout(() => { button.disabled = false; }, 400);
  }
}

/** Every animation frame: a draw that throws is logged once and never stops the next one. */
function draw(now) {
  requestAnimationFrame(draw);
  if (!playground.lastFrame) return;
  let ok = true;
  try { pipeline.draw(now); } catch (error) { ok = false; failed('A', error); }
  if (compare && pipelineB) {
    try { pipelineB.draw(now); } catch (error) { ok = false; failed('B', error); }
  }
  if (ok) playground.drawnFrames += 1;
  if (playground.firstDrawAt === null) playground.firstDrawAt = performance.now();
}

function boot() {
  if (!$('pipeline')) return; // no such room
  pipeline = new Pipeline($('pipeline'));
  wireClamp($('room-notice'), $('notice-more'));
  $('send-requests').addEventListener('click', send);
  const source = new EventSource(`/api/rooms/${code}/stream`);
  source.addEventListener('frame', (event) => {
    let frame;
    try { frame = JSON.parse(event.data); } catch { return; }
    onFrame(frame);
    if (frame.status === 'ended') source.close();
  });
  source.addEventListener('error', () => {
    if (source.readyState === EventSource.CLOSED) $('room-status').textContent = 'This room has ended, or the server restarted.';
    else $('room-status').textContent = 'Reconnecting…';
  });
  requestAnimationFrame(draw);
}

boot();
