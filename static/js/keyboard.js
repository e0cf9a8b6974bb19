// keyboard.js: the keyboard shortcuts (space, ., b, d, h, r; ← → in a lesson; j for a room's join
// screen; ? for the list).

import { app, $ } from './state.js';
import { action, togglePause, BURST_N, HICCUP } from './actions.js';
import { goStep } from './lessons.js';
import { joinScreenOpen, openJoinScreen, startClass } from './presenter.js';

function toggleShortcuts() {
  const dialog = $('shortcuts');
  if (dialog.open) dialog.close();
  else dialog.showModal();
}

/** Inputs that take typed text (a slider, checkbox or button does not). */
const NOT_TEXT = new Set(['range', 'checkbox', 'radio', 'button', 'submit', 'reset', 'color', 'file', 'image']);

function isTyping(target) {
  if (!(target instanceof Element)) return false;
  if (target.isContentEditable) return true;
  if (target.closest('textarea')) return true;
  const input = target.closest('input');
  return Boolean(input && !NOT_TEXT.has(input.type));
}

const SHORTCUTS = {
  ' ': () => togglePause(),
  Spacebar: () => togglePause(),
  '.': () => action('step'),
  b: () => action('burst', { n: BURST_N }),
  d: () => action('drain'),
  h: () => action('hiccup', HICCUP),
  r: () => action('reset'),
};

/** Keydown at the document, in the capture phase: shortcuts act the same wherever the focus is (a
 *  focused button is not also pressed, a focused select does not open) except in a text or number
 *  box, and a select whose list is open has the keys to itself in the browser anyway. */
function onKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
  if (isTyping(event.target)) return;
  const key = event.key;
  if (key === '?') { event.preventDefault(); toggleShortcuts(); return; }
  if ($('shortcuts').open) return;
  if (joinScreenOpen()) {
    // The join screen: Space, Enter or Escape start the class (and do nothing else meanwhile).
    if (key === ' ' || key === 'Spacebar' || key === 'Enter' || key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      if (!event.repeat) startClass();
      return;
    }
    if (key === 'j' || key === 'J') { event.preventDefault(); return; }
  } else if ((key === 'j' || key === 'J') && app.room) {
    event.preventDefault();
    event.stopPropagation();
    if (!event.repeat) openJoinScreen();
    return;
  }
  if ((key === 'ArrowRight' || key === 'ArrowLeft') && app.lesson) {
    // A lesson's next and previous step -- unless a slider or a list has the arrows.
    if (event.target instanceof Element && event.target.closest('input, select, textarea, canvas.chart')) return;
    event.preventDefault();
    if (!event.repeat) goStep(app.lesson.index + (key === 'ArrowRight' ? 1 : -1));
    return;
  }
  const run = SHORTCUTS[key.length === 1 ? key.toLowerCase() : key];
  if (!run) return;
  event.preventDefault();
  event.stopPropagation();
  if (!event.repeat || key === '.') run();
}

/** Shortcuts act wherever the focus is: listen at the document, in the capture phase. */
export function wireKeyboard() {
  $('show-shortcuts').addEventListener('click', toggleShortcuts);
  document.addEventListener('keydown', onKey, true);
}
