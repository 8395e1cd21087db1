// The loss chart: each racer's first start, loss against step, on a Chart
// whose y scale is linear or log10, with the playback cursor.

import { Chart } from "./chart.js";
import { decadeTicks, niceTicks, powerOfTen, tickFormatter } from "./geometry.js";
import { drawCross, drawCursor, drawDot, strokePlain } from "./layers.js";
import { clampedPath } from "./paths.js";
import { linearScale, logScale } from "./scales.js";

// A log axis reaches at most this many decades below the highest start loss:
// a run converging to 1e-79 would otherwise squeeze every other curve, and
// a diverging one, into the top few pixels. Lower losses run along the floor.
const LOG_DECADES_BELOW_START = 8;
// ... and at most this many above it, for a blow-up to 1e300.
const LOG_DECADES_ABOVE_START = 12;

// The y range of the losses drawn: {log, lo, hi} (decades if log), and whether
// every loss is above zero (the log scale needs it).
export function lossRange(series, wantLog) {
  let lo = Infinity;
  let top = -Infinity;
  let topAll = -Infinity;
  let start = -Infinity;
  // On a linear axis a racer that blows up would flatten everyone else, so
  // the top of the range follows the racers that did not diverge; the
  // diverged leave at the top. A log axis has room for the blow-up.
  const kept = series.filter((s) => s.divergedAt === null);
  for (const s of series) {
    const keep = !kept.length || s.divergedAt === null;
    if (Number.isFinite(s.loss[0])) start = Math.max(start, s.loss[0]);
    for (let i = 0; i < s.n; i++) {
      const v = s.loss[i];
      if (!Number.isFinite(v)) continue;
      if (v < lo) lo = v;
      if (v > topAll) topAll = v;
      if (keep && v > top) top = v;
    }
  }
  if (!Number.isFinite(lo)) lo = 0;
  if (!Number.isFinite(top)) top = lo + 1;
  const allPositive = series.length > 0 && lo > 0;
  if (wantLog && allPositive) {
    const ref = Number.isFinite(start) && start > 0 ? start : top;
    let hi = Math.ceil(Math.log10(Math.min(topAll, ref * 10 ** LOG_DECADES_ABOVE_START)));
    const floor = Math.floor(Math.log10(Math.max(lo, ref * 10 ** -LOG_DECADES_BELOW_START)));
    if (hi <= floor) hi = floor + 1;
    return { log: true, lo: floor, hi, allPositive };
  }
  let hi = top > lo ? top : lo + (Math.abs(lo) || 1);
  const pad = (hi - lo) * 0.05;
  lo = lo >= 0 && lo - pad < 0 ? 0 : lo - pad;
  hi += pad;
  return { log: false, lo, hi, allPositive };
}

export class LossView {
  constructor(el) {
    this.el = el;
    // Clamped paths run along the plot's edges, so let them paint a little past.
    this.chart = new Chart(el.loss, { bg: el.lossBg, trail: el.lossTrail, top: el.lossTop }, clampedPath, 2);
    this.series = [];
    this.logScale = false;
    this.placed = false;
  }

  // The chart follows each racer's first start.
  setRace(race) {
    this.steps = race.steps;
    this.series = race.racers
      .filter((r) => r.starts.length && r.starts[0].n)
      .map((r) => ({ ...r.starts[0], xs: r.starts[0].steps, ys: r.starts[0].loss, color: r.color, predicted: r.predicted }));
    const which = race.multiStart ? ["first start of each racer"] : [];
    if (this.series.some((s) => s.predicted)) which.push("dashed: the rate the Hessian predicts");
    this.el.lossWhich.textContent = which.map((w) => `\u00b7 ${w}`).join(" ");
  }

  // Size the chart to its box, choose the scale and draw the axes; false if the box is too small.
  place(th, dpr, movingDpr) {
    const W = Math.floor(this.el.loss.clientWidth);
    const H = Math.floor(this.el.loss.clientHeight);
    this.placed = W >= 40 && H >= 40;
    if (!this.placed) return false;
    this.th = th;
    const chart = this.chart;
    chart.resize(W, H, dpr, movingDpr);
    const ctx = chart.ctx.bg;
    const f = th.fontPx;
    ctx.font = `${f}px ${th.font}`;

    const range = lossRange(this.series, this.logScale);
    const note = this.el.lossNote;
    note.hidden = !(this.logScale && !range.allPositive);
    note.textContent = note.hidden ? "" : "Log scale needs every loss above 0, so this chart stays linear.";

    // Ticks, then margins from the widest label.
    const plotH0 = H - f * 3.2;
    let yTicks;
    let yFmt;
    if (range.log) {
      yTicks = decadeTicks(range.lo, range.hi, Math.floor(plotH0 / (f * 2.6)));
      yFmt = powerOfTen;
    } else {
      const t = niceTicks(range.lo, range.hi, Math.max(2, Math.floor(plotH0 / (f * 4.5))));
      yTicks = t.values;
      yFmt = tickFormatter(t.step, t.values);
    }
    const labelW = Math.max(...yTicks.map((v) => ctx.measureText(yFmt(v)).width), f);
    const m = { l: Math.ceil(labelW + f * 2.2 + 8), r: Math.ceil(f * 0.9), t: Math.ceil(f * 0.7), b: Math.ceil(f * 2.9) };
    const r = { l: m.l, t: m.t, w: Math.max(10, W - m.l - m.r), h: Math.max(10, H - m.t - m.b) };
    const steps = Math.max(this.steps, 1);
    const y = range.log ? logScale(range.lo, range.hi, r.t + r.h, r.t) : linearScale(range.lo, range.hi, r.t + r.h, r.t);
    chart.setPlot(r, linearScale(0, steps, r.l, r.l + r.w), y);
    // Tests read the range the axis shows (decades when log).
    Object.assign(chart.canvases.top.dataset, { yLog: String(range.log), yLo: String(range.lo), yHi: String(range.hi) });
    this.drawAxes(yTicks, yFmt, range.log, steps);
    this.drawPredicted();
    return true;
  }

