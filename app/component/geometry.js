// Numbers for drawing: clamping, clipping a segment to a box, tick values and their labels.

export function clamp(v, lo, hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

// Liang-Barsky: the part of segment (x0,y0)-(x1,y1) inside box {x0, x1, y0, y1},
// as [xa, ya, xb, yb, ta, tb] (ta, tb: where it starts and ends along the
// segment, 0..1), or null. Works on data coordinates of any finite size: a
// segment whose span overflows is clipped at half scale, which is exact.
export function clipSegment(x0, y0, x1, y1, box) {
  const dx = x1 - x0;
  const dy = y1 - y0;
  if (!Number.isFinite(dx) || !Number.isFinite(dy)) {
    const half = { x0: box.x0 / 2, x1: box.x1 / 2, y0: box.y0 / 2, y1: box.y1 / 2 };
    const c = clipSegment(x0 / 2, y0 / 2, x1 / 2, y1 / 2, half);
    return c && [c[0] * 2, c[1] * 2, c[2] * 2, c[3] * 2, c[4], c[5]];
  }
  let t0 = 0;
  let t1 = 1;
  const p = [-dx, dx, -dy, dy];
  const q = [x0 - box.x0, box.x1 - x0, y0 - box.y0, box.y1 - y0];
  for (let i = 0; i < 4; i++) {
    if (p[i] === 0) {
      if (q[i] < 0) return null;
    } else {
      const t = q[i] / p[i];
      if (p[i] < 0) {
        if (t > t1) return null;
        if (t > t0) t0 = t;
      } else {
        if (t < t0) return null;
        if (t < t1) t1 = t;
      }
    }
  }
  const end = t1 === 1 ? [x1, y1] : [x0 + t1 * dx, y0 + t1 * dy];
  const start = t0 === 0 ? [x0, y0] : [x0 + t0 * dx, y0 + t0 * dy];
  return [start[0], start[1], end[0], end[1], t0, t1];
}

// Nice tick values (1, 2, 5 times a power of ten) covering [lo, hi].
export function niceTicks(lo, hi, target) {
  const span = hi - lo;
  if (!(span > 0) || !Number.isFinite(span)) return { values: [lo], step: 1 };
  const raw = span / Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const r = raw / mag;
  const step = (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
  const values = [];
  const eps = step * 1e-9;
  for (let v = Math.ceil((lo - eps) / step) * step; v <= hi + eps; v += step) {
    values.push(Math.abs(v) < eps ? 0 : v);
  }
  return { values, step };
}

// Whole decades from lo to hi, every so many so that about `target` fit.
export function decadeTicks(lo, hi, target) {
  const every = Math.max(1, Math.ceil((hi - lo) / Math.max(2, target)));
  const values = [];
  for (let d = lo; d <= hi; d += every) values.push(d);
  return values;
}

export function tickFormatter(step, values) {
  const big = values.some((v) => Math.abs(v) >= 1e5);
  const tiny = step < 1e-4;
  if (big || tiny) return (v) => (v === 0 ? "0" : v.toExponential(1).replace("e+", "e"));
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return (v) => {
    const s = v.toFixed(decimals);
    return /^-0(\.0*)?$/.test(s) ? s.slice(1) : s;
  };
}

const SUPERSCRIPT = { "-": "\u207b", 0: "\u2070", 1: "\u00b9", 2: "\u00b2", 3: "\u00b3", 4: "\u2074", 5: "\u2075", 6: "\u2076", 7: "\u2077", 8: "\u2078", 9: "\u2079" };

// "10" with the exponent n written as a superscript: a log axis's label.
export function powerOfTen(n) {
  return `10${String(n).split("").map((c) => SUPERSCRIPT[c] ?? c).join("")}`;
}

export function formatLoss(v) {
  if (!Number.isFinite(v)) return "\u2014";
  const a = Math.abs(v);
  if (a === 0) return "0";
  if (a >= 1e5 || a < 1e-3) return v.toExponential(2).replace("e+", "e");
  if (a >= 1000) return v.toFixed(0);
  if (a >= 100) return v.toFixed(1);
  return v.toPrecision(4);
}
