// The 3-D view: the surface as a WebGL mesh (three.js) with the race on it,
// following the same timeline as the map and the loss chart.
//
// The mesh is the payload's height grid (app/surface3d.py: the map's colour
// scale read as a height, 0..1) wearing the map's own contour image, so both
// views read alike. The paths are tubes lying just above the triangles, the
// balls sit on them, the minima are stars, a diverged run ends with its cross
// on the window's edge; nothing the race does changes the z-range.
//
// three.js is not in this module: a small component (app/race_component.py,
// `_THREE`) publishes it as globalThis.DescentTHREE once per page, so the
// library travels once and not with every race. Turning and zooming are
// handled here and never call the server; a click on the mesh picks a start
// through the same callback as a click on the map.

import { niceTicks, tickFormatter } from "./geometry.js";
import { drawCross, drawStar, drawStart, drawTarget } from "./layers.js";
import { chooseHome } from "./camera_home.js";
import { HOME, Orbit } from "./orbit.js";
import { SurfaceGrid, ZH } from "./surface_mesh.js";
import { buildTube } from "./trail3d.js";

const THREE_READY = "descent-three";
const TUBE_RADIUS = 0.014; // world units; the window's longer side is 2
const BALL_RADIUS = 0.034;
const LIFT = TUBE_RADIUS * 1.6 + 0.004; // tubes float this far above the triangles
const MARKER_PX = 30; // sprites' canvas size at scale 1, in CSS pixels
const FOV = 35; // vertical, degrees, on a box at least FIT_ASPECT wide per unit of height
// A narrower box (a square map, or the half of a wide screen "Both" gives) widens the vertical
// angle so the camera still takes in the width it takes in at FIT_ASPECT: the mesh is not cut at the sides.
const FIT_ASPECT = 4 / 3;
const SLOW_3D_FPS = 30;
const FAST_3D_FPS = 50; // frames this fast (the camera still, say) win back resolution
const FAST_WINDOWS = 4; // ... after this many measurements (12 frames each) in a row
// The light: ambient plus one directional light from LIGHT_FROM (fixed in the world, so the
// shading of a still mesh does not depend on the camera and is computed once, per vertex).
const AMBIENT = 0.62;
const DIRECT = 0.7;
const LIGHT_FROM = [-1.2, -1.8, 3];
const MIN_3D_RESOLUTION = 0.5;

// Whether WebGL here is drawn by the CPU (SwiftShader, llvmpipe): asked once, on a throwaway context.
let software = null;
function softwareGl() {
  if (software === null) {
    const gl = document.createElement("canvas").getContext("webgl2");
    const info = gl?.getExtension("WEBGL_debug_renderer_info");
    const name = info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : "";
    software = /swiftshader|llvmpipe|software/i.test(name);
    gl?.getExtension("WEBGL_lose_context")?.loseContext();
  }
  return software;
}

function three() {
  return globalThis.DescentTHREE ?? null;
}

// A sprite texture: `paint(ctx, cx, cy, s)` on a square canvas of size px.
function glyphCanvas(px, dpr, paint) {
  const c = document.createElement("canvas");
  c.width = c.height = Math.ceil(px * dpr);
  const ctx = c.getContext("2d");
  ctx.scale(dpr, dpr);
  paint(ctx, px / 2, px / 2);
  return c;
}

