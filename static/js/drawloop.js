// drawloop.js: the one requestAnimationFrame loop that draws the pipeline(s) and charts, timing
// each draw into window.playground, and afterFirstDraw for work that can wait.

import { app, playground } from './state.js';

const DRAW_TIMES = 600;

export function drawLoop(now) {
  if (app.frame) {
    const start = performance.now();
    try {
      app.pipeline.draw(now);
      if (app.compare && app.pipelineB) app.pipelineB.draw(now);
      app.charts.draw();
    } catch (error) {
      if (!app.drawError) console.warn('draw', error);
      app.drawError = true;
    }
    const took = performance.now() - start;
    const times = playground.drawTimes;
    times.push(took);
    if (times.length > DRAW_TIMES) times.splice(0, times.length - DRAW_TIMES);
    if (playground.firstDrawAt === null) {
      playground.firstDrawAt = performance.now();
      performance.mark('pg:first-draw');
    }
    app.dirty = false;
  }
  requestAnimationFrame(drawLoop);
}

/** Run `task` once the first frame has been drawn (or after 1 s, if no frame comes). */
export function afterFirstDraw(task) {
  const started = performance.now();
  const wait = () => {
    if (playground.firstDrawAt !== null || performance.now() - started > 1000) setTimeout(task, 0);
    else requestAnimationFrame(wait);
  };
  requestAnimationFrame(wait);
}
