// Path builders, in uPlot's manner: each turns points a..b of a series (data
// coordinates xs, ys) into a Path2D through a chart's scales. A new way of
// drawing a series is a new builder, not a new branch in the chart.
//
// Data far outside the view (a diverging run reaches a million times the
// window) is never projected first and clipped afterwards: pixel coordinates
// that large lose the path's direction once the canvas or a guard rounds them.

import { clipSegment } from "./geometry.js";

// Only the series' own segments, each clipped to the chart's guard box (the
// plot and a margin, in data units) before projection. The pen lifts where a
// segment leaves the box, so a gap is never bridged by a segment not in the data.
export function clippedPath(xs, ys, a, b, chart) {
  const { x, y } = chart.scales;
  const box = chart.guard;
  const path = new Path2D();
  let pen = false; // the pen rests on point i, inside the box
  for (let i = a; i < b; i++) {
    const c = clipSegment(xs[i], ys[i], xs[i + 1], ys[i + 1], box);
    if (!c) {
      pen = false;
      continue;
    }
    if (!pen || c[4] > 0) path.moveTo(x.toPx(c[0]), y.toPx(c[1]));
    path.lineTo(x.toPx(c[2]), y.toPx(c[3]));
    pen = c[5] === 1;
  }
  return path;
}

// Every point, its value pinned to the y scale's range: a curve that runs past
// the axis range continues along the plot's edge (a loss below the log axis's
// floor, or above its ceiling) instead of vanishing.
export function clampedPath(xs, ys, a, b, chart) {
  const { x, y } = chart.scales;
  const path = new Path2D();
  path.moveTo(x.toPx(xs[a]), y.toPxClamped(ys[a]));
  for (let i = a + 1; i <= b; i++) path.lineTo(x.toPx(xs[i]), y.toPxClamped(ys[i]));
  return path;
}