export class View3D {
  // root: the race's root element; onPick([x, y]): a click on the mesh;
  // onShow(): the switch changed what is shown; isPlaying(): the timeline plays;
  // needThree(): three.js is not on the page yet (the page sends it when asked).
  constructor(root, { onPick, onShow, isPlaying, needThree }) {
    this.root = root;
    this.onPick = onPick;
    this.onShow = onShow;
    this.isPlaying = isPlaying;
    this.needThree = needThree;
    const $ = (sel) => root.querySelector(sel);
    this.el = {
      box: $(".race-3d"),
      canvas: $(".race-3d-canvas"),
      msg: $(".race-3d-msg"),
      views: $(".race-views"),
      reset: $(".race-3d-reset"),
      png: $(".race-3d-png"),
    };
    this.mode = "2d"; // the switch: "2d", "3d" or "both"
    this.wide = null; // the component has room for "both" (race.js decides; null until its first layout)
    this.shown = false; // the 3-D view is on screen (alone or beside the map)
    this.failed = false;
    this.race = null;
    this.payload = null;
    this.grid = null;
    this.gridKey = "";
    this.raceKey = null;
    this.sceneId = null;
    this.homeStale = false; // a new scene: its first angle is chosen when it is next drawn
    this.newSurface = false; // ... and the camera goes there even if a student turned the last surface
    this.items = [];
    this.sprites = [];
    this.size = [0, 0];
    this.dpr = 1;
    this.th = null;
    this.pos = 0;
    this.raf = 0;
    this.resolution = 1; // of the device pixel ratio; lowered while frames come too slowly
    this.fastWindows = 0;
    this.frames = [];
    this.gl = null; // {T, renderer, scene, camera, target, surface, race, light}
    this.imageSrc = "";
    this.image = null;
    this.onThree = () => this.apply();

    this.el.views.addEventListener("click", (e) => {
      const b = e.target.closest("[data-view]");
      if (b && !b.disabled) this.setMode(b.dataset.view);
    });
    this.el.reset.addEventListener("click", () => this.orbit?.reset());
    this.el.png.addEventListener("click", () => this.downloadPng());
  }

  destroy() {
    cancelAnimationFrame(this.raf);
    globalThis.removeEventListener(THREE_READY, this.onThree);
    this.orbit?.destroy();
    if (this.gl) {
      this.disposeGroup(this.gl.surface);
      this.disposeGroup(this.gl.race);
      this.gl.renderer.dispose();
      this.gl.renderer.forceContextLoss?.();
    }
    this.gl = null;
  }

  // ------------------------------------------------------------- data --

  setRace(race, payload) {
    this.race = race;
    this.payload = payload;
    const part = payload.surface3d;
    this.el.views.hidden = !part;
    const key = part ? `${payload.extent.join(",")}|${part.n.join("x")}|${part.h}` : "";
    if (key !== this.gridKey) {
      this.gridKey = key;
      this.grid = part ? new SurfaceGrid(part, race.extent) : null;
      this.surfaceStale = true;
      this.newSurface = true;
      if (!part && this.shown) {
        this.apply();
        this.onShow();
      }
    }
    this.raceStale = true;
    // The same scene again (a rerun) keeps the camera where it is; a new one gets its own first angle.
    if (payload.scene_id !== this.sceneId) {
      this.sceneId = payload.scene_id;
      this.homeStale = true;
    }
    const src = typeof payload.image === "string" ? payload.image : "";
    if (src !== this.imageSrc) {
      this.imageSrc = src;
      this.image = null;
      this.surfaceStale = true;
      if (src) {
        const img = new Image();
        img.onload = () => {
          if (this.imageSrc !== src) return;
          this.image = img;
          this.surfaceStale = true;
          this.requestRender();
        };
        img.src = src;
      }
    }
    if (this.shown) this.requestRender();
  }

  // ------------------------------------------------------------ layout --

  // What is on screen: "2d", "3d" or "both" ("both" without room shows the 3-D view alone).
  get view() {
    if (!this.grid) return "2d";
    return this.mode === "both" && !this.wide ? "3d" : this.mode;
  }

  // The switch: show the map, the 3-D view, or both.
  setMode(mode) {
    this.mode = ["2d", "3d", "both"].includes(mode) ? mode : "2d";
    this.apply();
    this.onShow();
  }

  // Whether the component has room for both views; true if that changed what is shown.
  setWide(wide) {
    if (wide === this.wide) return false;
    const before = this.view;
    this.wide = wide;
    this.apply();
    return this.view !== before;
  }

