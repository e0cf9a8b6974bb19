/**
 * The curve: the scenario swept from 10 % to 200 % of its capacity on the server (playground/
 * sweep.py) -- p50 and p99 latency, goodput and loss against the arrival rate: the hockey stick.
 * Two canvases (latency on a log scale; goodput and loss), B dashed beside A in compare mode, a
 * vertical line where the live run sits, and the same numbers in a table for screen readers.
 */

import { duration } from './controls.js';

const FALLBACK = { bg: '#ffffff', fg: '#1a1a1a', ok: '#1f9d55', warn: '#d97706', bad: '#dc2626', muted: '#8a8f98', accent: '#2563eb' };

const pct = (f) => `${Math.round(f * 100)} %`;

export class CurveView {
  /** @param {(id: string) => HTMLElement} $ @param {{start: () => Promise, cancel: () => Promise}} hooks */
  constructor($, hooks) {
    this.nodes = {
      start: $('sweep-start'), cancel: $('sweep-cancel'), progress: $('sweep-progress'),
      status: $('sweep-status'), latency: $('curve-latency'), goodput: $('curve-goodput'),
      table: $('curve-table'), details: $('curve-details'),
    };
    this.hooks = hooks;
    this.view = null; // the last GET .../sweep
    this.seen = ''; // status and points of the frame's sweep the view was fetched for
    this.nodes.start.addEventListener('click', () => this.act('start'));
    this.nodes.cancel.addEventListener('click', () => this.act('cancel'));
    window.addEventListener('resize', () => this.draw());
  }

  async act(what) {
    try {
      await this.hooks.control({ sweep: what });
      this.say(what === 'start' ? 'Sweeping on the server…' : 'Cancelled.');
    } catch (error) {
      this.say(`The sweep did not start: ${error.message}`);
    }
  }

  say(text) {
    if (this.nodes.status.textContent !== text) this.nodes.status.textContent = text;
  }

  /** A frame's sweep progress ({status, done, total} or undefined): fetch the curve when it moved,
   *  or when the session's link changed (the curve may no longer be the scenario's). */
  async update(progress, session, link = '') {
    const n = this.nodes;
    if (!progress) {
      n.cancel.hidden = true;
      n.progress.hidden = true;
      return;
    }
    const running = progress.status === 'running' || progress.status === 'queued';
    n.cancel.hidden = !running;
    n.progress.hidden = !running;
    n.progress.max = progress.total;
    n.progress.value = progress.done;
    const key = `${progress.status}:${progress.done}:${link}`; // a new link may void the curve: ask again
    if (key === this.seen || this.fetching) return;
    this.seen = key;
    this.fetching = true;
    try {
      const answer = await fetch(`/api/sessions/${session.id}/sweep`, { cache: 'no-store' });
      if (answer.ok) this.show(await answer.json());
    } catch { /* the next frame asks again */
      this.seen = '';
    } finally {
      this.fetching = false;
    }
  }

  show(view) {
    this.view = view;
    const words = {
      queued: 'Waiting for the server: it sweeps one curve at a time.',
      running: `Sweeping: ${view.done} of ${view.total} runs of ${view.arrivals.toLocaleString('en-US')} arrivals each.`,
      done: `Swept ${view.total} runs of ${view.arrivals.toLocaleString('en-US')} arrivals from 10 % to 200 % of capacity (${Math.round(view.capacity * 10) / 10} items/s)${view.cached ? ', from the cache' : ''}.`,
      cancelled: `Cancelled after ${view.done} of ${view.total} runs.`,
      failed: view.error || 'The sweep failed.',
    };
    let text = words[view.status] || view.status;
    if (view.live) text += ` The live run sits at ${pct(view.live.fraction)} of capacity (the vertical line).`;
    if (!view.current) text += ' The scenario has changed since: sweep again for its curve.';
    this.say(text);
    this.fillTable(view);
    this.draw();
  }

