// state.js: the page's shared mutable state, in one place: `app` (the session, the latest frame,
// the views) and `playground` (the measurements tests and bench/page.py read).

export const DEFAULT_LINK = 'v=1&preset=background-jobs';

export const $ = (id) => document.getElementById(id);

/** The page's own measurements, read by the browser tests and bench/page.py (and by pipeline.js
 *  and charts.js, which add themselves): the one object the page puts on window, on purpose. */
export const playground = window.playground = {
  frames: 0, lastFrame: null, drawTimes: [], firstDrawAt: null,
};

export const app = {
  fields: [], presets: [], session: null, source: null, scenario: null, link: DEFAULT_LINK,
  run: null, frame: null, dirty: false, drawn: false, paused: false,
  recovery: null, recoveredAt: null, lastFailures: 0,
  controls: null, log: null, questions: null, pipeline: null, charts: null, codeView: null, theory: null, generation: 0,
  curve: null,
  // Compare mode: the frame's {b_scenario, label, differs} while B runs beside A, else null.
  compare: null, compareView: null, pipelineB: null, theoryB: null, windowsB: [],
  // The address bar holds a link with errors: leave it as typed until the person changes something.
  keepAddress: false,
  // The preset's notice has been shown once for the running link.
  noticeShown: false,
  // The run is over (finished, halted or ended): its status, else null.
  over: null, windows: [], windowColumns: [], windowSeconds: null, summaryKey: '',
  // A note for the status line after a refused shortcut: {text, until}.
  note: null,
  // Open paused at t = 0 with a "Step ▶" prompt (the handbook's half-second run).
  stepFirst: false,
  // A teacher's page: the rendered {code} to present (present), the open room's code (room).
  present: null, room: null,
  // A lesson: its steps and the one showing ({...lesson, index}), else null.
  lesson: null,
  drawError: false, copyTimer: null,
};