  apply() {
    const view = this.view;
    const want = view !== "2d";
    this.shown = want;
    this.root.classList.toggle("view-3d", view === "3d");
    this.root.classList.toggle("view-both", view === "both");
    this.el.box.hidden = !want;
    for (const b of this.el.views.querySelectorAll("[data-view]")) {
      b.setAttribute("aria-pressed", String(b.dataset.view === this.mode));
      if (b.dataset.view === "both") {
        b.disabled = this.wide === false;
        b.title = this.wide !== false
          ? "The map and the 3-D view side by side"
          : "Side by side needs a wider window (the race at least 1400 pixels wide); shows the 3-D view meanwhile";
      }
    }
    if (want && !this.gl && !this.failed) {
      if (three()) {
        this.init();
      } else {
        globalThis.addEventListener(THREE_READY, this.onThree, { once: true });
        if (!this.askedThree) this.needThree?.();
        this.askedThree = true;
      }
    }
    if (want) this.requestRender();
  }

  // Size the view to w x h CSS pixels (the map's box).
  place(w, h, th, dpr) {
    this.size = [w, h];
    this.th = th;
    this.dpr = Math.min(dpr, 2);
    this.el.box.style.width = `${w}px`;
    this.el.box.style.height = `${h}px`;
    if (!this.gl) return;
    const { camera } = this.gl;
    this.resize();
    camera.aspect = w / h;
    camera.fov = fovFor(w / h);
    camera.updateProjectionMatrix();
    this.surfaceStale = true; // labels take the theme's colours
    this.requestRender();
  }

  init() {
    const T = three();
    let renderer;
    try {
      // Multisampling costs a software renderer (no GPU) most of its frame rate.
      // Without a GPU the page is composited in software too, and handing it a
      // WebGL canvas every frame costs far more than drawing it: there the
      // picture is drawn off-page and copied onto a 2-D canvas (`copy`).
      // There the still part (the mesh, its axes) is also kept as a picture while the
      // camera does not move (`still`): a frame of playback then draws only the
      // tubes and balls, against the depth the mesh left in the drawing buffer.
      const soft = softwareGl();
      const canvas = soft ? document.createElement("canvas") : this.el.canvas;
      renderer = new T.WebGLRenderer({ canvas, antialias: !soft, alpha: true, preserveDrawingBuffer: soft });
      this.copy = soft ? this.el.canvas.getContext("2d") : null;
      this.still = soft ? document.createElement("canvas").getContext("2d") : null;
      this.stillKey = "";
      if (soft) renderer.autoClear = false;
      renderer.setClearColor(0x000000, 0);
    } catch {
      this.failed = true;
      this.el.msg.textContent = "The 3-D view needs WebGL, which this browser does not offer. The map shows the same race.";
      this.el.msg.hidden = false;
      return;
    }
    renderer.outputColorSpace = T.SRGBColorSpace;
    const scene = new T.Scene();
    const camera = new T.PerspectiveCamera(FOV, 1, 0.05, 60);
    camera.up.set(0, 0, 1);
    // Only the balls are lit per pixel; the mesh and the tubes carry the same light in their vertex colours.
    scene.add(new T.AmbientLight(0xffffff, AMBIENT));
    const light = new T.DirectionalLight(0xffffff, DIRECT);
    light.position.set(...LIGHT_FROM);
    scene.add(light);
    const surface = new T.Group();
    const race = new T.Group();
    scene.add(surface, race);
    this.gl = { T, renderer, scene, camera, surface, race, target: [0, -0.1, ZH * 0.3] };
    this.orbit = new Orbit(this.el.canvas, {
      onChange: () => {
        if (!this.isPlaying()) this.requestRender();
      },
      onPick: (cx, cy) => this.pick(cx, cy),
    });
    this.root.dataset.webgl = renderer.getContext() ? "1" : "0";
    const [w, h] = this.size;
    if (w && h) this.place(w, h, this.th, this.dpr);
  }

  // --------------------------------------------------------- building --

