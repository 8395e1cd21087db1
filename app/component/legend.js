// The text views: the legend (one row per racer with its loss at the shown
// step, or where it diverged) and the step counter with the scrubber.

import { formatLoss } from "./geometry.js";

const LEGEND_EVERY_MS = 100; // while playing

// Follows the timeline like the charts do; the DOM changes only when a text does.
export class StepView {
  constructor(el, timeline) {
    this.el = el;
    this.timeline = timeline;
    this.racers = [];
    this.rows = [];
    this.reset();
  }

  setRace(race) {
    this.racers = race.racers;
    this.rows = buildLegend(this.el.legend, race.racers);
    this.el.scrub.max = String(race.steps);
    this.reset();
  }

  reset() {
    this.shownFrame = -1;
    this.legendFrame = -1;
    this.legendAt = 0;
  }

  draw(pos) {
    const k = Math.floor(pos);
    const tl = this.timeline;
    if (k !== this.shownFrame) {
      this.shownFrame = k;
      const fr = this.el.frame;
      fr.textContent = `step ${k} / ${tl.steps}`;
      fr.dataset.frame = String(k);
      if (!tl.scrubbing) this.el.scrub.value = String(k);
    }
    // Numbers changing 60 times a second cannot be read; 10 times can.
    const now = performance.now();
    if (k !== this.legendFrame && (!tl.playing || now - this.legendAt >= LEGEND_EVERY_MS)) {
      this.legendFrame = k;
      this.legendAt = now;
      updateLegend(this.rows, this.racers, k);
    }
  }
}

// Fill the list `ul` with a row per racer; return the rows for updateLegend.
function buildLegend(ul, racers) {
  ul.replaceChildren();
  return racers.map((r) => {
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

// Show step k; a row's DOM changes only when its text does.
function updateLegend(rows, racers, k) {
  racers.forEach((r, i) => {
    const row = rows[i];
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
