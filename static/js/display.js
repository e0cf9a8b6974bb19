// display.js: how the page looks: the theme (light, dark, projector), reduced motion, and the
// scroll padding under a phone's sticky pipeline.

import { app, $ } from './state.js';

const THEME_KEY = 'playground-theme';

function setTheme(theme) {
  if (!['light', 'dark', 'projector'].includes(theme)) theme = 'light';
  document.documentElement.dataset.theme = theme;
  $('theme').value = theme;
  try { localStorage.setItem(THEME_KEY, theme); } catch { /* private mode */ }
  document.dispatchEvent(new CustomEvent('playground:theme', { detail: { theme } }));
  app.dirty = true;
}

export function initTheme() {
  let theme = null;
  try { theme = localStorage.getItem(THEME_KEY); } catch { /* private mode */ }
  if (!theme) theme = matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  setTheme(theme);
  $('theme').addEventListener('change', (e) => setTheme(e.target.value));
}

export function initMotion() {
  const query = matchMedia('(prefers-reduced-motion: reduce)');
  const apply = () => document.documentElement.classList.toggle('reduced-motion', query.matches);
  apply();
  query.addEventListener('change', apply);
}

/** On a phone the pipeline panel is sticky at the top: a control scrolled or tabbed into view
 *  must land below it, not under it (scroll-padding-top follows the panel's height). */
export function keepScrollTargetsClearOfThePipeline() {
  const panel = document.querySelector('.pipeline-panel');
  const root = document.documentElement;
  const update = () => {
    const sticky = getComputedStyle(panel).position === 'sticky';
    root.style.setProperty('--sticky-top', sticky ? `${Math.ceil(panel.getBoundingClientRect().height)}px` : '0px');
  };
  new ResizeObserver(update).observe(panel);
  window.addEventListener('resize', update);
  update();
}
