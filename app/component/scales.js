// Scales: one axis's map from data values to pixels, linear or log10, over [lo, hi].
//
// `toPx` may land outside the plot (the path builders clip or clamp);
// `toPxClamped` pins a value to the scale's range first, so a value beyond it
// is drawn on the plot's edge; `fromPx` inverts `toPx`.

import { clamp } from "./geometry.js";

export function linearScale(lo, hi, px0, px1) {
  const k = (px1 - px0) / (hi - lo);
  const toPx = (v) => px0 + (v - lo) * k;
  return {
    log: false,
    lo,
    hi,
    toPx,
    toPxClamped: (v) => (Number.isFinite(v) ? toPx(v < lo ? lo : v > hi ? hi : v) : px0),
    fromPx: (p) => lo + (p - px0) / k,
  };
}

// lo and hi are decades (10^lo .. 10^hi). A value at or below zero, or not a
// number, sits on the lower edge: it is below any decade the axis shows.
export function logScale(lo, hi, px0, px1) {
  const k = (px1 - px0) / (hi - lo);
  const toPx = (v) => px0 + (Math.log10(v) - lo) * k;
  return {
    log: true,
    lo,
    hi,
    toPx,
    toPxClamped: (v) => (v > 0 ? px0 + (clamp(Math.log10(v), lo, hi) - lo) * k : px0),
    fromPx: (p) => 10 ** (lo + (p - px0) / k),
    decadeToPx: (d) => px0 + (d - lo) * k,
  };
}
