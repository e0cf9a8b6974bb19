// lessons.js: a lesson's steps, advanced with → (or Next); in a room every viewer follows.

import * as api from './api.js';
import { clip } from './api.js';
import { app, $ } from './state.js';
import { showNotice, announce } from './status.js';
import { showPresetNotice } from './address.js';
import { startSession } from './stream.js';
import { opensPaused } from './start.js';

export function showStep() {
  const lesson = app.lesson;
  if (!lesson || !$('lesson-bar')) return;
  const step = lesson.steps[lesson.index];
  $('lesson-step').textContent = `Step ${lesson.index + 1} of ${lesson.steps.length}: ${step.title}`;
  $('lesson-notice').textContent = step.notice;
  $('lesson-try').textContent = step.try_this ? `Try this: ${step.try_this}` : '';
  $('lesson-prev').disabled = lesson.index === 0;
  $('lesson-next').disabled = lesson.index === lesson.steps.length - 1;
}

let stepRequests = Promise.resolve(); // the room's step requests, one after another
let stepsPending = 0;

/** Whether this page has asked the room for a step it has not been answered yet: until then the
 * room's frames still name the step before, and must not move the page back to it (a second
 * quick → then went from that step again and was lost). */
export function stepRequested() {
  return stepsPending > 0;
}

export async function goStep(index) {
  const lesson = app.lesson;
  if (!lesson || index < 0 || index >= lesson.steps.length) return;
  lesson.index = index;
  showStep();
  app.keepAddress = false;
  const step = lesson.steps[index];
  if (app.room && app.session) {
    // A short run (the handbook's half second) opens paused at t = 0 on the projector too, as it
    // does solo: the server opens it paused, before any frame moves it on.
    const paused = opensPaused(step.link);
    app.stepFirst = paused;
    // One step request at a time, in the order pressed: two quick → sent at once could be
    // handled out of order, and the room ended a step behind the teacher's last press.
    const send = () => api.roomControl(app.room, app.session, { step: { lesson: lesson.name, index, paused } });
    const sent = stepRequests.then(send, send);
    stepRequests = sent.catch(() => {});
    stepsPending += 1;
    try {
      await sent;
    } catch (error) {
      showNotice(`The room did not move to that step: ${clip(error.message)}`);
    } finally {
      stepsPending -= 1;
    }
  } else {
    showPresetNotice(step.link);
    startSession(step.link);
  }
  announce(`Step ${index + 1} of ${lesson.steps.length}: ${step.title}`);
}

export function wireLesson() {
  if (!app.lesson || !$('lesson-bar')) return;
  $('lesson-next').addEventListener('click', () => goStep(app.lesson.index + 1));
  $('lesson-prev').addEventListener('click', () => goStep(app.lesson.index - 1));
  showStep();
}
