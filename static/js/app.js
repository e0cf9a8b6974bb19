// app.js: the page's entry point. Boot: build the views, wire the modules, start one session
// (or a room) and the draw loop. Each concept lives in its own module:
//   state.js       the shared state (app) and the page's measurements (window.playground)
//   status.js      the status line, the notice, announcements, the live summary
//   address.js     the link: address bar, preset select and notice, Try this, link errors, Copy link
//   stream.js      the session and its EventSource; leaving and coming back to the page
//   reconnect.js   getting the scenario back after a drop (backoff, Retry-After, hidden tabs)
//   frame.js       one frame into every view
//   actions.js     control requests and the run's actions (pause, step, burst…)
//   comparemode.js B beside A
//   runend.js      the end of a run: its summary, Run again, the step prompt
//   presenter.js   a room's teacher page and the presenter view
//   lessons.js     a lesson's steps
//   keyboard.js    the shortcuts
//   buttons.js     the buttons and selects
//   export.js      the run as files
//   drawloop.js    the draw loop
//   display.js     theme, reduced motion, the sticky pipeline's scroll padding
// app.js imports every one of them itself (and index.html preloads them), so none waits on another.

import * as api from './api.js';
import { clip } from './api.js';
import { Controls } from './controls.js';
import { EventLog } from './eventlog.js';
import { Questions } from './questions.js';
import { Pipeline } from './pipeline.js';
import { Timeline } from './timeline.js';
import { Charts } from './charts.js';
import { CodeView } from './codeview.js';
import { TheoryView } from './theoryview.js';
import { CompareView } from './compareview.js';
import { CurveView } from './curve.js';
import { app, $, DEFAULT_LINK } from './state.js';
import { setStatus, summarize } from './status.js';
import { openingLink, showPresetNotice, withSeed } from './address.js';
import { startSession, wirePageLifecycle } from './stream.js';
import { backoffDelay, RETRY_AFTER_CAP_S } from './reconnect.js';
import './frame.js';
import { control } from './actions.js';
import { applyValues } from './comparemode.js';
import './runend.js';
import { startRoom, wireRoom } from './presenter.js';
import { wireLesson } from './lessons.js';
import { wireKeyboard } from './keyboard.js';
import { wireButtons } from './buttons.js';
import './export.js';
import { afterFirstDraw, drawLoop } from './drawloop.js';
import { initMotion, initTheme, keepScrollTargetsClearOfThePipeline } from './display.js';

const SUMMARY_EVERY_MS = 5000;

/** Fields, presets and the verdict on the address bar's link, rendered into the page by the server. */
function readBootData() {
  try { return JSON.parse($('boot-data').textContent); } catch { return null; }
}

/** Fields and presets from the API: only when the page came without them (a cached copy, say). */
async function fetchBootData(link) {
  for (let failures = 1; ; failures += 1) {
    try {
      const [fields, presets, checked] = await Promise.all([api.getFields(), api.getPresets(),
        api.checkScenario(link).catch((error) => ({ error }))]);
      const verdict = checked.error ? null : { ...checked, errors: [] };
      return { fields, presets, verdict, checkError: checked.error };
    } catch (error) {
      // The same backoff as a lost session: 0.5 s, 1, 2, 4… up to 10 s, or what Retry-After says.
      let delay = backoffDelay(failures);
      if (error.status === 503 || error.status === 429) {
        delay = Math.max(delay, Math.min(RETRY_AFTER_CAP_S, Number(error.retryAfter) || 1) * 1000);
      }
      const reason = error instanceof api.HttpError ? clip(error.message) : 'the server cannot be reached';
      setStatus('reconnecting', `Connecting to the server… (attempt ${failures + 1}, next try in `
        + `${Math.ceil(delay / 1000)} s). Last try: ${reason}.`);
      await new Promise((resolve) => setTimeout(resolve, delay));
      while (document.hidden) await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

async function boot() {
  performance.mark('pg:boot'); // bench/page.py reads these marks: where the first frame's time goes
  const typed = location.search.replace(/^\?/, '');
  const rendered = readBootData();
  // With the page's own data (the usual case) the session is asked for first of all, and the
  // page is built while the request is out; the controls, the biggest piece, after the first draw.
  if (rendered?.lesson) app.lesson = { ...rendered.lesson, index: rendered.lesson.index || 0 };
  if (rendered?.present) {
    app.presets = rendered.presets;
    app.present = rendered.present;
  } else if (rendered) {
    app.presets = rendered.presets;
    startSession(openingLink(rendered, typed), { replacing: false });
  }
  initTheme();
  initMotion();
  app.pipeline = new Pipeline($('pipeline'));
  app.log = new EventLog($('event-log'), $('pause-log'));
  app.questions = new Questions($('questions'));
  app.theory = new TheoryView($('theory'));
  app.compareView = new CompareView($);
  wireRoom();
  wireLesson();
  app.curve = new CurveView($, { control: (body) => control(body) });
  wireButtons();
  wireKeyboard();
  wirePageLifecycle();
  keepScrollTargetsClearOfThePipeline();
  requestAnimationFrame(drawLoop);
  setInterval(summarize, SUMMARY_EVERY_MS);
  const data = rendered || await fetchBootData(typed || DEFAULT_LINK);
  app.presets = data.presets;  // before any await: the session's answer finds the page whole
  app.fields = data.fields.fields;
  app.charts = new Charts($('charts'), data.fields.window_columns);
  if ($('timeline-range')) app.timeline = new Timeline();
  if (app.present) startRoom(app.present, openingLink(data, typed));
  else if (!rendered) startSession(openingLink(data, typed), { replacing: false });
  afterFirstDraw(() => {
    app.codeView = new CodeView({ box: $('code'), python: $('code-python'), copy: $('code-copy'),
      download: $('code-download'), status: $('code-status') });
    if (app.settingsLink || app.link) app.codeView.show(app.settingsLink || app.link);
    $('event-log').addEventListener('click', (e) => {
      const kind = e.target.closest('li')?.className.replace(/^ev-/, '');
      if (kind && app.codeView.pointAt(kind)) $('code').scrollIntoView({ block: 'nearest' });
    });
    app.controls = new Controls($('controls'), app.fields, {
      apply: (values) => { app.keepAddress = false; return applyValues(values); },
      reseed: (seed) => { app.keepAddress = false; startSession(withSeed(app.link, seed)); },
      reopen: (changes) => {
        app.keepAddress = false;
        const params = new URLSearchParams(app.link);
        for (const [key, value] of Object.entries(changes)) params.set(key, String(value));
        showPresetNotice(params.toString());
        startSession(params.toString());
      },
    });
    if (app.scenario) app.controls.setScenario(app.scenario);
    performance.mark('pg:controls');
  });
}

boot();
