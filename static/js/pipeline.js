// The pipeline, animated on a canvas: producers -> queue -> workers -> permits -> downstream -> done.
// Frames arrive ~20/s; draw() runs every animation frame and eases every shape towards the newest
// frame. Items that end badly (rejected, dropped, put-timeout, stale, timeout, throttled, lost) fall
// away as particles with a colour and a short label. No dependencies, no allocations in the hot path
// beyond a few strings.

import { OUTCOME_COLORS } from './outcomecolors.js';

const FALLBACK = {
  bg: "#ffffff", fg: "#1a1a1a", ok: "#1f9d55", warn: "#d97706", bad: "#dc2626",
  muted: "#8a8f98", accent: "#2563eb", ...OUTCOME_COLORS,
};

// Where each outcome comes from, its colour (a theme variable) and its label.
const OUTCOMES = {
  "rejected": { color: "out_rejected", label: "rejected", from: "entry" },
  "dropped": { color: "out_dropped", label: "dropped", from: "head" },
  "codel-drop": { color: "out_dropped", label: "dropped by CoDel", from: "head" },
  "put-timeout": { color: "out_put_timeout", label: "put timed out", from: "entry" },
  "stale": { color: "out_stale", label: "stale", from: "head" },
  "timeout": { color: "out_timeout", label: "timed out", from: "downstream" },
  "throttled": { color: "out_throttled", label: "throttled (429)", from: "downstream" },
  "crash": { color: "fg", label: "lost", from: "queue" },
  "lost": { color: "fg", label: "lost", from: "queue" },
};

const MAX_PARTICLES = 240;
const MIN_TEXT_PX = 11;       // no canvas text is drawn smaller (squeezed) than this, in css px
const MAX_LOST = 36;          // lost-item particles alive at once (they live in their own lane)
const LOST_MS = 900;          // and fade out quickly
const MAX_WORKERS_SHOWN = 24;
// Which workers are drawn first when not all fit: calling, then waiting for a permit, then idle.
const WORKER_ORDER = { c: 0, p: 1, r: 2, i: 3 };
const WORKER_WORDS = { c: "calling", p: "waiting for a permit", r: "backing off", i: "idle" };
const MAX_TOKENS = 400;
const FRAME_MS = 50;          // frames come at 20/s
const EASE_MS = 60;           // time constant of the easing

function clamp(v, lo, hi) { return v < lo ? lo : v > hi ? hi : v; }

/** Parse any CSS colour to [r, g, b] using a scratch 2d context. */
function makeColorParser() {
  const c = document.createElement("canvas");
  c.width = c.height = 1;
  const ctx = c.getContext("2d", { willReadFrequently: true });
  return (css, fallback) => {
    ctx.clearRect(0, 0, 1, 1);
    ctx.fillStyle = fallback;
    if (css) ctx.fillStyle = css;
    ctx.fillRect(0, 0, 1, 1);
    const d = ctx.getImageData(0, 0, 1, 1).data;
    return [d[0], d[1], d[2]];
  };
}

function rgb(c, a) {
  return a === undefined || a >= 1
    ? `rgb(${c[0]},${c[1]},${c[2]})`
    : `rgba(${c[0]},${c[1]},${c[2]},${a.toFixed(3)})`;
}

function mix(a, b, t) {
  return [Math.round(a[0] + (b[0] - a[0]) * t), Math.round(a[1] + (b[1] - a[1]) * t),
    Math.round(a[2] + (b[2] - a[2]) * t)];
}

/** Fit n cells into a w x h box: returns [cols, rows, cell]. */
function fitGrid(n, w, h, maxCell) {
  // A box squeezed to nothing (many workers, a short canvas) fits cells of size 0, never < 0.
  w = w > 0 ? w : 0;
  h = h > 0 ? h : 0;
  if (n <= 0) return [1, 1, Math.min(maxCell, w, h)];
  let best = [n, 1, 0];
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const cell = Math.min(w / cols, h / rows, maxCell);
    if (cell > best[2] + 0.01) best = [cols, rows, cell];
  }
  return best;
}

function fmtS(s) {
  if (s == null) return "";
  return s < 10 ? s.toFixed(1) + " s" : Math.round(s) + " s";
}

function plural(n, one, many) { return n === 1 ? one : many; }

