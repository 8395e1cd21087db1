// The outcome maps side by side (app/maps_component.py): the matplotlib figure as a picture, and a
// click inside one of its maps sent back as [map index, x, y], the centre of the start's pixel there.
//
// data = {image, axes}: image a PNG data URL; axes one {box, extent, n} per map, box = [x0, y0, x1, y1]
// the map's axes in fractions of the figure (from its bottom left, as matplotlib gives them),
// extent = [x0, x1, y0, y1] the data those axes show, n = [columns, rows] of the map's starts.

// Return [index, x, y] of the map under a point given in fractions of the picture (fy from the top), else null.
function mapAt(axes, fx, fy) {
  const up = 1 - fy; // matplotlib's figure fractions grow upward
  for (let k = 0; k < axes.length; k++) {
    const [b0, c0, b1, c1] = axes[k].box;
    if (fx < b0 || fx > b1 || up < c0 || up > c1) continue;
    const [x0, x1, y0, y1] = axes[k].extent;
    const [nx, ny] = axes[k].n;
    // the start whose pixel holds the point: each of the n pixels is one start, at its centre
    const cell = (t, n) => Math.min(n - 1, Math.max(0, Math.floor(t * n)));
    const j = cell((fx - b0) / (b1 - b0), nx);
    const i = cell((up - c0) / (c1 - c0), ny);
    return [k, x0 + ((j + 0.5) * (x1 - x0)) / nx, y0 + ((i + 0.5) * (y1 - y0)) / ny];
  }
  return null;
}

// Streamlit calls this on mount and again, on the same element, whenever the data changes (without
// the previous cleanup): so the listeners are added once and read the newest data from the picture.
export default function mountMaps(component) {
  const { data, parentElement, setTriggerValue } = component;
  const img = parentElement.querySelector(".maps-img");
  if (!img || !data) return undefined;
  if (img.getAttribute("src") !== data.image) img.src = data.image;
  img.__maps = { axes: data.axes || [], send: setTriggerValue };
  img.dataset.axes = JSON.stringify(img.__maps.axes); // where the maps are, for a look from outside (the tests)
  if (img.__mapsCleanup) return img.__mapsCleanup;

  const where = (event) => {
    const rect = img.getBoundingClientRect();
    if (!rect.width || !rect.height) return null;
    return mapAt(img.__maps.axes, (event.clientX - rect.left) / rect.width, (event.clientY - rect.top) / rect.height);
  };
  const onClick = (event) => {
    const hit = where(event);
    if (hit) img.__maps.send("click", hit);
  };
  const onMove = (event) => img.classList.toggle("on-map", where(event) !== null);
  const onLeave = () => img.classList.remove("on-map");
  img.addEventListener("click", onClick);
  img.addEventListener("mousemove", onMove);
  img.addEventListener("mouseleave", onLeave);
  img.__mapsCleanup = () => {
    img.removeEventListener("click", onClick);
    img.removeEventListener("mousemove", onMove);
    img.removeEventListener("mouseleave", onLeave);
    img.__mapsCleanup = null;
  };
  return img.__mapsCleanup;
}