  disposeGroup(group) {
    for (const obj of [...group.children]) {
      group.remove(obj);
      obj.geometry?.dispose();
      for (const child of obj.children) child.material?.dispose();
      if (obj.material) {
        obj.material.map?.dispose();
        obj.material.dispose();
      }
    }
  }

  // Sprites keep a size in CSS pixels whatever the zoom (sizeAttenuation off).
  sprite(canvas, px, group) {
    const { T } = this.gl;
    const tex = new T.CanvasTexture(canvas);
    tex.colorSpace = T.SRGBColorSpace;
    // Markers show through hills (as on the map), under the balls (drawn later, order 20).
    const mat = new T.SpriteMaterial({ map: tex, sizeAttenuation: false, depthTest: false, depthWrite: false,
      transparent: true });
    const s = new T.Sprite(mat);
    s.renderOrder = 10;
    s.userData.px = [px * (canvas.width / canvas.height), px];
    group.add(s);
    this.sprites.push(s);
    return s;
  }

  textSprite(text, group, { px, color, italic = false, align = "center" }) {
    const dpr = 2;
    const font = `${italic ? "italic " : ""}${px}px ${this.th?.font ?? "sans-serif"}`;
    const probe = document.createElement("canvas").getContext("2d");
    probe.font = font;
    const w = Math.ceil(probe.measureText(text).width + px * 0.6);
    const h = Math.ceil(px * 1.5);
    const c = document.createElement("canvas");
    c.width = w * dpr;
    c.height = h * dpr;
    const ctx = c.getContext("2d");
    ctx.scale(dpr, dpr);
    ctx.font = font;
    ctx.fillStyle = color;
    ctx.textBaseline = "middle";
    ctx.textAlign = "center";
    ctx.fillText(text, w / 2, h / 2);
    const s = this.sprite(c, h, group);
    if (align === "left") s.center.set(0, 0.5);
    else if (align === "right") s.center.set(1, 0.5);
    return s;
  }

  buildSurface() {
    const { T, surface } = this.gl;
    this.sprites = this.sprites.filter((s) => s.parent !== surface);
    this.disposeGroup(surface);
    this.surfaceStale = false;
    this.stillKey = "";
    const grid = this.grid;
    if (!grid) return;
    const { pos, uv, index } = grid.buffers();
    const geo = new T.BufferGeometry();
    geo.setAttribute("position", new T.BufferAttribute(pos, 3));
    geo.setAttribute("uv", new T.BufferAttribute(uv, 2));
    geo.setIndex(new T.BufferAttribute(index, 1));
    geo.computeVertexNormals();
    geo.computeBoundingBox();
    let map = null;
    if (this.image) {
      map = new T.Texture(this.image);
      map.colorSpace = T.SRGBColorSpace;
      map.anisotropy = 4;
      map.needsUpdate = true;
    }
    // Lambert's shading baked into vertex colours: an unlit material costs a software renderer far less per pixel.
    geo.setAttribute("color", new T.BufferAttribute(shade(geo.getAttribute("normal").array, map ? null : new T.Color(0x8fa8c0)), 3));
    const mat = new T.MeshBasicMaterial({ map, vertexColors: true, side: T.DoubleSide });
    const mesh = new T.Mesh(geo, mat);
    mesh.name = "surface";
    surface.add(mesh);
    this.mesh = mesh;
    this.buildAxes(surface, grid);
  }

