// Descent race animator: plays optimizer races on a contour map, in the browser.
//
// Streamlit (custom components v2) calls the default export with
// {data, parentElement, setTriggerValue, ...} on mount and again whenever the
// data changes, on the same parentElement, without calling the previous
// cleanup. So one Race lives on the root element and each call hands it the
// newest data; the returned cleanup (run on unmount) ends it.
//
// data = {payload, height} as JSON bytes; the payload is described (and checked) in
// app/race_component.py. This file wires the page: a Timeline that the map,
// the loss chart, the legend and the step counter follow, and the controls
// and keys that move it. The files before it in race_component.py's list
// hold the parts (see each file's header).

import { clamp, tickFormatter } from "./geometry.js";
import { InsidesView, probeLines } from "./insides.js";
import { isActivatable, isTyping, keyAction } from "./keys.js";
import { StepView } from "./legend.js";
import { buildOutcomeKey, snapToPixel } from "./outcome.js";
import { LossView } from "./loss_view.js";
import { MapView } from "./map_view.js";
import { prepareRace } from "./race_data.js";
import { Timeline } from "./timeline.js";
import { View3D } from "./view3d.js";

const SLOW_FPS = 40; // below this for SLOW_FOR_MS, moving layers drop to 1x resolution
const SLOW_FOR_MS = 1500;
const NARROW_BELOW_PX = 720;
const MAP_WIDTH_SHARE = 0.62; // of a wide container, before the height grows past `height`
const MAX_WINDOW_SHARE = 0.8; // of the window's height, the most the component grows to
const PRESENTER_MARGIN_PX = 12; // kept free below the component in presenter mode (and on the first screen)
const NORMAL_MIN_PX = 440; // below this room under its top, a normal-mode component keeps its height and scrolls
// "Both" (map and 3-D side by side) from this component width: two views of about 500 px and the side panel.
const BOTH_FROM_PX = 1400;
const BOTH_WIDTH_SHARE = 0.8; // of a wide container taken by the two views together, when the side panel fits beside them
// In Both the side panel is at least as wide as its content on one line (the loss chart's title and
// "log scale", the legend's rows), taken from the views' share, up to this share of the container.
const BOTH_SIDE_MAX_SHARE = 0.34;

export default function mountRace(component) {
  const { data, parentElement, setTriggerValue, setStateValue } = component;
  const root = parentElement.querySelector(".race");
  if (!root) return undefined;
  let race = root.__descentRace;
  if (!race || race.destroyed) {
    race = new Race(root);
    root.__descentRace = race;
  }
  race.sendTrigger = setTriggerValue;
  race.sendState = setStateValue;
  race.load(decodeData(data));
  return () => race.destroy();
}

// The page sends {height, payload} as JSON bytes (app/race_component.py: encoded once per scene on the
// server); what cannot be read is no payload, which load() says.
function decodeData(data) {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return null;
  }
}

