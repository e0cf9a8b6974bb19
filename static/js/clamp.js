// clamp.js: a text cut to a few lines (the preset's notice on a projector or a phone) or to one
// line with an ellipsis (the header's status) gets a More button beside it: click, tap or Enter
// shows the rest, Less cuts it again.

/** Show `button` while `node` is cut (or expanded), saying which way it goes. `text` is the
 * element that overflows, when it is not `node` itself (the status's text inside its flex row). */
export function fitClamp(node, button, text = node) {
  if (!node || !button) return;
  const expanded = node.classList.contains('expanded');
  const cut = !node.hidden && (expanded || text.scrollHeight > text.clientHeight + 1
    || text.scrollWidth > text.clientWidth + 1);
  button.hidden = !cut;
  button.textContent = expanded ? 'Less' : 'More';
  button.setAttribute('aria-expanded', String(expanded));
}

/** Wire `button` to expand and cut `node`, refitting on resize. */
export function wireClamp(node, button, text = node) {
  if (!node || !button) return;
  button.addEventListener('click', () => {
    node.classList.toggle('expanded');
    fitClamp(node, button, text);
  });
  window.addEventListener('resize', () => fitClamp(node, button, text));
}
