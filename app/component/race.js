// Descent race animator: plays optimizer races on a contour map, in the browser.
//
// Streamlit (custom components v2) calls the default export with
// {data, parentElement, setTriggerValue, ...} on mount and again whenever the
// data changes, on the same parentElement, without calling the previous
// cleanup. So one Race lives on the root element and each call hands it the
// newest data; the returned cleanup (run on unmount) ends it.
//
// data = {payload, height}; the payload is described in app/race_component.py.
//
// Drawing uses three stacked canvases per chart: a background (image, axes),
// a trail layer that only ever gets the newly reached segments drawn on it
// while playing, and a top layer (heads, markers, cursor) cleared each frame.
// So a frame costs a few segments and a handful of dots, however long the race.

const SPEEDS = [0.25, 0.5, 1, 2, 4, 8];
// 1x plays 60 steps per second (1000 steps in about 17 s); short races are
// slowed so that at 1x they still last MIN_RACE_SECONDS.
const STEPS_PER_SECOND = 60;
const MIN_RACE_SECONDS = 4;
const LEGEND_EVERY_MS = 100; // while playing
const SLOW_FPS = 40; // below this for SLOW_FOR_MS, moving layers drop to 1x resolution
const SLOW_FOR_MS = 1500;
const MAX_FRAME_GAP_MS = 100; // a stalled tab resumes where it was, not far ahead
const NARROW_BELOW_PX = 720;
const MAP_WIDTH_SHARE = 0.62; // of a wide container, before the height grows past `height`
const MAX_WINDOW_SHARE = 0.8; // of the window's height, the most the component grows to
const FALLBACK_COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"];
const DIVERGED_COLOR = "#d7191c";
const HALO = "rgba(255, 255, 255, 0.85)";
const STAR_FILL = "#ffd43b";
const STAR_EDGE = "#1d1d1f";
const SUPERSCRIPT = { "-": "\u207b", 0: "\u2070", 1: "\u00b9", 2: "\u00b2", 3: "\u00b3", 4: "\u2074", 5: "\u2075", 6: "\u2076", 7: "\u2077", 8: "\u2078", 9: "\u2079" };

export default function mountRace(component) {
  const { data, parentElement, setTriggerValue } = component;
  const root = parentElement.querySelector(".race");
  if (!root) return undefined;
  let race = root.__descentRace;
  if (!race || race.destroyed) {
    race = new Race(root);
    root.__descentRace = race;
  }
  race.sendTrigger = setTriggerValue;
  race.load(data);
  return () => race.destroy();
}

// ---------------------------------------------------------------- helpers --