  // A frame on the floor with x and y ticks, and the height axis at the back corner.
  buildAxes(group, grid) {
    const { T } = this.gl;
    const th = this.th ?? { ink: "#31333f", muted: "#6b6d76", fontPx: 13, scale: 1 };
    const [x0, x1, y0, y1] = grid.extent;
    const { sx, sy } = grid;
    const f = th.fontPx;
    const seg = [];
    const line = (a, b) => seg.push(...a, ...b);
    line([-sx, -sy, 0], [sx, -sy, 0]);
    line([sx, -sy, 0], [sx, sy, 0]);
    line([sx, sy, 0], [-sx, sy, 0]);
    line([-sx, sy, 0], [-sx, -sy, 0]);
    line([-sx, sy, 0], [-sx, sy, ZH]);
    const tick = 0.035;
    const xt = niceValues(x0, x1, 5);
    for (const v of xt.values) {
      const [X] = grid.toWorld(v, y0);
      line([X, -sy, 0], [X, -sy - tick, 0]);
      this.textSprite(xt.fmt(v), group, { px: f, color: th.muted }).position.set(X, -sy - 0.12, 0);
    }
    const yt = niceValues(y0, y1, 5);
    for (const v of yt.values) {
      const [, Y] = grid.toWorld(x1, v);
      line([sx, Y, 0], [sx + tick, Y, 0]);
      this.textSprite(yt.fmt(v), group, { px: f, color: th.muted, align: "left" }).position.set(sx + 0.07, Y, 0);
    }
    for (const [h, label] of grid.ticks) {
      line([-sx, sy, h * ZH], [-sx - tick, sy, h * ZH]);
      this.textSprite(label, group, { px: f, color: th.muted, align: "right" }).position.set(-sx - 0.06, sy, h * ZH);
    }
    const big = Math.round(f * 1.1);
    this.textSprite("x", group, { px: big, color: th.ink, italic: true }).position.set(0, -sy - 0.28, 0);
    this.textSprite("y", group, { px: big, color: th.ink, italic: true }).position.set(sx + 0.3, 0, 0);
    this.textSprite(grid.label, group, { px: f, color: th.ink }).position.set(-sx, sy, ZH + 0.1);
    const geo = new T.BufferGeometry();
    geo.setAttribute("position", new T.Float32BufferAttribute(seg, 3));
    const color = new T.Color().setRGB(...(th.text ?? [49, 51, 63]).map((c) => c / 255), T.SRGBColorSpace);
    group.add(new T.LineSegments(geo, new T.LineBasicMaterial({ color, transparent: true, opacity: 0.45 })));
  }

  buildRace() {
    const { T, race: group } = this.gl;
    this.sprites = this.sprites.filter((s) => s.parent !== group);
    this.disposeGroup(group);
    this.raceStale = false;
    this.items = [];
    const { grid, race } = this;
    if (!grid || !race) return;
    const s = this.th?.scale ?? 1;
    const dpr = 2;
    const ball = new T.SphereGeometry(BALL_RADIUS, 18, 12);
    for (const p of race.paths) {
      const color = new T.Color(p.color);
      const tube = buildTube(grid, p, TUBE_RADIUS, LIFT);
      const geo = new T.BufferGeometry();
      geo.setAttribute("position", new T.BufferAttribute(tube.pos, 3));
      geo.setAttribute("color", new T.BufferAttribute(shade(tube.normal, color, 0.25), 3));
      geo.setIndex(new T.BufferAttribute(tube.index, 1));
      geo.setDrawRange(0, 0);
      // No depth written by the race (tubes, balls): the software path keeps the mesh's depth between frames.
      const trail = new T.Mesh(geo, new T.MeshBasicMaterial({ vertexColors: true, depthWrite: false }));
      trail.frustumCulled = false;
      // "Transparent" only to be drawn after the markers: a ball in a basin covers its star.
      const head = new T.Mesh(ball, new T.MeshLambertMaterial({ color, emissive: color, emissiveIntensity: 0.2,
        transparent: true, depthWrite: false }));
      head.renderOrder = 20;
      head.visible = false;
      // Seen through the hill in front of it, faintly: a ball at the bottom of a
      // deep basin (Himmelblau's, on a log scale) stays in sight, over its star.
      const ghost = new T.Mesh(ball, new T.MeshBasicMaterial({ color, transparent: true, opacity: 0.7,
        depthTest: false, depthWrite: false }));
      ghost.renderOrder = 15;
      head.add(ghost);
      group.add(trail, head);
      let cross = null;
      if (p.exit) {
        const c = glyphCanvas(MARKER_PX * s, dpr, (ctx, x, y) => drawCross(ctx, x, y, 7 * s, s));
        cross = this.sprite(c, MARKER_PX * s, group);
        cross.renderOrder = 30;
        const [ex, ey] = p.exit;
        const [X, Y] = grid.toWorld(...clampToWindow(ex, ey, grid.extent));
        cross.position.set(X, Y, grid.heightAt(ex, ey) * ZH + LIFT);
        cross.visible = false;
        cross.userData.data = clampToWindow(ex, ey, grid.extent);
      }
      this.items.push({ path: p, trail, indexAt: tube.indexAt, head, cross });
    }
    for (const [x, y] of race.startPoints) {
      if (!inWindow(x, y, grid.extent)) continue;
      const c = glyphCanvas(MARKER_PX * 0.6 * s, dpr, (ctx, cx, cy) => drawStart(ctx, cx, cy, s * 0.8));
      this.placeOn(this.sprite(c, MARKER_PX * 0.6 * s, group), x, y);
    }
    for (const [x, y] of race.minima) {
      if (!inWindow(x, y, grid.extent)) continue;
      const c = glyphCanvas(MARKER_PX * s, dpr, (ctx, cx, cy) => drawStar(ctx, cx, cy, s));
      this.placeOn(this.sprite(c, MARKER_PX * s, group), x, y);
    }
    this.target = this.sprite(glyphCanvas(MARKER_PX * 1.3 * s, dpr, (ctx, x, y) => drawTarget(ctx, x, y, s)),
      MARKER_PX * 1.3 * s, group);
    this.target.visible = false;
  }

