// frame.js: one frame from the server into every view: the pipeline, charts, log, theory,
// compare mode's B, the room and the status line.

import { app, playground, $ } from './state.js';
import { statusFromFrame } from './status.js';
import { applyScenario } from './address.js';
import { setCompare } from './comparemode.js';
import { setPaused } from './actions.js';
import { updateRunOver, updateStepPrompt } from './runend.js';
import { showKeyNumbers, showRoom } from './presenter.js';
import { showStep, stepRequested } from './lessons.js';

export function onFrame(frame) {
  playground.frames += 1;
  playground.lastFrame = frame;
  app.frame = frame;
  if (frame.full) {
    app.windows = [];
    app.windowsB = [];
    if (frame.window_columns) app.windowColumns = frame.window_columns;
    if (frame.window) app.windowSeconds = frame.window;
    app.charts.reset();
    setCompare(frame.compare || null);
    if (frame.scenario) applyScenario(frame.scenario, frame.link, frame.settings_link);
    setPaused(Boolean(frame.paused));
  } else if (frame.scenario) { // the link's log changed a setting as the run reached it
    if (frame.compare) setCompare(frame.compare);
    applyScenario(frame.scenario, undefined, frame.settings_link);
  }
  if (app.run !== null && frame.run !== app.run) {
    app.windows = [];
    app.charts.reset();
    if (!frame.full) app.log.mark(`— run ${frame.run} starts —`);
  }
  app.run = frame.run;
  setPaused(frame.status === 'paused');
  if (frame.speed !== undefined) {
    const speed = $('speed');
    const value = String(frame.speed);
    if (speed.value !== value && [...speed.options].some((o) => o.value === value)) speed.value = value;
  }
  app.timeline?.record(frame);
  const rewound = app.timeline?.at != null; // the timeline shows a past moment: the views keep it
  if (!rewound) {
    try { app.pipeline.setFrame(frame); } catch (error) { console.warn('pipeline.setFrame', error); }
  }
  if (frame.windows?.length) {
    app.charts.add(frame.windows);
    app.windows.push(...frame.windows);
    if (app.windows.length > 2000) app.windows.splice(0, app.windows.length - 2000);
  }
  const b = app.compare ? frame.b : null;
  app.log.add(frame.events, frame.events_skipped, b ? 'A' : '');
  if (b) {
    const bFrame = { ...frame, ...b, scenario: frame.full ? app.compare.b_scenario : undefined };
    if (!rewound) {
      try { app.pipelineB.setFrame(bFrame); } catch (error) { console.warn('pipelineB.setFrame', error); }
    }
    if (b.windows?.length) {
      app.charts.addB(b.windows);
      app.windowsB.push(...b.windows);
      if (app.windowsB.length > 2000) app.windowsB.splice(0, app.windowsB.length - 2000);
    }
    app.log.add(b.events, b.events_skipped, 'B');
    app.theoryB.update(b.theory, app.compare.b_scenario);
    app.compareView.update(frame.outcomes);
  }
  if (!rewound) app.questions.update(app.scenario, frame.state, b ? app.compare.b_scenario : null, b?.state);
  app.theory.update(frame.theory, app.scenario);
  if (frame.theory) app.charts.setReferences(theoryReferences(frame.theory.model));
  if (app.session) app.curve.update(frame.sweep, app.session, app.link);
  if (frame.room) {
    showRoom(frame.room);
    showKeyNumbers(frame);
    if (frame.room.step && app.lesson && !stepRequested() && frame.room.step.index !== app.lesson.index) {
      app.lesson.index = frame.room.step.index; // after a reload, the room knows where the lesson is
      showStep();
    }
  }
  statusFromFrame(frame);
  updateRunOver(frame);
  updateStepPrompt(frame);
  app.dirty = true;
}

/** Where queueing theory applies, its predictions as the charts' reference lines: throughput
 *  and the mean number waiting in the queue (the charts' "queued"). */
function theoryReferences(model) {
  if (!model || !model.stable) return {};
  return {
    throughput: { value: model.throughput, label: `${model.name}: throughput` },
    queue: { value: model.mean_in_queue, label: `${model.name}: mean queued` },
  };
}
