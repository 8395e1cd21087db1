// An optimizer's insides, per frame: the payload's float32 tables decoded
// once (app/insides.py writes them), drawn at each racer's head on the map,
// and shown as numbers in a small panel that follows the timeline.

import { arrowPx, drawArrow, drawCurvatureCross, drawRateBox, KIND_STYLE } from "./arrows.js";

const PANEL_EVERY_MS = 100; // while playing

function decodeF32(b64) {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}

// {every, labels, scales, tables: [null | {cols, col(name), value(frame, name), ...}]} or null.
export function prepareInsides(p) {
  const ins = p.insides;
  if (!ins || !Array.isArray(ins.tables)) return null;
  const every = Math.max(1, ins.every | 0);
  const tables = ins.tables.map((t) => {
    if (!t) return null;
    const data = decodeF32(t.data);
    const width = t.cols.length;
    const index = Object.fromEntries(t.cols.map((c, i) => [c, i]));
    return {
      ...t,
      rowOf: (k) => Math.min(Math.floor(k / every), t.rows - 1),
      has: (name) => name in index,
      value: (row, name) => (name in index ? data[row * width + index[name]] : NaN),
    };
  });
  return { every, labels: ins.labels || {}, scales: ins.scales || {}, tables };
}

// A data vector (vx, vy) as a unit pixel direction, through the chart's scales.
function pixelDir(chart, vx, vy) {
  const kx = chart.scales.x.toPx(1) - chart.scales.x.toPx(0);
  const ky = chart.scales.y.toPx(1) - chart.scales.y.toPx(0);
  const px = vx * kx;
  const py = vy * ky;
  const n = Math.hypot(px, py);
  return n > 0 && Number.isFinite(n) ? [px / n, py / n] : null;
}

// Draw every recorded racer's insides at frame k. Each glyph sits at the
// point of the frame its row describes (with thinned rows, the row's own frame).
export function drawInsides(ctx, chart, race, k, s) {
  const ins = race.insides;
  if (!ins) return;
  const sc = ins.scales;
  race.racers.forEach((r, i) => {
    const t = ins.tables[i];
    const start = r.starts[0];
    if (!t || !start || !start.n) return;
    if (start.divergedAt !== null && k >= start.divergedAt) return;
    const row = t.rowOf(Math.min(k, start.n - 1));
    const frame = Math.min(row * ins.every, start.n - 1);
    const [x, y] = chart.toPx(start.xs[frame], start.ys[frame]);
    if (!(Math.abs(x) < 1e6 && Math.abs(y) < 1e6)) return;
    const lo = t.value(row, "lam_lo");
    const hi = t.value(row, "lam_hi");
    const ang = t.value(row, "angle");
    if (Number.isFinite(lo) && Number.isFinite(hi) && Number.isFinite(ang)) {
      const d1 = pixelDir(chart, Math.cos(ang), Math.sin(ang));
      const d2 = pixelDir(chart, -Math.sin(ang), Math.cos(ang));
      if (d1 && d2) {
        // shorter than the arrows: a steep valley's long bar would otherwise cover the racers beside it
        const arms = [arrowPx(Math.abs(lo), sc.curv, s) * 0.5, arrowPx(Math.abs(hi), sc.curv, s) * 0.5];
        drawCurvatureCross(ctx, x, y, [d1, d2], arms, [lo < 0, hi < 0], s);
      }
    }
    if (t.has("eff_x")) {
      const ex = t.value(row, "eff_x");
      const ey = t.value(row, "eff_y");
      drawRateBox(ctx, x, y, arrowPx(ex, sc.eff, s) * 0.7, arrowPx(ey, sc.eff, s) * 0.7, s);
    }
    // The step last and thinner: momentum's step is parallel to its velocity, and both must show.
    const kinds = [...t.vectors.filter((kind) => kind !== "step"), ...t.vectors.filter((kind) => kind === "step")];
    for (const kind of kinds) {
      const vx = t.value(row, `${kind}_x`);
      const vy = t.value(row, `${kind}_y`);
      const dir = pixelDir(chart, vx, vy);
      if (!dir) continue;
      const style = KIND_STYLE[kind] || KIND_STYLE.v;
      drawArrow(ctx, x, y, dir[0], dir[1], arrowPx(Math.hypot(vx, vy), sc[kind], s), style.color || r.color, s,
        style.dash, kind === "step" ? 1.3 : 2.8, kind !== "step");
    }
  });
}

