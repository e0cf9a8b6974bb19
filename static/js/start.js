// start.js: ask for the session before the rest of the page has loaded.
//
// A module with no imports, loaded async: it runs as soon as it arrives, while app.js and its
// imports are still loading and compiling, and sends the one request the first frame waits for.
// app.js takes the answer over (takePrefetchedSession) or, if anything here went wrong, asks
// again itself.

function bootData() {
  try { return JSON.parse(document.getElementById('boot-data').textContent); } catch { return null; }
}

/** The handbook's run is over in under half a second at 1x: open it paused, to step through. */
export function opensPaused(link) {
  const query = new URLSearchParams(link);
  return ['handbook', 'handbook-as-printed'].includes(query.get('preset')) && query.get('items') !== '0';
}

const data = bootData();
const link = data?.verdict?.link;
if (link && !data.present) { // a teacher's page makes a room instead (app.js)
  performance.mark('pg:prefetch');
  const body = opensPaused(link) ? { link, paused: true } : { link };
  const answer = fetch('/api/sessions', {
    method: 'POST', credentials: 'same-origin', cache: 'no-store',
    headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  answer.catch(() => {}); // app.js handles a failure; nothing unhandled here
  window.__prefetchedSession = { link, answer };
}