  fillTable(view) {
    const rows = [];
    const sides = view.b ? [['A', view.a], ['B', view.b]] : [['', view.a]];
    for (const [name, points] of sides) {
      points.forEach((p, i) => {
        rows.push(`<tr><th scope="row">${name ? `${name} ` : ''}${pct(view.fractions[i])} (${p.rate}/s)</th>`
          + `<td>${duration(p.p50)}</td><td>${duration(p.p99)}</td><td>${Math.round(p.goodput * 10) / 10}/s</td>`
          + `<td>${pct(p.loss)}</td></tr>`);
      });
    }
    this.nodes.table.tBodies[0].innerHTML = rows.join(''); // our own numbers and fixed words only
  }

  colors() {
    const cs = getComputedStyle(this.nodes.latency);
    const c = {};
    for (const key of Object.keys(FALLBACK)) c[key] = cs.getPropertyValue(`--${key}`).trim() || FALLBACK[key];
    c.font = cs.fontFamily || 'system-ui, sans-serif';
    c.size = parseFloat(cs.fontSize) || 16;
    return c;
  }

  draw() {
    const view = this.view;
    if (!view || !view.a.length) return;
    const C = this.colors();
    const sides = [[view.a, []], ...(view.b ? [[view.b, [7, 5]]] : [])];
    this.plot(this.nodes.latency, C, view, sides, 'Latency (log scale)', [
      { key: 'p50', label: 'p50', color: C.ok, value: (p) => p.p50 },
      { key: 'p99', label: 'p99', color: C.bad, value: (p) => p.p99 },
    ], { log: true, format: duration });
    this.plot(this.nodes.goodput, C, view, sides, 'Goodput (/s) and loss (%)', [
      { key: 'goodput', label: 'goodput /s', color: C.accent, value: (p) => p.goodput },
      { key: 'loss', label: 'loss % (right)', color: C.warn, value: (p) => p.loss * 100, right: true },
    ], { format: (v) => String(Math.round(v * 10) / 10) });
    const label = view.b ? 'A solid, B dashed. ' : '';
    const last = view.a[view.a.length - 1];
    this.nodes.latency.setAttribute('aria-label', `${label}Latency against load: p99 ${duration(view.a[0].p99)} at 10 % of capacity, ${duration(last.p99)} at ${pct(view.fractions[view.a.length - 1])}. The table below has every point.`);
    this.nodes.goodput.setAttribute('aria-label', `${label}Goodput and loss against load: goodput ${Math.round(last.goodput)}/s and loss ${pct(last.loss)} at ${pct(view.fractions[view.a.length - 1])}.`);
  }