function num(v) {
  if (!Number.isFinite(v)) return "\u2014";
  const a = Math.abs(v);
  if (a === 0) return "0";
  if (a >= 1e4 || a < 1e-3) return v.toExponential(2).replace("e+", "e");
  return String(Number(v.toPrecision(3)));
}

function pair(t, row, kind) {
  return `(${num(t.value(row, `${kind}_x`))}, ${num(t.value(row, `${kind}_y`))})`;
}

// The stability number of a step in words, as surfaces.curvature.stability says it.
export function stabilityWords(t, row) {
  if (t.stab_note) return t.stab_note;
  const lam = t.value(row, "lam_hi");
  const n = t.value(row, "stab");
  if (!Number.isFinite(lam) || !Number.isFinite(n)) return "the curvature is undefined here, so no limit can be given";
  if (lam <= 0) return `the curvature is not positive here (${num(lam)}): there is no bowl to overshoot`;
  const said = `${t.stab_label} = ${num(n)}`;
  if (n < t.stab_limit) return `${said} < ${t.stab_limit_label}: stable`;
  if (n === t.stab_limit) return `${said} = ${t.stab_limit_label}: on the edge, bouncing back and forth`;
  return `${said} > ${t.stab_limit_label}: this step overshoots`;
}

// The Shift+clicked probe (payload.probe) in words: where, the shape there, and each racer's stability.
export function probeLines(probe) {
  const [lo, hi] = (probe.eigenvalues || []).map((v) => (v === null ? NaN : v));
  const cond = probe.condition === null ? "\u221e" : num(probe.condition);
  const where = `Curvature at (${num(probe.x)}, ${num(probe.y)}): ${probe.note}`;
  const lines = [where, `curvatures ${num(lo)}, ${num(hi)} \u00b7 condition ${Number.isFinite(lo) ? cond : "\u2014"}`];
  lines.push(...(probe.stability || []));  // each sentence names its racer
  return lines;
}

// The probe's curvature glyph at its point, with a small label: the insides' cross, its longer
// bar the larger curvature (lengths log-compressed against the larger one).
export function drawProbe(ctx, chart, probe, s) {
  const [lo, hi] = (probe.eigenvalues || []).map((v) => (v === null ? NaN : v));
  const ang = probe.angle;
  const [x, y] = chart.toPx(probe.x, probe.y);
  if (!(Math.abs(x) < 1e6 && Math.abs(y) < 1e6)) return;
  if (Number.isFinite(lo) && Number.isFinite(hi) && Number.isFinite(ang)) {
    const d1 = pixelDir(chart, Math.cos(ang), Math.sin(ang));
    const d2 = pixelDir(chart, -Math.sin(ang), Math.cos(ang));
    const big = Math.max(Math.abs(lo), Math.abs(hi));
    if (d1 && d2 && big > 0) {
      const arms = [arrowPx(Math.abs(lo), big, s) * 1.2, arrowPx(Math.abs(hi), big, s) * 1.2];
      drawCurvatureCross(ctx, x, y, [d1, d2], arms, [lo < 0, hi < 0], s);
    }
  }
  ctx.beginPath();
  ctx.arc(x, y, 2.5 * s, 0, 2 * Math.PI);
  ctx.fillStyle = KIND_STYLE.curv.color;
  ctx.fill();
  ctx.font = `${Math.round(11 * s)}px system-ui, sans-serif`;
  ctx.textAlign = "left";
  ctx.textBaseline = "bottom";
  ctx.lineWidth = 3 * s;
  ctx.strokeStyle = "rgba(255, 255, 255, 0.9)";
  const label = "curvature here";
  ctx.strokeText(label, x + 6 * s, y - 6 * s);
  ctx.fillText(label, x + 6 * s, y - 6 * s);
}

