// Layers for an optimizer's insides at a racer's head: arrows (the negative
// gradient, the step, the optimizer's own vectors), the effective learning
// rate per axis as an axis-aligned glyph, and the curvature as a cross along
// the Hessian's eigen-directions. Each takes pixel positions and pixel
// lengths; `s` is the theme's size scale.

const ARROW_HALO = "rgba(255, 255, 255, 0.9)";

// How each kind is drawn: colour and dash (the step uses the racer's colour).
export const KIND_STYLE = {
  grad: { color: "#1d1d1f", dash: [] },
  step: { color: null, dash: [] },
  v: { color: "#7b1fa2", dash: [] },
  m_hat: { color: "#7b1fa2", dash: [] },
  m: { color: "#7b1fa2", dash: [] },
  ahead: { color: "#7b1fa2", dash: [5, 4] },
  eff: { color: "#00838f", dash: [] },
  curv: { color: "#e65100", dash: [] },
};

// Base length of an arrow whose magnitude is its kind's median over the race, in CSS px at scale 1.
export const BASE_PX = 30;
const MAX_FACTOR = 3.5;

// A length in px for magnitude `m` against its kind's typical magnitude
// `scale`: log-compressed (twice the typical is not twice as long, a
// hundred times is about 4 times), so a plateau's tiny gradients and a
// ravine wall's huge ones both read. 0 for nothing to draw.
export function arrowPx(m, scale, s) {
  if (!(m > 0) || !(scale > 0) || !Number.isFinite(m)) return 0;
  return BASE_PX * s * Math.min(MAX_FACTOR, Math.log1p(m / scale) / Math.LN2);
}

function strokeTwice(ctx, path, color, lw, s, dash, halo = true) {
  ctx.setLineDash([]);
  if (halo) {
    ctx.strokeStyle = ARROW_HALO;
    ctx.lineWidth = lw + 2.5 * s;
    ctx.stroke(path);
  }
  ctx.setLineDash(dash.map((d) => d * s));
  ctx.strokeStyle = color;
  ctx.lineWidth = lw;
  ctx.stroke(path);
  ctx.setLineDash([]);
}

// An arrow from (x, y) along the pixel direction (ux, uy) (unit), `len` px
// long. Without its halo it lies inside a wider arrow beneath it, which
// then shows as a frame around it (SGD's step runs along its gradient).
export function drawArrow(ctx, x, y, ux, uy, len, color, s, dash = [], width = 2, halo = true) {
  if (!(len > 0.5)) return;
  const head = Math.min(len * 0.45, 7 * s);
  const ex = x + ux * len;
  const ey = y + uy * len;
  const shaft = new Path2D();
  shaft.moveTo(x, y);
  shaft.lineTo(ex - ux * head * 0.6, ey - uy * head * 0.6);
  strokeTwice(ctx, shaft, color, width * s, s, dash, halo);
  const tip = new Path2D();
  tip.moveTo(ex, ey);
  tip.lineTo(ex - ux * head - uy * head * 0.5, ey - uy * head + ux * head * 0.5);
  tip.lineTo(ex - ux * head + uy * head * 0.5, ey - uy * head - ux * head * 0.5);
  tip.closePath();
  if (halo) {
    ctx.lineWidth = 2 * s;
    ctx.strokeStyle = ARROW_HALO;
    ctx.stroke(tip);
  }
  ctx.fillStyle = color;
  ctx.fill(tip);
}

// The effective learning rate per axis: a box whose half-width and
// half-height are the x and y rates (in px), with its axes drawn through.
export function drawRateBox(ctx, x, y, ax, ay, s) {
  if (!(ax > 0.5) && !(ay > 0.5)) return;
  const color = KIND_STYLE.eff.color;
  const box = new Path2D();
  box.rect(x - ax, y - ay, 2 * ax, 2 * ay);
  box.moveTo(x - ax, y);
  box.lineTo(x + ax, y);
  box.moveTo(x, y - ay);
  box.lineTo(x, y + ay);
  strokeTwice(ctx, box, color, 1.5 * s, s, []);
}

// The curvature: a cross through (x, y), one bar per eigen-direction
// (unit pixel directions d1, d2), each bar `arms[i]` px to either side,
// solid where the surface curves up and dashed where it curves down.
export function drawCurvatureCross(ctx, x, y, dirs, arms, negative, s) {
  const color = KIND_STYLE.curv.color;
  for (let i = 0; i < 2; i++) {
    const a = arms[i];
    if (!(a > 0.5)) continue;
    const [ux, uy] = dirs[i];
    const bar = new Path2D();
    bar.moveTo(x - ux * a, y - uy * a);
    bar.lineTo(x + ux * a, y + uy * a);
    // short end ticks show where an arm ends when it is dashed
    bar.moveTo(x + ux * a - uy * 3 * s, y + uy * a + ux * 3 * s);
    bar.lineTo(x + ux * a + uy * 3 * s, y + uy * a - ux * 3 * s);
    bar.moveTo(x - ux * a - uy * 3 * s, y - uy * a + ux * 3 * s);
    bar.lineTo(x - ux * a + uy * 3 * s, y - uy * a - ux * 3 * s);
    strokeTwice(ctx, bar, color, 1.8 * s, s, negative[i] ? [4, 3] : []);
  }
}
