// presenter.js: a room's teacher page (/present): open or reopen the room, the presenter view
// and the console, the room's panel (code, QR, watching, class sends) and its questions.

import * as api from './api.js';
import { clip } from './api.js';
import { fillPairs, guessWords, keyNumbers } from './roomwords.js';
import { app, $ } from './state.js';
import { setStatus, showNotice } from './status.js';
import { adoptSession, openStream } from './stream.js';
import { onFrame } from './frame.js';
import { setPaused } from './actions.js';

/** Open the room: a new one for `link` (/present?LINK), or the one this tab presents already
 *  (/present/CODE after a reload: its session and token are in the tab's session storage). */
export async function startRoom(present, link) {
  setStatus('connecting', 'Opening the room…');
  let code = present.code;
  let session;
  if (!code) {
    try {
      const answer = await fetch('/api/rooms', {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ link }),
      });
      const body = await answer.json();
      if (!answer.ok) throw new Error(body.error || `the server answered ${answer.status}`);
      code = body.code;
      session = body.session;
    } catch (error) {
      showNotice(`Could not open a room: ${clip(error.message)}`);
      setStatus('ended', 'No room.');
      return;
    }
    const { id, token, stream } = session;
    sessionStorage.setItem(`playground-room:${code}`, JSON.stringify({ id, token, stream, control: session.control }));
    history.replaceState(null, '', `/present/${code}?${session.link}`);
  } else {
    session = JSON.parse(sessionStorage.getItem(`playground-room:${code}`) || 'null');
    if (!session) {
      showNotice(`This tab does not present room ${code} (its teacher token is kept in the tab that opened it). `
        + `Students join at /r/${code}; to present a new room, open /present.`);
      setStatus('ended', 'Not this tab\'s room.');
      return;
    }
  }
  app.room = code;
  setPresenting(true);
  $('room-code').textContent = code;
  if (app.lesson && !present.code) { // a new room on a lesson: the phones learn its first step
    api.roomControl(code, session, { step: { lesson: app.lesson.name, index: 0 } }).catch(() => {});
  }
  $('room-url').textContent = `${location.host}/r/${code}`;
  const qr = $('room-qr');
  qr.src = `/api/rooms/${code}/qr.svg`;
  qr.hidden = false;
  app.session = session;
  app.run = null;
  if (session.frame) { adoptSession(session); onFrame(session.frame); }
  openStream(session);
}

/** The presenter view (the projector's) or the console (the whole page, every control). */
function setPresenting(on) {
  document.body.classList.toggle('presenting', on);
  // The room's code goes to the top of the right-hand column on the projector, back on top of the page in the console.
  const panel = $('room-panel');
  if (panel) {
    if (on) document.querySelector('.charts-panel').prepend(panel);
    else document.querySelector('main.layout').before(panel);
  }
  const toggle = $('present-toggle');
  if (toggle) {
    toggle.setAttribute('aria-pressed', String(on));
    toggle.textContent = on ? 'Console' : 'Presenter view';
  }
  pickCharts();
  setPaused(app.paused);
  fitPresenter();
}

/** Size the presenter view to the screen: the pipeline from where it starts to the bottom, the
 *  two charts share what is left of the right-hand column (measured, so nothing above is guessed). */
function fitPresenter() {
  if (!document.body.classList.contains('presenting')) return;
  const root = document.documentElement;
  const top = (node) => node.getBoundingClientRect().top + window.scrollY;
  const chrome = `${Math.round(top($('pipeline')) + 16)}px`;
  if (root.style.getPropertyValue('--presenter-chrome') !== chrome) root.style.setProperty('--presenter-chrome', chrome);
  const first = document.querySelector('#charts canvas.chart.picked');
  if (first) {
    const chartsTop = `${Math.round(top(first) + 8)}px`;
    if (root.style.getPropertyValue('--presenter-charts-top') !== chartsTop) root.style.setProperty('--presenter-charts-top', chartsTop);
  }
}

/** The two charts the presenter view shows (the console shows all five). */
function pickCharts() {
  const picks = [...document.querySelectorAll('.chart-pick')].map((select) => select.value);
  for (const canvas of document.querySelectorAll('#charts canvas.chart')) {
    canvas.classList.toggle('picked', picks.includes(canvas.dataset.chart));
  }
}

/** The presenter view's key numbers, in words a room can read from the back. */
export function showKeyNumbers(frame) {
  if (!document.body.classList.contains('presenting')) return;
  const last = app.windows[app.windows.length - 1];
  fillPairs($('key-numbers'), keyNumbers(frame, frame.room?.p99?.a ?? (last ? last[app.windowColumns.indexOf('p99')] : null)));
}

export function showRoom(room) {
  const watching = `${room.watching.toLocaleString('en-US')} watching`;
  if ($('room-watching')?.textContent !== watching) $('room-watching').textContent = watching;
  const allow = $('room-allow-send');
  if (allow && document.activeElement !== allow) allow.checked = room.allow_send;
  const sent = room.allow_send
    ? `The class sent ${room.class_sent.toLocaleString('en-US')} requests in the last ${room.class_window} s.` : '';
  if ($('room-class-sent') && $('room-class-sent').textContent !== sent) $('room-class-sent').textContent = sent;
  const question = room.question;
  $('question-reveal').disabled = !question || question.revealed;
  const text = !question ? ''
    : question.revealed
      ? `"${question.text}" The run: ${question.actual ?? 'no answer'} (${question.detail}). The class guessed ${guessWords(question)}.`
      : `"${question.text}" ${question.answered.toLocaleString('en-US')} answered.`;
  if ($('question-status').textContent !== text) $('question-status').textContent = text;
}

export function wireRoom() {
  const allow = $('room-allow-send');
  if (!allow) return;
  allow.addEventListener('change', async () => {
    const session = app.session;
    if (!session || !app.room) return;
    try {
      await api.roomControl(app.room, session, { allow_send: allow.checked });
    } catch (error) {
      allow.checked = !allow.checked;
      showNotice(`The room did not change: ${clip(error.message)}`);
    }
  });
  const roomSwitch = async (body) => {
    try {
      await api.roomControl(app.room, app.session, body);
    } catch (error) {
      showNotice(`The room did not change: ${clip(error.message)}`);
    }
  };
  $('question-ask').addEventListener('click', () => roomSwitch({ ask: $('question-pick').value }));
  $('question-reveal').addEventListener('click', () => roomSwitch({ reveal: true }));
  $('present-toggle').addEventListener('click', () => setPresenting(!document.body.classList.contains('presenting')));
  for (const select of document.querySelectorAll('.chart-pick')) {
    select.addEventListener('change', () => { pickCharts(); fitPresenter(); });
  }
  window.addEventListener('resize', fitPresenter);
  setInterval(fitPresenter, 1000); // what sits above may change height (a notice, a status line)
  $('room-hide').addEventListener('click', () => {
    const panel = $('room-panel');
    const hidden = panel.classList.toggle('small');
    $('room-hide').setAttribute('aria-pressed', String(hidden));
    $('room-hide').textContent = hidden ? 'Show the code' : 'Hide the code';
  });
}
