// clamp.js: a text cut to a few lines (the preset's notice on a projector or a phone) gets a
// More button beside it: click, tap or Enter shows the rest, Less cuts it again.

/** Show `button` while `node` is cut (or expanded), saying which way it goes. */
export function fitClamp(node, button) {
  if (!node || !button) return;
  const expanded = node.classList.contains('expanded');
  const cut = !node.hidden && (expanded || node.scrollHeight > node.clientHeight + 1);
  button.hidden = !cut;
  button.textContent = expanded ? 'Less' : 'More';
  button.setAttribute('aria-expanded', String(expanded));
}

/** Wire `button` to expand and cut `node`, refitting on resize. */
export function wireClamp(node, button) {
  if (!node || !button) return;
  button.addEventListener('click', () => {
    node.classList.toggle('expanded');
    fitClamp(node, button);
  });
  window.addEventListener('resize', () => fitClamp(node, button));
}
