// api.js: the small HTTP surface the page talks to (same origin only).

/** Text for a message: every run of more than `max` characters without a space (a link, a value)
 *  is cut to `max` with an ellipsis, and so is the whole text past three times that. The full link
 *  stays in the address bar; a message need not repeat 3,000 characters of it. */
export function clip(value, max = 120) {
  const cut = (text, n) => {
    const chars = Array.from(text);
    return chars.length > n ? `${chars.slice(0, n - 1).join('')}…` : text;
  };
  const text = String(value ?? '').replace(new RegExp(`\\S{${max + 1},}`, 'gu'), (word) => cut(word, max));
  return cut(text, max * 3);
}

export class HttpError extends Error {
  constructor(status, body, retryAfter) {
    super((body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
    this.field = this.body.field || null;
    this.retryAfter = retryAfter;
  }
}

async function request(url, options = {}) {
  return readResponse(await fetch(url, { credentials: 'same-origin', cache: 'no-store', ...options }));
}

async function readResponse(response) {
  let body = null;
  const text = await response.text();
  if (text) {
    try { body = JSON.parse(text); } catch { body = { error: text }; }
  }
  if (!response.ok) {
    const header = Number(response.headers.get('Retry-After'));
    const retry = Number.isFinite(header) && header > 0 ? header : (body && body.retry_after) || 1;
    throw new HttpError(response.status, body, retry);
  }
  return body;
}

function json(method, body, token) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  return { method, headers, body: JSON.stringify(body) };
}

export const getFields = () => request('/api/fields');
export const getPresets = () => request('/api/presets');
export const checkScenario = (link) => request(`/api/scenario?${link}`);
export const getProgram = (python, link, { signal } = {}) => request(`/api/code/${python}?${link}`, { signal });
export const createSession = (link, { signal, paused = false } = {}) =>
  request('/api/sessions', { ...json('POST', paused ? { link, paused } : { link }), signal });
export const sendControl = (session, body) => request(session.control, json('POST', body, session.token));
/** A teacher's room switch ({allow_send}), with the room's session token. */
export const roomControl = (code, session, body) => request(`/api/rooms/${code}/control`, json('POST', body, session.token));

/** The session start.js asked for while the page loaded, if it was for `link` (else it is closed). */
export function takePrefetchedSession(link) {
  const prefetched = window.__prefetchedSession;
  window.__prefetchedSession = null;
  if (!prefetched) return null;
  const session = prefetched.answer.then(readResponse);
  if (prefetched.link === link) return session;
  session.then((unwanted) => closeSession(unwanted), () => {});
  return null;
}

export function closeSession(session, { beacon = false } = {}) {
  if (!session) return;
  const url = `/api/sessions/${session.id}/close`;
  const payload = JSON.stringify({ token: session.token });
  if (beacon && navigator.sendBeacon) {
    navigator.sendBeacon(url, new Blob([payload], { type: 'application/json' }));
    return;
  }
  fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: payload,
    keepalive: true }).catch(() => {});
}
