// Drawing layers: small functions that paint one kind of mark at pixel
// positions on a canvas context. `s` is the theme's size scale.

const DIVERGED_COLOR = "#d7191c";
const HALO = "rgba(255, 255, 255, 0.85)";
const STAR_FILL = "#ffd43b";
const STAR_EDGE = "#1d1d1f";

// The colour, then a white halo drawn *behind* everything already on the
// layer (destination-over): halos never cover any trail's colour, however
// small the steps and however the racers' paths overlap.
export function strokeHaloed(ctx, path, color, lw, s) {
  ctx.strokeStyle = color;
  ctx.lineWidth = lw;
  ctx.stroke(path);
  ctx.globalCompositeOperation = "destination-over";
  ctx.strokeStyle = HALO;
  ctx.lineWidth = lw + 3 * s;
  ctx.stroke(path);
  ctx.globalCompositeOperation = "source-over";
}

export function strokePlain(ctx, path, color, lw) {
  ctx.strokeStyle = color;
  ctx.lineWidth = lw;
  ctx.stroke(path);
}

// Where a racer started: a white dot with a dark rim.
export function drawStart(ctx, x, y, s) {
  ctx.beginPath();
  ctx.arc(x, y, 5.5 * s, 0, 2 * Math.PI);
  ctx.fillStyle = "#ffffff";
  ctx.fill();
  ctx.lineWidth = 2 * s;
  ctx.strokeStyle = STAR_EDGE;
  ctx.stroke();
}

// A known minimum: a yellow star (or `fill`: its basin's colour under an outcome map).
export function drawStar(ctx, x, y, s, fill = STAR_FILL) {
  const r = 9 * s;
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
  ctx.lineJoin = "round";
  if (fill !== STAR_FILL) {
    // on its own basin's colour a star shows by a white rim
    ctx.lineWidth = 4.5 * s;
    ctx.strokeStyle = "#ffffff";
    ctx.stroke();
  }
  ctx.fillStyle = fill;
  ctx.fill();
  ctx.lineWidth = 1.6 * s;
  ctx.strokeStyle = STAR_EDGE;
  ctx.stroke();
}

// A racer's position on the map: a dot in its colour, white rim, faint dark ring.
export function drawHead(ctx, x, y, color, s) {
  ctx.beginPath();
  ctx.arc(x, y, 6.5 * s, 0, 2 * Math.PI);
  ctx.fillStyle = color;
  ctx.fill();
  ctx.lineWidth = 2.2 * s;
  ctx.strokeStyle = "#ffffff";
  ctx.stroke();
  ctx.beginPath();
  ctx.arc(x, y, 7.8 * s, 0, 2 * Math.PI);
  ctx.lineWidth = 1;
  ctx.strokeStyle = "rgba(0, 0, 0, 0.45)";
  ctx.stroke();
}

// A racer's position on the loss chart: a smaller dot.
export function drawDot(ctx, x, y, color, s) {
  ctx.beginPath();
  ctx.arc(x, y, 4.5 * s, 0, 2 * Math.PI);
  ctx.fillStyle = color;
  ctx.fill();
  ctx.lineWidth = 1.8 * s;
  ctx.strokeStyle = "#ffffff";
  ctx.stroke();
}

// Where a run diverged: a red cross of half-size r.
export function drawCross(ctx, x, y, r, s) {
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

// The last click on the map: a ring with four ticks, until the new race arrives.
export function drawTarget(ctx, x, y, s) {
  const r = 8 * s;
  ctx.lineWidth = 3.5 * s;
  ctx.strokeStyle = "rgba(255, 255, 255, 0.9)";
  ctx.beginPath();
  ctx.arc(x, y, r, 0, 2 * Math.PI);
  ctx.stroke();
  ctx.lineWidth = 1.8 * s;
  ctx.strokeStyle = STAR_EDGE;
  ctx.beginPath();
  ctx.arc(x, y, r, 0, 2 * Math.PI);
  ctx.moveTo(x - r - 4 * s, y);
  ctx.lineTo(x - r + 3 * s, y);
  ctx.moveTo(x + r - 3 * s, y);
  ctx.lineTo(x + r + 4 * s, y);
  ctx.moveTo(x, y - r - 4 * s);
  ctx.lineTo(x, y - r + 3 * s);
  ctx.moveTo(x, y + r - 3 * s);
  ctx.lineTo(x, y + r + 4 * s);
  ctx.stroke();
}

// The loss chart's playback cursor: a dashed vertical line.
export function drawCursor(ctx, x, top, bottom, color) {
  ctx.strokeStyle = color;
  ctx.lineWidth = 1;
  ctx.setLineDash([4, 3]);
  ctx.beginPath();
  ctx.moveTo(x, top);
  ctx.lineTo(x, bottom);
  ctx.stroke();
  ctx.setLineDash([]);
}

// The contour image filling the plot (or a plain panel until it loads), framed.
export function drawImage(ctx, image, plot, th) {
  const { l, t, w, h } = plot;
  if (image) {
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(image, l, t, w, h);
  } else {
    ctx.fillStyle = th.panel;
    ctx.fillRect(l, t, w, h);
  }
  ctx.strokeStyle = th.faint;
  ctx.lineWidth = 1;
  ctx.strokeRect(l - 0.5, t - 0.5, w + 1, h + 1);
}
