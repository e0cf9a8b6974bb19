// Five small canvas charts over a rolling 60 s window of sim time, one Chart class reused.
// Rows are window rows in `columns` order (one per closed 0.5 s window). Values on hover: a
// vertical line and the values drawn, and the same text in the canvas' title and aria-label.
// Redraws only when data, hover, size or theme changed. No dependencies.

const WINDOW_S = 60;
const MAX_ROWS = 400;

import { OUTCOME_COLORS } from './outcomecolors.js';

const FALLBACK = {
  bg: "#ffffff", fg: "#1a1a1a", ok: "#1f9d55", warn: "#d97706", bad: "#dc2626",
  muted: "#8a8f98", accent: "#2563eb", violet: "#7c3aed", ...OUTCOME_COLORS,
};

// Each series: column, label, colour (theme variable), transform, dash.
const SPECS = [
  {
    key: "queue", title: "Queue and in flight", unit: "items", digits: 0,
    series: [
      { col: "queue", label: "queued", color: "accent" },
      { col: "in_flight", label: "in flight", color: "warn", dash: [6, 4] },
      // An adaptive limiter's limit as it moves (null with a fixed semaphore: then not drawn at all).
      { col: "limit", label: "adaptive limit", color: "violet", dash: [2, 3], optional: true },
    ],
  },
  {
    key: "latency", title: "Latency", unit: "ms", digits: 0,
    series: [
      { col: "p50", label: "p50", color: "ok", scale: 1000 },
      { col: "p95", label: "p95", color: "warn", scale: 1000, dash: [6, 4] },
      { col: "p99", label: "p99", color: "bad", scale: 1000, dash: [2, 3] },
    ],
  },
  {
    key: "throughput", title: "Arrivals, throughput, goodput", unit: "/s", digits: 1,
    series: [
      { col: "arrival_rate", label: "arrivals", color: "muted", dash: [2, 3] },
      { col: "throughput", label: "throughput", color: "accent" },
      { col: "goodput", label: "goodput", color: "ok", dash: [6, 4] },
    ],
  },
  {
    key: "outcomes", title: "Failed outcomes", unit: "/s", digits: 1, stacked: true,
    series: [
      { col: "rejected", label: "rejected", color: "out_rejected", perSecond: true },
      { col: "dropped", label: "dropped", color: "out_dropped", perSecond: true },
      { col: "put_timeout", label: "put timeout", color: "out_put_timeout", perSecond: true },
      { col: "stale", label: "stale", color: "out_stale", perSecond: true },
      { col: "timeout", label: "timeout", color: "out_timeout", perSecond: true },
      { col: "throttled", label: "throttled", color: "out_throttled", perSecond: true, dash: [4, 3] },
      { col: "lost", label: "lost", color: "fg", perSecond: true },
    ],
  },
  {
    key: "memory", title: "Memory", unit: "items", digits: 0,
    series: [
      { col: "memory", label: "held", color: "accent" },
      { col: "memory_peak", label: "peak", color: "bad", dash: [6, 4] },
    ],
  },
];

// The latency chart's second mode (click it, or Enter / Space when focused): where the time of a
// completed item goes, stacked. Each band is that part's p95 in the window, so the stack is an
// upper sketch of the p95 latency, not its exact sum.
const BREAKDOWN = {
  key: "latency", mode: "breakdown", title: "Where the time goes (p95 of each part)", unit: "ms", digits: 0,
  stacked: true,
  series: [
    { col: "put_p95", label: "waiting to enqueue", color: "bad", scale: 1000 },
    { col: "queue_p95", label: "queued", color: "warn", scale: 1000 },
    { col: "permit_p95", label: "waiting for a permit", color: "violet", scale: 1000 },
    { col: "service_p95", label: "downstream", color: "accent", scale: 1000 },
  ],
};

/** "1 item", "2 items": the unit after a formatted value. */
function unitFor(unit, text) {
  return unit === "items" && text === "1" ? "item" : unit;
}

