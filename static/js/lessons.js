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
    try {
      await api.roomControl(app.room, app.session, { step: { lesson: lesson.name, index, paused } });
    } catch (error) {
      showNotice(`The room did not move to that step: ${clip(error.message)}`);
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
