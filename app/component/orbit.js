// Hands on the 3-D view: drag to turn, wheel or pinch to zoom, double-click
// to reset, a click (that did not turn anything) to pick a point. The camera
// circles a fixed target with z up; the view owns the camera, this only
// keeps the angles and tells it when they changed.

import { clamp } from "./geometry.js";

const DEG = Math.PI / 180;
// matplotlib's default angle: every scene's first angle unless it hides the race (camera_home.js)
export const HOME = { azimuth: -60 * DEG, elevation: 32 * DEG, distance: 3.9 };
const MIN_ELEVATION = 4 * DEG;
const MAX_ELEVATION = 89 * DEG;
const MIN_DISTANCE = 1.4;
const MAX_DISTANCE = 12;
const TURN_PER_PX = 0.009; // radians per dragged pixel
const CLICK_SLOP_PX = 5; // a press that moved less than this is a click
const DOUBLE_CLICK_MS = 280; // a click waits this long for a second one (double-click resets)

export class Orbit {
  // el: the canvas; onChange(): the angles changed; onPick(clientX, clientY): a single click.
  constructor(el, { onChange, onPick }) {
    this.el = el;
    this.onChange = onChange;
    this.onPick = onPick;
    this.home = { ...HOME }; // where a reset goes: the scene's first angle (setHome)
    this.reset(false);
    this.pointers = new Map();
    this.pinch = 0;
    this.moved = 0;
    this.pickTimer = 0;
    this.handlers = {
      pointerdown: (e) => this.down(e),
      pointermove: (e) => this.move(e),
      pointerup: (e) => this.up(e),
      pointercancel: (e) => this.up(e),
      wheel: (e) => this.wheel(e),
      click: (e) => this.click(e),
      dblclick: (e) => e.preventDefault(),
    };
    for (const [name, fn] of Object.entries(this.handlers)) el.addEventListener(name, fn, { passive: false });
  }

  destroy() {
    for (const [name, fn] of Object.entries(this.handlers)) this.el.removeEventListener(name, fn);
    clearTimeout(this.pickTimer);
  }

  reset(notify = true) {
    Object.assign(this, this.home);
    if (notify) this.onChange();
  }

  // Whether the camera is where the last reset put it (nobody turned or zoomed since).
  atHome() {
    const h = this.home;
    return this.azimuth === h.azimuth && this.elevation === h.elevation && this.distance === h.distance;
  }

  // A new scene's first angle {azimuth, elevation, distance}; the camera goes
  // there if `go`, else it stays (a student's turning) until the next reset.
  setHome(home, go) {
    this.home = { azimuth: home.azimuth, elevation: home.elevation, distance: home.distance };
    if (go) this.reset(false);
  }

  // Camera position around `target` for the current angles.
  position(target) {
    const c = Math.cos(this.elevation);
    return [
      target[0] + this.distance * c * Math.cos(this.azimuth),
      target[1] + this.distance * c * Math.sin(this.azimuth),
      target[2] + this.distance * Math.sin(this.elevation),
    ];
  }

  down(e) {
    if (e.pointerType === "mouse" && e.button !== 0) return;
    this.el.setPointerCapture?.(e.pointerId);
    this.pointers.set(e.pointerId, [e.clientX, e.clientY]);
    if (this.pointers.size === 1) this.moved = 0;
    this.pinch = this.pointers.size === 2 ? this.spread() : 0;
  }

  spread() {
    const [a, b] = [...this.pointers.values()];
    return Math.hypot(a[0] - b[0], a[1] - b[1]);
  }

  move(e) {
    const last = this.pointers.get(e.pointerId);
    if (!last) return;
    const dx = e.clientX - last[0];
    const dy = e.clientY - last[1];
    this.pointers.set(e.pointerId, [e.clientX, e.clientY]);
    this.moved += Math.abs(dx) + Math.abs(dy);
    if (this.pointers.size === 2) {
      const spread = this.spread();
      if (this.pinch > 0 && spread > 0) this.zoomBy(this.pinch / spread);
      this.pinch = spread;
      return;
    }
    if (this.pointers.size !== 1 || this.moved < CLICK_SLOP_PX) return;
    e.preventDefault();
    this.azimuth -= dx * TURN_PER_PX;
    this.elevation = clamp(this.elevation + dy * TURN_PER_PX, MIN_ELEVATION, MAX_ELEVATION);
    this.onChange();
  }

  up(e) {
    this.pointers.delete(e.pointerId);
    this.pinch = this.pointers.size === 2 ? this.spread() : 0;
  }

  zoomBy(factor) {
    this.distance = clamp(this.distance * factor, MIN_DISTANCE, MAX_DISTANCE);
    this.onChange();
  }

  wheel(e) {
    e.preventDefault();
    const px = e.deltaMode === 1 ? e.deltaY * 16 : e.deltaY;
    this.zoomBy(Math.exp(clamp(px, -200, 200) * 0.0015));
  }

  // One click picks after a short wait; the second click of a double-click
  // cancels that and resets the view instead.
  click(e) {
    if (this.moved >= CLICK_SLOP_PX) return;
    clearTimeout(this.pickTimer);
    if (e.detail >= 2) {
      this.pickTimer = 0;
      this.reset();
      return;
    }
    const { clientX, clientY } = e;
    this.pickTimer = setTimeout(() => {
      this.pickTimer = 0;
      this.onPick(clientX, clientY);
    }, DOUBLE_CLICK_MS);
  }
}