function parseRgb(css) {
  const m = /rgba?\(\s*([\d.]+)[ ,]+([\d.]+)[ ,]+([\d.]+)/.exec(css || "");
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [49, 51, 63];
}

function rgba(rgb, a) {
  return `rgba(${rgb[0]}, ${rgb[1]}, ${rgb[2]}, ${a})`;
}

class Race {
  constructor(root) {
    this.root = root;
    this.destroyed = false;
    this.sendTrigger = null;
    this.sendState = null;
    this.payload = null;
    this.race = null;
    this.height = 620;
    this.width = 0;
    this.presenterKeys = false;
    this.lowRes = false;
    this.slowSince = null;
    this.imageSrc = "";

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
      insides: $(".race-insides"),
      probe: $(".race-probe"),
      insidesBtn: $(".race-insides-btn"),
      lossHead: $(".race-loss-head"),
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

    this.map = new MapView(this.el);
    this.el.outcome = document.createElement("div");
    this.el.outcome.className = "race-outcome";
    this.el.outcome.dataset.testid = "race-outcome";
    this.el.outcome.hidden = true;
    this.el.legend.after(this.el.outcome);
    this.loss = new LossView(this.el);
    this.timeline = new Timeline({
      alive: () => this.alive(),
      onPlaying: (playing) => this.showPlaying(playing),
      onFps: (fps, span, ts, renderMs) => this.showFps(fps, span, ts, renderMs),
    });
    this.view3d = new View3D(root, {
      onPick: (xy) => this.pickStart(xy),
      onShow: () => this.layout(),
      isPlaying: () => this.timeline.playing,
      // The page sends three.js once asked (app/race_component.py): one rerun, the first time only.
      needThree: () => this.sendState?.("three", true),
    });
    // The hidden map is not drawn (its trails catch up when it is shown again).
    this.timeline.follow((pos) => this.ready() && this.view3d.view !== "3d" && this.map.draw(pos));
    this.map.onRedraw = () => this.timeline.request();
    this.timeline.follow((pos) => this.ready() && this.view3d.draw(pos));
    this.timeline.follow((pos) => this.ready() && this.loss.draw(pos));
    this.stepView = new StepView(this.el, this.timeline);
    this.timeline.follow((pos) => this.ready() && this.stepView.draw(pos));
    this.insidesView = new InsidesView(this.el, this.timeline);
    this.timeline.follow((pos) => this.ready() && this.insidesView.draw(pos));
    this.insidesOn = false;

    this.onKeyDown = this.onKeyDown.bind(this);
    this.onKeyUp = this.onKeyUp.bind(this);
    this.onDocumentKeyDown = this.onDocumentKeyDown.bind(this);
    this.onDprChange = this.onDprChange.bind(this);
    this.listen();
    this.resizeObserver = new ResizeObserver(() => {
      if (this.root.clientWidth !== this.width) this.layout();
    });
    this.resizeObserver.observe(root);
    this.onWindowResize = () => this.layout();
    window.addEventListener("resize", this.onWindowResize);
    // The legend can grow (a start diverges), which shrinks the loss chart.
    this.lossObserver = new ResizeObserver(() => {
      const size = this.loss.chart.size;
      const box = this.el.loss;
      if (size && (Math.floor(box.clientWidth) !== size[0] || Math.floor(box.clientHeight) !== size[1])) {
        this.loss.place(this.th, this.dpr, this.movingDpr());
        this.stepView.reset();
        this.timeline.request();
      }
    });
    this.lossObserver.observe(this.el.loss);
    // The component fits the window below its top (always in presenter mode,
    // on the first screen in normal mode), so it lays out again when what
    // stands above it changes height.
    this.fittedTop = 0;
    this.fittedPageTop = 0;
    this.placeObserver = new ResizeObserver(() => {
      if (!this.payload) return;
      const moved = this.payload.presenter
        ? Math.abs(this.topInWindow() - this.fittedTop) > 2
        : Math.abs(this.topInPage() - this.fittedPageTop) > 2;
      if (moved) this.layout();
    });
    const host = root.getRootNode()?.host;
    this.placeObserver.observe(host?.closest?.("[data-testid='stMainBlockContainer']") ?? document.body);
    this.watchDpr();
    // Canvas text needs the page's web font; redraw once it is in.
    document.fonts?.ready?.then(() => !this.destroyed && this.layout());
  }

  alive() {
    if (this.destroyed) return false;
    if (!this.root.isConnected) {
      this.destroy();
      return false;
    }
    return true;
  }

  ready() {
    return Boolean(this.map.chart.plot) && this.el.error.hidden;
  }

  // ------------------------------------------------------------ lifecycle --

  load(data) {
    const payload = data?.payload;
    if (Number.isFinite(data?.height) && data.height > 0) this.height = data.height;
    // Python checked the payload's shape; only its absence is left to say.
    const missing = !payload || typeof payload !== "object";
    this.el.error.hidden = !missing;
    this.el.error.textContent = missing ? "Cannot show the race: no race payload was given." : "";
    if (missing) {
      this.timeline.setPlaying(false);
      return;
    }
    const tl = this.timeline;
    const previous = this.payload;
    const sameScene = previous !== null && previous.scene_id === payload.scene_id;
    this.payload = payload;
    this.race = prepareRace(payload);
    this.map.setRace(this.race);
    this.view3d.setRace(this.race, payload);
    this.loss.setRace(this.race);
    tl.setSteps(this.race.steps);
    this.stepView.setRace(this.race);
    this.insidesView.setRace(this.race);
    // A payload with insides arrives because they were asked for (the switch, or a link's ins=1).
    if (this.race.insides && (!sameScene || !previous.insides)) this.insidesOn = true;
    if (!this.race.insides) this.insidesOn = false;
    this.insidesAsked = false;
    this.showInsides();
    this.map.probe = payload.probe || null;
    this.showProbe(payload.probe || null);
    this.map.outcome.set(payload.outcome || null);
    buildOutcomeKey(this.el.outcome, payload.outcome || null, payload.minima, this.map.outcome.alpha, (a) => {
      this.map.outcome.alpha = a;
      this.map.redraw();
    });

    if (!sameScene) {
      tl.pos = 0;
      this.map.click = null;
      this.view3d.click = null;
      this.loss.logScale = Boolean(payload.loss_log);
      tl.setPlaying(Boolean(payload.autoplay) && tl.steps > 0);
    } else {
      if (Boolean(previous.loss_log) !== Boolean(payload.loss_log)) this.loss.logScale = Boolean(payload.loss_log);
      if (tl.pos >= tl.steps && tl.playing) tl.setPlaying(false);
    }
    this.el.log.checked = this.loss.logScale;

    this.root.classList.toggle("presenter", Boolean(payload.presenter));
    this.setPresenterKeys(Boolean(payload.presenter));
    // Presenter mode hides the header row (the page names the scene): the Map / 3-D
    // switch then joins the playback bar, so a 720-pixel projector keeps the map's height.
    const views = this.root.querySelector(".race-views");
    const viewsHome = payload.presenter ? this.el.controls : this.root.querySelector(".race-head");
    if (views && views.parentElement !== viewsHome) viewsHome.appendChild(views);
    this.el.title.textContent = payload.title ?? "";
    this.loadImage(typeof payload.image === "string" ? payload.image : "");
    this.layout();
  }

  destroy() {
    if (this.destroyed) return;
    this.destroyed = true;
    this.timeline.stop();
    this.view3d.destroy();
    this.resizeObserver.disconnect();
    window.removeEventListener("resize", this.onWindowResize);
    this.lossObserver.disconnect();
    this.placeObserver.disconnect();
    this.setPresenterKeys(false);
    this.dprQuery?.removeEventListener("change", this.onDprChange);
    this.root.removeEventListener("keydown", this.onKeyDown);
    this.root.removeEventListener("keyup", this.onKeyUp);
    if (this.root.__descentRace === this) this.root.__descentRace = null;
  }

  loadImage(src) {
    if (src === this.imageSrc) return;
    this.imageSrc = src;
    this.map.image = null;
    if (!src) return;
    const img = new Image();
    img.onload = () => {
      if (this.destroyed || this.imageSrc !== src) return;
      this.map.image = img;
      this.layout();
    };
    img.src = src;
  }

  // ------------------------------------------------------- what is shown --

  showPlaying(playing) {
    this.root.classList.toggle("playing", playing);
    const label = playing ? "Pause" : "Play";
    this.el.play.setAttribute("aria-label", label);
    this.el.play.title = `${label} (Space)`;
    this.el.frame.dataset.playing = String(playing);
  }

  showFps(fps, spanMs, ts, renderMs) {
    const el = this.el.fps;
    el.dataset.fps = fps.toFixed(1);
    el.dataset.renderMs = renderMs.toFixed(2);
    el.textContent = `${fps.toFixed(0)} fps`;
    this.adaptResolution(ts, fps, spanMs);
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

  // The switch: draws the insides the payload carries, or asks the page for
  // them (a rerun with the scene's insides flag on) when it carries none.
  toggleInsides() {
    if (!this.race) return;
    if (!this.race.insides && !this.insidesOn) {
      this.insidesAsked = true;
      this.el.insidesBtn.setAttribute("aria-pressed", "true");
      this.el.insidesBtn.dataset.waiting = "true";
      if (this.sendTrigger) this.sendTrigger("insides", true);
      return;
    }
    this.insidesOn = !this.insidesOn;
    this.showInsides();
  }

  showInsides() {
    const on = this.insidesOn && Boolean(this.race?.insides);
    this.map.showInsides = on;
    this.insidesView.setOn(on);
    const btn = this.el.insidesBtn;
    btn.setAttribute("aria-pressed", String(on || Boolean(this.insidesAsked)));
    btn.dataset.waiting = String(Boolean(this.insidesAsked));
    btn.dataset.available = String(Boolean(this.race?.insides));
    const note = this.payload?.insides_note;
    btn.title = note ? `Insides: ${note}` : "Show each optimizer's insides: gradient, step, its own vectors, learning rate per axis, curvature";
    this.insidesView.setNote(note && !on ? note : "");
    this.timeline.request();
  }

  // ------------------------------------------------------------- controls --

  listen() {
    const { root, el, timeline: tl } = this;
    root.addEventListener("keydown", this.onKeyDown);
    root.addEventListener("keyup", this.onKeyUp);
    el.controls.addEventListener("click", (e) => {
      const button = e.target.closest("[data-action]");
      if (!button) return;
      const action = button.dataset.action;
      if (action === "play") tl.setPlaying(!tl.playing);
      else if (action === "back") tl.stepBy(-1);
      else if (action === "forward") tl.stepBy(1);
      else if (action === "restart") tl.restart();
      else if (action === "insides") this.toggleInsides();
    });
    el.scrub.addEventListener("input", () => tl.seek(Number(el.scrub.value)));
    el.scrub.addEventListener("pointerdown", () => {
      tl.scrubbing = true;
    });
    const endScrub = () => tl.endScrub();
    el.scrub.addEventListener("pointerup", endScrub);
    el.scrub.addEventListener("pointercancel", endScrub);
    el.scrub.addEventListener("change", endScrub);
    el.speed.addEventListener("change", () => tl.setSpeed(Number(el.speed.value)));
    el.log.addEventListener("change", () => {
      this.loss.logScale = el.log.checked;
      if (this.th) this.loss.place(this.th, this.dpr, this.movingDpr());
      this.stepView.reset();
      tl.request();
    });
    el.mapTop.addEventListener("click", (e) => this.onMapClick(e));
    el.mapTop.addEventListener("pointermove", (e) => this.onMapHover(e));
    el.mapTop.addEventListener("pointerleave", () => {
      el.coords.hidden = true;
    });
  }

  onKeyDown(e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || !this.payload) return;
    const target = e.composedPath()[0];
    // The speed menu and the log switch keep their own keys.
    if (target === this.el.speed || target === this.el.log) return;
    const action = keyAction(e, this.timeline);
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
    const action = keyAction(e, this.timeline);
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

  eventToData(e) {
    const box = this.el.mapTop.getBoundingClientRect();
    return this.map.chart.fromPx(e.clientX - box.left, e.clientY - box.top);
  }

  onMapClick(e) {
    // Shift (or Alt) asks for the curvature at the point; the start stays where it is.
    if (e.shiftKey || e.altKey) this.pickProbe(this.eventToData(e));
    else this.pickStart(this.eventToData(e));
  }

  // A probe at data point xy: sent to the server as [x, y, 1], which answers with the payload's probe.
  pickProbe(xy) {
    if (!xy || !this.sendTrigger) return;
    this.sendTrigger("click", [...this.roundPoint(xy), 1]);
  }

  // The probe's numbers in words, under the legend (hidden without a probe).
  showProbe(probe) {
    const box = this.el.probe;
    box.hidden = !probe;
    box.textContent = probe ? probeLines(probe).join("\n") : "";
  }

  // xy rounded to enough digits for a screen pixel (and `extra` more), so no float noise reaches the URL.
  roundPoint(xy, extra = 0) {
    const [x0, x1, y0, y1] = this.race.extent;
    const round = (v, span) => {
      const digits = clamp(Math.ceil(-Math.log10(span / 1e4)) + extra, 0, 15);
      return Number(v.toFixed(digits));
    };
    return [round(xy[0], x1 - x0), round(xy[1], y1 - y0)];
  }

  // A new start at data point xy (from the map or the 3-D view): shown at once, sent to the server.
  pickStart(xy) {
    if (!xy) return;
    // on an outcome map, the start its clicked pixel shows: its centre, kept to 1e-8 of the window
    const snap = this.map.outcome.shown();
    const point = snap ? this.roundPoint(snapToPixel(xy, this.map.outcome.data), 4) : this.roundPoint(xy);
    this.map.click = point;
    this.view3d.click = point;
    this.timeline.request();
    if (this.sendTrigger) this.sendTrigger("click", point);
  }

  onMapHover(e) {
    const xy = this.eventToData(e);
    const c = this.el.coords;
    if (!xy) {
      c.hidden = true;
      return;
    }
    const [x0, x1, y0, y1] = this.race.extent;
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

  // Sizes and colours for the canvases, from the component's CSS (its text
  // colour, font and --race-scale, which presenter mode raises).
  theme() {
    const cs = getComputedStyle(this.root);
    const text = parseRgb(cs.color);
    const scale = parseFloat(cs.getPropertyValue("--race-scale")) || 1;
    return {
      scale,
      text,
      ink: rgba(text, 0.92),
      muted: rgba(text, 0.68),
      faint: rgba(text, 0.16),
      grid: rgba(text, 0.08),
      cursor: rgba(text, 0.45),
      panel: rgba(text, 0.05),
      font: cs.fontFamily,
      fontPx: Math.round(13 * scale),
    };
  }

  // The side panel's height with the loss chart at its smallest.
  sideMinHeight() {
    const { side, legend, lossHead, loss, lossNote } = this.el;
    const gap = parseFloat(getComputedStyle(side).rowGap) || 0;
    const parts = [legend.offsetHeight, this.el.insides.offsetHeight, lossHead.offsetHeight, parseFloat(getComputedStyle(loss).minHeight) || 0];
    if (!this.el.probe.hidden) parts.push(this.el.probe.offsetHeight);
    if (!this.el.outcome.hidden) parts.push(this.el.outcome.offsetHeight);
    if (!lossNote.hidden) parts.push(lossNote.offsetHeight);
    return parts.reduce((a, b) => a + b, 0) + gap * (parts.length - 1);
  }

  // The side panel's least width in Both: what its content needs to stay on one line
  // (nothing there wraps), at least `least` (what any view leaves it), up to BOTH_SIDE_MAX_SHARE.
  bothSideWidth(W, least) {
    const { lossHead, legend } = this.el;
    const need = (el) => {
      const before = el.style.width;
      el.style.width = "max-content";
      const w = el.offsetWidth;
      el.style.width = before;
      return w;
    };
    // the legend's numbers change while playing: room for a digit or two more than now
    const content = Math.max(need(lossHead), need(legend) + 2 * this.th.fontPx);
    return Math.round(clamp(content, least, Math.max(least, W * BOTH_SIDE_MAX_SHARE)));
  }

  // Where the component's top is in the window (0 if scrolled above it).
  topInWindow() {
    return Math.max(0, this.root.getBoundingClientRect().top);
  }

  // Where the component's top is in the scrolled page (independent of scrolling).
  topInPage() {
    const host = this.root.getRootNode()?.host;
    const scroller = host?.closest?.("[data-testid='stMain']");
    const top = this.root.getBoundingClientRect().top;
    return scroller ? top - scroller.getBoundingClientRect().top + scroller.scrollTop : top + window.scrollY;
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
    // Map and 3-D side by side only where each still gets about 500 px; narrower, "Both" shows the 3-D view.
    this.view3d.setWide(!narrow && W >= BOTH_FROM_PX);
    const views = this.view3d.view === "both" ? 2 : 1;

    const image = this.map.image;
    const aspect = image ? image.naturalWidth / image.naturalHeight : 4 / 3;
    const ctx = this.el.mapBg.getContext("2d");
    const margins = (plotH) => this.map.margins(ctx, plotH, th);

    let plotW;
    let plotH;
    let m;
    let usedHeight = 0;
    if (!narrow) {
      const gap = parseFloat(getComputedStyle(this.root).rowGap) || 12;
      const bodyGap = parseFloat(getComputedStyle(this.el.body).columnGap) || 16;
      const chrome = this.el.head.offsetHeight + this.el.controls.offsetHeight + 2 * gap;
      // On a wide container (a projector) a map held to `height` would leave
      // most of the width to the side panel: grow until the map takes its
      // share of the width, but never past most of the window's height.
      let floor = this.height;
      let ceiling = Math.max(this.height, window.innerHeight * MAX_WINDOW_SHARE);
      this.fittedPageTop = this.topInPage();
      const pageRoom = window.innerHeight - this.fittedPageTop - PRESENTER_MARGIN_PX;
      if (!this.payload.presenter && pageRoom >= NORMAL_MIN_PX) {
        // The playback bar on the first screen: a component that would end
        // below the window's bottom (read from its place in the page, not
        // where it is scrolled to) shrinks to the room there, down to a floor.
        ceiling = Math.min(ceiling, Math.max(pageRoom, this.sideMinHeight() + chrome));
        floor = Math.min(floor, ceiling);
      }
      if (this.payload.presenter) {
        // A projector shows one screen: map, loss chart and controls all fit
        // below the component's top, whatever height the page asked for.
        // The map never shrinks below what the side panel needs anyway.
        this.fittedTop = this.topInWindow();
        const room = window.innerHeight - this.fittedTop - PRESENTER_MARGIN_PX;
        ceiling = Math.max(room, this.sideMinHeight() + chrome);
        floor = Math.min(floor, ceiling);
      }
      m = margins(floor - chrome);
      const sideMin = Math.round(260 * th.scale);
      const sideW = views === 2 ? this.bothSideWidth(W, sideMin) : sideMin;
      // Both: the views give up what of their share the side panel's content needs
      const share = views === 2 ? Math.min(BOTH_WIDTH_SHARE, (W - sideW - bodyGap) / W) : MAP_WIDTH_SHARE;
      const wanted = ((W * share - bodyGap * (views - 1)) / views - m.l - m.r) / aspect + m.t + m.b + chrome;
      usedHeight = Math.round(clamp(wanted, floor, ceiling));
      const availH = usedHeight - chrome;
      // the width of one view (the map, or the map and the 3-D view each)
      const availW = (W - sideW - bodyGap * views) / views;
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
    this.root.style.minHeight = narrow ? "" : `${usedHeight}px`;
    this.map.place(Math.floor(plotW), Math.floor(plotH), m, th, this.dpr, this.movingDpr());
    this.view3d.place(...this.map.chart.size, th, this.dpr);
    this.el.fps.dataset.scale = String(this.movingDpr());
    this.loss.place(th, this.dpr, this.movingDpr());
    this.stepView.reset();
    this.timeline.request();
  }
}
