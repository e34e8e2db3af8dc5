// Put one item on the stage. Item text comes from users' data: it is set with
// textContent (line breaks kept by CSS), never parsed as HTML.

export function renderItem(stage, meta, item) {
  if (item.media_url) {
    const img = document.createElement("img");
    img.className = "item-image";
    img.alt = `Image ${item.external_id || item.id}`;
    img.addEventListener("load", () => sizeImage(img, stage));
    // The view: the stored image, or an 8-bit rendering of TIFF and 16-bit scans (docs/images.md).
    img.src = item.media_url.replace(/\/media$/, "/view");
    stage.replaceChildren(img);
  } else {
    const text = document.createElement("div");
    text.className = "item-text";
    text.textContent = item.text ?? "";
    stage.replaceChildren(text);
  }
  meta.textContent = item.external_id ? `#${item.id} · ${item.external_id}` : `#${item.id}`;
}

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