  plot(canvas, C, view, sides, title, series, { log = false, format }) {
    const dpr = Math.min(window.devicePixelRatio || 1, 3);
    const W = canvas.clientWidth || 400, H = canvas.clientHeight || 220;
    if (canvas.width !== Math.round(W * dpr)) canvas.width = Math.round(W * dpr);
    if (canvas.height !== Math.round(H * dpr)) canvas.height = Math.round(H * dpr);
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = C.bg;
    ctx.fillRect(0, 0, W, H);
    const u = Math.max(11, Math.min(C.size, W / 28));
    ctx.font = `600 ${u}px ${C.font}`;
    ctx.fillStyle = C.fg;
    ctx.textBaseline = 'top';
    ctx.textAlign = 'left';
    ctx.fillText(title, u * 0.5, u * 0.3);
    ctx.font = `${Math.round(u * 0.85)}px ${C.font}`;
    let lx = u * 0.5;
    for (const s of series) {
      ctx.strokeStyle = s.color; ctx.lineWidth = 3;
      ctx.beginPath(); ctx.moveTo(lx, u * 2); ctx.lineTo(lx + u * 1.4, u * 2); ctx.stroke();
      ctx.fillStyle = C.fg; ctx.fillText(s.label, lx + u * 1.6, u * 1.5);
      lx += ctx.measureText(s.label).width + u * 2.6;
    }
    if (sides.length > 1) { // which line is which service
      for (const [name, dash] of [['A', []], ['B', [7, 5]]]) {
        ctx.strokeStyle = C.fg; ctx.lineWidth = 2; ctx.setLineDash(dash);
        ctx.beginPath(); ctx.moveTo(lx, u * 2); ctx.lineTo(lx + u * 1.4, u * 2); ctx.stroke();
        ctx.setLineDash([]);
        ctx.fillStyle = C.fg; ctx.fillText(name, lx + u * 1.6, u * 1.5);
        lx += ctx.measureText(name).width + u * 2.6;
      }
    }
    const left = u * 3.6, right = W - u * 3, top = u * 3, bottom = H - u * 1.8;
    if (right - left < u * 4 || bottom - top < u * 3) return;
    const fractions = view.fractions;
    const X = (f) => left + ((f - 0) / 2.05) * (right - left);
    const leftSeries = series.filter((s) => !s.right), rightSeries = series.filter((s) => s.right);
    const range = (list) => {
      const values = [];
      for (const [points] of sides) for (const p of points) for (const s of list) { const v = s.value(p); if (v != null && v > 0) values.push(v); }
      return values.length ? [Math.min(...values), Math.max(...values)] : [1, 1];
    };
    const [lo, hi] = range(leftSeries);
    const Yleft = log
      ? (v) => { const a = Math.log10(lo * 0.8), b = Math.log10(hi * 1.25); return bottom - ((Math.log10(Math.max(v, lo * 0.8)) - a) / (b - a || 1)) * (bottom - top); }
      : (v) => bottom - (v / (hi * 1.1 || 1)) * (bottom - top);
    const Yright = (v) => bottom - (v / 100) * (bottom - top);
    // Axes: capacity marks at 0, 50, 100, 150, 200 %; the knee's 100 % a touch stronger.
    ctx.strokeStyle = C.muted; ctx.lineWidth = 1; ctx.fillStyle = C.muted;
    ctx.textAlign = 'center'; ctx.textBaseline = 'top';
    for (const f of [0, 0.5, 1, 1.5, 2]) {
      const x = Math.round(X(f)) + 0.5;
      ctx.globalAlpha = f === 1 ? 0.7 : 0.25;
      ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, bottom); ctx.stroke();
      ctx.globalAlpha = 1;
      ctx.fillText(`${f * 100} %`, x, bottom + u * 0.3);
    }
    ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
    ctx.fillText(format(hi), left - u * 0.3, Yleft(hi));
    ctx.fillText(format(lo), left - u * 0.3, Yleft(lo));
    if (rightSeries.length) { ctx.textAlign = 'left'; ctx.fillText('100 %', right + u * 0.3, Yright(100)); ctx.fillText('0 %', right + u * 0.3, Yright(0)); }
    // Series: A solid, B dashed.
    for (const [points, dash] of sides) {
      for (const s of series) {
        const Y = s.right ? Yright : Yleft;
        ctx.strokeStyle = s.color; ctx.lineWidth = 2.5; ctx.setLineDash(dash);
        ctx.beginPath();
        let pen = false;
        points.forEach((p, i) => {
          const v = s.value(p);
          if (v == null) { pen = false; return; }
          const x = X(fractions[i]), y = Y(v);
          if (pen) ctx.lineTo(x, y); else { ctx.moveTo(x, y); pen = true; }
        });
        ctx.stroke();
        ctx.setLineDash([]);
        ctx.fillStyle = s.color;
        points.forEach((p, i) => { const v = s.value(p); if (v != null) { ctx.beginPath(); ctx.arc(X(fractions[i]), Y(v), 2.5, 0, Math.PI * 2); ctx.fill(); } });
      }
    }
    // Where the live run sits.
    if (view.live && view.live.fraction <= 2.05) {
      const x = Math.round(X(view.live.fraction)) + 0.5;
      ctx.strokeStyle = C.fg; ctx.lineWidth = 2; ctx.setLineDash([3, 3]);
      ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, bottom); ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = C.fg; ctx.textAlign = x > (left + right) / 2 ? 'right' : 'left'; ctx.textBaseline = 'top';
      ctx.fillText('live run', x + (x > (left + right) / 2 ? -u * 0.3 : u * 0.3), top);
    }
  }
}
