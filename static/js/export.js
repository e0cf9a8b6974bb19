// export.js: the run as files: the metrics windows as CSV, the event log as a trace, and the
// engine's exact summary (asked of the server).

import { clip } from './api.js';
import { app } from './state.js';
import { announce, sayWhy } from './status.js';

function download(filename, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function exportName(suffix) {
  const preset = new URLSearchParams(app.link || '').get('preset') || 'scenario';
  return `backpressure-${preset}-${suffix}`;
}

/** What the page holds of the run, as files: the windows the charts hold (up to 1,000 s), the
 *  events the log holds, and the engine's exact summary so far (asked of the server). */
export async function exportRun(what) {
  if (what === 'csv') {
    const cols = app.windowColumns || [];
    const quote = (v) => (v === null || v === undefined ? '' : String(v));
    // A comparison's file has a first column saying which service a row is (the CLI's run --csv).
    const rows = app.compare
      ? [['service', ...cols].join(','), ...app.windows.map((w) => ['A', ...w].map(quote).join(',')),
        ...app.windowsB.map((w) => ['B', ...w].map(quote).join(','))]
      : [cols.join(','), ...app.windows.map((w) => w.map(quote).join(','))];
    download(exportName('windows.csv'), `${rows.join('\n')}\n`, 'text/csv');
    announce(`Downloaded ${rows.length - 1} metrics windows as CSV.`);
  } else if (what === 'trace') {
    const lines = app.log?.lines.map(([text]) => text) || [];
    download(exportName('trace.txt'), lines.length ? `${lines.join('\n')}\n` : '', 'text/plain');
    announce(`Downloaded ${lines.length} events.`);
  } else if (app.session) {
    try {
      const summary = await fetch(`/api/sessions/${app.session.id}/summary`, { cache: 'no-store' })
        .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`the server answered ${r.status}`))));
      download(exportName('summary.json'), `${JSON.stringify(summary, null, 1)}\n`, 'application/json');
      announce('Downloaded the run\'s summary.');
    } catch (error) {
      sayWhy(`The summary could not be downloaded: ${clip(error.message)}`);
    }
  } else {
    sayWhy('There is no run to summarise yet.');
  }
}