  // The scene's first angle, from its paths and heights (camera_home.js). The
  // camera goes there on a new surface or if nobody turned it since the last
  // reset; a student's own angle on the same surface stays until a reset.
  placeHome() {
    this.homeStale = false;
    const { grid, race, orbit } = this;
    if (!grid || !race || !orbit) return;
    const go = this.newSurface || orbit.atHome();
    this.newSurface = false;
    this.home = chooseHome(grid, race.paths, this.gl.target, HOME, LIFT);
    orbit.setHome(this.home, go);
  }

  placeOn(obj, x, y, above = LIFT) {
    const [X, Y] = this.grid.toWorld(x, y);
    obj.position.set(X, Y, this.grid.heightAt(x, y) * ZH + above);
  }

  // ---------------------------------------------------------- drawing --

  requestRender() {
    if (!this.raf && this.shown) {
      this.raf = requestAnimationFrame(() => {
        this.raf = 0;
        this.draw(this.pos);
      });
    }
  }

  // Draw frame `pos` (a step, with a fraction while playing).
  draw(pos) {
    this.pos = pos;
    if (!this.shown || !this.gl) return;
    if (this.raf) {
      cancelAnimationFrame(this.raf);
      this.raf = 0;
    }
    if (this.surfaceStale) this.buildSurface();
    if (this.raceStale) this.buildRace();
    if (this.homeStale) this.placeHome();
    const k = Math.floor(pos);
    const frac = pos - k;
    const ext = this.grid.extent;
    for (const it of this.items) {
      const p = it.path;
      const i = Math.min(k, Math.max(p.n - 1, 0));
      it.trail.geometry.setDrawRange(0, p.n ? it.indexAt[i] : 0);
      const over = p.divergedAt !== null && k >= p.divergedAt;
      if (it.cross) it.cross.visible = over;
      let hx = p.xs[i];
      let hy = p.ys[i];
      if (i + 1 < p.n && frac > 0) {
        hx += (p.xs[i + 1] - p.xs[i]) * frac;
        hy += (p.ys[i + 1] - p.ys[i]) * frac;
      }
      it.head.visible = p.n > 0 && !over && inWindow(hx, hy, ext);
      if (it.head.visible) this.placeOn(it.head, hx, hy, BALL_RADIUS * 0.9);
      it.at = [hx, hy];
    }
    const click = this.click;
    this.target.visible = Boolean(click);
    if (click) this.placeOn(this.target, click[0], click[1]);
    this.render();
  }