function clamp(v, lo, hi) { return v < lo ? lo : v > hi ? hi : v; }

function niceStep(range, ticks) {
  const raw = range / Math.max(1, ticks);
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10) * p;
}

function fmt(v, digits) {
  if (v == null || !Number.isFinite(v)) return "–";
  const a = Math.abs(v);
  if (a >= 10000) return (v / 1000).toFixed(a >= 100000 ? 0 : 1) + "k";
  if (a >= 100) return v.toFixed(0);
  return v.toFixed(digits);
}

function fmtTick(v) {
  if (v >= 1000) return (v / 1000) + "k";
  return String(Math.round(v * 100) / 100);
}

/** A time tick: whole seconds once the axis is long, tenths while a run is young. */
function fmtTime(t, step) {
  return step >= 1 ? `${Math.round(t)} s` : `${(Math.round(t * 100) / 100).toFixed(step >= 0.1 ? 1 : 2)} s`;
}

class Chart {
  constructor(owner, spec, container, alt) {
    this.owner = owner;
    this.specs = alt ? [spec, alt] : [spec];
    this.mode = 0;
    this.spec = spec;
    const c = document.createElement("canvas");
    c.className = "chart";
    c.dataset.chart = spec.key;
    c.setAttribute("role", "img");
    c.setAttribute("aria-label", `${spec.title}: no data yet`);
    c.width = 400;
    c.height = 200;
    container.appendChild(c);
    this.canvas = c;
    this.ctx = c.getContext("2d");
    this.cssW = 0;
    this.cssH = 0;
    this.dpr = 1;
    this.dirty = true;
    this.hoverX = -1;      // css px, -1 = none
    this.hoverIdx = -1;
    this.label = "";
    c.addEventListener("mousemove", (e) => {
      const r = c.getBoundingClientRect();
      this.hoverX = e.clientX - r.left;
      this.dirty = true;
    });
    c.addEventListener("mouseleave", () => { this.hoverX = -1; this.dirty = true; });
    if (alt) {
      // Two modes: a click (or Enter / Space when focused) switches.
      c.tabIndex = 0;
      c.dataset.mode = spec.mode || "percentiles";
      c.style.cursor = "pointer";
      c.addEventListener("click", () => this.toggle());
      c.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); e.stopPropagation(); this.toggle(); }
      });
    }
    this.resize();
  }

  toggle() {
    this.mode = (this.mode + 1) % this.specs.length;
    this.spec = this.specs[this.mode];
    this.canvas.dataset.mode = this.spec.mode || "percentiles";
    this.label = "";
    this.dirty = true;
  }

  resize() {
    const c = this.canvas;
    const w = c.clientWidth || 400;
    const h = c.clientHeight || 200;
    const dpr = Math.min(window.devicePixelRatio || 1, 3);
    const bw = Math.max(1, Math.round(w * dpr)), bh = Math.max(1, Math.round(h * dpr));
    if (bw !== c.width || bh !== c.height) { c.width = bw; c.height = bh; }
    if (w !== this.cssW || h !== this.cssH || dpr !== this.dpr) {
      this.cssW = w; this.cssH = h; this.dpr = dpr; this.dirty = true;
    }
  }

  value(row, s, prevRow) {
    const i = s.idx;
    if (i < 0) return null;
    let v = row[i];
    if (v == null) return null;
    if (s.scale) v *= s.scale;
    if (s.perSecond) {
      const tI = this.owner.tIdx;
      const dt = prevRow ? row[tI] - prevRow[tI] : this.owner.windowS;
      v /= dt > 0 && dt < 5 ? dt : this.owner.windowS;
    }
    return v;
  }

  setLabel(text) {
    if (text === this.label) return;
    this.label = text;
    this.canvas.setAttribute("aria-label", text);
    this.canvas.title = text;
  }

  /** The series to draw: an optional one only while some row has a value for it. */
  active(rows) {
    const has = (s, list) => list.some((r) => r[s.idx] != null);
    return this.spec.series.filter((s) => {
      if (!s.optional) return true;
      if (s.idx < 0) return false; // a server without the column
      return has(s, rows) || (this.owner.comparing && has(s, this.owner.viewB));
    });
  }

  describe(row, prevRow, prefix, rowB = null, prevB = null) {
    const parts = [];
    for (const s of this.active(this.owner.view)) {
      const text = fmt(this.value(row, s, prevRow), this.spec.digits);
      if (this.owner.comparing) {
        const textB = rowB ? fmt(this.value(rowB, s, prevB), this.spec.digits) : "–";
        parts.push(`${s.label} A ${text}, B ${textB} ${unitFor(this.spec.unit, textB)}`);
      } else parts.push(`${s.label} ${text} ${unitFor(this.spec.unit, text)}`);
    }
    const ref = this.owner.references[this.spec.key];
    if (ref) parts.push(`${ref.label} ${fmt(ref.value, this.spec.digits)} ${this.spec.unit}`);
    return `${this.spec.title}${prefix}: ${parts.join(", ")}`;
  }

  draw(C, font) {
    if (!this.dirty) return;
    this.dirty = false;
    const owner = this.owner, rows = owner.view, spec = this.spec, ctx = this.ctx;
    // Compare mode: B's rows too, drawn dashed in the same colours as A's solid lines (a stacked
    // chart becomes lines: two stacks on one axis would hide each other).
    const sets = owner.comparing ? [[rows, []], [owner.viewB, [7, 5]]] : [[rows, null]];
    const stackedNow = spec.stacked && !owner.comparing;
    const W = this.cssW, H = this.cssH;
    // Type scales with the chart and with the page's font size (the projector theme is bigger).
    const base = this.owner.fontSize;
    const u = clamp(Math.min(W / 24, H / 12), base * 0.72, base * 1.3);
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.fillStyle = C.bg;
    ctx.fillRect(0, 0, W, H);
    const fSmall = `${Math.round(u * 0.85)}px ${font}`;
    const fTitle = `600 ${Math.round(u)}px ${font}`;
    // Title and legend.
    ctx.textBaseline = "top";
    ctx.textAlign = "left";
    ctx.font = fTitle;
    ctx.fillStyle = C.fg;
    let titleW = W - u;
    if (this.specs.length > 1) {
      // The switch, drawn as a small button at the top right; the title keeps clear of it.
      ctx.font = fSmall;
      const hint = this.mode ? "percentiles ⇄" : "breakdown ⇄";
      const hw = ctx.measureText(hint).width + u * 0.8;
      ctx.strokeStyle = C.muted;
      ctx.lineWidth = 1;
      ctx.strokeRect(W - hw - u * 0.4 + 0.5, u * 0.2 + 0.5, hw, u * 1.2);
      ctx.fillStyle = C.muted;
      ctx.textAlign = "right";
      ctx.fillText(hint, W - u * 0.8, u * 0.35);
      ctx.textAlign = "left";
      ctx.font = fTitle;
      ctx.fillStyle = C.fg;
      titleW = W - hw - u * 1.4;
    }
    // Milliseconds read as seconds past 1 s (not "60k ms"); the axis's top is the last draw's.
    const inSeconds = spec.unit === "ms" && (this.axisTop || 0) >= 1000;
    ctx.fillText(`${spec.title} (${inSeconds ? "s" : spec.unit})`, u * 0.5, u * 0.3, titleW);
    ctx.font = fSmall;
    let lx = u * 0.5, ly = u * 1.6;
    const series = this.active(rows);
    for (const s of series) {
      const w = ctx.measureText(s.label).width + u * 2.2;
      if (lx + w > W - u * 0.5) { lx = u * 0.5; ly += u * 1.1; }
      ctx.strokeStyle = C[s.color];
      ctx.fillStyle = C[s.color];
      if (stackedNow) ctx.fillRect(lx, ly + u * 0.2, u * 1.2, u * 0.6);
      else {
        ctx.lineWidth = 3;
        ctx.setLineDash(owner.comparing ? [] : s.dash || []);
        ctx.beginPath(); ctx.moveTo(lx, ly + u * 0.5); ctx.lineTo(lx + u * 1.4, ly + u * 0.5); ctx.stroke();
        ctx.setLineDash([]);
      }
      ctx.fillStyle = C.fg;
      ctx.fillText(s.label, lx + u * 1.6, ly);
      lx += w;
    }
    if (owner.comparing) { // which line is which service: A and B on one line, never B alone
      const pair = ctx.measureText("A").width + ctx.measureText("B").width + u * 4.4;
      if (lx + pair > W - u * 0.5) { lx = u * 0.5; ly += u * 1.1; }
      for (const [name, dash] of [["A", []], ["B", [7, 5]]]) {
        const w = ctx.measureText(name).width + u * 2.2;
        ctx.strokeStyle = C.fg;
        ctx.lineWidth = 2;
        ctx.setLineDash(dash);
        ctx.beginPath(); ctx.moveTo(lx, ly + u * 0.5); ctx.lineTo(lx + u * 1.4, ly + u * 0.5); ctx.stroke();
        ctx.setLineDash([]);
        ctx.fillStyle = C.fg;
        ctx.fillText(name, lx + u * 1.6, ly);
        lx += w;
      }
    }
    // Plot area.
    const left = u * 3.4, right = W - u * 0.8, top = ly + u * 1.6, bottom = H - u * 1.6;
    if (bottom - top < u * 2 || right - left < u * 4) return;
    const tI = owner.tIdx;
    const n = rows.length;
    // The time axis grows with the run until it spans its 60 s window, then rolls.
    const tLast = n ? rows[n - 1][tI] : 0;
    const tStart = Math.max(0, tLast - WINDOW_S);
    const span = Math.max(tLast - tStart, 0.5);
    const tEnd = tStart + span;
    // y range
    let ymax = 0;
    const ser = series;
    for (const [list] of sets) {
      for (let i = 0; i < list.length; i++) {
        if (list[i][tI] < tStart) continue;
        const prev = i ? list[i - 1] : null;
        let sum = 0;
        for (let j = 0; j < ser.length; j++) {
          const v = this.value(list[i], ser[j], prev);
          if (v == null) continue;
          if (stackedNow) sum += v; else if (v > ymax) ymax = v;
        }
        if (stackedNow && sum > ymax) ymax = sum;
      }
    }
    // Theory's prediction for this chart, if it has one (a thin reference line; see setReference).
    const ref = owner.references[spec.key];
    if (ref && ref.value > ymax && ref.value < ymax * 3 + 1) ymax = ref.value;
    if (ymax <= 0) ymax = spec.unit === "ms" ? 100 : 1;
    const step = niceStep(ymax * 1.08, Math.max(2, Math.floor((bottom - top) / (u * 2.2))));
    const yTop = Math.ceil((ymax * 1.08) / step) * step;
    this.axisTop = yTop;
    const X = (t) => left + ((t - tStart) / span) * (right - left);
    const Y = (v) => bottom - (v / yTop) * (bottom - top);
    // Grid and ticks.
    ctx.font = fSmall;
    ctx.lineWidth = 1;
    ctx.strokeStyle = C.grid;
    ctx.fillStyle = C.muted;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (let v = 0; v <= yTop + step * 0.01; v += step) {
      const y = Math.round(Y(v)) + 0.5;
      ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(right, y); ctx.stroke();
      ctx.fillText(fmtTick(inSeconds && yTop >= 1000 ? v / 1000 : v), left - u * 0.3, y);
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    const xStep = niceStep(span, Math.max(1, Math.floor((right - left) / (u * 4))));
    for (let k = Math.ceil(tStart / xStep - 1e-9); k * xStep <= tEnd + 1e-6; k++) {
      const t = k * xStep;
      const x = Math.round(X(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(x, bottom); ctx.lineTo(x, bottom + u * 0.3); ctx.stroke();
      ctx.fillText(fmtTime(t, xStep), clamp(x, left + u, right - u), bottom + u * 0.35);
    }
    ctx.strokeStyle = C.muted;
    ctx.beginPath(); ctx.moveTo(left, top); ctx.lineTo(left, bottom); ctx.lineTo(right, bottom); ctx.stroke();
    // Series.
    let first = 0;
    while (first < n && rows[first][tI] < tStart) first++;
    if (stackedNow) {
      const base = owner.stackBase;
      for (let i = first; i < n; i++) base[i] = 0;
      for (let j = 0; j < ser.length; j++) {
        ctx.beginPath();
        let any = false;
        for (let i = first; i < n; i++) {
          const v = this.value(rows[i], ser[j], i ? rows[i - 1] : null) || 0;
          if (v > 0) any = true;
          const x = X(rows[i][tI]), y = Y(base[i] + v);
          if (i === first) ctx.moveTo(x, y); else ctx.lineTo(x, y);
        }
        if (any && n - first === 1) {
          // One window only (a short run): a bar, since an area needs two.
          const v = this.value(rows[first], ser[j], first ? rows[first - 1] : null) || 0;
          const x = X(rows[first][tI]), bw = u * 0.8;
          ctx.fillStyle = C[ser[j].color];
          ctx.fillRect(Math.min(x - bw / 2, right - bw), Y(base[first] + v), bw, Y(base[first]) - Y(base[first] + v));
          base[first] += v;
          continue;
        }
        if (any) {
          for (let i = n - 1; i >= first; i--) ctx.lineTo(X(rows[i][tI]), Y(base[i]));
          ctx.closePath();
          ctx.fillStyle = C[ser[j].color];
          ctx.globalAlpha = 0.75;
          ctx.fill();
          ctx.globalAlpha = 1;
          for (let i = first; i < n; i++) base[i] += this.value(rows[i], ser[j], i ? rows[i - 1] : null) || 0;
        }
      }
    } else {
      ctx.lineWidth = Math.max(2, u * 0.16);
      ctx.lineJoin = "round";
      for (const [list, setDash] of sets) {
        const m = list.length;
        let from = 0;
        while (from < m && list[from][tI] < tStart) from++;
        for (let j = 0; j < ser.length; j++) {
          ctx.strokeStyle = C[ser[j].color];
          ctx.setLineDash(setDash || ser[j].dash || []);
          ctx.beginPath();
          let pen = false;
          for (let i = from; i < m; i++) {
            const v = this.value(list[i], ser[j], i ? list[i - 1] : null);
            if (v == null) { pen = false; continue; }
            const x = X(list[i][tI]), y = Y(v);
            if (pen) ctx.lineTo(x, y); else { ctx.moveTo(x, y); pen = true; }
          }
          ctx.stroke();
          if (m - from <= 3) {
            // Few windows yet (or a run shorter than one): dots, so a lone point shows.
            ctx.fillStyle = C[ser[j].color];
            for (let i = from; i < m; i++) {
              const v = this.value(list[i], ser[j], i ? list[i - 1] : null);
              if (v == null) continue;
              ctx.beginPath();
              ctx.arc(X(list[i][tI]), Y(v), Math.max(3, u * 0.25), 0, Math.PI * 2);
              ctx.fill();
            }
          }
        }
      }
      ctx.setLineDash([]);
    }
    if (ref && ref.value <= yTop) {
      const y = Math.round(Y(ref.value)) + 0.5;
      ctx.strokeStyle = C.fg;
      ctx.globalAlpha = 0.55;
      ctx.lineWidth = 1;
      ctx.setLineDash([3, 3]);
      ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(right, y); ctx.stroke();
      ctx.setLineDash([]);
      ctx.globalAlpha = 1;
      ctx.font = fSmall;
      // At the left, away from the newest data, with no box: a thin halo in the background
      // colour keeps the glyphs readable and hides nothing but what is under them.
      ctx.textAlign = "left";
      ctx.textBaseline = "bottom";
      ctx.strokeStyle = C.bg;
      ctx.lineWidth = 3;
      ctx.globalAlpha = 0.8;
      ctx.strokeText(ref.label, left + u * 0.2, y - u * 0.1);
      ctx.globalAlpha = 1;
      ctx.fillStyle = C.muted;
      ctx.fillText(ref.label, left + u * 0.2, y - u * 0.1);
    }
    // Hover: the nearest row.
    let hi = -1;
    if (this.hoverX >= left && this.hoverX <= right && n > first) {
      const t = tStart + ((this.hoverX - left) / (right - left)) * span;
      let best = Infinity;
      for (let i = first; i < n; i++) {
        const d = Math.abs(rows[i][tI] - t);
        if (d < best) { best = d; hi = i; }
      }
    }
    // B's row at the same moment (A and B share one clock, so their window ends match).
    const rowOfB = (t) => {
      if (!owner.comparing) return [null, null];
      const list = owner.viewB;
      for (let i = list.length - 1; i >= 0; i--) if (Math.abs(list[i][tI] - t) < 1e-6) return [list[i], i ? list[i - 1] : null];
      return [null, null];
    };
    if (hi >= 0) {
      const row = rows[hi], prev = hi ? rows[hi - 1] : null;
      const [rowB, prevB] = rowOfB(row[tI]);
      const x = Math.round(X(row[tI])) + 0.5;
      ctx.strokeStyle = C.fg;
      ctx.lineWidth = 1;
      ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, bottom); ctx.stroke();
      // A box with the values.
      ctx.font = fSmall;
      const lines = [`t ${row[tI].toFixed(1)} s`];
      for (const s of ser) {
        const text = fmt(this.value(row, s, prev), spec.digits);
        if (owner.comparing) {
          const textB = rowB ? fmt(this.value(rowB, s, prevB), spec.digits) : "–";
          lines.push(`${s.label} A ${text} · B ${textB} ${unitFor(spec.unit, textB)}`);
        } else lines.push(`${s.label} ${text} ${unitFor(spec.unit, text)}`);
      }
      let bw = 0;
      for (const l of lines) bw = Math.max(bw, ctx.measureText(l).width);
      bw += u * 1.8;
      const lh = u * 1.05, bh = lines.length * lh + u * 0.5;
      let bx = x + u * 0.5;
      if (bx + bw > right) bx = x - u * 0.5 - bw;
      const by = top;
      ctx.fillStyle = C.panel;
      ctx.strokeStyle = C.muted;
      ctx.fillRect(bx, by, bw, bh);
      ctx.strokeRect(bx + 0.5, by + 0.5, bw, bh);
      ctx.textAlign = "left";
      ctx.textBaseline = "top";
      for (let k = 0; k < lines.length; k++) {
        if (k > 0) {
          ctx.fillStyle = C[ser[k - 1].color];
          ctx.fillRect(bx + u * 0.4, by + u * 0.25 + k * lh + u * 0.2, u * 0.6, u * 0.6);
        }
        ctx.fillStyle = C.fg;
        ctx.fillText(lines[k], bx + u * 1.2, by + u * 0.25 + k * lh);
      }
      this.setLabel(this.describe(row, prev, ` at ${row[tI].toFixed(1)} s`, rowB, prevB));
    } else if (n) {
      const [rowB, prevB] = rowOfB(rows[n - 1][tI]);
      this.setLabel(this.describe(rows[n - 1], n > 1 ? rows[n - 2] : null, ` (latest, t ${rows[n - 1][tI].toFixed(1)} s)`,
        rowB, prevB));
    } else {
      this.setLabel(`${spec.title}: no data yet`);
    }
    this.hoverIdx = hi;
  }
}

export class Charts {
  constructor(container, columns) {
    this.container = container;
    this.columns = columns && columns.length ? columns : ["t", "arrival_rate", "throughput", "goodput",
      "rejected", "dropped", "put_timeout", "stale", "timeout", "lost", "p50", "p95", "p99", "put_p95",
      "queue_p95", "service_p95", "queue", "in_flight", "memory", "memory_peak", "permit_p95", "throttled"];
    this.tIdx = this.columns.indexOf("t");
    this.windowS = 0.5;
    this.rows = [];
    this.view = this.rows;   // rows, plus a finished run's last partial window (see draw)
    this.finalRow = null;
    this.comparing = false;  // compare mode: service B's rows too, drawn dashed
    this.rowsB = [];
    this.viewB = this.rowsB;
    this.finalRowB = null;
    this.references = {}; // chart key -> {value, label}: theory's prediction, drawn as a thin line
    this.stackBase = new Float64Array(MAX_ROWS + 8);
    this.colors = {};
    this.font = "system-ui, sans-serif";
    this.fontSize = 16;
    this.themeKey = "";
    this.themeAt = -1e9;
    // Remove any charts left from an earlier instance, then create ours.
    for (const old of container.querySelectorAll("canvas.chart")) old.remove();
    for (const s of BREAKDOWN.series) s.idx = this.columns.indexOf(s.col);
    this.charts = SPECS.map((spec) => {
      for (const s of spec.series) s.idx = this.columns.indexOf(s.col);
      return new Chart(this, spec, container, spec.key === "latency" ? BREAKDOWN : null);
    });
    if (window.playground && typeof window.playground === "object" && !window.playground.charts) {
      window.playground.charts = this;
    }
    const onResize = () => { for (const c of this.charts) c.resize(); };
    if (window.ResizeObserver) {
      this.ro = new ResizeObserver(onResize);
      for (const c of this.charts) this.ro.observe(c.canvas);
    }
    window.addEventListener("resize", onResize);
    // A theme switch (data-theme on <html>) is picked up on the next draw.
    if (window.MutationObserver) {
      new MutationObserver(() => { this.themeAt = -1e9; })
        .observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme", "class", "style"] });
    }
  }

  /** Theory's predictions as reference lines: {chartKey: {value, label}} (empty: none). */
  setReferences(references) {
    const key = JSON.stringify(references);
    if (key === this.referencesKey) return;
    this.referencesKey = key;
    this.references = references;
    for (const c of this.charts) c.dirty = true;
  }

  /** Show the charts up to sim time t (the timeline's moment), or live again (null). */
  setMoment(t) {
    if (t === this.moment || (t == null && this.moment == null)) return;
    this.moment = t;
    this.momentKey = '';
    if (t == null) { this.finalRow = this.finalRowB = undefined; for (const c of this.charts) c.dirty = true; }
  }

  reset() {
    this.rows.length = 0;
    this.rowsB.length = 0;
    for (const c of this.charts) { c.dirty = true; }
  }

  /** Compare mode on or off: B's rows are drawn dashed beside A's (and cleared either way). */
  setCompare(on) {
    this.comparing = Boolean(on);
    this.rowsB.length = 0;
    for (const c of this.charts) c.dirty = true;
  }

  add(rows) {
    this.append(this.rows, rows);
  }

  /** Service B's rows (compare mode). */
  addB(rows) {
    this.append(this.rowsB, rows);
  }

  append(list, rows) {
    if (!rows || !rows.length) return;
    const tI = this.tIdx;
    for (const row of rows) {
      const n = list.length;
      if (n && row[tI] < list[n - 1][tI]) list.length = 0;   // a new run
      else if (n && row[tI] === list[n - 1][tI]) { list[n - 1] = row; continue; }
      list.push(row);
    }
    const n = list.length;
    if (n > 1) {
      const dt = list[n - 1][tI] - list[n - 2][tI];
      if (dt > 0 && dt < 5) this.windowS = dt;
    }
    // Keep the last 60 s (plus one row so the first per-second value has a predecessor).
    const cutoff = list[n - 1][tI] - WINDOW_S - 1;
    let drop = 0;
    while (drop < n - 1 && list[drop][tI] < cutoff) drop++;
    if (n - drop > MAX_ROWS) drop = n - MAX_ROWS;
    if (drop) list.splice(0, drop);
    for (const c of this.charts) c.dirty = true;
  }

  readTheme() {
    const now = performance.now();
    if (now - this.themeAt < 1000) return;
    this.themeAt = now;
    const cs = getComputedStyle(this.charts[0].canvas);
    let key = cs.fontFamily + "|" + cs.fontSize + "|";
    const vals = {};
    for (const k in FALLBACK) { vals[k] = cs.getPropertyValue("--" + k).trim(); key += vals[k] + "|"; }
    const panel = cs.getPropertyValue("--panel").trim();
    key += panel;
    if (key === this.themeKey) return;
    this.themeKey = key;
    for (const k in FALLBACK) this.colors[k] = vals[k] || FALLBACK[k];
    this.colors.panel = panel || this.colors.bg;
    this.colors.grid = this.colors.muted;
    this.font = cs.fontFamily || "system-ui, sans-serif";
    this.fontSize = parseFloat(cs.fontSize) || 16;
    // A faint grid: the muted colour at low alpha.
    const ctx = this.charts[0].ctx;
    ctx.save();
    ctx.fillStyle = this.colors.muted;
    const m = ctx.fillStyle;   // normalized: #rrggbb or rgba(...)
    ctx.restore();
    if (m[0] === "#") {
      const r = parseInt(m.slice(1, 3), 16), g = parseInt(m.slice(3, 5), 16), b = parseInt(m.slice(5, 7), 16);
      this.colors.grid = `rgba(${r},${g},${b},0.3)`;
    }
    for (const c of this.charts) c.dirty = true;
  }

  /** A finished run's last, partial window (frames carry it as state.final_window): runs that end
   * between two window ends, or last less than one window, still show their end. */
  updateView() {
    const frame = window.playground && window.playground.lastFrame;
    const tI = this.tIdx;
    if (this.moment != null) { // the timeline shows a past moment: the charts end there
      const key = `${this.moment}:${this.rows.length}:${this.rowsB.length}`;
      if (key === this.momentKey) return;
      this.momentKey = key;
      const upTo = (rows) => rows.filter((row) => row[tI] <= this.moment + 1e-9);
      this.view = upTo(this.rows);
      this.viewB = upTo(this.rowsB);
      this.finalRow = this.finalRowB = undefined; // recomputed when live again
      for (const c of this.charts) c.dirty = true;
      return;
    }
    const withFinal = (state, rows, shown, last) => {
      let fin = state ? state.final_window || null : null;
      const n = rows.length;
      if (fin && n && !(fin[tI] > rows[n - 1][tI])) fin = null;
      if (fin === last && shown.length === n + (fin ? 1 : 0)) return null;
      return [fin, fin ? rows.concat([fin]) : rows];
    };
    const a = withFinal(frame && frame.state, this.rows, this.view, this.finalRow);
    if (a) [this.finalRow, this.view] = a;
    const b = withFinal(frame && frame.b && frame.b.state, this.rowsB, this.viewB, this.finalRowB);
    if (b) [this.finalRowB, this.viewB] = b;
    if (a || b) for (const c of this.charts) c.dirty = true;
  }

  draw() {
    this.readTheme();
    this.updateView();
    for (const c of this.charts) c.draw(this.colors, this.font);
  }
}
