// The playback clock: one position, in steps, that every view follows.
//
// As in uPlot's sync, the views do not talk to each other: each registers a
// function with follow(), and on every animation frame the timeline hands all
// of them the same position (a whole step plus a fraction while playing).

export const SPEEDS = [0.25, 0.5, 1, 2, 4, 8];
// 1x plays 60 steps per second (1000 steps in about 17 s); short races are
// slowed so that at 1x they still last MIN_RACE_SECONDS.
const STEPS_PER_SECOND = 60;
const MIN_RACE_SECONDS = 4;
const MAX_FRAME_GAP_MS = 100; // a stalled tab resumes where it was, not far ahead
const FPS_EVERY_MS = 250;

export class Timeline {
  // alive(): false once the views are gone (the loop then stops);
  // onPlaying(playing) and onFps(fps, spanMs, ts, renderMs) report to the page.
  constructor({ alive, onPlaying, onFps }) {
    this.alive = alive;
    this.onPlaying = onPlaying;
    this.onFps = onFps;
    this.views = [];
    this.steps = 0;
    this.rate = STEPS_PER_SECOND;
    this.pos = 0;
    this.speed = 1;
    this.playing = false;
    this.scrubbing = false; // a pointer holds the scrubber: it, not the clock, sets the position
    this.raf = 0;
    this.lastTs = null;
    this.frameTimes = [];
    this.fpsShownAt = 0;
    this.renderMs = 0;
    this.tick = this.tick.bind(this);
  }

  follow(view) {
    this.views.push(view);
  }

  setSteps(steps) {
    this.steps = steps;
    this.rate = Math.min(STEPS_PER_SECOND, Math.max(steps, 1) / MIN_RACE_SECONDS);
    this.pos = Math.min(this.pos, steps);
  }

  setSpeed(v) {
    this.speed = SPEEDS.includes(v) ? v : 1;
  }

  setPlaying(on) {
    if (on && this.pos >= this.steps) this.pos = 0;
    this.playing = Boolean(on) && this.steps > 0;
    this.lastTs = null;
    this.frameTimes.length = 0;
    this.onPlaying(this.playing);
    this.request();
  }

  stepBy(delta) {
    this.setPlaying(false);
    this.seek(delta > 0 ? Math.floor(this.pos) + delta : Math.ceil(this.pos) + delta);
  }

  seek(k) {
    const v = Number.isFinite(k) ? k : 0;
    this.pos = v < 0 ? 0 : v > this.steps ? this.steps : v;
    this.request();
  }

  restart() {
    this.pos = 0;
    this.setPlaying(true);
  }

  toEnd() {
    this.setPlaying(false);
    this.seek(this.steps);
  }

  endScrub() {
    this.scrubbing = false;
    this.lastTs = null;
  }

  // Draw the views once on the next animation frame (and keep going while playing).
  request() {
    if (!this.raf && this.alive()) this.raf = requestAnimationFrame(this.tick);
  }

  stop() {
    if (this.raf) cancelAnimationFrame(this.raf);
    this.raf = 0;
  }

  tick(ts) {
    this.raf = 0;
    if (!this.alive()) return;
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
    for (const view of this.views) view(this.pos);
    this.renderMs = this.renderMs * 0.9 + (performance.now() - t0) * 0.1;
    // A view may have asked for a frame already (a layout does): one loop, never two.
    if (this.playing && !this.raf) this.raf = requestAnimationFrame(this.tick);
  }

  measureFps(ts) {
    const times = this.frameTimes;
    times.push(ts);
    while (times.length > 2 && ts - times[0] > 1000) times.shift();
    if (ts - this.fpsShownAt > FPS_EVERY_MS && times.length > 2) {
      this.fpsShownAt = ts;
      const span = times[times.length - 1] - times[0];
      this.onFps(((times.length - 1) * 1000) / span, span, ts, this.renderMs);
    }
  }
}