  render() {
    const { renderer, scene, camera, target } = this.gl;
    camera.position.set(...this.orbit.position(target));
    camera.lookAt(...target);
    camera.updateMatrixWorld();
    // Sprites: CSS pixels to the units of a sprite without size attenuation.
    const k = 2 / (camera.projectionMatrix.elements[5] * (this.size[1] || 1));
    for (const s of this.sprites) s.scale.set(s.userData.px[0] * k, s.userData.px[1] * k, 1);
    if (this.copy) this.renderLayers();
    else renderer.render(scene, camera);
    this.adaptResolution();
  }

  // Software path: the mesh and its axes are drawn only when the camera or the
  // buffer changed, and kept as a picture; every frame clears the colour (not
  // the depth the mesh left) and draws the race, whose materials write no depth.
  renderLayers() {
    const { renderer, scene, camera, surface, race } = this.gl;
    const gl = renderer.domElement;
    const key = [...camera.matrixWorld.elements, ...camera.projectionMatrix.elements, gl.width, gl.height].join(",");
    if (key !== this.stillKey) {
      this.stillKey = key;
      renderer.clear();
      race.visible = false;
      renderer.render(scene, camera);
      race.visible = true;
      const still = this.still.canvas;
      if (still.width !== gl.width || still.height !== gl.height) {
        still.width = gl.width;
        still.height = gl.height;
      } else {
        this.still.clearRect(0, 0, still.width, still.height);
      }
      this.still.drawImage(gl, 0, 0);
    }
    renderer.clear(true, false, false);
    surface.visible = false;
    renderer.render(scene, camera);
    surface.visible = true;
    const c = this.copy.canvas;
    this.copy.clearRect(0, 0, c.width, c.height);
    this.copy.drawImage(this.still.canvas, 0, 0);
    this.copy.drawImage(gl, 0, 0);
  }

  // The drawing buffer for the view's size at the current resolution.
  resize() {
    const [w, h] = this.size;
    const { renderer } = this.gl;
    renderer.setPixelRatio(this.dpr * this.resolution);
    renderer.setSize(w, h, false);
    if (this.copy) {
      this.copy.canvas.width = renderer.domElement.width;
      this.copy.canvas.height = renderer.domElement.height;
    }
  }

  // Pixels cost a software renderer most of its time: while frames come
  // slower than SLOW_3D_FPS (turning or playing), draw fewer of them, down to
  // MIN_3D_RESOLUTION of the screen's, and more again while they come faster
  // than FAST_3D_FPS (the camera still); the page's layout does not change.
  adaptResolution() {
    const now = performance.now();
    const t = this.frames;
    if (t.length && now - t[t.length - 1] > 250) t.length = 0; // a pause, not a slow frame
    t.push(now);
    if (t.length < 12) return;
    const fps = ((t.length - 1) * 1000) / (now - t[0]);
    t.length = 0;
    if (fps < SLOW_3D_FPS && this.resolution > MIN_3D_RESOLUTION) {
      this.resolution = Math.max(MIN_3D_RESOLUTION, this.resolution * 0.75);
      this.resize();
      this.fastWindows = 0;
    } else if (fps > FAST_3D_FPS && this.resolution < 1 && ++this.fastWindows >= FAST_WINDOWS) {
      // several fast windows in a row: a new size redraws the still mesh once, so no see-saw
      this.fastWindows = 0;
      this.resolution = Math.min(1, this.resolution / 0.75);
      this.resize();
    } else if (fps <= FAST_3D_FPS) {
      this.fastWindows = 0;
    }
    this.el.canvas.dataset.fps = fps.toFixed(1);
    this.el.canvas.dataset.resolution = this.resolution.toFixed(3);
  }

  // ---------------------------------------------------------- picking --

