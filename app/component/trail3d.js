// A racer's path on the mesh as a tube: the path clipped to the window,
// cut into pieces no longer than half a grid cell so it follows the mesh's
// triangles, lifted just above them, and wrapped in a thin tube. Built once
// per path; playback shows a prefix of it (ringsAt[k]: the rings drawn up to
// step k), so nothing is rebuilt per frame.

import { clipSegment } from "./geometry.js";
import { ZH } from "./surface_mesh.js";

const SIDES = 5;

// grid: a SurfaceGrid; path: {n, xs, ys}; radius and lift in world units.
// Returns {pos, normal, index, indexAt}: indexAt[k] is the index count that
// draws the tube up to step k.
export function buildTube(grid, path, radius, lift) {
  const [x0, x1, y0, y1] = grid.extent;
  const box = { x0, x1, y0, y1 };
  const pts = []; // world x, y, z per ring
  const breaks = []; // true where a ring starts a new piece (the path left the window and came back)
  const ringsAt = new Int32Array(Math.max(path.n, 1));
  const piece = grid.cell * 0.5;
  const minGap = radius * 2.5; // rings closer than this add triangles, not shape (a software renderer pays per triangle)
  let open = false; // the last ring emitted ends at the previous point
  const emit = (x, y, first) => {
    const [X, Y] = grid.toWorld(x, y);
    const Z = grid.heightAt(x, y) * ZH + lift;
    const m = pts.length;
    if (!first && m && Math.hypot(X - pts[m - 1][0], Y - pts[m - 1][1], Z - pts[m - 1][2]) < minGap) return;
    pts.push([X, Y, Z]);
    breaks.push(first);
  };
  const { xs, ys } = path;
  if (path.n > 0 && xs[0] >= x0 && xs[0] <= x1 && ys[0] >= y0 && ys[0] <= y1) {
    emit(xs[0], ys[0], true);
    open = true;
  }
  ringsAt[0] = pts.length;
  for (let k = 1; k < path.n; k++) {
    const c = clipSegment(xs[k - 1], ys[k - 1], xs[k], ys[k], box);
    if (c) {
      const [ax, ay, bx, by, ta, tb] = c;
      const restart = !open || ta > 0;
      if (restart) emit(ax, ay, true);
      const [wax, way] = grid.toWorld(ax, ay);
      const [wbx, wby] = grid.toWorld(bx, by);
      const pieces = Math.max(1, Math.min(512, Math.ceil(Math.hypot(wbx - wax, wby - way) / piece)));
      for (let s = 1; s <= pieces; s++) emit(ax + ((bx - ax) * s) / pieces, ay + ((by - ay) * s) / pieces, false);
      open = tb === 1;
    } else {
      open = false;
    }
    ringsAt[k] = pts.length;
  }
  return { ...wrap(pts, breaks, radius), indexAt: ringsAt.map((r) => indexCount(r, breaks)) };
}

// Index count drawing rings 0..r-1 (cumulative, so the tube grows as a prefix).
function indexCount(r, breaks) {
  if (!breaks.cum) {
    breaks.cum = new Int32Array(breaks.length + 1);
    for (let i = 0; i < breaks.length; i++) breaks.cum[i + 1] = breaks.cum[i] + (i > 0 && !breaks[i] ? SIDES * 6 : 0);
  }
  return breaks.cum[r];
}

function wrap(pts, breaks, radius) {
  const n = pts.length;
  const pos = new Float32Array(n * SIDES * 3);
  const normal = new Float32Array(n * SIDES * 3);
  let quads = 0;
  for (let i = 1; i < n; i++) if (!breaks[i]) quads++;
  const index = new Uint32Array(quads * SIDES * 6);
  let q = 0;
  for (let i = 0; i < n; i++) {
    // Tangent from the neighbours within the same piece.
    const prev = i > 0 && !breaks[i] ? pts[i - 1] : pts[i];
    const next = i + 1 < n && !breaks[i + 1] ? pts[i + 1] : pts[i];
    let tx = next[0] - prev[0];
    let ty = next[1] - prev[1];
    let tz = next[2] - prev[2];
    const tl = Math.hypot(tx, ty, tz) || 1;
    tx /= tl;
    ty /= tl;
    tz /= tl;
    // A frame around the tangent: n1 horizontal, n2 = t x n1.
    let ax = -ty;
    let ay = tx;
    let al = Math.hypot(ax, ay);
    if (al < 1e-6) {
      ax = 1;
      ay = 0;
      al = 1;
    }
    ax /= al;
    ay /= al;
    const bx = ty * 0 - tz * ay;
    const by = tz * ax - tx * 0;
    const bz = tx * ay - ty * ax;
    for (let s = 0; s < SIDES; s++) {
      const a = (s / SIDES) * 2 * Math.PI;
      const cx = Math.cos(a);
      const sn = Math.sin(a);
      const nx = cx * ax + sn * bx;
      const ny = cx * ay + sn * by;
      const nz = sn * bz;
      const v = (i * SIDES + s) * 3;
      normal[v] = nx;
      normal[v + 1] = ny;
      normal[v + 2] = nz;
      pos[v] = pts[i][0] + radius * nx;
      pos[v + 1] = pts[i][1] + radius * ny;
      pos[v + 2] = pts[i][2] + radius * nz;
    }
    if (i > 0 && !breaks[i]) {
      for (let s = 0; s < SIDES; s++) {
        const a = (i - 1) * SIDES + s;
        const b = (i - 1) * SIDES + ((s + 1) % SIDES);
        const c = i * SIDES + s;
        const d = i * SIDES + ((s + 1) % SIDES);
        index.set([a, b, d, a, d, c], q);
        q += 6;
      }
    }
  }
  return { pos, normal, index };
}
