// Window/level of 16-bit grayscale images (medical scans), shared by the box
// editor (boxes.js) and the classify/multilabel viewer (item.js).
//
// The server sends the raw samples (/api/items/{id}/samples, little-endian
// uint16); the page maps a window [low, high] of them to 0..255 through a
// lookup table and paints the result into a canvas. Dragging with the right
// button changes the window (left/right: width, up/down: level); W returns to
// the automatic window (0.5th to 99.5th percentile).

/** Fetch an item's raw samples; null when it has none (not a 16-bit image) or the fetch fails. */
export async function loadSamples(id) {
  const res = await fetch(`/api/items/${id}/samples`, { credentials: "same-origin" });
  if (!res.ok) return null;
  const width = Number(res.headers.get("X-Width"));
  const height = Number(res.headers.get("X-Height"));
  const data = new Uint16Array(await res.arrayBuffer());
  if (!(width > 0) || data.length !== width * height) return null;
  return { data, width, height, auto: autoWindow(data) };
}

/** Paint `samples` through the window into `canvas` (sized to the image); returns the window used. */
export function paintWindow(samples, canvas, { low, high }) {
  const lo = Math.round(clamp(low, 0, 65534));
  const hi = Math.round(clamp(high, lo + 1, 65535));
  const lut = new Uint8ClampedArray(65536);
  const scale = 255 / (hi - lo);
  for (let v = 0; v < 65536; v++) lut[v] = (v - lo) * scale;
  const { data, width, height } = samples;
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  const ctx = canvas.getContext("2d");
  const out = ctx.createImageData(width, height);
  const px = new Uint32Array(out.data.buffer);
  for (let i = 0; i < data.length; i++) {
    const g = lut[data[i]];
    px[i] = 0xff000000 | (g << 16) | (g << 8) | g; // little-endian RGBA
  }
  ctx.putImageData(out, 0, 0);
  return { low: lo, high: hi };
}

/** The window after a right-drag of (dx, dy) screen pixels from `start`: right widens, down raises the level. */
export function draggedWindow(start, dx, dy) {
  const width0 = start.high - start.low;
  const centre = (start.high + start.low) / 2 + dy * width0 * 0.005; // one pixel ≈ 0.5% of the width
  const width = Math.max(2, width0 * Math.exp(dx * 0.005));
  return { low: centre - width / 2, high: centre + width / 2 };
}

/** The 0.5th and 99.5th percentiles of the samples, from a histogram (one pass, no sort). */
export function autoWindow(data) {
  const counts = new Uint32Array(65536);
  for (let i = 0; i < data.length; i++) counts[data[i]]++;
  const lowRank = data.length * 0.005;
  const highRank = data.length * 0.995;
  let seen = 0;
  let low = 0;
  let high = 65535;
  let foundLow = false;
  for (let v = 0; v < 65536; v++) {
    seen += counts[v];
    if (!foundLow && seen > lowRank) {
      low = v;
      foundLow = true;
    }
    if (seen >= highRank) {
      high = v;
      break;
    }
  }
  return { low, high: Math.max(high, low + 1) };
}

const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), Math.max(lo, hi));
