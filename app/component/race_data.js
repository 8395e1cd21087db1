// The race as the views draw it: typed arrays per start of each racer, built
// once per payload. The payload's shape was checked in Python
// (app/race_component.py check_payload); this trusts it.

import { clamp, clipSegment } from "./geometry.js";
import { prepareInsides } from "./insides.js";

// One start of one racer: {n, xs, ys, loss, steps, divergedAt, exit}.
// divergedAt is the frame from which the run is over (null if it runs to the
// end); exit is where its cross goes on the map.
function prepareStart(flat, loss, divergedAt, extent, steps) {
  let n = Math.min(flat.length / 2, steps + 1);
  if (Number.isInteger(divergedAt)) n = Math.min(n, divergedAt + 1);
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  const ls = new Float64Array(n);
  const index = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    xs[i] = flat[2 * i];
    ys[i] = flat[2 * i + 1];
    ls[i] = typeof loss[i] === "number" ? loss[i] : NaN;
    index[i] = i;
  }
  const endFrame = Number.isInteger(divergedAt) ? divergedAt : n < steps + 1 ? n : null;
  return {
    n,
    xs,
    ys,
    loss: ls,
    steps: index,
    divergedAt: endFrame,
    exit: endFrame === null || n === 0 ? null : exitPoint(xs, ys, n, extent),
  };
}

// Where a diverging path left the window: its last point if that is inside,
// else the crossing of the window's edge after the last point inside.
function exitPoint(xs, ys, n, [x0, x1, y0, y1]) {
  const isIn = (i) => xs[i] >= x0 && xs[i] <= x1 && ys[i] >= y0 && ys[i] <= y1;
  let last = n - 1;
  while (last >= 0 && !isIn(last)) last--;
  if (last === n - 1) return [xs[n - 1], ys[n - 1]];
  if (last < 0) return [clamp(xs[0], x0, x1), clamp(ys[0], y0, y1)];
  const c = clipSegment(xs[last], ys[last], xs[last + 1], ys[last + 1], { x0, x1, y0, y1 });
  return c ? [c[2], c[3]] : [xs[last], ys[last]];
}

// The loss a racer's rule predicts on a quadratic, up to its first missing
// value (a prediction that overflowed): {n, xs, ys} or null.
function preparePredicted(values, steps) {
  if (!Array.isArray(values)) return null;
  let n = Math.min(values.length, steps + 1);
  for (let i = 0; i < n; i++) {
    if (typeof values[i] !== "number" || !Number.isFinite(values[i])) {
      n = i;
      break;
    }
  }
  if (n < 2) return null;
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    xs[i] = i;
    ys[i] = values[i];
  }
  return { n, xs, ys };
}

// {steps, extent, racers: [{label, color, starts}], paths (every start, with
// its racer's colour), minima, axes (the map's axis names), startPoints (each
// distinct start once)}.
export function prepareRace(p) {
  const steps = p.steps;
  const extent = p.extent.map(Number);
  const racers = p.racers.map((r) => ({
    label: String(r.label),
    color: r.color,
    starts: r.paths.map((flat, j) => prepareStart(flat, r.loss[j], r.diverged_at[j], extent, steps)),
    predicted: preparePredicted(r.predicted, steps),
  }));
  const paths = racers.flatMap((r) => r.starts.map((s) => ({ ...s, color: r.color })));
  const seen = new Set();
  const startPoints = [];
  for (const path of paths) {
    if (!path.n) continue;
    const key = `${path.xs[0]},${path.ys[0]}`;
    if (!seen.has(key)) {
      seen.add(key);
      startPoints.push([path.xs[0], path.ys[0]]);
    }
  }
  return {
    steps,
    extent,
    racers,
    paths,
    minima: p.minima,
    axes: Array.isArray(p.axes) && p.axes.length === 2 ? p.axes.map(String) : ["x", "y"],
    startPoints,
    multiStart: racers.some((r) => r.starts.length > 1),
    insides: prepareInsides(p),
  };
}