  drawAxes(yTicks, yFmt, log, steps) {
    const { chart, th } = this;
    const ctx = chart.ctx.bg;
    const f = th.fontPx;
    const r = chart.plot;
    const { x, y } = chart.scales;
    chart.canvases.bg.dataset.fontPx = String(f);
    ctx.lineWidth = 1;
    ctx.textBaseline = "middle";
    ctx.textAlign = "right";
    for (const v of yTicks) {
      const py = Math.round(log ? y.decadeToPx(v) : y.toPx(v)) + 0.5;
      if (py < r.t - 1 || py > r.t + r.h + 1) continue;
      ctx.strokeStyle = th.grid;
      ctx.beginPath();
      ctx.moveTo(r.l, py);
      ctx.lineTo(r.l + r.w, py);
      ctx.stroke();
      ctx.strokeStyle = th.faint;
      ctx.beginPath();
      ctx.moveTo(r.l - 5, py);
      ctx.lineTo(r.l, py);
      ctx.stroke();
      ctx.fillStyle = th.muted;
      ctx.fillText(yFmt(v), r.l - 8, py);
    }
    const xt = niceTicks(0, steps, Math.max(2, Math.floor(r.w / (f * 5.5))));
    const xFmt = tickFormatter(Math.max(1, xt.step), xt.values);
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const v of xt.values) {
      if (v !== Math.round(v)) continue;
      const px = Math.round(x.toPx(v)) + 0.5;
      ctx.strokeStyle = th.faint;
      ctx.beginPath();
      ctx.moveTo(px, r.t + r.h);
      ctx.lineTo(px, r.t + r.h + 5);
      ctx.stroke();
      ctx.fillStyle = th.muted;
      ctx.fillText(xFmt(v), px, r.t + r.h + 8);
    }
    ctx.strokeStyle = th.faint;
    ctx.beginPath();
    ctx.moveTo(r.l + 0.5, r.t);
    ctx.lineTo(r.l + 0.5, r.t + r.h + 0.5);
    ctx.lineTo(r.l + r.w, r.t + r.h + 0.5);
    ctx.stroke();
    ctx.fillStyle = th.ink;
    ctx.textBaseline = "bottom";
    ctx.fillText("step", r.l + r.w / 2, chart.size[1] - 1);
    ctx.save();
    ctx.translate(f * 0.9, r.t + r.h / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle";
    ctx.fillText(log ? "loss (log)" : "loss", 0, 0);
    ctx.restore();
  }

  // Each predicted loss as a dashed line over the whole race, under the observed curves.
  drawPredicted() {
    const { chart, th } = this;
    const ctx = chart.ctx.bg;
    chart.clipToPlot(ctx, 2);
    ctx.setLineDash([6 * th.scale, 4 * th.scale]);
    ctx.globalAlpha = 0.85;
    for (const s of this.series) {
      if (!s.predicted) continue;
      strokePlain(ctx, clampedPath(s.predicted.xs, s.predicted.ys, 0, s.predicted.n - 1, chart), s.color, 1.6 * th.scale);
    }
    ctx.globalAlpha = 1;
    ctx.setLineDash([]);
    ctx.restore();
    chart.canvases.bg.dataset.predicted = String(this.series.filter((s) => s.predicted).length);
  }

  // Draw frame `pos` (a step, with a fraction while playing).
  draw(pos) {
    if (!this.placed) return;
    const { chart, th } = this;
    const sc = th.scale;
    const k = Math.floor(pos);
    const frac = pos - k;
    const r = chart.plot;
    const { x, y } = chart.scales;
    const lw = 2 * sc;
    chart.drawTrails(k, this.series, (ctx, path, s) => strokePlain(ctx, path, s.color, lw));

    const ctx = chart.beginTop();
    drawCursor(ctx, Math.round(x.toPx(pos)) + 0.5, r.t, r.t + r.h, th.cursor);
    chart.clipToPlot(ctx, 8 * sc);
    ctx.lineCap = "round";
    const crosses = [];
    for (const s of this.series) {
      if (s.divergedAt !== null && k >= s.divergedAt) {
        crosses.push([x.toPx(s.n - 1), y.toPxClamped(s.loss[s.n - 1])]);
        continue;
      }
      const i = Math.min(k, s.n - 1);
      let hx = x.toPx(i);
      let hy = y.toPxClamped(s.loss[i]);
      let raw = y.toPx(s.loss[i]);
      if (i + 1 < s.n && frac > 0) {
        const nx = x.toPx(i + 1);
        const ny = y.toPxClamped(s.loss[i + 1]);
        const moving = new Path2D();
        moving.moveTo(hx, hy);
        hx += (nx - hx) * frac;
        hy += (ny - hy) * frac;
        raw += (y.toPx(s.loss[i + 1]) - raw) * frac;
        moving.lineTo(hx, hy);
        strokePlain(ctx, moving, s.color, lw);
      }
      // The dot shows only where the loss is inside the axis range.
      if (raw >= r.t - 0.5 && raw <= r.t + r.h + 0.5) drawDot(ctx, hx, hy, s.color, sc);
    }
    ctx.restore();
    for (const [cx, cy] of crosses) drawCross(ctx, cx, cy, 5 * sc, sc);
  }
}