// The numbers of racer i's insides at frame k, as lines of text.
export function insideLines(race, i, k) {
  const t = race.insides.tables[i];
  const start = race.racers[i].starts[0];
  if (!t) return ["no insides: only a racer with one start and one seed records them"];
  if (start.divergedAt !== null && k >= start.divergedAt) return [`diverged at step ${start.divergedAt}`];
  const row = t.rowOf(Math.min(k, start.n - 1));
  const labels = race.insides.labels;
  const vec = t.vectors.map((kind) => `${labels[kind] || kind} ${pair(t, row, kind)}`);
  if (t.has("eff_x")) vec.push(`lr per axis ${pair(t, row, "eff")}`);
  const lo = t.value(row, "lam_lo");
  const hi = t.value(row, "lam_hi");
  const big = Math.max(Math.abs(lo), Math.abs(hi));
  const small = Math.min(Math.abs(lo), Math.abs(hi));
  const cond = small > 0 ? num(big / small) : "\u221e";
  return [vec.join(" \u00b7 "), `curvatures ${num(lo)}, ${num(hi)} \u00b7 condition ${cond}`, stabilityWords(t, row)];
}

// The panel: a key to the glyphs and one block of numbers per racer, updated
// with the timeline (10 times a second while playing).
export class InsidesView {
  constructor(el, timeline) {
    this.el = el;
    this.timeline = timeline;
    this.race = null;
    this.on = false;
    this.blocks = [];
    this.shown = -1;
    this.shownAt = 0;
  }

  setRace(race) {
    this.race = race;
    const box = this.el.insides;
    box.replaceChildren();
    this.blocks = [];
    if (!race.insides) return;
    const key = document.createElement("p");
    key.className = "race-insides-key";
    const labels = race.insides.labels;
    const kinds = [...new Set(race.insides.tables.flatMap((t) => (t ? t.vectors : [])))];
    const items = kinds.map((kind) => [labels[kind] || kind, KIND_STYLE[kind]?.color || "currentColor"]);
    if (race.insides.tables.some((t) => t && t.has("eff_x"))) items.push(["lr per axis (box)", KIND_STYLE.eff.color]);
    items.push(["curvature (dashed: curving down)", KIND_STYLE.curv.color]);
    for (const [text, color] of items) {
      const span = document.createElement("span");
      span.className = "race-insides-item";
      span.style.setProperty("--kind", color);
      span.textContent = text;
      key.append(span);
    }
    const note = document.createElement("span");
    note.className = "race-insides-note";
    note.textContent = "Arrows are scaled per kind (log of length / its median in this race); the step arrow has the racer's colour.";
    key.append(note);
    box.append(key);
    race.racers.forEach((r) => {
      const block = document.createElement("div");
      block.className = "race-insides-racer";
      block.style.setProperty("--racer", r.color);
      block.dataset.testid = "race-insides-racer";
      const name = document.createElement("span");
      name.className = "race-insides-name";
      name.textContent = r.label;
      const text = document.createElement("span");
      text.className = "race-insides-text";
      block.append(name, text);
      box.append(block);
      this.blocks.push({ text, shown: "" });
    });
    this.shown = -1;
  }

  setOn(on) {
    this.on = on;
    this.el.insides.hidden = !(on && this.race?.insides);
    this.shown = -1;
  }

  // Why there is nothing to draw (shown in place of the numbers), or "" to clear it.
  setNote(text) {
    if (!text) {
      this.el.insides.querySelector(".race-insides-why")?.remove();
      return;
    }
    let p = this.el.insides.querySelector(".race-insides-why");
    if (!p) {
      p = document.createElement("p");
      p.className = "race-insides-why";
      this.el.insides.prepend(p);
    }
    p.textContent = text;
    this.el.insides.hidden = false;
  }

  draw(pos) {
    if (!this.on || !this.race?.insides) return;
    const k = Math.floor(pos);
    const now = performance.now();
    if (k === this.shown || (this.timeline.playing && now - this.shownAt < PANEL_EVERY_MS)) return;
    this.shown = k;
    this.shownAt = now;
    this.blocks.forEach((b, i) => {
      const text = insideLines(this.race, i, k).join("\n");
      if (text !== b.shown) {
        b.shown = text;
        b.text.textContent = text;
      }
    });
  }
}
