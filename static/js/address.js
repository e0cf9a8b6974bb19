// address.js: the scenario's link: the address bar, the preset select and its notice, the
// preset's "Try this" buttons, a typed link's errors, and Copy link.

import { clip } from './api.js';
import { fitClamp } from './clamp.js';
import { app, $, DEFAULT_LINK } from './state.js';
import { showNotice } from './status.js';
import { controlledScenario } from './comparemode.js';
import { startSession } from './stream.js';
import { control } from './actions.js';

/** The run's scenario now, its whole link (the address bar's) and the link of its settings now
 *  (the code view's program: the log's changes so far applied). */
export function applyScenario(scenario, link, settingsLink) {
  if (scenario) {
    app.scenario = scenario;
    app.controls?.setScenario(controlledScenario());
    syncPresetSelect(scenario);
  }
  if (settingsLink) {
    app.settingsLink = settingsLink;
    app.codeView?.show(settingsLink);
  }
  if (link !== undefined && link !== null) {
    if (link !== app.link || !app.noticeShown) showPresetNotice(link);
    app.noticeShown = true;
    app.link = link;
    if (!settingsLink) app.codeView?.show(app.settingsLink || link);
    const url = `${location.pathname}?${stepInAddress()}${link}`;
    if (!app.keepAddress && url !== location.pathname + location.search) history.replaceState(null, '', url);
  }
}

/** A lesson alone (/lesson/NAME) keeps its step in the address bar, before the link: a reload or a
 *  shared address opens that step (the server reads it). A room's teacher page needs none: the
 *  room knows its step. */
export function stepInAddress() {
  return app.lesson && !app.present ? `step=${app.lesson.index + 1}&` : '';
}

function syncPresetSelect(scenario) {
  const select = $('presets');
  const name = scenario.preset && app.presets.some((p) => p.name === scenario.preset) ? scenario.preset : '';
  if (select.value !== name) select.value = name;
}

/** The preset's one-click changes ("Set the limit to 8"), applied live; each is what one of its
 *  claims is about, and the notice then says what changed and what still holds. */
function showTryThis(preset) {
  const node = $('try-this');
  const tries = preset?.try_this || [];
  node.hidden = !tries.length;
  if (node.dataset.preset === (preset?.name || '')) return;
  node.dataset.preset = preset?.name || '';
  const label = document.createElement('span');
  label.className = 'try-this-label';
  label.textContent = 'Try this:';
  const buttons = tries.map((item) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = item.label;
    button.addEventListener('click', () => {
      app.keepAddress = false;
      if (item.open) { // a change that cannot be made live: open that link as a new run
        showNotice('');
        showPresetNotice(item.open);
        startSession(item.open);
      } else {
        control({ set: item.set });
      }
    });
    return button;
  });
  node.replaceChildren(...(tries.length ? [label, ...buttons] : []));
}

/** The preset's notice for the link: the whole notice for the preset as it is; for a link that
 *  changes it, "Modified from …" with the changes, and only the claims that do not depend on
 *  them (the rest of the notice may no longer be true). */
export function showPresetNotice(link) {
  writePresetNotice(link);
  fitNotice();
}

/** The notice's More button, shown while the notice is cut (clamp.js). */
export function fitNotice() {
  fitClamp($('preset-notice'), $('notice-more'));
}

function writePresetNotice(link) {
  const query = new URLSearchParams(link);
  const preset = app.presets.find((p) => p.name === query.get('preset'));
  const node = $('preset-notice');
  node.hidden = !preset;
  showTryThis(preset);
  if (!preset) { node.textContent = ''; return; }
  const changes = [...query.entries()].filter(([key]) => !['v', 'preset', 'seed', 'do', 'at'].includes(key));
  const done = logWords(query.get('do'));
  if (!changes.length && !done.words.length) {
    node.textContent = `${preset.title}. ${preset.notice}`;
    return;
  }
  // A claim holds while nothing it depends on changed: from the start, or during the run (do=).
  const changed = new Set([...changes.map(([key]) => key), ...done.keys]);
  // A burst, drain or hiccup during the run can change any claim: none is promised then.
  const holding = done.acted ? []
    : (preset.claims || []).filter((c) => !c.depends_on.some((key) => changed.has(key)));
  const words = [...changes.map(([key, value]) => `${key.replaceAll('_', ' ')} ${value}`), ...done.words].join(', ');
  node.textContent = `Modified from "${preset.title}": ${words}.`
    + (holding.length ? ` Still true: ${holding.map((c) => c.sentence).join(' ')}` : '');
}

