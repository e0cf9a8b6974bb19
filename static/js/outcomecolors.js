// outcomecolors.js: one colour per way work is not completed, the same in the pipeline and the
// charts. Okabe and Ito's palette, chosen to stay apart for the colour-blind (deuteranopia,
// protanopia, tritanopia); tests/e2e/test_legible.py checks the distances under simulation.
// Lost in a crash is the text colour (fg), black or white by theme.
export const OUTCOME_COLORS = {
  out_rejected: "#D55E00",     // vermillion
  out_dropped: "#E69F00",      // orange
  out_put_timeout: "#56B4E9",  // sky blue
  out_stale: "#CC79A7",        // reddish purple
  out_timeout: "#0072B2",      // blue
  out_throttled: "#009E73",    // bluish green
};