  pick(clientX, clientY) {
    if (!this.gl || !this.mesh) return;
    const { T, camera } = this.gl;
    const box = this.el.canvas.getBoundingClientRect();
    const ndc = new T.Vector2(((clientX - box.left) / box.width) * 2 - 1, -((clientY - box.top) / box.height) * 2 + 1);
    const ray = new T.Raycaster();
    ray.setFromCamera(ndc, camera);
    const hit = ray.intersectObject(this.mesh, false)[0];
    if (!hit) return;
    const xy = this.grid.toData(hit.point.x, hit.point.y);
    this.onPick(clampToWindow(xy[0], xy[1], this.grid.extent));
  }

  // ----------------------------------------------------------- export --

  downloadPng() {
    if (!this.gl) return;
    this.draw(this.pos); // the drawing buffer is read right after a render, in the same task
    const url = this.el.canvas.toDataURL("image/png");
    const a = document.createElement("a");
    a.href = url;
    const name = String(this.payload?.title ?? "surface").toLowerCase().replace(/[^a-z0-9]+/g, "-");
    a.download = `${name || "surface"}-3d-step-${Math.floor(this.pos)}.png`;
    a.click();
  }

  // For tests: the camera's view-projection (column-major), the canvas's CSS
  // size, how data maps to the world, and where the balls and crosses are.
  probe() {
    if (!this.gl) return null;
    const { camera } = this.gl;
    this.render();
    const m = camera.projectionMatrix.clone().multiply(camera.matrixWorldInverse);
    const bb = this.mesh?.geometry.boundingBox;
    return {
      viewProj: Array.from(m.elements),
      size: this.size,
      sx: this.grid.sx,
      sy: this.grid.sy,
      zh: ZH,
      lift: LIFT,
      ballRadius: BALL_RADIUS,
      zRange: bb ? [bb.min.z, bb.max.z] : null,
      heads: this.items.map((it) => (it.head.visible ? it.head.position.toArray() : null)),
      crosses: this.items.map((it) => (it.cross?.visible ? it.cross.userData.data : null)),
      angles: [this.orbit.azimuth, this.orbit.elevation, this.orbit.distance],
      home: this.home ? { ...this.home } : null,
    };
  }
}

// Per-vertex colours (linear RGB) of a Lambert material of `color` (white: the texture's own)
// lit by AMBIENT and DIRECT from LIGHT_FROM, plus `emissive` times the colour: what three.js's
// MeshLambertMaterial computes per pixel (diffuse / pi times the light, physically based lights).
function shade(normals, color = null, emissive = 0) {
  const l = Math.hypot(...LIGHT_FROM);
  const [lx, ly, lz] = LIGHT_FROM.map((v) => v / l);
  const [r, g, b] = color ? [color.r, color.g, color.b] : [1, 1, 1];
  const out = new Float32Array(normals.length);
  for (let i = 0; i < normals.length; i += 3) {
    const dot = Math.max(0, normals[i] * lx + normals[i + 1] * ly + normals[i + 2] * lz);
    const f = (AMBIENT + DIRECT * dot) / Math.PI + emissive;
    out[i] = r * f;
    out[i + 1] = g * f;
    out[i + 2] = b * f;
  }
  return out;
}

// The vertical field of view (degrees) for a box of aspect w / h: FOV, widened below FIT_ASPECT.
function fovFor(aspect) {
  if (!(aspect > 0) || aspect >= FIT_ASPECT) return FOV;
  const half = Math.tan((FOV * Math.PI) / 360) * (FIT_ASPECT / aspect);
  return (Math.atan(half) * 360) / Math.PI;
}

function inWindow(x, y, [x0, x1, y0, y1]) {
  return x >= x0 && x <= x1 && y >= y0 && y <= y1;
}

function clampToWindow(x, y, [x0, x1, y0, y1]) {
  return [Math.min(Math.max(x, x0), x1), Math.min(Math.max(y, y0), y1)];
}

// About `target` round tick values over [lo, hi] and their formatter.
function niceValues(lo, hi, target) {
  const t = niceTicks(lo, hi, target);
  return { values: t.values, fmt: tickFormatter(t.step, t.values) };
}
