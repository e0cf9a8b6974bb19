/**
 * Theory beside the data: the frame's `theory` block (playground/explain.py) in sentences.
 * Utilisation, Little's law over the last 30 s, the growth of an unbounded queue and when memory
 * runs out, and the M/M/c(/K) prediction beside the measurement where one applies.
 */

const EVERY_MS = 500; // sentences a reader can follow; numbers that do not flicker

function n(value, digits = 2) {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  const d = abs >= 100 ? 0 : abs >= 10 ? 1 : digits;
  return value.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

function seconds(value) {
  if (value === null || value === undefined) return '—';
  return value >= 1 ? `${n(value)} s` : `${n(value * 1000, 0)} ms`;
}

export class TheoryView {
  /** @param {HTMLElement} list the <ul> the sentences go in */
  constructor(list) {
    this.list = list;
    this.shownAt = 0;
    this.key = '';
  }

  update(theory, scenario, { force = false } = {}) {
    if (!theory || !scenario) return;
    const now = performance.now();
    if (!force && now - this.shownAt < EVERY_MS) return;
    this.shownAt = now;
    const lines = this.sentences(theory, scenario);
    const key = lines.join('\n');
    if (key === this.key) return;
    this.key = key;
    this.list.replaceChildren(...lines.map((text) => {
      const li = document.createElement('li');
      li.textContent = text;
      return li;
    }));
  }

  sentences(t, s) {
    const out = [];
    if (t.rho !== undefined) {
      const verdict = t.rho >= 1 ? 'more work arrives than the service can do at full speed'
        : t.rho >= 0.8 ? 'busy: waits grow steeply as ρ nears 1' : 'the service keeps up on average';
      out.push(`Utilisation ρ = λ·S / c = ${n(s.rate)}/s × ${seconds(s.service_time)} / ${t.servers} = ${n(t.rho)}: ${verdict}.`);
    } else {
      out.push(`Closed producers: arrivals follow the service (${t.servers} calls at once at full speed), so ρ = λ·S/c has no fixed λ.`);
    }
    const l = t.little;
    if (l && t.span > 0) {
      const lw = l.W === null ? null : l.lambda * l.W;
      const apart = lw !== null && l.L > 0 && Math.abs(l.L - lw) > 0.05 * l.L;
      out.push(`Little's law over the last ${Math.round(t.span)} s: L = ${n(l.L)} items in the system on average; `
        + `λ·W = ${n(l.lambda)}/s leaving × ${seconds(l.W)} each = ${n(lw)}`
        + (apart ? ': apart, because the system is not in a steady state (work piles up or drains).' : '.'));
    }
    if (t.growth !== undefined) {
      out.push(t.growth > 0
        ? `The unbounded queue grows by about ${n(t.growth)} items/s`
          + (t.memory_in !== undefined ? `: out of memory in about ${n(t.memory_in, 0)} s.` : ' and nothing stops it (no memory limit).')
        : 'At ρ = 1 exactly the unbounded queue has no drift, but it wanders without bound.');
    }
    const m = t.model;
    const seen = t.measured || {};
    if (m) {
      const parts = [`throughput ${n(m.throughput)}/s (measured ${n(seen.throughput)})`,
        `mean in system ${n(m.mean_in_system)} (${n(seen.mean_in_system)})`,
        `mean latency ${seconds(m.mean_latency)} (${seconds(seen.mean_latency)})`];
      if (m.name.split('/').length > 3) parts.push(`blocking ${n(m.blocking * 100, 1)} % (${n((seen.blocking ?? 0) * 100, 1)} %)`);
      out.push(m.stable
        ? `${m.name} predicts ${parts.join(', ')}.`
        : `${m.name} is unstable here (ρ ≥ 1, no limit): no steady state to predict.`);
    } else if (t.why_not) {
      out.push(t.why_not);
    }
    return out;
  }
}
