// buttons.js: the page's buttons and selects wired to what they do: the run's actions, speed,
// Copy link, compare mode, export, the preset select and Start a new session.

import { clip } from './api.js';
import { app, $ } from './state.js';
import { setStatus, showNotice } from './status.js';
import { copyLink, copyMoment, showPresetNotice } from './address.js';
import { wireClamp } from './clamp.js';
import { compareControl, controlledScenario } from './comparemode.js';
import { startSession } from './stream.js';
import { action, control, togglePause, BURST_N, HICCUP } from './actions.js';
import { runAgain } from './runend.js';
import { exportRun } from './export.js';

export function wireButtons() {
  $('pause').addEventListener('click', togglePause);
  wireClamp($('preset-notice'), $('notice-more'));
  wireClamp($('status'), $('status-more'), $('status-text'));
  $('step').addEventListener('click', () => action('step'));
  $('reset').addEventListener('click', () => action('reset'));
  $('burst').addEventListener('click', () => action('burst', { n: BURST_N }));
  $('drain').addEventListener('click', () => action('drain'));
  $('hiccup').addEventListener('click', () => action('hiccup', HICCUP));
  $('run-again').addEventListener('click', runAgain);
  $('step-prompt-button').addEventListener('click', () => action('step'));
  $('speed').addEventListener('change', (e) => {
    control({ speed: Number(e.target.value) }).catch((error) => {
      if (app.session) setStatus('live', `Speed not changed: ${clip(error.message)}`);
    });
  });
  $('copy-link').addEventListener('click', copyLink);
  $('copy-moment').addEventListener('click', copyMoment);
  $('compare-start').addEventListener('click', () => compareControl('start'));
  $('compare-fork').addEventListener('click', () => compareControl('fork'));
  $('compare-swap').addEventListener('click', () => compareControl('swap'));
  $('compare-stop').addEventListener('click', () => compareControl('stop'));
  $('edit-target').addEventListener('change', () => {
    if (app.scenario) app.controls?.setScenario(controlledScenario());
  });
  $('export-csv').addEventListener('click', () => exportRun('csv'));
  $('export-trace').addEventListener('click', () => exportRun('trace'));
  $('export-summary').addEventListener('click', () => exportRun('summary'));
  $('presets').addEventListener('change', (e) => {
    const preset = app.presets.find((p) => p.name === e.target.value);
    if (!preset) return;
    app.keepAddress = false;
    showNotice('');
    showPresetNotice(preset.link);
    startSession(preset.link);
  });
  $('restart-session').addEventListener('click', () => startSession(app.link, { replacing: false }));
  $('controls').addEventListener('submit', (e) => e.preventDefault());
}
