// Put one item on the stage. Item text comes from users' data: it is set with
// textContent (line breaks kept by CSS), never parsed as HTML.
//
// Images show the view (the stored image, or an 8-bit rendering of TIFF and
// 16-bit scans, docs/images.md). A 16-bit grayscale scan then loads its raw
// samples and is drawn in a canvas whose window/level a right-drag changes
// (left/right: width, up/down: level); W returns to the automatic window.

import { draggedWindow, loadSamples, paintWindow } from "./scan.js";

let token = 0;
let scan = null; // the 16-bit image on the stage: { canvas, samples, window }

export function renderItem(stage, meta, item) {
  const mine = ++token;
  scan = null;
  if (item.media_url) {
    const img = document.createElement("img");
    img.className = "item-image";
    img.alt = `Image ${item.external_id || item.id}`;
    img.addEventListener("load", () => sizeImage(img, stage));
    stage.replaceChildren(img);
    showView(img, item, mine).catch(() => {
      if (mine === token) img.alt = `Could not load image ${item.external_id || item.id}`;
    });
  } else {
    const text = document.createElement("div");
    text.className = "item-text";
    text.textContent = item.text ?? "";
    stage.replaceChildren(text);
  }
  meta.textContent = item.external_id ? `#${item.id} · ${item.external_id}` : `#${item.id}`;
}

// The view is fetched (not just set as src) to read X-Hitloop-Samples, which says
// that the image is a 16-bit scan with raw samples for window/level.
async function showView(img, item, mine) {
  const res = await fetch(item.media_url.replace(/\/media$/, "/view"), { credentials: "same-origin" });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const wide = res.headers.get("X-Hitloop-Samples") === "1";
  const url = URL.createObjectURL(await res.blob());
  img.addEventListener("load", () => URL.revokeObjectURL(url), { once: true });
  img.src = url;
  if (!wide || mine !== token) return;
  const samples = await loadSamples(item.id);
  if (!samples || mine !== token) return;
  const canvas = document.createElement("canvas");
  canvas.className = "item-image scan-image";
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", `${img.alt}: right-drag changes the window, W resets it`);
  canvas.title = "Right-drag: window (left/right) and level (up/down); W: automatic window";
  scan = { canvas, samples, window: null };
  setWindow(samples.auto);
  bindDrag(canvas);
  img.replaceWith(canvas);
}

function setWindow(wanted) {
  if (!scan) return;
  scan.window = paintWindow(scan.samples, scan.canvas, wanted);
  scan.canvas.dataset.window = `${scan.window.low}-${scan.window.high}`;
}

function bindDrag(canvas) {
  let drag = null;
  let frame = 0;
  canvas.addEventListener("contextmenu", (e) => e.preventDefault());
  canvas.addEventListener("pointerdown", (e) => {
    if (e.button !== 2 || !scan || scan.canvas !== canvas) return;
    canvas.setPointerCapture(e.pointerId);
    drag = { x: e.clientX, y: e.clientY, window: { ...scan.window } };
    e.preventDefault();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const wanted = draggedWindow(drag.window, e.clientX - drag.x, e.clientY - drag.y);
    if (!frame) {
      frame = requestAnimationFrame(() => {
        frame = 0;
        if (scan && scan.canvas === canvas) setWindow(wanted);
      });
    }
  });
  const end = () => {
    drag = null;
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
}

// W: back to the automatic window (label.js leaves the key alone).
document.addEventListener("keydown", (e) => {
  if (!scan || e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
  if (e.key !== "w" && e.key !== "W") return;
  const t = e.target;
  if (t && t.closest && t.closest("input, textarea, select, [contenteditable]")) return;
  setWindow(scan.samples.auto);
  e.preventDefault();
});

// Tiny images (8×8 digits, icons) are scaled up by a whole factor, without smoothing.
function sizeImage(img, stage) {
  const w = img.naturalWidth;
  const h = img.naturalHeight;
  if (Math.max(w, h) > 128) return;
  const box = Math.min(stage.clientWidth || 640, 420);
  const factor = Math.max(1, Math.floor(box / Math.max(w, h)));
  img.classList.add("pixelated");
  img.style.width = `${w * factor}px`;
  img.style.height = `${h * factor}px`;
}
