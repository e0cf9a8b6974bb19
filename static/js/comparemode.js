// comparemode.js: compare mode: B beside A, which of them the controls change, and the
// Compare…, Fork B here, Swap and Stop comparing buttons.

import { timeText } from './address.js';
import { clip } from './api.js';
import { Pipeline } from './pipeline.js';
import { TheoryView } from './theoryview.js';
import { SHARED } from './compareview.js';
import { app, $ } from './state.js';
import { announce } from './status.js';
import { control } from './actions.js';

/** The scenario the controls show: B's while changes go to B alone, else A's. */
export function controlledScenario() {
  return app.compare && app.compareView?.target === 'b' ? app.compare.b_scenario : app.scenario;
}

/** Enter, change or leave compare mode (`compare` from a full frame or a control's answer). */
export function setCompare(compare) {
  const was = Boolean(app.compare);
  app.compare = compare || null;
  app.compareView.show(app.compare);
  if (app.compare && !app.pipelineB) {
    app.pipelineB = new Pipeline($('pipeline-b'));
    app.theoryB = new TheoryView($('theory-b'));
  }
  if (was !== Boolean(app.compare)) {
    app.charts?.setCompare(Boolean(app.compare));
    app.windowsB = [];
  }
  if (app.scenario) app.controls?.setScenario(controlledScenario());
}

/** Send control changes where the compare target says; arrival keys always to both. */
export function applyValues(values) {
  if (!app.compare) return control({ set: values });
  const to = app.compareView.target;
  const shared = Object.fromEntries(Object.entries(values).filter(([key]) => SHARED.includes(key)));
  const own = Object.fromEntries(Object.entries(values).filter(([key]) => !SHARED.includes(key)));
  const sends = [];
  if (Object.keys(shared).length) sends.push(control({ set: shared, to: 'both' }));
  if (Object.keys(own).length) sends.push(control({ set: own, to }));
  return Promise.all(sends).then((results) => results[results.length - 1]);
}

/** Compare…, Fork B here, Swap, Stop comparing. */
export async function compareControl(what) {
  const view = app.compareView;
  // With the timeline dragged back, Fork B makes B a copy of A at the moment shown.
  const at = what === 'fork' ? app.timeline?.at ?? null : null;
  try {
    await control(at === null ? { compare: what } : { continue_from: at, compare: 'fork' });
    if (at !== null) app.timeline.backToLive();
    if (what === 'start' || what === 'fork') {
      view.target = 'b';
      if (app.scenario) app.controls?.setScenario(controlledScenario());
      view.say(what === 'start'
        ? 'B is a copy of A, and both started again on the same arrivals. Changes now go to B.'
        : at === null
          ? 'B is a copy of A\'s run as it is now. Changes now go to B: watch both futures.'
          : `B is a copy of A's run at ${timeText(at)} s; both go on from there. Changes now go to B.`);
    } else {
      view.say(what === 'swap' ? 'A and B swapped.' : 'Stopped comparing: A runs on alone.');
    }
    announce(view.nodes.status.textContent);
  } catch (error) {
    view.say(`That did not work: ${clip(error.message)}`);
  }
}
