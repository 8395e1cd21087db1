// The 3-D view's first angle for a scene: matplotlib's familiar one where it
// shows the race, else the angle nearest to it that does.
//
// One fixed angle cannot suit every surface: Rosenbrock's paths run along a
// curved trench, and from matplotlib's default the trench's near wall hides
// most of them. So the camera is chosen from the scene itself: a sample of
// the racers' path points, each lifted as its tube is, is looked at from
// candidate angles around the view's target, and a point counts as seen when
// the straight line from it to the camera stays above the mesh (marched in
// half grid cells over the surface's own triangles, SurfaceGrid.heightAt).
// The rule: the candidate nearest to the default (by the angle between the
// two directions of view) among those that see at least HOME_SEES of the
// points, or, where none does, nearly as many as the best one. Nearest keeps
// the picture as familiar as the race allows: a flat saddle keeps the
// default, a trench is looked into from higher up or along its floor.

import { ZH } from "./surface_mesh.js";

const HOME_SEES = 0.9; // of the sampled path points, seen from the chosen angle where any candidate manages it
const NEARLY_BEST = 0.03; // where none does: within this share of the best candidate
const SAMPLES_PER_PATH = 24;
const MAX_SAMPLES = 192; // all paths together (many starts: fewer points each)
const CAMERA_DEG = Math.PI / 180;
const AZIMUTH_STEP_DEG = 15;
const ELEVATIONS_DEG = [32, 40, 48, 56, 64, 72, 80];

// Evenly spaced (by step) path points inside the window, as world [X, Y, Z] lifted by `lift`.
function pathSamples(grid, paths, lift) {
  const [x0, x1, y0, y1] = grid.extent;
  const per = Math.max(4, Math.min(SAMPLES_PER_PATH, Math.floor(MAX_SAMPLES / Math.max(paths.length, 1))));
  const out = [];
  for (const p of paths) {
    const inside = [];
    for (let i = 0; i < p.n; i++) {
      if (p.xs[i] >= x0 && p.xs[i] <= x1 && p.ys[i] >= y0 && p.ys[i] <= y1) inside.push(i);
    }
    const m = Math.min(per, inside.length);
    for (let k = 0; k < m; k++) {
      const i = inside[m === 1 ? 0 : Math.round((k * (inside.length - 1)) / (m - 1))];
      const [X, Y] = grid.toWorld(p.xs[i], p.ys[i]);
      out.push([X, Y, grid.heightAt(p.xs[i], p.ys[i]) * ZH + lift]);
    }
  }
  return out;
}

// Whether the segment from world point p to the camera at e stays above the mesh.
function seenFrom(grid, p, e) {
  const dx = e[0] - p[0];
  const dy = e[1] - p[1];
  const dz = e[2] - p[2];
  const flat = Math.hypot(dx, dy);
  const step = grid.cell * 0.5;
  const n = Math.ceil(flat / step);
  for (let k = 1; k <= n; k++) {
    const t = k / n;
    const X = p[0] + dx * t;
    const Y = p[1] + dy * t;
    const Z = p[2] + dz * t;
    // past the window's edge or above its highest point nothing can hide the point any more
    if (Z > ZH || Math.abs(X) > grid.sx || Math.abs(Y) > grid.sy) return true;
    const [x, y] = grid.toData(X, Y);
    if (Z < grid.heightAt(x, y) * ZH) return false;
  }
  return true;
}

// Unit direction from the target towards a camera at these angles.
function towards(azimuth, elevation) {
  const c = Math.cos(elevation);
  return [c * Math.cos(azimuth), c * Math.sin(azimuth), Math.sin(elevation)];
}

// The share of `points` seen from a camera at these angles (distance from target).
export function seenShare(grid, points, target, azimuth, elevation, distance) {
  if (!points.length) return 1;
  const d = towards(azimuth, elevation);
  const e = [target[0] + distance * d[0], target[1] + distance * d[1], target[2] + distance * d[2]];
  let seen = 0;
  for (const p of points) if (seenFrom(grid, p, e)) seen++;
  return seen / points.length;
}

// Returns {azimuth, elevation, distance, seen, homeSeen}: the first angle for this
// scene (home's distance kept), with the share of the sampled path points it sees
// and the share the default `home` sees. grid: a SurfaceGrid; paths: [{n, xs, ys}].
export function chooseHome(grid, paths, target, home, lift) {
  const points = pathSamples(grid, paths, lift);
  const homeSeen = seenShare(grid, points, target, home.azimuth, home.elevation, home.distance);
  if (homeSeen >= HOME_SEES) return { ...home, seen: homeSeen, homeSeen };
  const h = towards(home.azimuth, home.elevation);
  const candidates = [];
  for (const el of ELEVATIONS_DEG) {
    for (let a = 0; a < 360; a += AZIMUTH_STEP_DEG) {
      // azimuths counted from home's, so that home's own azimuth is among them
      const azimuth = home.azimuth + a * CAMERA_DEG;
      const elevation = el * CAMERA_DEG;
      const d = towards(azimuth, elevation);
      const away = Math.acos(Math.min(1, d[0] * h[0] + d[1] * h[1] + d[2] * h[2]));
      candidates.push({ azimuth, elevation, away, seen: seenShare(grid, points, target, azimuth, elevation,
        home.distance) });
    }
  }
  const best = Math.max(...candidates.map((c) => c.seen));
  const enough = best >= HOME_SEES ? HOME_SEES : best - NEARLY_BEST;
  let pick = null;
  for (const c of candidates) if (c.seen >= enough && (!pick || c.away < pick.away)) pick = c;
  // keep the azimuth within a turn of home's, as dragging would
  const turn = Math.round((pick.azimuth - home.azimuth) / (2 * Math.PI)) * 2 * Math.PI;
  return { azimuth: pick.azimuth - turn, elevation: pick.elevation, distance: home.distance, seen: pick.seen,
    homeSeen };
}