/** A link's do= log in words ("queue 5 at 3 s", "a hiccup ×5 for 3 s at 5 s") and the keys it sets. */
function logWords(log) {
  const out = { words: [], keys: [], acted: false };
  for (const entry of (log ? log.split(',') : [])) {
    const at = entry.slice(0, entry.indexOf(':'));
    const what = entry.slice(entry.indexOf(':') + 1);
    const [name, value = ''] = what.split('=');
    if (name === 'burst') { out.words.push(`a burst of ${value} at ${at} s`); out.acted = true; continue; }
    if (name === 'drain') { out.words.push(`a drain at ${at} s`); out.acted = true; continue; }
    if (name === 'hiccup') {
      const [factor, seconds] = value.split('x');
      out.words.push(`a hiccup ×${factor} for ${seconds} s at ${at} s`);
      out.acted = true;
      continue;
    }
    for (const part of what.split(';')) {
      const [key, val] = part.split('=');
      out.keys.push(key.replace(/^[ab][.]/, ''));
      out.words.push(`${key.replaceAll('_', ' ')} ${val} at ${at} s`);
    }
  }
  return out;
}

/** Every bad key of the link in the address bar, named in the (role=alert) notice. */
function showLinkErrors(errors, query, more = 0) {
  const node = $('notice');
  const intro = document.createElement('p');
  const n = errors.length + more;
  intro.textContent = `The link "?${clip(safeDecode(query))}" has ${n === 1 ? 'a problem' : `${n} problems`}; `
    + `${n === 1 ? 'that key was' : 'those keys were'} left out and the rest of the link applies:`;
  const list = document.createElement('ul');
  list.id = 'link-errors';
  for (const error of errors) {
    const item = document.createElement('li');
    if (error.field) {
      const key = document.createElement('code');
      key.textContent = clip(error.field, 40);
      item.append(key, ': ');
    }
    item.append(clip(error.message));
    list.append(item);
  }
  if (more) { // the server reports the first few and counts the rest
    const item = document.createElement('li');
    item.textContent = `and ${more} more.`;
    list.append(item);
  }
  const outro = document.createElement('p');
  outro.textContent = 'The address bar keeps your link so you can fix it; change a control or pick a preset '
    + 'to replace it with the running scenario.';
  node.replaceChildren(intro, list, outro);
  node.hidden = false;
}

/** The link to open, from the server's verdict on the typed one; says what was wrong with it. */
export function openingLink(data, typed) {
  const { verdict } = data;
  if (verdict) {
    if (verdict.errors?.length) {
      app.keepAddress = true; // the typed link stays in the address bar, to be fixed
      showLinkErrors(verdict.errors, typed, verdict.more_errors);
    }
    showPresetNotice(verdict.link);
    return verdict.link;
  }
  if (data.checkError?.status === 422) {
    showNotice(`Ignored the link "?${clip(safeDecode(typed))}": ${clip(data.checkError.message)} Opened the defaults instead.`);
  }
  return DEFAULT_LINK;
}

function safeDecode(text) {
  try { return decodeURIComponent(text); } catch { return text; }
}

export function withSeed(link, seed) {
  const params = new URLSearchParams(link);
  params.set('seed', String(seed));
  return params.toString();
}

/** The whole run's address: the address bar's (or, while it keeps a link with errors, the run's). */
function runAddress() {
  return app.keepAddress ? `${location.origin}${location.pathname}?${stepInAddress()}${app.link}` : location.href;
}

/** A sim time as a link writes it: seconds with at most three decimals (12, 12.25). */
export function timeText(t) {
  return (Math.round(t * 1000) / 1000).toFixed(3).replace(/\.?0+$/, '') || '0';
}

/** The address of this moment of the run: the whole link with at=T, T the run's time now. */
export function momentAddress(t) {
  const url = runAddress().replace(/&at=[^&#]*/g, '').replace(/\?at=[^&#]*&?/, '?');
  return `${url}${url.includes('?') ? '&' : '?'}at=${timeText(t)}`;
}

export function copyLink() {
  return copyText(runAddress(), 'Link to this run');
}

export function copyMoment() {
  const t = app.timeline?.at ?? app.frame?.t ?? 0; // the moment the timeline shows, else now
  return copyText(momentAddress(t), `Link to this run at ${timeText(t)} s`);
}

async function copyText(url, label) {
  const result = $('copy-result');
  try {
    if (!navigator.clipboard?.writeText) throw new Error('no clipboard');
    await navigator.clipboard.writeText(url);
    result.textContent = 'Copied';
  } catch {
    // Fall back: show the link selected, ready for Ctrl+C.
    let input = $('copy-fallback');
    if (!input) {
      input = document.createElement('input');
      input.id = 'copy-fallback';
      input.readOnly = true;
      result.after(input);
    }
    input.setAttribute('aria-label', label);
    input.value = url;
    input.hidden = false;
    input.focus();
    input.select();
    let copied = false;
    try { copied = document.execCommand('copy'); } catch { copied = false; }
    result.textContent = copied ? 'Copied' : 'Press Ctrl+C to copy';
  }
  clearTimeout(app.copyTimer);
  app.copyTimer = setTimeout(() => { result.textContent = ''; }, 3000);
}
