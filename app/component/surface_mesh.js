// The surface as the 3-D view builds it: the height grid of the payload
// (app/surface3d.py), the map from data coordinates to the view's world, and
// the mesh's own height at any (x, y), so that what lies on the surface
// (paths, balls, markers) follows the triangles actually drawn.
//
// World: x and y of the window map to [-sx, sx] x [-sy, sy] (the longer side
// 2 units, the window's aspect kept up to 2:1), height h (0..1) to h * ZH.

import { clamp } from "./geometry.js";

export const ZH = 0.75; // world height of the window's z-range
const MAX_ASPECT = 2;

function decodeHeights(b64, count) {
  const bin = atob(b64);
  const view = new DataView(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) view.setUint8(i, bin.charCodeAt(i));
  const h = new Float32Array(count);
  // 16-bit steps of 1/65535 (app/surface3d.py H_STEPS)
  for (let i = 0; i < count; i++) h[i] = view.getUint16(2 * i, true) / 65535;
  return h;
}

export class SurfaceGrid {
  // part: the payload's surface3d; extent: [x0, x1, y0, y1].
  constructor(part, extent) {
    const [nx, ny] = part.n;
    this.nx = nx;
    this.ny = ny;
    this.h = decodeHeights(part.h, nx * ny);
    this.extent = extent;
    const [x0, x1, y0, y1] = extent;
    const aspect = clamp((x1 - x0) / (y1 - y0), 1 / MAX_ASPECT, MAX_ASPECT);
    this.sx = aspect >= 1 ? 1 : aspect;
    this.sy = aspect >= 1 ? 1 / aspect : 1;
    this.cell = Math.min((2 * this.sx) / (nx - 1), (2 * this.sy) / (ny - 1)); // world size of a grid cell
    this.ticks = part.ticks ?? [];
    this.label = part.label ?? "loss";
  }

  // World [X, Y] of data (x, y).
  toWorld(x, y) {
    const [x0, x1, y0, y1] = this.extent;
    return [((x - x0) / (x1 - x0) * 2 - 1) * this.sx, ((y - y0) / (y1 - y0) * 2 - 1) * this.sy];
  }

  // Data (x, y) of world (X, Y).
  toData(X, Y) {
    const [x0, x1, y0, y1] = this.extent;
    return [x0 + ((X / this.sx + 1) / 2) * (x1 - x0), y0 + ((Y / this.sy + 1) / 2) * (y1 - y0)];
  }

  // The mesh's height (0..1) at data (x, y), clamped to the window: the
  // plane of the triangle drawn there (each cell is split along its a-d diagonal).
  heightAt(x, y) {
    const [x0, x1, y0, y1] = this.extent;
    const { nx, ny, h } = this;
    const gx = clamp(((x - x0) / (x1 - x0)) * (nx - 1), 0, nx - 1);
    const gy = clamp(((y - y0) / (y1 - y0)) * (ny - 1), 0, ny - 1);
    const i = Math.min(Math.floor(gx), nx - 2);
    const j = Math.min(Math.floor(gy), ny - 2);
    const fx = gx - i;
    const fy = gy - j;
    const a = h[j * nx + i];
    const b = h[j * nx + i + 1];
    const c = h[(j + 1) * nx + i];
    const d = h[(j + 1) * nx + i + 1];
    return fx >= fy ? a + fx * (b - a) + fy * (d - b) : a + fy * (c - a) + fx * (d - c);
  }

  // Positions, texture coordinates and triangles of the mesh.
  buffers() {
    const { nx, ny, h } = this;
    const pos = new Float32Array(nx * ny * 3);
    const uv = new Float32Array(nx * ny * 2);
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const k = j * nx + i;
        pos[3 * k] = ((i / (nx - 1)) * 2 - 1) * this.sx;
        pos[3 * k + 1] = ((j / (ny - 1)) * 2 - 1) * this.sy;
        pos[3 * k + 2] = h[k] * ZH;
        uv[2 * k] = i / (nx - 1);
        uv[2 * k + 1] = j / (ny - 1);
      }
    }
    const index = new Uint32Array((nx - 1) * (ny - 1) * 6);
    let n = 0;
    for (let j = 0; j < ny - 1; j++) {
      for (let i = 0; i < nx - 1; i++) {
        const a = j * nx + i;
        const b = a + 1;
        const c = a + nx;
        const d = c + 1;
        index.set([a, b, d, a, d, c], n);
        n += 6;
      }
    }
    return { pos, uv, index };
  }
}
