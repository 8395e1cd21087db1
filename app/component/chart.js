// A chart: a box holding three stacked canvases, its plot rectangle, its two
// scales and the trail drawing, the same for the map and the loss chart.
//
// The layers: a background (image, axes) drawn on layout; a trail layer that
// only ever gets the newly reached segments drawn on it while playing; and a
// top layer (heads, markers, cursor) cleared every frame. So a frame costs a
// few segments and a handful of dots, however long the race.

// How far outside the plot a path is still drawn before clipping, in CSS px:
// enough for a line's round cap to meet the plot's edge.
const GUARD_PX = 50;

export class Chart {
  // canvases: {bg, trail, top}; path: a builder from paths.js; clipPad: how
  // far past the plot (px) trails may paint, so a line along an edge shows whole.
  constructor(box, canvases, path, clipPad = 0) {
    this.box = box;
    this.canvases = canvases;
    this.path = path;
    this.clipPad = clipPad;
    this.size = null;
    this.plot = null;
    this.scales = null;
    this.guard = null;
    this.ctx = null;
    this.trailFrame = 0;
  }

  // Size the canvases (CSS px); the moving layers may use fewer pixels than the background.
  resize(w, h, dpr, movingDpr) {
    this.size = [w, h];
    this.ctx = {
      bg: sizeCanvas(this.canvases.bg, w, h, dpr),
      trail: sizeCanvas(this.canvases.trail, w, h, movingDpr),
      top: sizeCanvas(this.canvases.top, w, h, movingDpr),
    };
    this.trailFrame = 0;
  }

  // The plot rectangle {l, t, w, h} (CSS px) and the scales drawing into it.
  setPlot(plot, x, y) {
    this.plot = plot;
    this.scales = { x, y };
    const xa = x.fromPx(plot.l - GUARD_PX);
    const xb = x.fromPx(plot.l + plot.w + GUARD_PX);
    const ya = y.fromPx(plot.t + plot.h + GUARD_PX);
    const yb = y.fromPx(plot.t - GUARD_PX);
    this.guard = { x0: Math.min(xa, xb), x1: Math.max(xa, xb), y0: Math.min(ya, yb), y1: Math.max(ya, yb) };
    // Tests and the app's own checks read where the plot sits inside the chart.
    const ds = this.canvases.top.dataset;
    ds.plotLeft = String(plot.l);
    ds.plotTop = String(plot.t);
    ds.plotWidth = String(plot.w);
    ds.plotHeight = String(plot.h);
    this.trailFrame = 0;
  }

  toPx(x, y) {
    return [this.scales.x.toPx(x), this.scales.y.toPx(y)];
  }

  // The data point under pixel (px, py), or null outside the plot.
  fromPx(px, py) {
    const r = this.plot;
    if (!r || px < r.l || px > r.l + r.w || py < r.t || py > r.t + r.h) return null;
    return [this.scales.x.fromPx(px), this.scales.y.fromPx(py)];
  }

  clipToPlot(ctx, pad = 0) {
    const { l, t, w, h } = this.plot;
    ctx.save();
    ctx.beginPath();
    ctx.rect(l - pad, t - pad, w + 2 * pad, h + 2 * pad);
    ctx.clip();
  }

  // Draw on the trail layer the segments each series reached since the last
  // call (every segment again after a step back). A series is {xs, ys, n};
  // stroke(ctx, path2d, series) paints one.
  drawTrails(k, series, stroke) {
    const ctx = this.ctx.trail;
    if (k < this.trailFrame) {
      ctx.clearRect(0, 0, this.size[0], this.size[1]);
      this.trailFrame = 0;
    }
    if (k === this.trailFrame) return;
    this.clipToPlot(ctx, this.clipPad);
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    for (const s of series) {
      const a = Math.min(this.trailFrame, s.n - 1);
      const b = Math.min(k, s.n - 1);
      if (b > a) stroke(ctx, this.path(s.xs, s.ys, a, b, this), s);
    }
    ctx.restore();
    this.trailFrame = k;
  }

  // The top layer, cleared for a new frame.
  beginTop() {
    const ctx = this.ctx.top;
    ctx.clearRect(0, 0, this.size[0], this.size[1]);
    return ctx;
  }
}

export function sizeCanvas(canvas, w, h, dpr) {
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  const bw = Math.max(1, Math.round(w * dpr));
  const bh = Math.max(1, Math.round(h * dpr));
  if (canvas.width !== bw) canvas.width = bw;
  if (canvas.height !== bh) canvas.height = bh;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(bw / w, 0, 0, bh / h, 0, 0);
  ctx.clearRect(0, 0, w, h);
  return ctx;
}
