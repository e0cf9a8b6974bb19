// timeline.js: the run's past, kept frame by frame for drawing, and a slider to look back at it.
// Dragging the slider back shows a recorded moment (the pipeline, the questions and the charts up
// to it) while the run goes on behind; "Continue from here" makes that moment the present: the
// server rebuilds the run to it by exact replay and discards what came after, and the link says
// so. "Back to live" (or the slider's right end) shows the run as it is again.

import { app, $ } from './state.js';
import { control } from './actions.js';
import { timeText } from './address.js';
import { sayWhy } from './status.js';

/** Sim seconds between two recorded moments, and how many are kept (ten minutes of them). */
const EVERY = 0.25;
const KEEP = 2400;

export class Timeline {
  constructor() {
    this.moments = []; // {t, frame} in time order: frames without their events and windows
    this.run = null;
    this.at = null; // the sim time shown, or null: live
    this.range = $('timeline-range');
    this.label = $('timeline-at');
    this.live = $('timeline-live');
    this.go = $('timeline-continue');
    // Fork B reads "from here" while a past moment is shown; its words when live are the page's own.
    this.fork = $('compare-fork');
    this.forkLive = { words: this.fork?.textContent, title: this.fork?.title };
    this.range.addEventListener('input', () => this.seek(Number(this.range.value)));
    this.live.addEventListener('click', () => this.backToLive());
    this.go.addEventListener('click', () => this.continueHere());
    this.show();
  }

  /** Keep a moment of every EVERY s of the run (and its last frame), reset on a new run. */
  record(frame) {
    if (frame.run !== this.run || frame.full) {
      if (frame.run !== this.run) this.moments = [];
      this.run = frame.run;
      if (this.at !== null) this.backToLive();
    }
    if (!frame.state) return;
    const moment = { t: frame.t, frame: { ...frame, events: [], windows: [], full: false, events_skipped: 0 } };
    // The run went back (a Continue from here, or a finished run's clock stopping at its last
    // event): the moments before it are still this run's past; the ones after it are not.
    let kept = this.moments.length;
    while (kept > 0 && this.moments[kept - 1].t > frame.t + 1e-9) kept--;
    if (kept < this.moments.length) this.moments.length = kept;
    const prior = this.moments[kept - 1];
    if (!prior || frame.t >= prior.t + EVERY) this.moments.push(moment);
    if (this.moments.length > KEEP) this.moments.splice(0, this.moments.length - KEEP);
    this.latest = moment;
    this.show();
  }

  /** The last recorded moment at or before sim time t. */
  momentAt(t) {
    const list = this.moments;
    let lo = 0, hi = list.length - 1;
    if (hi < 0) return null;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (list[mid].t <= t + 1e-9) lo = mid; else hi = mid - 1;
    }
    return list[lo];
  }

  /** Show the recorded moment at or before t (the live run, at the slider's right end). */
  seek(t) {
    const now = this.latest?.t ?? 0;
    if (t >= now - EVERY / 2) return this.backToLive();
    const moment = this.momentAt(t);
    if (!moment) return;
    const started = performance.now();
    this.at = moment.t;
    drawMoment(moment.frame);
    app.charts?.setMoment(moment.t);
    (window.playground ||= {}).seekMs = performance.now() - started;
    this.show();
  }

  backToLive() {
    this.at = null;
    app.charts?.setMoment(null);
    if (app.frame) drawMoment(app.frame);
    this.show();
  }

  async continueHere() {
    if (this.at === null) return;
    const t = this.at;
    this.go.disabled = true;
    try {
      await control({ continue_from: t });
      sayWhy(`The run goes on from ${timeText(t)} s; what came after is discarded, and the link says so.`);
    } catch (error) {
      sayWhy(error.message || String(error));
    } finally {
      this.backToLive();
    }
  }

  /** The slider, its words and its buttons, for what is recorded and what is shown. */
  show() {
    const first = this.moments[0]?.t ?? 0;
    const now = this.latest?.t ?? 0;
    const range = this.range;
    // The slider moves in steps of EVERY from the first moment, so its right end is rounded up to
    // a whole step (the right end is always the live run): a max between steps would pull a live
    // thumb back to the step below.
    const end = first + Math.ceil((now - first) / EVERY - 1e-9) * EVERY;
    range.min = String(first);
    range.max = String(end);
    range.step = String(EVERY);
    range.disabled = this.moments.length < 2;
    if (this.at === null) range.value = String(end);
    const text = this.at === null
      ? `Live: ${timeText(now)} s`
      : `Showing ${timeText(this.at)} s of the run (live: ${timeText(now)} s)`;
    if (this.label.textContent !== text) this.label.textContent = text;
    range.setAttribute('aria-valuetext', text);
    this.live.hidden = this.at === null;
    this.go.hidden = this.at === null;
    this.go.disabled = false;
    document.body.classList.toggle('rewound', this.at !== null);
    if (this.fork) {
      const words = this.at === null ? this.forkLive.words : 'Fork B from here';
      if (this.fork.textContent !== words) this.fork.textContent = words;
      this.fork.title = this.at === null ? this.forkLive.title
        : `Make B a copy of this run at ${timeText(this.at)} s (the moment shown): both go on from there`;
    }
  }
}

/** Draw one frame's state into the pipelines and the questions (no events: nothing animates in). */
function drawMoment(frame) {
  try { app.pipeline.setFrame(frame); } catch (error) { console.warn('timeline pipeline', error); }
  const b = app.compare ? frame.b : null;
  if (b && app.pipelineB) {
    try { app.pipelineB.setFrame({ ...frame, ...b, scenario: undefined }); } catch (error) { console.warn(error); }
  }
  app.questions.update(app.scenario, frame.state, b ? app.compare.b_scenario : null, b?.state);
}
