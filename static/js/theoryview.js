/**
 * Theory beside the data: the frame's `theory` block (playground/teach/explain.py) carries its
 * sentences: utilisation, nominal and as the downstream now runs, Little's law over the last 30 s,
 * the growth of an unbounded queue and when memory runs out, and the M/M/c(/K) prediction beside
 * the measurement where one applies. This view shows them as they come: the server sends a block
 * every half second (side.py's THEORY_EVERY) and in every full frame, a pace a reader can follow.
 */

export class TheoryView {
  /** @param {HTMLElement} list the <ul> the sentences go in */
  constructor(list) {
    this.list = list;
    this.key = '';
  }

  update(theory, scenario) {
    if (!theory || !scenario) return;
    const lines = this.sentences(theory);
    const key = lines.join('\n');
    if (key === this.key) return;
    this.key = key;
    this.list.replaceChildren(...lines.map((text) => {
      const li = document.createElement('li');
      li.textContent = text;
      return li;
    }));
  }

  /** The sentences are the server's (playground/teach/explain.py), each a claim its tests check. */
  sentences(t) {
    return Array.isArray(t.lines) ? t.lines : [];
  }
}
