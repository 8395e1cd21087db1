// The outcome overlay: one racer's outcome map (payload.outcome, built in
// app/outcome.py) drawn under the race instead of, or blended over, the
// surface's colours; the pixel a click falls in; and the overlay's key.

// Where a click lands when the overlay is shown: the centre of the map pixel
// under it, so the race starts exactly from the start that pixel shows.
export function snapToPixel(xy, outcome) {
  const [x0, x1, y0, y1] = outcome.extent;
  const n = outcome.n;
  const cell = (v, lo, hi) => Math.min(n - 1, Math.max(0, Math.floor(((v - lo) / (hi - lo)) * n)));
  const j = cell(xy[0], x0, x1);
  const i = cell(xy[1], y0, y1);
  return [x0 + ((j + 0.5) * (x1 - x0)) / n, y0 + ((i + 0.5) * (y1 - y0)) / n];
}

// The overlay's state: its payload, its decoded image (null until loaded) and how opaque it is drawn.
export class Outcome {
  constructor(onLoad) {
    this.onLoad = onLoad;
    this.data = null;
    this.image = null;
    this.src = "";
    this.alpha = 1;
  }

  set(data) {
    this.data = data || null;
    const src = this.data ? this.data.image : "";
    if (src === this.src) return;
    this.src = src;
    this.image = null;
    if (!src) return;
    const img = new Image();
    img.onload = () => {
      if (this.src !== src) return;
      this.image = img;
      this.onLoad();
    };
    img.src = src;
  }

  shown() {
    return Boolean(this.data && this.image);
  }

  // Paint the map's pixels over the plot, each start's square sharp (no smoothing between outcomes).
  draw(ctx, chart) {
    if (!this.shown() || this.alpha <= 0) return;
    const [x0, x1, y0, y1] = this.data.extent;
    const [ax, ay] = chart.toPx(x0, y1);
    const [bx, by] = chart.toPx(x1, y0);
    chart.clipToPlot(ctx);
    ctx.globalAlpha = this.alpha;
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(this.image, ax, ay, bx - ax, by - ay);
    ctx.restore();
  }

  // The colour of minimum i's star: its basin's colour while the overlay is shown.
  starColor(i) {
    return this.shown() ? this.data.minima_colors[i] : null;
  }
}

const fmt = (v) => String(Number(v.toPrecision(3)));

// Fill `box` with the overlay's key: what each colour means, and the opacity slider (calls onAlpha(0..1)).
export function buildOutcomeKey(box, outcome, minima, alpha, onAlpha) {
  box.replaceChildren();
  box.hidden = !outcome;
  if (!outcome) return;
  const head = document.createElement("p");
  head.className = "race-outcome-head";
  head.textContent = `Outcome map of ${outcome.label}: each of the ${outcome.n} × ${outcome.n} pixels is a start, coloured by where its run ends. Click a pixel to race from it.`;
  const list = document.createElement("ul");
  list.className = "race-outcome-key";
  const row = (background, text, star = false) => {
    const li = document.createElement("li");
    const sw = document.createElement("span");
    sw.className = star ? "race-outcome-swatch star" : "race-outcome-swatch";
    sw.style.background = background;
    const label = document.createElement("span");
    label.textContent = text;
    li.append(sw, label);
    list.append(li);
  };
  minima.forEach(([x, y], i) => row(outcome.minima_colors[i], `minimum ${i + 1} (${fmt(x)}, ${fmt(y)}), within ${fmt(outcome.tol)}`, true));
  row(`linear-gradient(90deg, #d9d9d9, #666666)`, "stopped elsewhere (darker: higher loss)");
  row(outcome.diverged, "diverged");
  const c = outcome.minima_colors[0] || "#4477aa";
  row(`linear-gradient(90deg, ${c}, color-mix(in srgb, ${c} ${Math.round(100 - 100 * outcome.max_fade)}%, white))`,
    `paler: more of the ${outcome.steps} steps to get there`);
  const blend = document.createElement("label");
  blend.className = "race-outcome-blend";
  const slider = document.createElement("input");
  slider.type = "range";
  slider.min = "0";
  slider.max = "100";
  slider.step = "5";
  slider.value = String(Math.round(alpha * 100));
  slider.setAttribute("data-testid", "race-outcome-alpha");
  slider.setAttribute("aria-label", "Opacity of the outcome map over the surface");
  // its arrow keys move the slider, not the race
  slider.addEventListener("keydown", (e) => e.stopPropagation());
  slider.addEventListener("input", () => onAlpha(Number(slider.value) / 100));
  blend.append("surface", slider, "outcome map");
  box.append(head, list, blend);
}