export class Pipeline {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.frame = null;
    this.prev = null;
    this.scenario = null;
    this.frameAt = 0;
    this.frameSeq = 0;
    this.progress = 1;
    this.progressFast = 1;
    this.lastDraw = 0;
    this.dirty = true;
    this.cssW = 0;
    this.cssH = 0;
    this.dpr = 1;
    this.colors = {};
    this.rgb = {};
    this.ageColors = [];
    this.themeKey = "";
    this.fontSize = 16;
    this.themeCheckedAt = -1e9;
    this.parseColor = makeColorParser();
    // Tokens: one per visible item id, eased towards its target position.
    this.tokens = new Map();
    this.tokenPool = [];
    this.gen = 0;
    // Particles: a fixed pool.
    this.particles = [];
    for (let i = 0; i < MAX_PARTICLES; i++) {
      this.particles.push({ alive: false, x: 0, y: 0, vx: 0, vy: 0, born: 0, color: "", label: "", big: false, lost: false });
    }
    this.pNext = 0;
    this.labelAt = Object.create(null);   // kind -> last time a label was shown
    this.flashUntil = 0;
    this.smooth = { queue: 0, memory: 0, inflight: 0, blocked: 0, load: 0 };
    this.L = null;     // layout
    this.text = {};    // per-frame strings
    this.snapNext = false;   // a crash or a new run: levels jump to the frame's values, no easing
    this.lostAlive = 0;
    // What the last draw put where (css px), for tests and debugging: see recordText and draw().
    this.lastLayout = null;
    if (window.playground && typeof window.playground === "object" && !window.playground.pipeline) {
      window.playground.pipeline = this;
    }
    this.reduced = false;
    const mq = window.matchMedia ? window.matchMedia("(prefers-reduced-motion: reduce)") : null;
    if (mq) {
      this.reduced = mq.matches;
      const onChange = () => { this.reduced = mq.matches; this.dirty = true; };
      if (mq.addEventListener) mq.addEventListener("change", onChange);
      else if (mq.addListener) mq.addListener(onChange);
    }
    if (window.ResizeObserver) {
      this.ro = new ResizeObserver(() => this.resize());
      this.ro.observe(canvas);
    }
    window.addEventListener("resize", () => this.resize());
    // A theme switch (data-theme on <html>) is picked up on the next draw.
    if (window.MutationObserver) {
      new MutationObserver(() => { this.themeCheckedAt = -1e9; this.dirty = true; })
        .observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme", "class", "style"] });
    }
    this.resize();
  }

  // ---------------------------------------------------------------- sizing and theme
  resize() {
    const c = this.canvas;
    const w = c.clientWidth || c.width || 300;
    const h = c.clientHeight || c.height || 150;
    const dpr = Math.min(window.devicePixelRatio || 1, 3);
    const bw = Math.max(1, Math.round(w * dpr));
    const bh = Math.max(1, Math.round(h * dpr));
    if (bw !== c.width || bh !== c.height) {
      c.width = bw;
      c.height = bh;
    }
    if (w !== this.cssW || h !== this.cssH || dpr !== this.dpr) {
      this.cssW = w;
      this.cssH = h;
      this.dpr = dpr;
      this.L = null;
      this.dirty = true;
    }
  }

  readTheme(now) {
    if (now - this.themeCheckedAt < 1000 && this.ageColors.length) return;
    this.themeCheckedAt = now;
    const cs = getComputedStyle(this.canvas);
    let key = "";
    const vals = {};
    for (const k in FALLBACK) {
      const v = cs.getPropertyValue("--" + k).trim();
      vals[k] = v;
      key += v + "|";
    }
    key += cs.fontFamily + cs.fontSize;
    if (key === this.themeKey) return;
    this.themeKey = key;
    this.font = cs.fontFamily || "system-ui, sans-serif";
    this.fontSize = parseFloat(cs.fontSize) || 16;
    for (const k in FALLBACK) {
      const c = this.parseColor(vals[k], FALLBACK[k]);
      this.rgb[k] = c;
      this.colors[k] = rgb(c);
    }
    const { ok, warn, bad } = this.rgb;
    this.ageColors = [];
    for (let i = 0; i <= 16; i++) {
      const t = i / 16;
      this.ageColors.push(rgb(t < 0.5 ? mix(ok, warn, t * 2) : mix(warn, bad, (t - 0.5) * 2)));
    }
    this.colors.faint = rgb(this.rgb.muted, 0.25);
    this.colors.faintFg = rgb(this.rgb.fg, 0.08);
    this.colors.badFlash = rgb(this.rgb.bad, 0.18);
    this.colors.badBanner = rgb(this.rgb.bad, 0.92);
    this.colors.scrim = rgb(this.rgb.bg, 0.55);
    this.L = null;
    this.dirty = true;
  }

  ageColor(age) {
    // Green when fresh, amber at half the scale, red at the scale (max_age when set, else 2 s).
    const sc = this.scenario;
    const scale = sc && sc.max_age > 0 ? sc.max_age : 2.0;
    const i = clamp(Math.round((age / scale) * 16), 0, 16);
    return this.ageColors[i];
  }

  // ---------------------------------------------------------------- frames
  /** Forget every frame, token and particle (after a failed draw: start again from a full frame). */
  reset() {
    this.tokens.forEach((tk) => this.tokenPool.push(tk));
    this.tokens.clear();
    for (const p of this.particles) p.alive = false;
    this.frame = this.prev = null;
    this.smooth = { queue: 0, memory: 0, inflight: 0, blocked: 0, load: 0 };
    this.snapNext = true;
    this.flashUntil = 0;
    this.lostAlive = 0;
    this.L = null;
    this.dirty = true;
    this.resize();
  }

  setFrame(frame) {
    if (!frame || !frame.state) return;
    if (frame.scenario) this.scenario = frame.scenario;
    const now = performance.now();
    const prev = this.frame;
    if (prev && (frame.run !== prev.run || frame.t < prev.t)) {
      // A new run: forget tokens and particles.
      this.tokens.forEach((tk) => this.tokenPool.push(tk));
      this.tokens.clear();
      for (const p of this.particles) p.alive = false;
      this.snapNext = true;
    }
    if (frame.events) {
      for (const ev of frame.events) if (ev[1] === "crash") { this.snapNext = true; break; }
    }
    this.prev = prev;
    this.frame = frame;
    this.frameAt = now;
    this.frameSeq++;
    this.dirty = true;
    this.buildText(frame);
    if (!this.L) return;
    this.spawnFromEvents(frame, prev, now);
  }

  buildText(f) {
    const s = f.state;
    const T = this.text;
    const q = s.queue;
    T.queueCount = q.max > 0 ? `${q.n} / ${q.max}` : `${q.n}`;
    T.queueTitle = q.max > 0 ? "queue" : "queue (unbounded)";
    T.more = "";   // set by drawQueue: what does not fit in the slots
    T.oldest = q.oldest != null && q.n > 0 ? `oldest ${fmtS(q.oldest)}` : "";
    const b = s.blocked;
    T.blocked = b.n > 0 ? `${b.n} waiting to put` : "";
    T.blockedOldest = b.n > 0 && b.oldest != null ? `longest ${fmtS(b.oldest)}` : "";
    const sem = s.semaphore;
    T.permits = sem.limit > 0 ? `${sem.held} / ${sem.limit}` : "none";
    T.permitWait = sem.waiting > 0 ? `${sem.waiting} waiting` : "";
    const d = s.downstream;
    T.downLoad = d.capacity > 0 ? `${d.in_flight} / ${d.capacity}` : `${d.in_flight} ${plural(d.in_flight, "call", "calls")}`;
    T.slow = d.hiccup ? `hiccup ×${d.hiccup[0]}, ${d.hiccup[1].toFixed(1)} s`
      : d.slowdown > 1.01 ? `×${d.slowdown.toFixed(1)} slower` : "";
    // Calls still running in the downstream after their caller timed out and left.
    T.abandoned = d.abandoned ? `${d.abandoned} abandoned` : "";
    if (T.abandoned) T.slow = T.slow ? `${T.abandoned} · ${T.slow}` : T.abandoned;
    const m = s.memory;
    T.mem = m.limit > 0 ? `memory ${m.held} / ${m.limit} ${plural(m.limit, "item", "items")}`
      : `memory ${m.held} ${plural(m.held, "item", "items")} (no limit)`;
    T.memPeak = `peak ${m.peak}` + (m.crashes ? ` · ${m.crashes} ${plural(m.crashes, "crash", "crashes")}` : "");
    const t = s.totals;
    T.done = `${t.completed}`;
    const parts = [];
    if (t.rejected) parts.push(["rejected", `${t.rejected} rejected`]);
    if (t.dropped) parts.push(["dropped", `${t.dropped} dropped`]);
    if (t.put_timeouts) parts.push(["put-timeout", `${t.put_timeouts} ${plural(t.put_timeouts, "put timeout", "put timeouts")}`]);
    if (t.stale) parts.push(["stale", `${t.stale} stale`]);
    if (t.timeouts) parts.push(["timeout", `${t.timeouts} timed out`]);
    if (t.throttled) parts.push(["throttled", `${t.throttled} throttled`]);
    if (t.lost) parts.push(["lost", `${t.lost} lost`]);
    T.failed = parts;
    T.time = `t ${f.t.toFixed(1)} s`;
    T.status = f.status && f.status !== "running" ? f.status : "";
    const over = ["finished", "halted", "ended"].includes(f.status);
    T.arrivals = over || s.draining ? "no more arrivals"
      : this.scenario
      ? ((s.producer ?? this.scenario.producer) === "closed"
        ? `${s.producer_count ?? this.scenario.producers} ${plural(s.producer_count ?? this.scenario.producers, "producer", "producers")}`
        : `${s.rate ?? this.scenario.rate}/s arriving`)
      : "";
    T.restart = s.down_until != null ? `restarting in ${Math.max(0, s.down_until - f.t).toFixed(1)} s` : "";
  }

  // ---------------------------------------------------------------- layout
  layout() {
    const W = this.cssW, H = this.cssH;
    const vertical = W < 560 && H > W * 0.9;
    const u = clamp(Math.min(W / (vertical ? 22 : 46), H / (vertical ? 34 : 17)), Math.max(10, this.fontSize * 0.68), 44);
    const pad = Math.round(u * 0.6);
    const memH = Math.round(u * 2.4);
    const L = { W, H, u, pad, vertical, font: this.font };
    // Text follows the page's type size too (the projector theme's is 20 px against 16): the
    // boxes keep their size, the words in them grow, up to half as large again. Never below 11 px.
    const t = u * clamp(this.fontSize / 16, 1, 1.5);
    L.tiny = Math.max(11, Math.round(t * 0.72));
    L.fSmall = `${Math.max(11, Math.round(t * 0.85))}px ${this.font}`;
    L.fTiny = `${L.tiny}px ${this.font}`;
    L.fBody = `${Math.round(t)}px ${this.font}`;
    L.fBold = `600 ${Math.round(t)}px ${this.font}`;
    L.fBig = `700 ${Math.round(t * 1.6)}px ${this.font}`;
    L.fHuge = `800 ${Math.round(t * 2.2)}px ${this.font}`;
    // One line of body text, with a little air (the body font is the largest of the labels).
    L.lineH = Math.max(u * 1.1, Math.round(t) * 1.2);
    L.mem = { x: pad, y: H - memH - pad * 0.5, w: W - 2 * pad, h: memH };
    const top = pad + u * 0.4;
    // A lane of its own for items that leave badly (rejected, dropped, timed out, lost), between
    // the sections and the memory bar: their animation never covers a label, the queue or memory.
    const laneH = Math.round(u * 1.7);
    L.lane = { x: pad, y: L.mem.y - pad * 0.4 - laneH, w: W - 2 * pad, h: laneH };
    const bottom = L.lane.y - pad * 0.4;
    if (!vertical) {
      // Columns, left to right.
      const fr = [0.15, 0.31, 0.17, 0.09, 0.13, 0.15];
      const keys = ["prod", "queue", "workers", "permits", "down", "exit"];
      let x = pad;
      const avail = W - 2 * pad;
      for (let i = 0; i < keys.length; i++) {
        const w = avail * fr[i];
        L[keys[i]] = { x: x + pad * 0.3, y: top + u * 1.6, w: w - pad * 0.6, h: bottom - top - u * 1.6, hx: x + w / 2, hy: top };
        x += w;
      }
    } else {
      // Rows, top to bottom, two columns where it helps.
      const avail = bottom - top;
      const rows = [["prod", 0.15], ["queue", 0.3], ["workers", 0.22], ["down", 0.33]];
      let y = top;
      for (const [k, f] of rows) {
        const h = avail * f;
        if (k === "workers") {
          L.workers = { x: pad, y: y + u * 1.6, w: (W - 2 * pad) * 0.66, h: h - u * 1.8, hx: pad + (W - 2 * pad) * 0.33, hy: y };
          L.permits = { x: pad + (W - 2 * pad) * 0.7, y: y + u * 1.6, w: (W - 2 * pad) * 0.3, h: h - u * 1.8, hx: pad + (W - 2 * pad) * 0.85, hy: y };
        } else if (k === "down") {
          L.down = { x: pad, y: y + u * 1.6, w: (W - 2 * pad) * 0.48, h: h - u * 1.8, hx: pad + (W - 2 * pad) * 0.24, hy: y };
          L.exit = { x: pad + (W - 2 * pad) * 0.52, y: y + u * 1.6, w: (W - 2 * pad) * 0.48, h: h - u * 1.8, hx: pad + (W - 2 * pad) * 0.76, hy: y };
        } else {
          L[k] = { x: pad, y: y + u * 1.6, w: W - 2 * pad, h: h - u * 1.8, hx: W / 2, hy: y };
        }
        y += h;
      }
    }
    this.L = L;
    return L;
  }

  // ---------------------------------------------------------------- particles
  spawn(x, y, vx, vy, born, color, label, big, lost) {
    const p = this.particles[this.pNext];
    this.pNext = (this.pNext + 1) % MAX_PARTICLES;
    p.alive = true; p.x = x; p.y = y; p.vx = vx; p.vy = vy; p.born = born;
    p.color = color; p.label = label; p.big = big; p.lost = !!lost;
  }

  spawnFromEvents(f, prev, now) {
    if (this.reduced || !f.events || !f.events.length) return;
    const L = this.L;
    const u = L.u, lane = L.lane;
    const t0 = prev ? prev.t : f.t;
    const span = Math.max(1e-6, f.t - t0);
    let completed = 0;
    // Lost items start in the lane under where they left: the entry, the queue's head, the
    // downstream; a crash loses the whole queue at once.
    const laneY = lane.y + lane.h * 0.5;
    for (let i = 0; i < f.events.length; i++) {
      const ev = f.events[i];
      const kind = ev[1];
      const delay = prev ? clamp(((ev[0] - t0) / span) * FRAME_MS, 0, FRAME_MS) : 0;
      const born = now + delay;
      if (kind === "handled") {
        if (++completed > 3) continue;
        const d = L.down;
        this.spawn(d.x + d.w * 0.9, d.y + d.h * (0.25 + Math.random() * 0.4),
          0.9 * u, 0, born, "ok", "", false);
        continue;
      }
      const o = OUTCOMES[kind];
      if (!o) continue;
      let x;
      if (o.from === "entry") x = L.queue.x;
      else if (o.from === "head") x = L.queue.x + L.queue.w;
      else if (o.from === "downstream") x = L.down.x + L.down.w * 0.5;
      else x = L.queue.x + L.queue.w * 0.5;
      x = clamp(x, lane.x + u, lane.x + lane.w - u);
      if (kind === "crash") {
        this.flashUntil = born + 900;
        this.labelAt[kind] = born;
        for (let k = 0; k < 12; k++) {
          this.spawn(L.queue.x + Math.random() * L.queue.w, laneY + (Math.random() - 0.5) * lane.h * 0.4,
            0.04 * u, 0, born + Math.random() * 150, o.color, k === 0 ? "lost" : "", k === 0, true);
        }
        continue;
      }
      if (this.lostAlive >= MAX_LOST) continue;   // capped: the totals in "done" keep the count
      const showLabel = !(this.labelAt[kind] > born - 900);
      if (showLabel) this.labelAt[kind] = born;
      this.lostAlive++;
      this.spawn(x + (Math.random() - 0.5) * u, laneY + (Math.random() - 0.5) * lane.h * 0.3,
        (0.03 + Math.random() * 0.05) * u, 0, born, o.color, showLabel ? o.label : "", false, true);
    }
  }

  // ---------------------------------------------------------------- tokens
  // A token eases from where it was shown when the newest frame arrived to where that frame puts
  // it, arriving by the time the next frame is due. `snapRows` (the queue) jumps instead of
  // flying diagonally when an item moves to another row of the grid.
  token(id, tx, ty, sx, sy, snapRows, fast) {
    let tk = this.tokens.get(id);
    if (!tk) {
      if (this.tokens.size >= MAX_TOKENS) return null;
      tk = this.tokenPool.pop() || { x: 0, y: 0, fx: 0, fy: 0, seq: 0, born: 0, gen: 0, age: -1 };
      tk.x = tk.fx = sx; tk.y = tk.fy = sy; tk.age = -1; tk.place = 0;
      tk.seq = tk.born = this.frameSeq;
      this.tokens.set(id, tk);
    } else if (tk.seq !== this.frameSeq) {
      tk.seq = this.frameSeq;
      tk.fx = tk.x; tk.fy = tk.y;
      if (snapRows > 0 && Math.abs(ty - tk.y) > snapRows) { tk.fx = tx; tk.fy = ty; }
    }
    tk.gen = this.gen;
    // fast === 2: quick shifts for items already shown, a normal glide for ones just arriving.
    const p = fast === true || (fast === 2 && tk.born !== this.frameSeq) ? this.progressFast : this.progress;
    tk.x = tk.fx + (tx - tk.fx) * p;
    tk.y = tk.fy + (ty - tk.fy) * p;
    return tk;
  }

  sweepTokens() {
    const g = this.gen;
    this.tokens.forEach((tk, id) => {
      if (tk.gen !== g) { this.tokens.delete(id); this.tokenPool.push(tk); }
    });
  }

  // ---------------------------------------------------------------- drawing helpers
  roundRect(x, y, w, h, r) {
    const ctx = this.ctx;
    ctx.beginPath();
    // Nothing to draw for an empty or inverted box (arcTo throws on a negative radius).
    if (!(w > 0 && h > 0) || !Number.isFinite(x + y + w + h)) return;
    r = Math.max(0, Math.min(r > 0 ? r : 0, w / 2, h / 2));
    ctx.moveTo(x + r, y);
    ctx.arcTo(x + w, y, x + w, y + h, r);
    ctx.arcTo(x + w, y + h, x, y + h, r);
    ctx.arcTo(x, y + h, x, y, r);
    ctx.arcTo(x, y, x + w, y, r);
    ctx.closePath();
  }

  /** fillText, and remember where the text went and the size it was drawn at (css px): the
   * font's size, less if maxW squeezed it. `kind`: "" (a label), "moving" or "overlay". */
  say(text, x, y, maxW, kind = "") {
    const ctx = this.ctx;
    if (!text) return;
    const px = parseFloat(/(\d+(?:\.\d+)?)px/.exec(ctx.font)?.[1] || "12");
    let natural = ctx.measureText(text).width;
    // fillText's maxWidth squeezes the glyphs; past MIN_TEXT_PX (a phone's narrow box) the text
    // is cut short with an ellipsis instead, and left out when not even a letter fits.
    const floor = Math.min(px, MIN_TEXT_PX) / px;
    if (maxW > 0 && natural * floor > maxW) {
      const fits = (t) => ctx.measureText(t).width * floor <= maxW;
      let cut = text.length - 1;
      while (cut > 0 && !fits(text.slice(0, cut).trimEnd() + "…")) cut--;
      if (cut <= 0) return;
      text = text.slice(0, cut).trimEnd() + "…";
      natural = ctx.measureText(text).width;
    }
    if (maxW !== undefined && maxW > 0) ctx.fillText(text, x, y, maxW);
    else ctx.fillText(text, x, y);
    const list = this.saidTexts;
    if (!list || list.length >= 96) return;
    const w = maxW > 0 ? Math.min(natural, maxW) : natural;
    const size = natural > w + 0.01 ? px * (w / natural) : px;
    const left = ctx.textAlign === "center" ? x - w / 2 : ctx.textAlign === "right" ? x - w : x;
    const top = ctx.textBaseline === "bottom" || ctx.textBaseline === "alphabetic" ? y - px
      : ctx.textBaseline === "middle" ? y - px / 2 : y;
    list.push({ text, x: left, y: top, w, h: px, size, kind });
  }

  /** Pairs of the last draw's labels whose boxes overlap (for tests): [[a, b], ...]. */
  textOverlaps() {
    const list = (this.saidTexts || []).filter((t) => !t.kind);
    const out = [];
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const a = list[i], b = list[j];
        const dx = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
        const dy = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
        if (dx > 1 && dy > 1) out.push([a.text, b.text]);
      }
    }
    return out;
  }

  header(r, label) {
    const ctx = this.ctx, L = this.L;
    this.MW = r.w + L.pad * 0.5;
    ctx.font = L.fBold;
    ctx.fillStyle = this.colors.muted;
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    this.say(label, r.hx, r.hy, r.w);
  }

  /** Remember a text drawn at (x, y) with the current font and alignment (for lastLayout). */
  recordText(name, text, x, y, maxW) {
    const LL = this.lastLayout;
    if (!LL || !text) return;
    const ctx = this.ctx;
    const w = Math.min(ctx.measureText(text).width, maxW || Infinity);
    const h = parseFloat(/(\d+(?:\.\d+)?)px/.exec(ctx.font)?.[1] || "12");
    const left = ctx.textAlign === "center" ? x - w / 2 : ctx.textAlign === "right" ? x - w : x;
    const top = ctx.textBaseline === "bottom" ? y - h : ctx.textBaseline === "middle" ? y - h / 2 : y;
    LL.texts[name] = { text, x: left, y: top, w, h };
  }

  item(x, y, s, age) {
    const ctx = this.ctx;
    ctx.fillStyle = this.ageColor(age);
    this.roundRect(x - s / 2, y - s / 2, s, s, s * 0.22);
    ctx.fill();
  }

  // ---------------------------------------------------------------- draw
  draw(nowMs) {
    const now = nowMs === undefined ? performance.now() : nowMs;
    this.readTheme(now);
    const f = this.frame;
    const animating = !this.reduced;
    if (!animating && !this.dirty) return;
    const dt = this.lastDraw ? clamp(now - this.lastDraw, 0, 200) : 16;
    this.lastDraw = now;
    this.ease = animating ? 1 - Math.exp(-dt / EASE_MS) : 1;
    if (animating) {
      const q = clamp((now - this.frameAt) / FRAME_MS, 0, 1);
      this.progress = q * q * (3 - 2 * q);   // smoothstep
      // Items taken by a worker get there quickly: at high speed a worker takes a new one per frame.
      const qf = clamp((now - this.frameAt) / (FRAME_MS * 0.35), 0, 1);
      this.progressFast = qf * (2 - qf);
    } else this.progress = this.progressFast = 1;
    this.dirty = false;
    const ctx = this.ctx;
    const L = this.L || this.layout();
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.fillStyle = this.colors.bg;
    ctx.fillRect(0, 0, L.W, L.H);
    if (!f) {
      ctx.font = L.fBody;
      ctx.fillStyle = this.colors.muted;
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      this.say("waiting for the first frame…", L.W / 2, L.H / 2, L.W);
      return;
    }
    const s = f.state;
    this.gen++;
    this.saidTexts = [];
    const sm = this.smooth;
    // A crash (or a new run) snaps every level to the frame's value: the service lost everything
    // at once, and the bars must not ease down while the text already says 0.
    const snap = this.snapNext || s.down_until != null;
    this.snapNext = false;
    const k = snap ? 1 : this.ease;
    sm.queue += (s.queue.n - sm.queue) * k;
    sm.memory += (s.memory.held - sm.memory) * k;
    sm.blocked += (s.blocked.n - sm.blocked) * k;
    const cap = s.downstream.capacity;
    const load = cap > 0 ? s.downstream.in_flight / cap : 0;
    sm.load += (load - sm.load) * k;
    this.lastLayout = {
      t: f.t, W: L.W, H: L.H, vertical: L.vertical, lane: L.lane, smallestText: L.tiny,
      sections: { prod: L.prod, queue: L.queue, workers: L.workers, permits: L.permits, down: L.down, exit: L.exit, mem: L.mem },
      workers: [], workersSummary: "", queue: null, memory: null, texts: {}, particles: [],
    };

    const pulse = animating ? 0.5 + 0.5 * Math.sin(now / 160) : 1;
    this.drawArrows(L);
    this.drawProducers(L, s, pulse);
    this.drawQueue(L, s);
    this.drawWorkers(L, s);
    this.drawPermits(L, s);
    this.drawDownstream(L, s);
    this.drawExit(L, s);
    this.drawMemory(L, s);
    this.sweepTokens();
    if (animating) this.drawParticles(L, now, dt);
    this.drawTopRight(L);
    if (s.down_until != null || now < this.flashUntil) this.drawCrash(L, s, now, animating);
    // The smallest text this draw put on the canvas, in css px (a squeezed one counts as drawn).
    let smallest = Infinity;
    for (const t of this.saidTexts) if (t.size < smallest) smallest = t.size;
    const min = Number.isFinite(smallest) ? smallest.toFixed(1) : "";
    if (this.canvas.dataset.minFontPx !== min) this.canvas.dataset.minFontPx = min;
  }

  drawArrows(L) {
    // Faint flow arrows between the sections.
    const ctx = this.ctx;
    ctx.strokeStyle = this.colors.faint;
    ctx.fillStyle = this.colors.faint;
    ctx.lineWidth = Math.max(2, L.u * 0.18);
    const pairs = L.vertical
      ? [[L.prod, L.queue], [L.queue, L.workers], [L.workers, L.down]]
      : [[L.prod, L.queue], [L.queue, L.workers], [L.workers, L.permits], [L.permits, L.down], [L.down, L.exit]];
    for (const [a, b] of pairs) {
      let x1, y1, x2, y2;
      if (L.vertical) { x1 = x2 = L.W / 2; y1 = a.y + a.h; y2 = b.y - L.u * 1.6; if (y2 - y1 < L.u * 0.6) continue; }
      else { y1 = y2 = a.y + a.h * 0.45; x1 = a.x + a.w; x2 = b.x; if (x2 - x1 < L.u * 0.4) { x1 -= L.u * 0.2; x2 += L.u * 0.2; } }
      ctx.beginPath(); ctx.moveTo(x1, y1); ctx.lineTo(x2, y2); ctx.stroke();
      const ah = L.u * 0.35;
      ctx.beginPath();
      if (L.vertical) { ctx.moveTo(x2, y2); ctx.lineTo(x2 - ah, y2 - ah); ctx.lineTo(x2 + ah, y2 - ah); }
      else { ctx.moveTo(x2, y2); ctx.lineTo(x2 - ah, y2 - ah); ctx.lineTo(x2 - ah, y2 + ah); }
      ctx.fill();
    }
  }

  drawProducers(L, s, pulse) {
    const ctx = this.ctx, r = L.prod, u = L.u, C = this.colors, T = this.text;
    this.MW = r.w + L.pad * 0.5;
    const closed = s.producer ? s.producer === "closed" : this.scenario ? this.scenario.producer === "closed" : s.producers.length > 0;
    this.header(r, closed ? "producers" : "arrivals");
    if (closed && s.producers.length) {
      const n = s.producers.length;
      const shown = Math.min(n, 16);
      const [cols, , cell] = fitGrid(shown, r.w / 1.5, r.h - u * 1.2, u * 3.6);
      const bw = Math.min(r.w / cols, cell * 1.5) * 0.9, bh = cell * 0.8;
      for (let i = 0; i < shown; i++) {
        const p = s.producers[i];
        const cx = r.x + (i % cols + 0.5) * (r.w / cols);
        const cy = r.y + (Math.floor(i / cols) + 0.5) * cell;
        const blocked = p[1] === "b";
        ctx.lineWidth = blocked ? Math.max(2, u * (0.18 + 0.14 * pulse)) : Math.max(1.5, u * 0.1);
        ctx.strokeStyle = blocked ? C.bad : C.muted;
        ctx.fillStyle = blocked ? C.badFlash : C.faintFg;
        this.roundRect(cx - bw / 2, cy - bh / 2, bw, bh, u * 0.3);
        ctx.fill();
        ctx.stroke();
        if (p[3] != null) {
          const sz = bh * 0.42;
          const tk = this.token(p[3], cx, cy - bh * 0.08, cx, cy);
          if (tk) this.item(tk.x, tk.y, sz, p[2]);
        }
        if (bh > u * 2.2) {
          ctx.font = L.fTiny;
          ctx.textAlign = "center";
          ctx.textBaseline = "bottom";
          ctx.fillStyle = blocked ? C.bad : C.muted;
          this.say(blocked ? "waiting " + fmtS(p[2]) : "pausing", cx, cy + bh / 2 - u * 0.1, bw * 0.92);
        }
      }
      const blockedN = s.blocked.n;
      ctx.font = L.fBold;
      ctx.textAlign = "center";
      ctx.textBaseline = "bottom";
      ctx.fillStyle = blockedN ? C.bad : C.muted;
      const msg = n > shown ? `+${n - shown} more · ${blockedN} blocked` : blockedN ? `${blockedN} blocked` : T.arrivals;
      this.say(msg, r.x + r.w / 2, r.y + r.h, this.MW);
      this.recordText("arrivals", msg, r.x + r.w / 2, r.y + r.h, this.MW);
      return;
    }
    // Open arrivals: a source and a pile of blocked putters. A short box (a phone's row) has no
    // room for the pile: the rate and who waits share one line each, never drawn over each other.
    const cx = r.x + r.w / 2;
    const bn = s.blocked.n;
    const line = L.lineH;
    const pileH = Math.max(0, r.h - line * 3.2);
    ctx.font = L.fBody;
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    ctx.fillStyle = C.fg;
    this.say(T.arrivals, cx, r.y, this.MW);
    this.recordText("arrivals", T.arrivals, cx, r.y, this.MW);
    if (bn > 0 && pileH >= u * 1.2) {
      const items = s.blocked.items;
      const shown = Math.min(items.length, 24);
      const py = r.y + line * 1.2;
      const [cols, , cell] = fitGrid(shown, r.w * 0.9, pileH, u * 1.6);
      for (let i = 0; i < shown; i++) {
        const it = items[i];
        const x = r.x + r.w * 0.05 + (i % cols + 0.5) * (r.w * 0.9 / cols);
        const y = py + pileH - (Math.floor(i / cols) + 0.5) * cell;
        const tk = this.token(it[0], x, y, r.x, y);
        if (tk) this.item(tk.x, tk.y, cell * 0.78, it[1]);
      }
      ctx.lineWidth = Math.max(2, u * (0.12 + 0.12 * pulse));
      ctx.strokeStyle = C.bad;
      this.roundRect(r.x, py - u * 0.2, r.w, pileH + u * 0.3, u * 0.4);
      ctx.stroke();
      ctx.font = L.fBold;
      ctx.fillStyle = C.bad;
      ctx.textBaseline = "bottom";
      this.say(T.blocked, cx, r.y + r.h - line, this.MW);
      ctx.font = L.fSmall;
      this.say(T.blockedOldest, cx, r.y + r.h, this.MW);
    } else {
      const words = bn > 0 ? [T.blocked, T.blockedOldest].filter(Boolean).join(" · ") : "nobody waiting";
      ctx.font = bn > 0 ? L.fBold : L.fSmall;
      ctx.fillStyle = bn > 0 ? C.bad : C.muted;
      ctx.textBaseline = "top";
      // Below the rate: in the middle of the box when there is room, else just under it.
      const y = Math.max(r.y + line * 1.15, r.y + r.h / 2 - line / 2);
      this.say(words, cx, y, this.MW);
    }
  }

  drawQueue(L, s) {
    const ctx = this.ctx, r = L.queue, u = L.u, C = this.colors, T = this.text;
    this.MW = r.w + L.pad * 0.5;
    const q = s.queue;
    this.header(r, T.queueTitle);
    const bounded = q.max > 0;
    // Fixed slots: the head (oldest) at the top right, nearest the workers. Each item is drawn
    // in its own slot, never between two, so the items can be counted; what does not fit is "+N".
    const slots = bounded ? Math.min(q.max, 40) : 40;
    const gridH = r.h - u * 3.4;
    const gy = r.y + u * 0.2;
    const [cols, rows, cell] = fitGrid(slots, r.w - u * 0.6, gridH, u * 3.2);
    const gw = cols * cell, gh = rows * cell;
    const gx = r.x + (r.w - gw) / 2;
    const full = bounded && q.n >= q.max;
    const box = { x: gx - u * 0.25, y: gy - u * 0.25, w: gw + u * 0.5, h: gh + u * 0.5 };
    ctx.lineWidth = Math.max(2, u * 0.14);
    ctx.strokeStyle = full ? C.warn : C.muted;
    this.roundRect(box.x, box.y, box.w, box.h, u * 0.35);
    ctx.stroke();
    const sz = cell * 0.8;
    const slotX = (i) => gx + gw - (i % cols + 0.5) * cell;
    const slotY = (i) => gy + (Math.floor(i / cols) + 0.5) * cell;
    ctx.fillStyle = C.faintFg;
    for (let i = 0; i < slots; i++) {
      this.roundRect(slotX(i) - sz / 2, slotY(i) - sz / 2, sz, sz, sz * 0.22);
      ctx.fill();
    }
    const items = q.items;
    const shown = Math.min(items.length, slots);
    const LL = this.lastLayout;
    const rec = LL ? { box, cell, size: sz, slots: slots, shown, n: q.n, items: [] } : null;
    for (let i = 0; i < shown; i++) {
      const x = slotX(i), y = slotY(i);
      this.item(x, y, sz, items[i][1]);
      // A worker taking this item next frame starts its glide from here.
      const tk = this.token(items[i][0], x, y, x, y);
      if (tk) { tk.x = x; tk.y = y; tk.age = items[i][1]; tk.place = 1; }
      if (rec) rec.items.push({ id: items[i][0], x: x - sz / 2, y: y - sz / 2, w: sz, h: sz });
    }
    const hidden = q.n - shown;
    T.more = hidden > 0 ? `+${hidden} more` : "";
    // The count is the frame's own number (never an eased one: it must match the card).
    const by = r.y + r.h;
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.font = L.fBig;
    ctx.fillStyle = full || (!bounded && q.n > slots) ? C.warn : C.fg;
    const count = bounded ? T.queueCount : `${q.n} queued`;
    this.say(count, r.x + r.w / 2, by - u * 1.1, this.MW);
    this.recordText("queueCount", count, r.x + r.w / 2, by - u * 1.1, this.MW);
    ctx.font = L.fSmall;
    ctx.fillStyle = hidden > 0 ? C.warn : C.muted;
    const line = T.more && T.oldest ? `${T.more} · ${T.oldest}` : T.more || T.oldest;
    this.say(line, r.x + r.w / 2, by, this.MW);
    this.recordText("queueMore", line, r.x + r.w / 2, by, this.MW);
    if (rec) { rec.more = T.more; LL.queue = rec; }
  }

  drawWorkers(L, s) {
    const ctx = this.ctx, r = L.workers, u = L.u, C = this.colors;
    this.MW = r.w + L.pad * 0.5;
    this.header(r, "workers");
    // What matters first: calling, then waiting for a permit, then idle (by index within each).
    const ws = s.workers.slice().sort((a, b) =>
      ((WORKER_ORDER[a[1]] ?? 4) - (WORKER_ORDER[b[1]] ?? 4)) || a[0] - b[0]);
    const n = Math.min(ws.length, MAX_WORKERS_SHOWN);
    // The rest, counted by state: those listed but not drawn, and those the frame left out.
    const rest = Object.assign(Object.create(null), s.workers_rest || {});
    for (let i = n; i < ws.length; i++) rest[ws[i][1]] = (rest[ws[i][1]] || 0) + 1;
    let counted = 0;
    for (const key in s.workers_rest || {}) counted += s.workers_rest[key];
    const parts = [];
    for (const key of ["c", "p", "r", "i"]) if (rest[key]) parts.push(`+${rest[key]} ${WORKER_WORDS[key]}`);
    for (const key in rest) if (!(key in WORKER_WORDS) && rest[key]) parts.push(`+${rest[key]} other`);
    const unknown = (s.workers_more || 0) - counted;   // a frame without workers_rest
    if (unknown > 0) parts.push(`+${unknown} more`);
    const summary = parts.join(", ");
    const areaH = r.h - (summary ? u * 1.2 : 0);
    // Wide boxes (2:1) so the item and its state fit side by side.
    const [cols, , cell] = fitGrid(Math.max(n, 1), r.w / 2, areaH, u * 3.4);
    const bw = Math.min(r.w / cols, cell * 2) * 0.92, bh = cell * 0.8;
    const qr = L.queue;
    const fromX = qr.x + qr.w, fromY = qr.y + qr.h * 0.3;
    const rec = this.lastLayout ? this.lastLayout.workers : null;
    ctx.textAlign = "center";
    for (let i = 0; i < n; i++) {
      const w = ws[i];
      const cx = r.x + (i % cols + 0.5) * (r.w / cols);
      const cy = r.y + (Math.floor(i / cols) + 0.5) * cell;
      const st = w[1];
      if (rec) rec.push({ index: w[0], state: st, x: cx - bw / 2, y: cy - bh / 2, w: bw, h: bh });
      // Backing off (sleeping before a retry, permit let go): dashed, in the warning colour.
      const col = st === "c" ? C.accent : st === "p" || st === "r" ? C.warn : C.muted;
      ctx.setLineDash(st === "r" ? [u * 0.35, u * 0.25] : []);
      ctx.lineWidth = Math.max(2, u * (st === "i" ? 0.08 : 0.16));
      ctx.strokeStyle = col;
      ctx.fillStyle = st === "i" ? C.bg : C.faintFg;
      this.roundRect(cx - bw / 2, cy - bh / 2, bw, bh, u * 0.3);
      ctx.fill();
      ctx.stroke();
      ctx.setLineDash([]);
      if (w[2] != null) {
        const tx = cx - bw * 0.22;
        const tk = this.token(w[2], tx, cy, fromX, fromY, 0, true);
        // Glide only from the queue to a worker; a worker's box may move (busy ones are drawn
        // first), and its item moves with it at once.
        if (tk && tk.place === 2) { tk.x = tx; tk.y = cy; }
        if (tk && Math.abs(tk.x - tx) < 0.5 && Math.abs(tk.y - cy) < 0.5) tk.place = 2;
        // Colour by the age the item had in the queue (seconds in this state when unknown).
        if (tk) this.item(tk.x, tk.y, Math.min(bh * 0.5, u * 1.6), tk.age >= 0 ? tk.age : w[3]);
      }
      if (bh > u * 1.4 && bw > u * 3) {
        ctx.font = L.fTiny;
        ctx.textBaseline = "middle";
        ctx.fillStyle = col;
        const label = st === "c" ? "calling" : st === "p" ? "permit?" : st === "r" ? "backoff" : "idle";
        this.say(label, w[2] != null ? cx + bw * 0.18 : cx, cy, w[2] != null ? bw * 0.56 : bw * 0.9);
      }
    }
    if (this.lastLayout) this.lastLayout.workersSummary = summary;
    if (summary) {
      ctx.font = L.fSmall;
      ctx.fillStyle = rest.c || rest.p ? C.accent : C.muted;
      ctx.textBaseline = "bottom";
      this.say(summary, r.x + r.w / 2, r.y + r.h, this.MW);
      this.recordText("workersSummary", summary, r.x + r.w / 2, r.y + r.h, this.MW);
    }
  }

  drawPermits(L, s) {
    const ctx = this.ctx, r = L.permits, u = L.u, C = this.colors, T = this.text;
    this.MW = r.w + L.pad * 0.5;
    const sem = s.semaphore;
    this.header(r, "permits");
    ctx.textAlign = "center";
    if (sem.limit > 0) {
      const dots = Math.min(sem.limit, 32);
      const [cols, , cell] = fitGrid(dots, r.w, r.h - u * 2.6, u * 2.4);
      const gw = cols * cell;
      const gx = r.x + (r.w - gw) / 2;
      const rad = cell * 0.34;
      ctx.lineWidth = Math.max(1.5, u * 0.12);
      for (let i = 0; i < dots; i++) {
        const x = gx + (i % cols + 0.5) * cell;
        const y = r.y + (Math.floor(i / cols) + 0.5) * cell;
        ctx.beginPath();
        ctx.arc(x, y, rad, 0, Math.PI * 2);
        if (i < sem.held) { ctx.fillStyle = sem.held >= sem.limit ? C.warn : C.accent; ctx.fill(); }
        else { ctx.strokeStyle = C.muted; ctx.stroke(); }
      }
    }
    ctx.textBaseline = "bottom";
    ctx.font = L.fBold;
    ctx.fillStyle = sem.limit > 0 && sem.held >= sem.limit ? C.warn : C.fg;
    // No semaphore: "none" in the middle of its empty column, clear of the downstream's labels
    // that share the bottom line (on a phone the two columns almost touch).
    const permitsY = sem.limit > 0 ? r.y + r.h - (T.permitWait ? u * 1.1 : 0) : r.y + r.h / 2;
    this.say(T.permits, r.x + r.w / 2, permitsY, this.MW);
    if (T.permitWait) {
      ctx.font = L.fSmall;
      ctx.fillStyle = C.warn;
      this.say(T.permitWait, r.x + r.w / 2, r.y + r.h, this.MW);
    }
  }

  drawDownstream(L, s) {
    const ctx = this.ctx, r = L.down, u = L.u, C = this.colors, T = this.text;
    this.MW = r.w + L.pad * 0.5;
    const d = s.downstream;
    this.header(r, "downstream");
    const bx = r.x + r.w * 0.1, bw = r.w * 0.8;
    const by = r.y, bh = r.h - u * 2.6;
    // A tall box filling with load.
    ctx.fillStyle = C.faintFg;
    this.roundRect(bx, by, bw, bh, u * 0.4);
    ctx.fill();
    const load = d.capacity > 0 ? clamp(this.reduced ? d.in_flight / d.capacity : this.smooth.load, 0, 1.5) : 0;
    if (d.capacity > 0) {
      const fh = bh * Math.min(load, 1);
      ctx.fillStyle = load >= 1 ? C.bad : load > 0.75 ? C.warn : C.ok;
      this.roundRect(bx, by + bh - fh, bw, fh, u * 0.4);
      ctx.fill();
    } else {
      // Unlimited: show in-flight calls as dots.
      // Abandoned calls (their caller timed out and left) are the hollow red ones, drawn last.
      const n = Math.min(d.in_flight, 40);
      const waitedOn = Math.max(0, d.in_flight - (d.abandoned || 0));
      if (n > 0) {
        const [cols, , cell] = fitGrid(n, bw, bh, u * 1.6);
        ctx.lineWidth = Math.max(1.5, cell * 0.08);
        for (let i = 0; i < n; i++) {
          ctx.beginPath();
          ctx.arc(bx + (i % cols + 0.5) * (bw / cols), by + bh - (Math.floor(i / cols) + 0.5) * cell, cell * 0.3, 0, Math.PI * 2);
          if (i < waitedOn) { ctx.fillStyle = C.accent; ctx.fill(); }
          else { ctx.strokeStyle = C.bad; ctx.stroke(); }
        }
      }
    }
    ctx.lineWidth = Math.max(2, u * 0.14);
    ctx.strokeStyle = T.slow ? C.bad : C.muted;
    this.roundRect(bx, by, bw, bh, u * 0.4);
    ctx.stroke();
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.font = L.fBold;
    ctx.fillStyle = C.fg;
    this.say(T.downLoad, r.x + r.w / 2, r.y + r.h - u * 1.1, this.MW);
    this.recordText("downstream", T.downLoad, r.x + r.w / 2, r.y + r.h - u * 1.1, this.MW);
    ctx.font = L.fSmall;
    ctx.fillStyle = T.slow ? C.bad : C.muted;
    const note = T.slow || (d.capacity > 0 ? "capacity" : "no capacity limit");
    this.say(note, r.x + r.w / 2, r.y + r.h, this.MW);
    this.recordText("downstreamNote", note, r.x + r.w / 2, r.y + r.h, this.MW);
  }

  drawExit(L, s) {
    const ctx = this.ctx, r = L.exit, u = L.u, C = this.colors, T = this.text;
    this.MW = r.w + L.pad * 0.5;
    this.header(r, "done");
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    ctx.font = L.fBig;
    ctx.fillStyle = C.ok;
    this.say(T.done, r.x + r.w / 2, r.y, this.MW);
    ctx.font = L.fSmall;
    this.say("completed", r.x + r.w / 2, r.y + u * 1.8, this.MW);
    let y = r.y + u * 3.4;
    for (let i = 0; i < T.failed.length; i++) {
      if (y > r.y + r.h - u * 0.8) break;
      const [kind, text] = T.failed[i];
      ctx.fillStyle = C[OUTCOMES[kind].color];
      this.say(text, r.x + r.w / 2, y, this.MW);
      y += u * 1.15;
    }
  }

  drawMemory(L, s) {
    const ctx = this.ctx, r = L.mem, u = L.u, C = this.colors, T = this.text;
    const m = s.memory;
    const barY = r.y + u * 1.15, barH = r.h - u * 1.15;
    const scale = m.limit > 0 ? m.limit : Math.max(m.peak * 1.25, 10);
    const held = this.reduced ? m.held : this.smooth.memory;
    const frac = clamp(held / scale, 0, 1);
    if (this.lastLayout) this.lastLayout.memory = { held: m.held, drawn: held, frac, bar: { x: r.x, y: barY, w: r.w, h: barH } };
    ctx.fillStyle = C.faintFg;
    this.roundRect(r.x, barY, r.w, barH, barH * 0.3);
    ctx.fill();
    if (frac > 0) {
      ctx.fillStyle = m.limit > 0 ? (frac > 0.85 ? C.bad : frac > 0.6 ? C.warn : C.ok) : C.accent;
      this.roundRect(r.x, barY, Math.max(barH * 0.6, r.w * frac), barH, barH * 0.3);
      ctx.fill();
    }
    // Peak marker.
    const px = r.x + r.w * clamp(m.peak / scale, 0, 1);
    ctx.strokeStyle = C.fg;
    ctx.lineWidth = Math.max(2, u * 0.12);
    ctx.beginPath(); ctx.moveTo(px, barY - u * 0.15); ctx.lineTo(px, barY + barH + u * 0.05); ctx.stroke();
    ctx.strokeStyle = m.limit > 0 ? C.bad : C.muted;
    this.roundRect(r.x, barY, r.w, barH, barH * 0.3);
    ctx.stroke();
    ctx.font = L.fBold;
    ctx.fillStyle = C.fg;
    ctx.textBaseline = "bottom";
    ctx.textAlign = "left";
    this.say(T.mem, r.x, barY - u * 0.1, r.w * 0.6);
    this.recordText("memory", T.mem, r.x, barY - u * 0.1, r.w * 0.6);
    ctx.font = L.fSmall;
    ctx.fillStyle = m.crashes ? C.bad : C.muted;
    ctx.textAlign = "right";
    this.say(T.memPeak, r.x + r.w, barY - u * 0.1, r.w * 0.38);
  }

  drawParticles(L, now, dt) {
    const ctx = this.ctx, u = L.u, C = this.colors, lane = L.lane;
    const step = dt / 16;
    const rec = this.lastLayout ? this.lastLayout.particles : null;
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    ctx.font = L.fSmall;
    let lost = 0;
    // Lost items stay inside their lane (clipped), whatever their speed.
    ctx.save();
    ctx.beginPath();
    ctx.rect(lane.x, lane.y, lane.w, lane.h);
    ctx.clip();
    // Two passes: every square first, then the labels on a plate of the background, so that no
    // square (its own or a later one's) is ever drawn over a word.
    const labelled = this.labelledScratch || (this.labelledScratch = []);
    labelled.length = 0;
    for (let i = 0; i < MAX_PARTICLES; i++) {
      const p = this.particles[i];
      if (!p.alive || !p.lost) continue;
      const age = now - p.born;
      if (age > LOST_MS || p.x > lane.x + lane.w) { p.alive = false; continue; }
      lost++;
      if (age < 0) continue;
      p.x += p.vx * step;
      ctx.globalAlpha = 1 - age / LOST_MS;
      ctx.fillStyle = C[p.color];
      const sz = Math.min(lane.h * 0.5, u * (p.big ? 0.9 : 0.7));
      ctx.fillRect(p.x - sz / 2, p.y - sz / 2, sz, sz);
      if (p.label) labelled.push(p);
      if (rec && rec.length < 64) rec.push({ x: p.x - sz / 2, y: p.y - sz / 2, w: sz, h: sz, label: "", kind: "square" });
    }
    const textH = parseFloat(L.fSmall) * 1.3;
    for (const p of labelled) {
      const a = 1 - (now - p.born) / LOST_MS;
      const sz = Math.min(lane.h * 0.5, u * (p.big ? 0.9 : 0.7));
      const lx = p.x + sz * 0.5 + u * 0.2;
      const lw = ctx.measureText(p.label).width;
      ctx.globalAlpha = 1;
      ctx.fillStyle = C.bg;
      ctx.fillRect(lx - u * 0.15, p.y - textH / 2, lw + u * 0.3, textH);
      ctx.globalAlpha = Math.min(1, a * 1.6);
      ctx.fillStyle = C[p.color];
      this.say(p.label, lx, p.y, undefined, "moving");
      if (rec && rec.length < 64) rec.push({ x: lx, y: p.y - textH / 2, w: lw, h: textH, label: p.label, kind: "label" });
    }
    ctx.restore();
    this.lostAlive = lost;
    // Completed items: a short hop from the downstream towards "done".
    for (let i = 0; i < MAX_PARTICLES; i++) {
      const p = this.particles[i];
      if (!p.alive || p.lost) continue;
      const age = now - p.born;
      if (age < 0) continue;
      if (age > 500 || p.x > L.exit.x) { p.alive = false; continue; }
      p.x += p.vx * step;
      p.y += p.vy * step;
      ctx.globalAlpha = 1 - age / 500;
      ctx.fillStyle = C[p.color];
      const sz = u * 0.45;
      ctx.fillRect(p.x - sz / 2, p.y - sz / 2, sz, sz);
    }
    ctx.globalAlpha = 1;
  }

  drawTopRight(L) {
    const ctx = this.ctx, C = this.colors, T = this.text;
    ctx.font = L.fSmall;
    ctx.textAlign = "right";
    ctx.textBaseline = "top";
    ctx.fillStyle = T.status ? C.warn : C.muted;
    this.say(T.status ? `${T.status} · ${T.time}` : T.time, L.W - L.pad * 0.5, L.pad * 0.3, L.W * 0.4);
  }

  drawCrash(L, s, now, animating) {
    const ctx = this.ctx, u = L.u, C = this.colors;
    // Flash: strong on the crash itself, a slow pulse while the service is down.
    const flash = animating && now < this.flashUntil ? (this.flashUntil - now) / 900 : 0;
    const pulse = animating ? 0.5 + 0.5 * Math.sin(now / 220) : 0.6;
    ctx.fillStyle = C.badFlash;
    ctx.globalAlpha = clamp(0.6 + 0.4 * pulse + flash * 2, 0, 1);
    ctx.fillRect(0, 0, L.W, L.H);
    ctx.globalAlpha = 1;
    if (s.down_until == null) return;
    const bh = u * 4.6;
    const by = (L.mem.y - bh) / 2;
    ctx.fillStyle = C.badBanner;
    ctx.fillRect(0, by, L.W, bh);
    ctx.fillStyle = "#ffffff";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    const huge = L.vertical ? L.fBig : L.fHuge;
    ctx.font = huge;
    this.say(L.W < 520 ? "OUT OF MEMORY" : "OUT OF MEMORY — restarting", L.W / 2, by + bh * 0.4, L.W - 2 * L.pad, "overlay");
    ctx.font = L.fBold;
    this.say(this.text.restart + (s.memory.crashes > 1 ? ` · crash #${s.memory.crashes}` : ""), L.W / 2, by + bh * 0.8, L.W - 2 * L.pad, "overlay");
  }
}
