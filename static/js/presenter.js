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
import { opensPaused } from './start.js';

/** Open the room: a new one for `link` (/present?LINK), or the one this tab presents already
 *  (/present/CODE after a reload: its session and token are in the tab's session storage). */
export async function startRoom(present, link) {
  setStatus('connecting', 'Opening the room…');
  let code = present.code;
  let session;
  let saved;
  if (!code) {
    // The handbook's half-second run opens paused at t = 0, on the projector as it does solo.
    const paused = opensPaused(link);
    let body;
    try {
      const answer = await fetch('/api/rooms', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(paused ? { link, paused } : { link }),
      });
      body = await answer.json();
      if (!answer.ok) throw new Error(body.error || `the server answered ${answer.status}`);
      code = body.code;
      session = body.session;
    } catch (error) {
      showNotice(`Could not open a room: ${clip(error.message)}`);
      setStatus('ended', 'No room.');
      return;
    }
    const { id, token, stream } = session;
    // The join address as the server gives it (an address phones can reach, and its QR), and
    // its warning if it has one ("Phones cannot reach 127.0.0.1: ...").
    saved = { id, token, stream, control: session.control, join: joinAddress(body), join_note: body.join_note || '',
      started: false };
    sessionStorage.setItem(roomKey(code), JSON.stringify(saved));
    history.replaceState(null, '', `/present/${code}?${session.link}`);
    app.stepFirst = Boolean(session.frame?.paused) && paused;
  } else {
    saved = JSON.parse(sessionStorage.getItem(roomKey(code)) || 'null');
    session = saved;
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
    const paused = opensPaused(app.lesson.steps[0].link);
    api.roomControl(code, session, { step: { lesson: app.lesson.name, index: 0, paused } }).catch(() => {});
  }
  const address = saved.join || `${location.origin}/r/${code}`;
  $('room-url').textContent = address.replace(/^https?:\/\//, '');
  const qr = $('room-qr');
  qr.src = `/api/rooms/${code}/qr.svg`;
  qr.hidden = false;
  fillJoinScreen(code, address, saved.join_note);
  if (!saved.started) openJoinScreen({ focus: true }); // before the class starts; after a reload, only if it had not
  app.session = session;
  app.run = null;
  if (session.frame) { adoptSession(session); onFrame(session.frame); }
  openStream(session);
}

const roomKey = (code) => `playground-room:${code}`;

/** The address phones open: the server's absolute one if it gives it, else this origin and its path. */
function joinAddress(body) {
  if (typeof body.join_url === 'string' && /^https?:\/\//.test(body.join_url)) return body.join_url;
  return `${location.origin}${body.join || `/r/${body.code}`}`;
}

// The join screen: the code, the QR and the address filling the projector before the class starts
// (and on demand: the Join screen button, or j); Start (Space, Enter or Escape) shrinks it to the
// room panel in the corner.

function fillJoinScreen(code, address, note) {
  $('join-code').textContent = code;
  $('join-url').textContent = address;
  const qr = $('join-qr');
  qr.src = `/api/rooms/${code}/qr.svg`;
  qr.alt = `A QR code of the join address, ${address}`;
  const warning = $('join-note');
  warning.textContent = note || '';
  warning.hidden = !note;
}

export const joinScreenOpen = () => Boolean($('join-screen') && !$('join-screen').hidden);

export function openJoinScreen({ focus = true } = {}) {
  const screen = $('join-screen');
  if (!screen || !app.room) return;
  setCodeHidden(false); // the join screen is there to show the code
  app.joinReturnFocus = document.activeElement;
  screen.hidden = false;
  document.body.classList.add('joining');
  $('join-screen-open')?.setAttribute('aria-expanded', 'true');
  if (focus) $('join-start').focus();
}

/** Start the class: the join screen shrinks to the room panel in the corner (the code stays there). */
export function startClass() {
  const screen = $('join-screen');
  if (!screen || screen.hidden) return;
  const finish = () => {
    screen.hidden = true;
    screen.classList.remove('shrinking');
    document.body.classList.remove('joining');
    fitPresenter();
  };
  const reduced = window.matchMedia?.('(prefers-reduced-motion: reduce)').matches;
  if (reduced) finish();
  else {
    screen.classList.add('shrinking'); // toward the room panel's corner, then gone
    setTimeout(finish, 250);
  }
  $('join-screen-open')?.setAttribute('aria-expanded', 'false');
  const saved = JSON.parse(sessionStorage.getItem(roomKey(app.room)) || 'null');
  if (saved && !saved.started) sessionStorage.setItem(roomKey(app.room), JSON.stringify({ ...saved, started: true }));
  const back = app.joinReturnFocus;
  app.joinReturnFocus = null;
  (back && back !== document.body && back.isConnected && back.id !== 'join-start' ? back : $('pause')).focus();
}

/** "Hide the code": the code, the join address and the QR (a class that has joined needs none). */
function setCodeHidden(hidden) {
  const panel = $('room-panel');
  const button = $('room-hide');
  if (!panel || !button) return;
  panel.classList.toggle('small', hidden);
  button.setAttribute('aria-pressed', String(hidden));
  button.textContent = hidden ? 'Show the code' : 'Hide the code';
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
  const joined = room.watching === 0 ? 'Nobody has joined yet'
    : `${room.watching.toLocaleString('en-US')} ${room.watching === 1 ? 'phone' : 'phones'} joined`;
  if ($('join-watching') && $('join-watching').textContent !== joined) $('join-watching').textContent = joined;
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
  $('room-hide').addEventListener('click', () => setCodeHidden(!$('room-panel').classList.contains('small')));
  $('join-start').addEventListener('click', startClass);
  $('join-screen-open').addEventListener('click', () => openJoinScreen());
}