function clamp(v, lo, hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

// Nice tick values (1, 2, 5 times a power of ten) covering [lo, hi].
function niceTicks(lo, hi, target) {
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

function tickFormatter(step, values) {
  const big = values.some((v) => Math.abs(v) >= 1e5);
  const tiny = step < 1e-4;
  if (big || tiny) return (v) => (v === 0 ? "0" : v.toExponential(1).replace("e+", "e"));
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return (v) => {
    const s = v.toFixed(decimals);
    return /^-0(\.0*)?$/.test(s) ? s.slice(1) : s;
  };
}

function superscript(n) {
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

// Liang-Barsky: the part of segment (x0,y0)-(x1,y1) inside rect, or null.
function clipSegment(x0, y0, x1, y1, r) {
  const dx = x1 - x0;
  const dy = y1 - y0;
  let t0 = 0;
  let t1 = 1;
  const p = [-dx, dx, -dy, dy];
  const q = [x0 - r.x0, r.x1 - x0, y0 - r.y0, r.y1 - y0];
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
  return [x0 + t0 * dx, y0 + t0 * dy, x0 + t1 * dx, y0 + t1 * dy];
}

// Pixel coordinates far outside the view are pinned to a guard box, so
// canvas never sees overflowing numbers from a diverging path.
const PIXEL_LIMIT = 1e7;
function safePixel(v) {
  if (Number.isNaN(v)) return 0;
  return clamp(v, -PIXEL_LIMIT, PIXEL_LIMIT);
}

function parseRgb(css) {
  const m = /rgba?\(\s*([\d.]+)[ ,]+([\d.]+)[ ,]+([\d.]+)/.exec(css || "");
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [49, 51, 63];
}

function rgba(rgb, a) {
  return `rgba(${rgb[0]}, ${rgb[1]}, ${rgb[2]}, ${a})`;
}

function sizeCanvas(canvas, w, h, dpr) {
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

function isTyping(el) {
  if (!el || el.nodeType !== 1) return false;
  if (el.isContentEditable) return true;
  const tag = el.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag === "INPUT") return !["checkbox", "radio", "button", "submit", "reset"].includes(el.type);
  return false;
}

function isActivatable(el) {
  if (!el || el.nodeType !== 1) return false;
  const tag = el.tagName;
  if (tag === "BUTTON" || tag === "A" || tag === "SUMMARY" || tag === "INPUT") return true;
  const role = el.getAttribute("role");
  return ["button", "slider", "checkbox", "switch", "tab", "option", "link", "menuitem", "radio", "spinbutton"].includes(role);
}

// ------------------------------------------------------------ the payload --

// Check the payload's shape; return an error sentence or "".
function payloadProblem(p) {
  if (!p || typeof p !== "object") return "no race payload was given";
  for (const key of ["scene_id", "extent", "steps", "racers"]) {
    if (!(key in p)) return `the race payload has no "${key}"`;
  }
  const e = p.extent;
  if (!Array.isArray(e) || e.length !== 4 || !e.every(Number.isFinite) || !(e[1] > e[0]) || !(e[3] > e[2])) {
    return "the race payload's extent must be [xmin, xmax, ymin, ymax] with xmin < xmax and ymin < ymax";
  }
  if (!Number.isInteger(p.steps) || p.steps < 0) return "the race payload's steps must be a whole number >= 0";
  if (!Array.isArray(p.racers)) return "the race payload's racers must be a list";
  return "";
}

// Typed arrays and derived facts for one start of one racer.
function preparePath(flat, loss, divergedAt, extent, steps) {
  let n = Math.min(Math.floor((flat?.length ?? 0) / 2), steps + 1);
  if (Number.isInteger(divergedAt)) n = Math.min(n, divergedAt + 1);
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  const ls = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    xs[i] = flat[2 * i];
    ys[i] = flat[2 * i + 1];
    const l = loss?.[i];
    ls[i] = typeof l === "number" ? l : NaN;
  }
  const endFrame = Number.isInteger(divergedAt) ? divergedAt : n < steps + 1 ? n : null;
  return {
    n,
    xs,
    ys,
    loss: ls,
    divergedAt: endFrame,
    exit: endFrame === null || n === 0 ? null : exitPoint(xs, ys, n, extent),
    px: new Float64Array(n),
    py: new Float64Array(n),
    inside: new Uint8Array(n),
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

// ---------------------------------------------------------------- the race --

class Race {
  constructor(root) {
    this.root = root;
    this.destroyed = false;
    this.sendTrigger = null;
    this.payload = null;
    this.height = 620;
    this.pos = 0;
    this.playing = false;
    this.scrubbing = false;
    this.speed = 1;
    this.logScale = false;
    this.click = null;
    this.hover = null;
    this.image = null;
    this.imageSrc = "";
    this.raf = 0;
    this.lastTs = null;
    this.frameTimes = [];
    this.renderMs = 0;
    this.fpsShownAt = 0;
    this.shownFrame = -1;
    this.legendFrame = -1;
    this.legendAt = 0;
    this.mapTrailFrame = 0;
    this.lossTrailFrame = 0;
    this.width = 0;
    this.presenterKeys = false;
    this.lowRes = false;
    this.slowSince = null;

    const $ = (sel) => root.querySelector(sel);
    this.el = {
      title: $(".race-title"),
      map: $(".race-map"),
      mapBg: $(".race-map-bg"),
      mapTrail: $(".race-map-trail"),
      mapTop: $(".race-map-top"),
      coords: $(".race-coords"),
      body: $(".race-body"),
      head: $(".race-head"),
      side: $(".race-side"),
      legend: $(".race-legend"),
      loss: $(".race-loss"),
      lossBg: $(".race-loss-bg"),
      lossTrail: $(".race-loss-trail"),
      lossTop: $(".race-loss-top"),
      lossWhich: $(".race-loss-which"),
      lossNote: $(".race-loss-note"),
      log: $(".race-log"),
      controls: $(".race-controls"),
      play: $(".race-play"),
      scrub: $(".race-scrub"),
      frame: $(".race-frame"),
      speed: $(".race-speed"),
      fps: $(".race-fps"),
      error: $(".race-error"),
    };

    this.tick = this.tick.bind(this);
    this.onKeyDown = this.onKeyDown.bind(this);
    this.onKeyUp = this.onKeyUp.bind(this);
    this.onDocumentKeyDown = this.onDocumentKeyDown.bind(this);
    this.onDprChange = this.onDprChange.bind(this);

    this.listen();
    this.resizeObserver = new ResizeObserver(() => {
      const w = this.root.clientWidth;
      if (w !== this.width) this.layout();
    });
    this.resizeObserver.observe(root);
    this.onWindowResize = () => this.layout();
    window.addEventListener("resize", this.onWindowResize);
    // The legend can grow (a start diverges), which shrinks the loss chart.
    this.lossObserver = new ResizeObserver(() => {
      const size = this.lossSize;
      const box = this.el.loss;
      if (size && (Math.floor(box.clientWidth) !== size[0] || Math.floor(box.clientHeight) !== size[1])) {
        this.layoutLoss();
        this.requestRender();
      }
    });
    this.lossObserver.observe(this.el.loss);
    this.watchDpr();
    // Canvas text needs the page's web font; redraw once it is in.
    document.fonts?.ready?.then(() => !this.destroyed && this.layout());
  }

  // ------------------------------------------------------------ lifecycle --

  load(data) {
    const payload = data?.payload;
    if (Number.isFinite(data?.height) && data.height > 0) this.height = data.height;
    const problem = payloadProblem(payload);
    this.el.error.hidden = !problem;
    this.el.error.textContent = problem ? `Cannot show the race: ${problem}.` : "";
    if (problem) {
      this.setPlaying(false);
      return;
    }
    const previous = this.payload;
    const sameScene = previous !== null && previous.scene_id === payload.scene_id;
    this.payload = payload;
    this.prepare(payload);

    if (!sameScene) {
      this.pos = 0;
      this.click = null;
      this.logScale = Boolean(payload.loss_log);
      this.setPlaying(Boolean(payload.autoplay) && this.steps > 0);
    } else {
      this.pos = Math.min(this.pos, this.steps);
      if (Boolean(previous.loss_log) !== Boolean(payload.loss_log)) this.logScale = Boolean(payload.loss_log);
      if (this.pos >= this.steps && this.playing) this.setPlaying(false);
    }
    this.el.log.checked = this.logScale;

    this.root.classList.toggle("presenter", Boolean(payload.presenter));
    this.setPresenterKeys(Boolean(payload.presenter));
    this.el.title.textContent = payload.title ?? "";
    this.el.scrub.max = String(this.steps);
    this.buildLegend();
    this.loadImage(typeof payload.image === "string" ? payload.image : "");
    this.layout();
  }

  destroy() {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.raf) cancelAnimationFrame(this.raf);
    this.raf = 0;
    this.resizeObserver.disconnect();
    window.removeEventListener("resize", this.onWindowResize);
    this.lossObserver.disconnect();
    this.setPresenterKeys(false);
    this.dprQuery?.removeEventListener("change", this.onDprChange);
    this.root.removeEventListener("keydown", this.onKeyDown);
    this.root.removeEventListener("keyup", this.onKeyUp);
    if (this.root.__descentRace === this) this.root.__descentRace = null;
  }

  prepare(p) {
    this.steps = p.steps;
    this.extent = p.extent.map(Number);
    this.rate = Math.min(STEPS_PER_SECOND, Math.max(this.steps, 1) / MIN_RACE_SECONDS);
    this.racers = p.racers.map((r, i) => {
      const color = /^#[0-9a-f]{6}$/i.test(r?.color ?? "") ? r.color : FALLBACK_COLORS[i % FALLBACK_COLORS.length];
      const paths = Array.isArray(r?.paths) ? r.paths : [];
      const starts = paths.map((flat, j) => preparePath(flat, r.loss?.[j], r.diverged_at?.[j], this.extent, this.steps));
      return { label: String(r?.label ?? `racer ${i + 1}`), color, starts };
    });
    this.paths = this.racers.flatMap((r) => r.starts.map((s) => ({ ...s, color: r.color })));
    // The loss chart follows each racer's first start.
    this.series = this.racers.map((r) => (r.starts.length ? { ...r.starts[0], color: r.color, lx: null, ly: null } : null));
    this.multiStart = this.racers.some((r) => r.starts.length > 1);
    this.minima = (Array.isArray(p.minima) ? p.minima : []).filter((m) => Array.isArray(m) && m.length >= 2 && m.every(Number.isFinite));
    const seen = new Set();
    this.startPoints = [];
    for (const path of this.paths) {
      if (!path.n) continue;
      const key = `${path.xs[0]},${path.ys[0]}`;
      if (!seen.has(key)) {
        seen.add(key);
        this.startPoints.push([path.xs[0], path.ys[0]]);
      }
    }
    this.shownFrame = -1;
    this.legendFrame = -1;
  }

  loadImage(src) {
    if (src === this.imageSrc) return;
    this.imageSrc = src;
    this.image = null;
    if (!src) return;
    const img = new Image();
    img.onload = () => {
      if (this.destroyed || this.imageSrc !== src) return;
      this.image = img;
      this.layout();
    };
    img.src = src;
  }

  // ------------------------------------------------------------- controls --

  listen() {
    const { root, el } = this;
    root.addEventListener("keydown", this.onKeyDown);
    root.addEventListener("keyup", this.onKeyUp);
    el.controls.addEventListener("click", (e) => {
      const button = e.target.closest("[data-action]");
      if (!button) return;
      const action = button.dataset.action;
      if (action === "play") this.setPlaying(!this.playing);
      else if (action === "back") this.stepBy(-1);
      else if (action === "forward") this.stepBy(1);
      else if (action === "restart") this.restart();
    });
    el.scrub.addEventListener("input", () => this.seek(Number(el.scrub.value)));
    el.scrub.addEventListener("pointerdown", () => {
      this.scrubbing = true;
    });
    const endScrub = () => {
      this.scrubbing = false;
      this.lastTs = null;
    };
    el.scrub.addEventListener("pointerup", endScrub);
    el.scrub.addEventListener("pointercancel", endScrub);
    el.scrub.addEventListener("change", endScrub);
    el.speed.addEventListener("change", () => {
      const v = Number(el.speed.value);
      this.speed = SPEEDS.includes(v) ? v : 1;
    });
    el.log.addEventListener("change", () => {
      this.logScale = el.log.checked;
      this.layoutLoss();
      this.requestRender();
    });
    el.mapTop.addEventListener("click", (e) => this.onMapClick(e));
    el.mapTop.addEventListener("pointermove", (e) => this.onMapHover(e));
    el.mapTop.addEventListener("pointerleave", () => {
      this.hover = null;
      el.coords.hidden = true;
    });
  }

  setPlaying(on) {
    if (on && this.pos >= this.steps) this.pos = 0;
    this.playing = Boolean(on) && this.steps > 0;
    this.lastTs = null;
    this.frameTimes.length = 0;
    this.root.classList.toggle("playing", this.playing);
    const label = this.playing ? "Pause" : "Play";
    this.el.play.setAttribute("aria-label", label);
    this.el.play.title = `${label} (Space)`;
    this.el.frame.dataset.playing = String(this.playing);
    this.requestRender();
  }

  stepBy(delta) {
    this.setPlaying(false);
    const k = delta > 0 ? Math.floor(this.pos) + delta : Math.ceil(this.pos) + delta;
    this.seek(k);
  }

  seek(k) {
    this.pos = clamp(Number.isFinite(k) ? k : 0, 0, this.steps);
    this.requestRender();
  }

  restart() {
    this.pos = 0;
    this.setPlaying(true);
  }

  keyAction(e) {
    switch (e.key) {
      case " ":
      case "Spacebar":
        return () => this.setPlaying(!this.playing);
      case "ArrowLeft":
        return () => this.stepBy(-1);
      case "ArrowRight":
        return () => this.stepBy(1);
      case "Home":
        return () => this.restart();
      case "End":
        return () => {
          this.setPlaying(false);
          this.seek(this.steps);
        };
      default:
        return null;
    }
  }

  onKeyDown(e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || !this.payload) return;
    const target = e.composedPath()[0];
    // The speed menu and the log switch keep their own keys.
    if (target === this.el.speed || target === this.el.log) return;
    const action = this.keyAction(e);
    if (!action) return;
    e.preventDefault();
    action();
  }

  onKeyUp(e) {
    // A focused button would otherwise also "click" on the space bar's release.
    if (e.key === " " && e.composedPath()[0] !== this.el.log) e.preventDefault();
  }

  onDocumentKeyDown(e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || !this.payload) return;
    const path = e.composedPath();
    if (path.includes(this.root)) return; // our own listener has it
    const target = path[0];
    if (isTyping(target) || isActivatable(target)) return;
    const action = this.keyAction(e);
    if (!action) return;
    e.preventDefault();
    action();
  }

  setPresenterKeys(on) {
    if (on === this.presenterKeys) return;
    this.presenterKeys = on;
    if (on) document.addEventListener("keydown", this.onDocumentKeyDown);
    else document.removeEventListener("keydown", this.onDocumentKeyDown);
  }

  // Map pixel (CSS px, relative to the map) to data coordinates, or null outside the plot.
  pixelToData(mx, my) {
    const r = this.plot;
    if (!r || mx < r.l || mx > r.l + r.w || my < r.t || my > r.t + r.h) return null;
    const [x0, x1, y0, y1] = this.extent;
    return [x0 + ((mx - r.l) / r.w) * (x1 - x0), y1 - ((my - r.t) / r.h) * (y1 - y0)];
  }

  eventToData(e) {
    const box = this.el.mapTop.getBoundingClientRect();
    return this.pixelToData(e.clientX - box.left, e.clientY - box.top);
  }

  onMapClick(e) {
    const xy = this.eventToData(e);
    if (!xy) return;
    const [x0, x1, y0, y1] = this.extent;
    // Enough digits for a screen pixel, no float noise in the URL.
    const round = (v, span) => {
      const digits = clamp(Math.ceil(-Math.log10(span / 1e4)), 0, 12);
      return Number(v.toFixed(digits));
    };
    const point = [round(xy[0], x1 - x0), round(xy[1], y1 - y0)];
    this.click = point;
    this.requestRender();
    if (this.sendTrigger) this.sendTrigger("click", point);
  }

  onMapHover(e) {
    const xy = this.eventToData(e);
    this.hover = xy;
    const c = this.el.coords;
    if (!xy) {
      c.hidden = true;
      return;
    }
    const [x0, x1, y0, y1] = this.extent;
    const fmtX = tickFormatter((x1 - x0) / 1000, [x0, x1]);
    const fmtY = tickFormatter((y1 - y0) / 1000, [y0, y1]);
    c.textContent = `x ${fmtX(xy[0])}   y ${fmtY(xy[1])}`;
    c.hidden = false;
  }

  watchDpr() {
    this.dprQuery?.removeEventListener("change", this.onDprChange);
    this.dprQuery = window.matchMedia(`(resolution: ${window.devicePixelRatio || 1}dppx)`);
    this.dprQuery.addEventListener("change", this.onDprChange);
  }

  onDprChange() {
    this.watchDpr();
    this.layout();
  }

  // --------------------------------------------------------------- layout --

  theme() {
    const cs = getComputedStyle(this.root);
    const text = parseRgb(cs.color);
    const scale = this.payload?.presenter ? 1.3 : 1;
    return {
      scale,
      text,
      ink: rgba(text, 0.92),
      muted: rgba(text, 0.68),
      faint: rgba(text, 0.16),
      grid: rgba(text, 0.08),
      bg: cs.backgroundColor && cs.backgroundColor !== "rgba(0, 0, 0, 0)" ? cs.backgroundColor : "#ffffff",
      panel: rgba(text, 0.05),
      font: cs.fontFamily,
      fontPx: Math.round(13 * scale),
    };
  }

  layout() {
    if (this.destroyed || !this.payload || !this.el.error.hidden) return;
    const W = this.root.clientWidth;
    if (!W) return;
    this.width = W;
    const th = (this.th = this.theme());
    const narrow = W < NARROW_BELOW_PX * th.scale;
    this.root.classList.toggle("narrow", narrow);
    this.dpr = window.devicePixelRatio || 1;

    const aspect = this.image ? this.image.naturalWidth / this.image.naturalHeight : 4 / 3;
    const f = th.fontPx;
    const ctx = this.el.mapBg.getContext("2d");
    ctx.font = `${f}px ${th.font}`;
    const [x0, x1, y0, y1] = this.extent;

    const measureY = (plotH) => {
      const t = niceTicks(y0, y1, Math.max(2, Math.floor(plotH / (f * 4.5))));
      const fmt = tickFormatter(t.step, t.values);
      return Math.max(...t.values.map((v) => ctx.measureText(fmt(v)).width));
    };
    const margins = (plotH) => ({ l: Math.ceil(measureY(plotH) + f * 2.4 + 8), r: Math.ceil(f * 1.2), t: Math.ceil(f * 0.9), b: Math.ceil(f * 3.3) });

    let plotW;
    let plotH;
    let m;
    if (!narrow) {
      const gap = parseFloat(getComputedStyle(this.root).rowGap) || 12;
      const bodyGap = parseFloat(getComputedStyle(this.el.body).columnGap) || 16;
      const chrome = this.el.head.offsetHeight + this.el.controls.offsetHeight + 2 * gap;
      // On a wide container (a projector) a map held to `height` would leave
      // most of the width to the side panel: grow until the map takes its
      // share of the width, but never past most of the window's height.
      m = margins(this.height - chrome);
      const wanted = (W * MAP_WIDTH_SHARE - m.l - m.r) / aspect + m.t + m.b + chrome;
      const ceiling = Math.max(this.height, window.innerHeight * MAX_WINDOW_SHARE);
      this.usedHeight = Math.round(clamp(wanted, this.height, ceiling));
      const availH = this.usedHeight - chrome;
      const availW = W - Math.round(260 * th.scale) - bodyGap;
      m = margins(availH);
      plotH = Math.max(60, availH - m.t - m.b);
      plotW = plotH * aspect;
      if (plotW > availW - m.l - m.r) {
        plotW = Math.max(60, availW - m.l - m.r);
        plotH = plotW / aspect;
      }
    } else {
      m = margins(W / aspect);
      plotW = Math.max(60, W - m.l - m.r);
      plotH = plotW / aspect;
      const cap = Math.max(160, W * 0.9);
      if (plotH > cap) {
        plotH = cap;
        plotW = plotH * aspect;
      }
    }
    this.root.style.minHeight = narrow ? "" : `${this.usedHeight}px`;
    plotW = Math.floor(plotW);
    plotH = Math.floor(plotH);
    this.plot = { l: m.l, t: m.t, w: plotW, h: plotH };
    const mapW = m.l + plotW + m.r;
    const mapH = m.t + plotH + m.b;
    this.el.map.style.width = `${mapW}px`;
    this.el.map.style.height = `${mapH}px`;
    this.mapSize = [mapW, mapH];
    this.ctxMapBg = sizeCanvas(this.el.mapBg, mapW, mapH, this.dpr);
    this.ctxMapTrail = sizeCanvas(this.el.mapTrail, mapW, mapH, this.movingDpr());
    this.ctxMapTop = sizeCanvas(this.el.mapTop, mapW, mapH, this.movingDpr());
    this.el.fps.dataset.scale = String(this.movingDpr());
    // Tests and the app's own checks read where the plot sits inside the map.
    const ds = this.el.mapTop.dataset;
    ds.plotLeft = String(m.l);
    ds.plotTop = String(m.t);
    ds.plotWidth = String(plotW);
    ds.plotHeight = String(plotH);
    this.el.coords.style.right = `${m.r + 8}px`;
    this.el.coords.style.top = `${m.t + 8}px`;

    this.projectPaths();
    this.drawMapBackground();
    this.mapTrailFrame = 0;
    this.layoutLoss();
    this.shownFrame = -1;
    this.requestRender();
  }

  projectPaths() {
    const [x0, x1, y0, y1] = this.extent;
    const { l, t, w, h } = this.plot;
    const sx = w / (x1 - x0);
    const sy = h / (y1 - y0);
    const guard = { x0: l - 50, x1: l + w + 50, y0: t - 50, y1: t + h + 50 };
    this.mapGuard = guard;
    for (const p of this.paths) {
      for (let i = 0; i < p.n; i++) {
        const px = safePixel(l + (p.xs[i] - x0) * sx);
        const py = safePixel(t + (y1 - p.ys[i]) * sy);
        p.px[i] = px;
        p.py[i] = py;
        p.inside[i] = px >= guard.x0 && px <= guard.x1 && py >= guard.y0 && py <= guard.y1 ? 1 : 0;
      }
    }
  }

  toMapPixel(x, y) {
    const [x0, x1, y0, y1] = this.extent;
    const { l, t, w, h } = this.plot;
    return [safePixel(l + ((x - x0) / (x1 - x0)) * w), safePixel(t + ((y1 - y) / (y1 - y0)) * h)];
  }

  layoutLoss() {
    if (!this.plot) return;
    const th = this.th;
    const W = Math.floor(this.el.loss.clientWidth);
    const H = Math.floor(this.el.loss.clientHeight);
    if (W < 40 || H < 40) return;
    this.lossSize = [W, H];
    const f = th.fontPx;
    const ctx = sizeCanvas(this.el.lossBg, W, H, this.dpr);
    this.ctxLossBg = ctx;
    this.ctxLossTrail = sizeCanvas(this.el.lossTrail, W, H, this.movingDpr());
    this.ctxLossTop = sizeCanvas(this.el.lossTop, W, H, this.movingDpr());
    ctx.font = `${f}px ${th.font}`;

    // The scale: log only where every loss shown is positive. A racer that
    // blows up would flatten everyone else, so the top of the range follows
    // the racers that did not diverge; the diverged leave at the top.
    const shown = this.series.filter((s) => s && s.n);
    const kept = shown.filter((s) => s.divergedAt === null);
    let lo = Infinity;
    let top = -Infinity;
    for (const s of shown) {
      const keep = !kept.length || s.divergedAt === null;
      for (let i = 0; i < s.n; i++) {
        const v = s.loss[i];
        if (!Number.isFinite(v)) continue;
        if (v < lo) lo = v;
        if (keep && v > top) top = v;
      }
    }
    if (!Number.isFinite(lo)) lo = 0;
    if (!Number.isFinite(top)) top = lo + 1;
    const allPositive = shown.length > 0 && lo > 0;
    const useLog = this.logScale && allPositive;
    let hi;
    if (useLog) {
      hi = Math.ceil(Math.log10(top));
      lo = Math.floor(Math.log10(lo));
      if (hi <= lo) hi = lo + 1;
    } else {
      hi = top > lo ? top : lo + (Math.abs(lo) || 1);
      const pad = (hi - lo) * 0.05;
      lo = lo >= 0 && lo - pad < 0 ? 0 : lo - pad;
      hi += pad;
    }
    this.lossScale = { log: useLog, lo, hi };
    const note = this.el.lossNote;
    if (this.logScale && !allPositive) {
      note.textContent = "Log scale needs every loss above 0, so this chart stays linear.";
      note.hidden = false;
    } else {
      note.hidden = true;
    }
    this.el.lossWhich.textContent = this.multiStart ? "\u00b7 first start of each racer" : "";

    // Ticks, then margins from the widest label.
    const plotH0 = H - f * 3.2;
    let yTicks;
    let yFmt;
    if (useLog) {
      const span = hi - lo;
      const every = Math.max(1, Math.ceil(span / Math.max(2, Math.floor(plotH0 / (f * 2.6)))));
      yTicks = [];
      for (let d = lo; d <= hi; d += every) yTicks.push(d);
      yFmt = superscript;
    } else {
      const t = niceTicks(lo, hi, Math.max(2, Math.floor(plotH0 / (f * 4.5))));
      yTicks = t.values;
      yFmt = tickFormatter(t.step, t.values);
    }
    const labelW = Math.max(...yTicks.map((v) => ctx.measureText(yFmt(v)).width), f);
    const m = { l: Math.ceil(labelW + f * 2.2 + 8), r: Math.ceil(f * 0.9), t: Math.ceil(f * 0.7), b: Math.ceil(f * 2.9) };
    const r = { l: m.l, t: m.t, w: Math.max(10, W - m.l - m.r), h: Math.max(10, H - m.t - m.b) };
    this.lossPlot = r;

    const steps = Math.max(this.steps, 1);
    const sx = r.w / steps;
    const ySpan = hi - lo;
    const toY = useLog
      ? (v) => (v > 0 ? r.t + (1 - (Math.log10(v) - lo) / ySpan) * r.h : r.t + r.h + 1e4)
      : (v) => r.t + (1 - (v - lo) / ySpan) * r.h;
    this.lossToY = toY;
    this.lossToX = (k) => r.l + k * sx;
    for (const s of this.series) {
      if (!s) continue;
      s.lx = new Float64Array(s.n);
      s.ly = new Float64Array(s.n);
      for (let i = 0; i < s.n; i++) {
        s.lx[i] = r.l + i * sx;
        s.ly[i] = safePixel(Number.isFinite(s.loss[i]) ? toY(s.loss[i]) : r.t + r.h);
      }
    }

    // Background: grid, axes, labels.
    ctx.clearRect(0, 0, W, H);
    ctx.lineWidth = 1;
    ctx.textBaseline = "middle";
    ctx.textAlign = "right";
    for (const v of yTicks) {
      const y = Math.round(useLog ? r.t + (1 - (v - lo) / ySpan) * r.h : toY(v)) + 0.5;
      if (y < r.t - 1 || y > r.t + r.h + 1) continue;
      ctx.strokeStyle = th.grid;
      ctx.beginPath();
      ctx.moveTo(r.l, y);
      ctx.lineTo(r.l + r.w, y);
      ctx.stroke();
      ctx.strokeStyle = th.faint;
      ctx.beginPath();
      ctx.moveTo(r.l - 5, y);
      ctx.lineTo(r.l, y);
      ctx.stroke();
      ctx.fillStyle = th.muted;
      ctx.fillText(yFmt(v), r.l - 8, y);
    }
    const xt = niceTicks(0, steps, Math.max(2, Math.floor(r.w / (f * 5.5))));
    const xFmt = tickFormatter(Math.max(1, xt.step), xt.values);
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const v of xt.values) {
      if (v !== Math.round(v)) continue;
      const x = Math.round(r.l + v * sx) + 0.5;
      ctx.strokeStyle = th.faint;
      ctx.beginPath();
      ctx.moveTo(x, r.t + r.h);
      ctx.lineTo(x, r.t + r.h + 5);
      ctx.stroke();
      ctx.fillStyle = th.muted;
      ctx.fillText(xFmt(v), x, r.t + r.h + 8);
    }
    ctx.strokeStyle = th.faint;
    ctx.beginPath();
    ctx.moveTo(r.l + 0.5, r.t);
    ctx.lineTo(r.l + 0.5, r.t + r.h + 0.5);
    ctx.lineTo(r.l + r.w, r.t + r.h + 0.5);
    ctx.stroke();
    ctx.fillStyle = th.ink;
    ctx.textBaseline = "bottom";
    ctx.fillText("step", r.l + r.w / 2, H - 1);
    ctx.save();
    ctx.translate(f * 0.9, r.t + r.h / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle";
    ctx.fillText(useLog ? "loss (log)" : "loss", 0, 0);
    ctx.restore();

    this.lossTrailFrame = 0;
    this.shownFrame = -1;
  }

  drawMapBackground() {
    const ctx = this.ctxMapBg;
    const th = this.th;
    const f = th.fontPx;
    const { l, t, w, h } = this.plot;
    const [mapW, mapH] = this.mapSize;
    const [x0, x1, y0, y1] = this.extent;
    ctx.clearRect(0, 0, mapW, mapH);
    ctx.font = `${f}px ${th.font}`;
    if (this.image) {
      ctx.imageSmoothingEnabled = true;
      ctx.imageSmoothingQuality = "high";
      ctx.drawImage(this.image, l, t, w, h);
    } else {
      ctx.fillStyle = th.panel;
      ctx.fillRect(l, t, w, h);
    }
    ctx.strokeStyle = th.faint;
    ctx.lineWidth = 1;
    ctx.strokeRect(l - 0.5, t - 0.5, w + 1, h + 1);

    ctx.fillStyle = th.muted;
    const xt = niceTicks(x0, x1, Math.max(2, Math.floor(w / (f * 6))));
    const xFmt = tickFormatter(xt.step, xt.values);
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const v of xt.values) {
      const x = Math.round(l + ((v - x0) / (x1 - x0)) * w) + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, t + h);
      ctx.lineTo(x, t + h + 5);
      ctx.stroke();
      ctx.fillText(xFmt(v), x, t + h + 8);
    }
    const yt = niceTicks(y0, y1, Math.max(2, Math.floor(h / (f * 4.5))));
    const yFmt = tickFormatter(yt.step, yt.values);
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const v of yt.values) {
      const y = Math.round(t + ((y1 - v) / (y1 - y0)) * h) + 0.5;
      ctx.beginPath();
      ctx.moveTo(l - 5, y);
      ctx.lineTo(l, y);
      ctx.stroke();
      ctx.fillText(yFmt(v), l - 8, y);
    }
    ctx.fillStyle = th.ink;
    ctx.font = `italic ${Math.round(f * 1.1)}px ${th.font}`;
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.fillText("x", l + w / 2, mapH - 2);
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    ctx.fillText("y", 2, t + h / 2);
  }

  // --------------------------------------------------------------- legend --

  buildLegend() {
    const ul = this.el.legend;
    ul.replaceChildren();
    this.legendRows = this.racers.map((r) => {
      const li = document.createElement("li");
      li.style.setProperty("--racer", r.color);
      const sw = document.createElement("span");
      sw.className = "race-swatch";
      const label = document.createElement("span");
      label.className = "race-label";
      label.textContent = r.label;
      label.title = r.label;
      const value = document.createElement("span");
      value.className = "race-value";
      const extra = document.createElement("span");
      extra.className = "race-extra";
      extra.hidden = true;
      li.append(sw, label, value, extra);
      ul.append(li);
      return { li, value, extra, text: "", extraText: "" };
    });
  }

  updateLegend(k) {
    this.racers.forEach((r, i) => {
      const row = this.legendRows[i];
      const first = r.starts[0];
      let text;
      let diverged = false;
      if (!first || first.n === 0) {
        text = "no path";
      } else if (first.divergedAt !== null && k >= first.divergedAt) {
        text = `\u2715 diverged at step ${first.divergedAt}`;
        diverged = true;
      } else {
        text = formatLoss(first.loss[Math.min(k, first.n - 1)]);
      }
      if (text !== row.text) {
        row.text = text;
        row.li.classList.toggle("diverged", diverged);
        if (diverged) {
          row.value.textContent = text;
        } else {
          const unit = document.createElement("span");
          unit.className = "unit";
          unit.textContent = "loss";
          row.value.replaceChildren(unit, text);
        }
      }
      let extraText = "";
      if (r.starts.length > 1) {
        const gone = r.starts.slice(1).filter((s) => s.divergedAt !== null && k >= s.divergedAt);
        const at = Math.min(...gone.map((s) => s.divergedAt));
        if (gone.length === 1) extraText = `start ${r.starts.indexOf(gone[0]) + 1} diverged at step ${at}`;
        else if (gone.length > 1) extraText = `${gone.length} more starts diverged, the first at step ${at}`;
      }
      if (extraText !== row.extraText) {
        row.extraText = extraText;
        row.extra.textContent = extraText;
        row.extra.hidden = !extraText;
      }
    });
  }

  // ------------------------------------------------------------- playback --

  requestRender() {
    if (!this.raf && !this.destroyed) this.raf = requestAnimationFrame(this.tick);
  }

  tick(ts) {
    this.raf = 0;
    if (this.destroyed) return;
    if (!this.root.isConnected) {
      this.destroy();
      return;
    }
    if (this.playing && !this.scrubbing) {
      if (this.lastTs !== null) {
        const dt = Math.min(ts - this.lastTs, MAX_FRAME_GAP_MS) / 1000;
        this.pos += dt * this.rate * this.speed;
        if (this.pos >= this.steps) {
          this.pos = this.steps;
          this.setPlaying(false);
        }
      }
      this.lastTs = ts;
      this.measureFps(ts);
    }
    const t0 = performance.now();
    this.render();
    this.renderMs = this.renderMs * 0.9 + (performance.now() - t0) * 0.1;
    if (this.playing) this.raf = requestAnimationFrame(this.tick);
  }

  measureFps(ts) {
    const times = this.frameTimes;
    times.push(ts);
    while (times.length > 2 && ts - times[0] > 1000) times.shift();
    if (ts - this.fpsShownAt > 250 && times.length > 2) {
      this.fpsShownAt = ts;
      const fps = ((times.length - 1) * 1000) / (times[times.length - 1] - times[0]);
      this.el.fps.dataset.fps = fps.toFixed(1);
      this.el.fps.dataset.renderMs = this.renderMs.toFixed(2);
      this.el.fps.textContent = `${fps.toFixed(0)} fps`;
      this.adaptResolution(ts, fps, times[times.length - 1] - times[0]);
    }
  }

  // Resolution of the layers redrawn every frame (trails, heads, cursor).
  // Without a GPU, every changed canvas is copied whole each frame, so on a
  // HiDPI screen four times the pixels cost four times as much. If playback
  // stays slow, those layers drop to one pixel per CSS pixel (the map image
  // and the text stay sharp); it does not switch back during the session.
  movingDpr() {
    return this.lowRes ? Math.min(this.dpr, 1) : this.dpr;
  }

  adaptResolution(ts, fps, spanMs) {
    if (this.lowRes || this.dpr <= 1 || spanMs < 500) return;
    if (fps >= SLOW_FPS) {
      this.slowSince = null;
    } else if (this.slowSince == null) {
      this.slowSince = ts;
    } else if (ts - this.slowSince > SLOW_FOR_MS) {
      this.lowRes = true;
      this.layout();
    }
  }

  render() {
    if (!this.plot || !this.el.error.hidden) return;
    const k = Math.floor(this.pos);
    this.drawMapTrails(k);
    this.drawMapTop(k);
    if (this.lossPlot) {
      this.drawLossTrails(k);
      this.drawLossTop(k);
    }
    if (k !== this.shownFrame) {
      this.shownFrame = k;
      const fr = this.el.frame;
      fr.textContent = `step ${k} / ${this.steps}`;
      fr.dataset.frame = String(k);
      if (!this.scrubbing) this.el.scrub.value = String(k);
    }
    // Numbers changing 60 times a second cannot be read; 10 times can.
    const now = performance.now();
    if (k !== this.legendFrame && (!this.playing || now - this.legendAt >= LEGEND_EVERY_MS)) {
      this.legendFrame = k;
      this.legendAt = now;
      this.updateLegend(k);
    }
  }

  // Stroke segments a..b of a projected path, clipping the parts that run
  // far outside the view so a diverging path draws exactly what is visible.
  tracePath(ctx, p, a, b) {
    const g = this.mapGuard;
    let pen = false;
    for (let i = a; i < b; i++) {
      if (p.inside[i] && p.inside[i + 1]) {
        if (!pen) ctx.moveTo(p.px[i], p.py[i]);
        ctx.lineTo(p.px[i + 1], p.py[i + 1]);
        pen = true;
      } else {
        const c = clipSegment(p.px[i], p.py[i], p.px[i + 1], p.py[i + 1], g);
        if (c) {
          ctx.moveTo(c[0], c[1]);
          ctx.lineTo(c[2], c[3]);
        }
        pen = Boolean(c) && p.inside[i + 1] === 1;
      }
    }
  }

  mapLineWidth() {
    return 2.6 * this.th.scale;
  }

  // The colour, then a white halo drawn *behind* everything already on the
  // layer (destination-over): halos never cover any trail's colour, however
  // small the steps and however the racers' paths overlap.
  strokeTrail(ctx, p, a, b) {
    const lw = this.mapLineWidth();
    ctx.strokeStyle = p.color;
    ctx.lineWidth = lw;
    ctx.beginPath();
    this.tracePath(ctx, p, a, b);
    ctx.stroke();
    ctx.globalCompositeOperation = "destination-over";
    ctx.strokeStyle = HALO;
    ctx.lineWidth = lw + 3 * this.th.scale;
    ctx.stroke();
    ctx.globalCompositeOperation = "source-over";
  }

  drawMapTrails(k) {
    const ctx = this.ctxMapTrail;
    const { l, t, w, h } = this.plot;
    if (k < this.mapTrailFrame) {
      ctx.clearRect(0, 0, this.mapSize[0], this.mapSize[1]);
      this.mapTrailFrame = 0;
    }
    if (k === this.mapTrailFrame) return;
    ctx.save();
    ctx.beginPath();
    ctx.rect(l, t, w, h);
    ctx.clip();
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    for (const p of this.paths) {
      const a = Math.min(this.mapTrailFrame, p.n - 1);
      const b = Math.min(k, p.n - 1);
      if (b > a) this.strokeTrail(ctx, p, a, b);
    }
    ctx.restore();
    this.mapTrailFrame = k;
  }

  drawMapTop(k) {
    const ctx = this.ctxMapTop;
    const th = this.th;
    const s = th.scale;
    const { l, t, w, h } = this.plot;
    const frac = this.pos - k;
    ctx.clearRect(0, 0, this.mapSize[0], this.mapSize[1]);
    ctx.save();
    ctx.beginPath();
    ctx.rect(l, t, w, h);
    ctx.clip();
    ctx.lineCap = "round";
    ctx.lineJoin = "round";

    for (const [x, y] of this.startPoints) {
      const [px, py] = this.toMapPixel(x, y);
      ctx.beginPath();
      ctx.arc(px, py, 5.5 * s, 0, 2 * Math.PI);
      ctx.fillStyle = "#ffffff";
      ctx.fill();
      ctx.lineWidth = 2 * s;
      ctx.strokeStyle = STAR_EDGE;
      ctx.stroke();
    }

    // The moving part of each trail: from the last whole step to the head.
    const heads = [];
    for (const p of this.paths) {
      if (!p.n) continue;
      if (p.divergedAt !== null && k >= p.divergedAt) continue;
      const i = Math.min(k, p.n - 1);
      let hx = p.px[i];
      let hy = p.py[i];
      if (i + 1 < p.n && frac > 0) {
        hx = p.px[i] + (p.px[i + 1] - p.px[i]) * frac;
        hy = p.py[i] + (p.py[i + 1] - p.py[i]) * frac;
        const g = this.mapGuard;
        const headIn = hx >= g.x0 && hx <= g.x1 && hy >= g.y0 && hy <= g.y1 ? 1 : 0;
        this.strokeTrail(ctx, { px: [p.px[i], hx], py: [p.py[i], hy], inside: [p.inside[i], headIn], color: p.color }, 0, 1);
      }
      heads.push([hx, hy, p.color]);
    }

    for (const m of this.minima) {
      const [px, py] = this.toMapPixel(m[0], m[1]);
      drawStar(ctx, px, py, 9 * s, 1.6 * s);
    }

    for (const [hx, hy, color] of heads) {
      ctx.beginPath();
      ctx.arc(hx, hy, 6.5 * s, 0, 2 * Math.PI);
      ctx.fillStyle = color;
      ctx.fill();
      ctx.lineWidth = 2.2 * s;
      ctx.strokeStyle = "#ffffff";
      ctx.stroke();
      ctx.beginPath();
      ctx.arc(hx, hy, 7.8 * s, 0, 2 * Math.PI);
      ctx.lineWidth = 1;
      ctx.strokeStyle = "rgba(0, 0, 0, 0.45)";
      ctx.stroke();
    }
    ctx.restore();

    // Diverged markers sit on the window's edge, so they are not clipped.
    for (const p of this.paths) {
      if (p.exit && k >= p.divergedAt) {
        const [px, py] = this.toMapPixel(p.exit[0], p.exit[1]);
        drawCross(ctx, clamp(px, l, l + w), clamp(py, t, t + h), 7 * s, s);
      }
    }

    if (this.click) {
      const [px, py] = this.toMapPixel(this.click[0], this.click[1]);
      const r = 8 * s;
      ctx.lineWidth = 3.5 * s;
      ctx.strokeStyle = "rgba(255, 255, 255, 0.9)";
      ctx.beginPath();
      ctx.arc(px, py, r, 0, 2 * Math.PI);
      ctx.stroke();
      ctx.lineWidth = 1.8 * s;
      ctx.strokeStyle = STAR_EDGE;
      ctx.beginPath();
      ctx.arc(px, py, r, 0, 2 * Math.PI);
      ctx.moveTo(px - r - 4 * s, py);
      ctx.lineTo(px - r + 3 * s, py);
      ctx.moveTo(px + r - 3 * s, py);
      ctx.lineTo(px + r + 4 * s, py);
      ctx.moveTo(px, py - r - 4 * s);
      ctx.lineTo(px, py - r + 3 * s);
      ctx.moveTo(px, py + r - 3 * s);
      ctx.lineTo(px, py + r + 4 * s);
      ctx.stroke();
    }
  }

  drawLossTrails(k) {
    const ctx = this.ctxLossTrail;
    const r = this.lossPlot;
    if (k < this.lossTrailFrame) {
      ctx.clearRect(0, 0, this.lossSize[0], this.lossSize[1]);
      this.lossTrailFrame = 0;
    }
    if (k === this.lossTrailFrame) return;
    ctx.save();
    ctx.beginPath();
    ctx.rect(r.l, r.t - 2, r.w + 2, r.h + 4);
    ctx.clip();
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.lineWidth = 2 * this.th.scale;
    for (const s of this.series) {
      if (!s || !s.lx) continue;
      const a = Math.min(this.lossTrailFrame, s.n - 1);
      const b = Math.min(k, s.n - 1);
      if (b <= a) continue;
      ctx.strokeStyle = s.color;
      ctx.beginPath();
      ctx.moveTo(s.lx[a], s.ly[a]);
      for (let i = a + 1; i <= b; i++) ctx.lineTo(s.lx[i], s.ly[i]);
      ctx.stroke();
    }
    ctx.restore();
    this.lossTrailFrame = k;
  }

  drawLossTop(k) {
    const ctx = this.ctxLossTop;
    const r = this.lossPlot;
    const th = this.th;
    const sc = th.scale;
    const frac = this.pos - k;
    ctx.clearRect(0, 0, this.lossSize[0], this.lossSize[1]);
    const cx = Math.round(this.lossToX(this.pos)) + 0.5;
    ctx.strokeStyle = rgba(th.text, 0.45);
    ctx.lineWidth = 1;
    ctx.setLineDash([4, 3]);
    ctx.beginPath();
    ctx.moveTo(cx, r.t);
    ctx.lineTo(cx, r.t + r.h);
    ctx.stroke();
    ctx.setLineDash([]);

    ctx.save();
    ctx.beginPath();
    ctx.rect(r.l, r.t - 8 * sc, r.w + 8 * sc, r.h + 16 * sc);
    ctx.clip();
    ctx.lineCap = "round";
    const crosses = [];
    for (const s of this.series) {
      if (!s || !s.lx || !s.n) continue;
      if (s.divergedAt !== null && k >= s.divergedAt) {
        crosses.push([s.lx[s.n - 1], clamp(s.ly[s.n - 1], r.t, r.t + r.h)]);
        continue;
      }
      const i = Math.min(k, s.n - 1);
      let hx = s.lx[i];
      let hy = s.ly[i];
      if (i + 1 < s.n && frac > 0) {
        hx += (s.lx[i + 1] - s.lx[i]) * frac;
        hy += (s.ly[i + 1] - s.ly[i]) * frac;
        ctx.strokeStyle = s.color;
        ctx.lineWidth = 2 * sc;
        ctx.beginPath();
        ctx.moveTo(s.lx[i], s.ly[i]);
        ctx.lineTo(hx, hy);
        ctx.stroke();
      }
      if (hy < r.t || hy > r.t + r.h) continue;
      ctx.beginPath();
      ctx.arc(hx, hy, 4.5 * sc, 0, 2 * Math.PI);
      ctx.fillStyle = s.color;
      ctx.fill();
      ctx.lineWidth = 1.8 * sc;
      ctx.strokeStyle = "#ffffff";
      ctx.stroke();
    }
    ctx.restore();
    for (const [x, y] of crosses) drawCross(ctx, x, y, 5 * sc, sc);
  }
}

function drawStar(ctx, x, y, r, lw) {
  ctx.beginPath();
  for (let i = 0; i < 10; i++) {
    const a = -Math.PI / 2 + (i * Math.PI) / 5;
    const rr = i % 2 ? r * 0.45 : r;
    const px = x + rr * Math.cos(a);
    const py = y + rr * Math.sin(a);
    if (i) ctx.lineTo(px, py);
    else ctx.moveTo(px, py);
  }
  ctx.closePath();
  ctx.fillStyle = STAR_FILL;
  ctx.fill();
  ctx.lineWidth = lw;
  ctx.lineJoin = "round";
  ctx.strokeStyle = STAR_EDGE;
  ctx.stroke();
}

function drawCross(ctx, x, y, r, s) {
  ctx.lineCap = "round";
  ctx.beginPath();
  ctx.moveTo(x - r, y - r);
  ctx.lineTo(x + r, y + r);
  ctx.moveTo(x + r, y - r);
  ctx.lineTo(x - r, y + r);
  ctx.strokeStyle = "#ffffff";
  ctx.lineWidth = 5.5 * s;
  ctx.stroke();
  ctx.strokeStyle = DIVERGED_COLOR;
  ctx.lineWidth = 3 * s;
  ctx.stroke();
}
