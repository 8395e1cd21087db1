// The map: the contour image (or a racer's outcome map over it), the racers'
// trails and heads, starts, minima, divergence crosses and the last click, on
// a Chart with the window's scales.

import { Chart } from "./chart.js";
import { clamp, niceTicks, tickFormatter } from "./geometry.js";
import { drawInsides, drawProbe } from "./insides.js";
import { drawCross, drawHead, drawImage, drawStar, drawStart, drawTarget, strokeHaloed } from "./layers.js";
import { Outcome } from "./outcome.js";
import { clippedPath } from "./paths.js";
import { linearScale } from "./scales.js";

export class MapView {
  constructor(el) {
    this.el = el;
    this.chart = new Chart(el.map, { bg: el.mapBg, trail: el.mapTrail, top: el.mapTop }, clippedPath);
    this.race = null;
    this.image = null;
    this.click = null;
    this.probe = null;
    this.showInsides = false;
    // once its picture has loaded, the background is drawn again with it
    this.outcome = new Outcome(() => this.chart.plot && this.redraw());
  }

  // Draw the background again and ask for a frame (the overlay's picture or opacity changed).
  redraw() {
    this.drawBackground();
    if (this.onRedraw) this.onRedraw();
  }

  setRace(race) {
    this.race = race;
  }

  // Margins around a plot `plotH` px tall: room for the tick labels and the axis names.
  margins(ctx, plotH, th) {
    const f = th.fontPx;
    const [, , y0, y1] = this.race.extent;
    ctx.font = `${f}px ${th.font}`;
    const t = niceTicks(y0, y1, Math.max(2, Math.floor(plotH / (f * 4.5))));
    const fmt = tickFormatter(t.step, t.values);
    const labelW = Math.max(...t.values.map((v) => ctx.measureText(fmt(v)).width));
    return { l: Math.ceil(labelW + f * 2.4 + 8), r: Math.ceil(f * 1.2), t: Math.ceil(f * 0.9), b: Math.ceil(f * 3.3) };
  }

  // Size the map for a plot of plotW x plotH inside margins m, and draw its background.
  place(plotW, plotH, m, th, dpr, movingDpr) {
    const mapW = m.l + plotW + m.r;
    const mapH = m.t + plotH + m.b;
    this.el.map.style.width = `${mapW}px`;
    this.el.map.style.height = `${mapH}px`;
    const chart = this.chart;
    chart.resize(mapW, mapH, dpr, movingDpr);
    const [x0, x1, y0, y1] = this.race.extent;
    const plot = { l: m.l, t: m.t, w: plotW, h: plotH };
    chart.setPlot(plot, linearScale(x0, x1, plot.l, plot.l + plotW), linearScale(y0, y1, plot.t + plotH, plot.t));
    this.el.coords.style.right = `${m.r + 8}px`;
    this.el.coords.style.top = `${m.t + 8}px`;
    this.th = th;
    this.drawBackground();
  }

  drawBackground() {
    const { chart, th } = this;
    const ctx = chart.ctx.bg;
    const f = th.fontPx;
    const { l, t, w, h } = chart.plot;
    const [mapW, mapH] = chart.size;
    const [x0, x1, y0, y1] = this.race.extent;
    const { x, y } = chart.scales;
    ctx.clearRect(0, 0, mapW, mapH);
    chart.canvases.bg.dataset.fontPx = String(f);
    ctx.font = `${f}px ${th.font}`;
    drawImage(ctx, this.image, chart.plot, th);
    this.outcome.draw(ctx, chart);

    ctx.fillStyle = th.muted;
    const xt = niceTicks(x0, x1, Math.max(2, Math.floor(w / (f * 6))));
    const xFmt = tickFormatter(xt.step, xt.values);
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const v of xt.values) {
      const px = Math.round(x.toPx(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(px, t + h);
      ctx.lineTo(px, t + h + 5);
      ctx.stroke();
      ctx.fillText(xFmt(v), px, t + h + 8);
    }
    const yt = niceTicks(y0, y1, Math.max(2, Math.floor(h / (f * 4.5))));
    const yFmt = tickFormatter(yt.step, yt.values);
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const v of yt.values) {
      const py = Math.round(y.toPx(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(l - 5, py);
      ctx.lineTo(l, py);
      ctx.stroke();
      ctx.fillText(yFmt(v), l - 8, py);
    }
    ctx.fillStyle = th.ink;
    ctx.font = `italic ${Math.round(f * 1.1)}px ${th.font}`;
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    const [xName, yName] = this.race.axes;
    ctx.fillText(xName, l + w / 2, mapH - 2);
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    ctx.fillText(yName, 2, t + h / 2);
  }

  lineWidth() {
    return 2.6 * this.th.scale;
  }

  // Draw frame `pos` (a step, with a fraction while playing).
  draw(pos) {
    const { chart, race, th } = this;
    const s = th.scale;
    const k = Math.floor(pos);
    const frac = pos - k;
    const lw = this.lineWidth();
    const stroke = (ctx, path, p) => strokeHaloed(ctx, path, p.color, lw, s);
    chart.drawTrails(k, race.paths, stroke);

    const ctx = chart.beginTop();
    chart.clipToPlot(ctx);
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    for (const [x, y] of race.startPoints) drawStart(ctx, ...chart.toPx(x, y), s);

    // The moving part of each trail: from the last whole step to the head.
    const heads = [];
    for (const p of race.paths) {
      if (!p.n) continue;
      if (p.divergedAt !== null && k >= p.divergedAt) continue;
      const i = Math.min(k, p.n - 1);
      let hx = p.xs[i];
      let hy = p.ys[i];
      if (i + 1 < p.n && frac > 0) {
        hx += (p.xs[i + 1] - p.xs[i]) * frac;
        hy += (p.ys[i + 1] - p.ys[i]) * frac;
        stroke(ctx, chart.path([p.xs[i], hx], [p.ys[i], hy], 0, 1, chart), p);
      }
      heads.push([hx, hy, p.color]);
    }
    race.minima.forEach(([x, y], i) => drawStar(ctx, ...chart.toPx(x, y), s, this.outcome.starColor(i) || undefined));
    if (this.showInsides) drawInsides(ctx, chart, race, k, s);
    for (const [x, y, color] of heads) {
      const [px, py] = chart.toPx(x, y);
      // A head far outside is off the map (and its pixels could overflow the canvas).
      if (Math.abs(px) < 1e6 && Math.abs(py) < 1e6) drawHead(ctx, px, py, color, s);
    }
    ctx.restore();

    // Diverged markers sit on the window's edge, so they are not clipped.
    const { l, t, w, h } = chart.plot;
    for (const p of race.paths) {
      if (p.exit && k >= p.divergedAt) {
        const [px, py] = chart.toPx(p.exit[0], p.exit[1]);
        drawCross(ctx, clamp(px, l, l + w), clamp(py, t, t + h), 7 * s, s);
      }
    }
    if (this.probe) drawProbe(ctx, chart, this.probe, s);
    if (this.click) drawTarget(ctx, ...chart.toPx(this.click[0], this.click[1]), s);
  }
}
