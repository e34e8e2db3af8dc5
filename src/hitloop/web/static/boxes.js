// The box editor: one <canvas> holds the image and every box, redrawn in one
// animation frame after any change, so 200+ boxes on a 4000×3000 image cost
// one drawImage and a loop of strokeRect — no DOM node per box.
//
// Mouse: drag on the image draws a box; drag a box moves it; drag a corner or
// an edge of the selected box resizes it; click selects. Wheel zooms around the
// cursor; drag with Space held or with the middle button pans. Keys (handled
// here): Delete removes the selected box, Ctrl+Z / Ctrl+Shift+Z undo and redo,
// Tab selects the next box, F fits the image, arrows nudge the selected box.
// Number keys (label.js calls setLabel) give the selected box — and boxes drawn
// next — a label. Label names are drawn with fillText: data never becomes HTML.
//
// 16-bit grayscale images (medical scans) load their raw samples; drag with the
// right button to change the window (left/right: width, up/down: level) and
// press W to return to the automatic window (scan.js).

import { draggedWindow, loadSamples, paintWindow } from "./scan.js";

const COLORS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324", "#469990", "#808000"];
const HANDLE = 7; // px on screen
const MIN_DRAW = 3; // px on screen: smaller drags are clicks
const UNDO_LIMIT = 200;

export class BoxEditor {
  constructor(labels, { onChange = () => {} } = {}) {
    this.labels = labels;
    this.onChange = onChange;
    this.root = document.createElement("div");
    this.root.className = "box-editor";
    this.canvas = document.createElement("canvas");
    this.canvas.className = "box-canvas";
    this.canvas.tabIndex = 0;
    this.canvas.setAttribute("role", "img");
    this.status = document.createElement("p");
    this.status.className = "box-status";
    this.status.setAttribute("aria-live", "polite");
    this.root.append(this.canvas, this.status);
    this.ctx = this.canvas.getContext("2d");
    this.image = null;
    this.boxes = [];
    this.selected = -1;
    this.current = 0; // label index for new boxes
    this.view = { scale: 1, tx: 0, ty: 0 };
    this.undoStack = [];
    this.redoStack = [];
    this.drag = null;
    this.space = false;
    this.frame = 0;
    this.token = 0;
    this.bind();
    new ResizeObserver(() => this.resize()).observe(this.root);
  }

  // ---- public ---------------------------------------------------------------

  /** Show an item's image with starting boxes (an earlier answer or a suggestion). */
  show(stage, item, boxes, note = "") {
    const token = ++this.token;
    this.image = null;
    this.boxes = (boxes || []).map((b) => ({ ...b }));
    this.selected = -1;
    this.undoStack = [];
    this.redoStack = [];
    this.note = note;
    this.canvas.setAttribute("aria-label", `Image ${item.external_id || item.id}`);
    stage.replaceChildren(this.root);
    this.resize();
    this.samples = null;
    this.source = null;
    this.root.dataset.ready = "false";
    this.load(item.id, token).catch((err) => {
      if (token === this.token) this.status.textContent = `Could not load the image: ${err.message}`;
    });
  }

  // The view (the stored image, or an 8-bit rendering of TIFF and 16-bit images) is
  // decoded off the main thread by createImageBitmap: a 4000×3000 JPEG never blocks input.
  async load(id, token) {
    const res = await fetch(`/api/items/${id}/view`, { credentials: "same-origin" });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const wide = res.headers.get("X-Hitloop-Samples") === "1";
    const bitmap = await createImageBitmap(await res.blob());
    if (token !== this.token) return;
    this.image = bitmap;
    if (wide) await this.loadSamples(id, token);
    if (token !== this.token) return;
    this.fit();
    this.root.dataset.ready = "true";
  }

  async loadSamples(id, token) {
    const samples = await loadSamples(id);
    if (!samples || token !== this.token) return;
    this.samples = samples;
    this.source = document.createElement("canvas");
    this.setWindow(samples.auto);
  }

  /** Window/level of a 16-bit image: samples below `low` are black, above `high` white. */
  setWindow(wanted) {
    if (!this.samples) return;
    this.window = paintWindow(this.samples, this.source, wanted);
    this.canvas.dataset.window = `${this.window.low}-${this.window.high}`;
    this.redraw();
  }

  /** The answer: boxes inside the image, rounded to 0.01 px. */
  value() {
    const w = this.image ? this.image.width : Infinity;
    const h = this.image ? this.image.height : Infinity;
    const out = [];
    for (const b of this.boxes) {
      const x0 = clamp(b.x, 0, w);
      const y0 = clamp(b.y, 0, h);
      const x1 = clamp(b.x + b.w, 0, w);
      const y1 = clamp(b.y + b.h, 0, h);
      if (x1 - x0 < 0.5 || y1 - y0 < 0.5) continue;
      out.push({ x: round2(x0), y: round2(y0), w: round2(x1 - x0), h: round2(y1 - y0), label: b.label });
    }
    return { boxes: out };
  }

  /** Number key: label the selected box, and boxes drawn from now on. */
  setLabel(index) {
    if (index >= this.labels.length) return;
    this.current = index;
    const box = this.boxes[this.selected];
    if (box && box.label !== this.labels[index]) {
      this.remember();
      box.label = this.labels[index];
      this.changed();
    } else {
      this.redraw();
    }
  }

  get ready() {
    return !!this.image;
  }

  /** Keys for the editor; returns true when the key was used. */
  handleKey(event) {
    const key = event.key;
    const mod = event.ctrlKey || event.metaKey;
    if (mod && (key === "z" || key === "Z")) {
      if (event.shiftKey) this.redo();
      else this.undo();
      return true;
    }
    if (mod && (key === "y" || key === "Y")) {
      this.redo();
      return true;
    }
    if (mod || event.altKey) return false;
    if (key === "Delete" || (key === "x" && this.selected >= 0)) {
      this.deleteSelected();
      return true;
    }
    if (key === "Tab" && this.boxes.length) {
      const n = this.boxes.length;
      if (this.selected < 0) this.selected = event.shiftKey ? n - 1 : 0;
      else this.selected = (this.selected + (event.shiftKey ? n - 1 : 1)) % n;
      this.redraw();
      return true;
    }
    if (key === "f" || key === "F") {
      this.fit();
      return true;
    }
    if ((key === "w" || key === "W") && this.samples) {
      this.setWindow(this.samples.auto);
      return true;
    }
    const nudge = { ArrowUp: [0, -1], ArrowDown: [0, 1], ArrowLeft: [-1, 0], ArrowRight: [1, 0] }[key];
    if (nudge && this.selected >= 0) {
      const step = (event.shiftKey ? 10 : 1) / this.view.scale;
      this.remember();
      const b = this.boxes[this.selected];
      b.x += nudge[0] * step;
      b.y += nudge[1] * step;
      this.keepInside(b);
      this.changed();
      return true;
    }
    return false;
  }

  undo() {
    if (!this.undoStack.length) return;
    this.redoStack.push(this.snapshot());
    this.restore(this.undoStack.pop());
  }

  redo() {
    if (!this.redoStack.length) return;
    this.undoStack.push(this.snapshot());
    this.restore(this.redoStack.pop());
  }

  deleteSelected() {
    if (this.selected < 0) return;
    this.remember();
    this.boxes.splice(this.selected, 1);
    this.selected = Math.min(this.selected, this.boxes.length - 1);
    this.changed();
  }

  fit() {
    if (!this.image) return;
    const { width, height } = this.size();
    const iw = this.image.width;
    const ih = this.image.height;
    // Small images (icons, 8×8 digits) grow by a whole factor at most 8×; large ones shrink to fit.
    let scale = Math.min(width / iw, height / ih);
    if (scale > 1) scale = Math.min(8, Math.max(1, Math.floor(scale)));
    this.view = { scale, tx: (width - iw * scale) / 2, ty: (height - ih * scale) / 2 };
    this.redraw();
  }

  // ---- state ----------------------------------------------------------------

  snapshot() {
    return { boxes: this.boxes.map((b) => ({ ...b })), selected: this.selected };
  }

  restore(state) {
    this.boxes = state.boxes;
    this.selected = Math.min(state.selected, this.boxes.length - 1);
    this.changed();
  }

  remember() {
    this.undoStack.push(this.snapshot());
    if (this.undoStack.length > UNDO_LIMIT) this.undoStack.shift();
    this.redoStack = [];
  }

  changed() {
    this.redraw();
    this.onChange(this);
  }

  keepInside(b) {
    if (!this.image) return;
    b.x = clamp(b.x, 0, this.image.width - b.w);
    b.y = clamp(b.y, 0, this.image.height - b.h);
  }

  // ---- geometry -------------------------------------------------------------

  size() {
    return { width: this.canvas.clientWidth || 640, height: this.canvas.clientHeight || 480 };
  }

  toImage(event) {
    const r = this.canvas.getBoundingClientRect();
    const sx = event.clientX - r.left;
    const sy = event.clientY - r.top;
    return { sx, sy, x: (sx - this.view.tx) / this.view.scale, y: (sy - this.view.ty) / this.view.scale };
  }

  // What is under the pointer: a handle of the selected box, a box (topmost, smallest), or nothing.
  hit(p) {
    const tol = HANDLE / this.view.scale;
    const sel = this.boxes[this.selected];
    if (sel) {
      const edges = edgesNear(sel, p, tol);
      if (edges) return { kind: "resize", index: this.selected, edges };
    }
    let best = -1;
    let bestArea = Infinity;
    for (let i = this.boxes.length - 1; i >= 0; i--) {
      const b = this.boxes[i];
      if (p.x >= b.x && p.x <= b.x + b.w && p.y >= b.y && p.y <= b.y + b.h && b.w * b.h < bestArea) {
        best = i;
        bestArea = b.w * b.h;
      }
    }
    return best >= 0 ? { kind: "move", index: best } : { kind: "none" };
  }

  // ---- input ----------------------------------------------------------------

  bind() {
    const c = this.canvas;
    c.addEventListener("pointerdown", (e) => this.down(e));
    c.addEventListener("pointermove", (e) => this.move(e));
    c.addEventListener("pointerup", (e) => this.up(e));
    c.addEventListener("pointercancel", (e) => this.up(e));
    c.addEventListener("wheel", (e) => this.wheel(e), { passive: false });
    c.addEventListener("contextmenu", (e) => e.preventDefault());
    // Space pans while held; it must not scroll the page or press a focused button.
    window.addEventListener("keydown", (e) => {
      if (e.key === " " && this.root.isConnected && !isTyping(e.target)) {
        this.space = true;
        c.dataset.cursor = "grab";
        e.preventDefault();
      }
    });
    window.addEventListener("keyup", (e) => {
      if (e.key === " ") {
        this.space = false;
        delete c.dataset.cursor;
      }
    });
  }

  down(e) {
    if (!this.image) return;
    const p = this.toImage(e);
    this.canvas.setPointerCapture(e.pointerId);
    if (e.button === 1 || (e.button === 0 && this.space)) {
      this.drag = { kind: "pan", sx: p.sx, sy: p.sy, tx: this.view.tx, ty: this.view.ty };
      e.preventDefault();
      return;
    }
    if (e.button === 2 && this.samples) {
      this.drag = { kind: "window", sx: p.sx, sy: p.sy, window: { ...this.window } };
      return;
    }
    if (e.button !== 0) return;
    const target = this.hit(p);
    if (target.kind === "resize" || target.kind === "move") {
      this.selected = target.index;
      const b = this.boxes[target.index];
      this.drag = { ...target, start: p, orig: { ...b }, before: this.snapshot(), moved: false };
      this.current = Math.max(0, this.labels.indexOf(b.label));
    } else {
      this.drag = { kind: "draw", start: p, before: this.snapshot(), box: null };
    }
    this.redraw();
  }

  move(e) {
    const p = this.toImage(e);
    const d = this.drag;
    if (!d) {
      if (this.image && !this.space) this.canvas.dataset.cursor = cursorFor(this.hit(p));
      return;
    }
    if (d.kind === "pan") {
      this.view.tx = d.tx + (p.sx - d.sx);
      this.view.ty = d.ty + (p.sy - d.sy);
      this.redraw();
      return;
    }
    if (d.kind === "window") {
      const wanted = draggedWindow(d.window, p.sx - d.sx, p.sy - d.sy);
      if (!this.windowFrame) {
        this.windowFrame = requestAnimationFrame(() => {
          this.windowFrame = 0;
          this.setWindow(wanted);
        });
      }
      return;
    }
    const dx = p.x - d.start.x;
    const dy = p.y - d.start.y;
    const iw = this.image.width;
    const ih = this.image.height;
    if (d.kind === "draw") {
      if (!d.box && Math.hypot(dx, dy) * this.view.scale < MIN_DRAW) return;
      const x0 = clamp(Math.min(d.start.x, p.x), 0, iw);
      const y0 = clamp(Math.min(d.start.y, p.y), 0, ih);
      const x1 = clamp(Math.max(d.start.x, p.x), 0, iw);
      const y1 = clamp(Math.max(d.start.y, p.y), 0, ih);
      if (!d.box) {
        d.box = { x: x0, y: y0, w: 0, h: 0, label: this.labels[this.current] };
        this.boxes.push(d.box);
        this.selected = this.boxes.length - 1;
      }
      Object.assign(d.box, { x: x0, y: y0, w: x1 - x0, h: y1 - y0 });
    } else if (d.kind === "move") {
      const b = this.boxes[d.index];
      b.x = clamp(d.orig.x + dx, 0, iw - d.orig.w);
      b.y = clamp(d.orig.y + dy, 0, ih - d.orig.h);
      d.moved = d.moved || dx !== 0 || dy !== 0;
    } else if (d.kind === "resize") {
      const o = d.orig;
      let x0 = o.x;
      let y0 = o.y;
      let x1 = o.x + o.w;
      let y1 = o.y + o.h;
      if (d.edges.left) x0 = clamp(o.x + dx, 0, iw);
      if (d.edges.right) x1 = clamp(o.x + o.w + dx, 0, iw);
      if (d.edges.top) y0 = clamp(o.y + dy, 0, ih);
      if (d.edges.bottom) y1 = clamp(o.y + o.h + dy, 0, ih);
      Object.assign(this.boxes[d.index], {
        x: Math.min(x0, x1),
        y: Math.min(y0, y1),
        w: Math.abs(x1 - x0),
        h: Math.abs(y1 - y0),
      });
      d.moved = true;
    }
    this.redraw();
  }

  up(e) {
    const d = this.drag;
    this.drag = null;
    if (this.canvas.hasPointerCapture(e.pointerId)) this.canvas.releasePointerCapture(e.pointerId);
    if (!d || d.kind === "pan" || d.kind === "window") return;
    if (d.kind === "draw") {
      if (!d.box) {
        this.selected = -1; // a click on empty image clears the selection
        this.redraw();
        return;
      }
      if (d.box.w * this.view.scale < MIN_DRAW || d.box.h * this.view.scale < MIN_DRAW) {
        this.boxes.pop();
        this.selected = -1;
        this.redraw();
        return;
      }
    } else if (!d.moved) {
      return;
    }
    if (d.kind === "resize") {
      const b = this.boxes[d.index];
      if (b.w * this.view.scale < 1 || b.h * this.view.scale < 1) Object.assign(b, d.orig);
    }
    this.undoStack.push(d.before);
    if (this.undoStack.length > UNDO_LIMIT) this.undoStack.shift();
    this.redoStack = [];
    this.changed();
  }

  wheel(e) {
    if (!this.image) return;
    e.preventDefault();
    const p = this.toImage(e);
    const factor = Math.exp(-e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.0015));
    const scale = clamp(this.view.scale * factor, 0.02, 40);
    this.view = { scale, tx: p.sx - p.x * scale, ty: p.sy - p.y * scale };
    this.redraw();
  }

  // ---- drawing --------------------------------------------------------------

  resize() {
    const { width, height } = this.size();
    const ratio = window.devicePixelRatio || 1;
    const w = Math.round(width * ratio);
    const h = Math.round(height * ratio);
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    this.redraw();
  }

  redraw() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.paint();
    });
  }

  paint() {
    const ctx = this.ctx;
    const ratio = window.devicePixelRatio || 1;
    const { scale, tx, ty } = this.view;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    if (!this.image) return;
    ctx.setTransform(ratio * scale, 0, 0, ratio * scale, ratio * tx, ratio * ty);
    ctx.imageSmoothingEnabled = scale < 2;
    ctx.drawImage(this.source || this.image, 0, 0);
    // Boxes in screen space: lines stay 1.5 px wide at any zoom.
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.lineWidth = 1.5;
    ctx.font = "12px system-ui, sans-serif";
    ctx.textBaseline = "bottom";
    const showNames = this.boxes.length <= 300;
    for (let i = 0; i < this.boxes.length; i++) {
      const b = this.boxes[i];
      const color = COLORS[Math.max(0, this.labels.indexOf(b.label)) % COLORS.length];
      const x = b.x * scale + tx;
      const y = b.y * scale + ty;
      const w = b.w * scale;
      const h = b.h * scale;
      ctx.strokeStyle = color;
      ctx.strokeRect(x, y, w, h);
      if (i === this.selected) {
        ctx.fillStyle = `${color}33`;
        ctx.fillRect(x, y, w, h);
        ctx.fillStyle = color;
        for (const [hx, hy] of [[x, y], [x + w, y], [x, y + h], [x + w, y + h]]) {
          ctx.fillRect(hx - 4, hy - 4, 8, 8);
        }
      }
      if (showNames || i === this.selected) {
        ctx.fillStyle = color;
        ctx.fillText(b.label, x + 2, y - 1);
      }
    }
    this.publish();
    if (!this.painted) {
      this.painted = true;
      performance.mark("hl-boxes-first-paint"); // for benchmarks/box_editor.py
    }
  }

  // State for the status line and for tests (data attributes, never HTML).
  publish() {
    const c = this.canvas;
    c.dataset.scale = String(this.view.scale);
    c.dataset.tx = String(this.view.tx);
    c.dataset.ty = String(this.view.ty);
    c.dataset.count = String(this.boxes.length);
    c.dataset.selected = String(this.selected);
    const sel = this.boxes[this.selected];
    const zoom = `${Math.round(this.view.scale * 100)}%`;
    const next = this.labels[this.current];
    const parts = [`${this.boxes.length} box${this.boxes.length === 1 ? "" : "es"}`, `zoom ${zoom}`];
    parts.push(sel ? `selected: ${sel.label}` : `new boxes: ${next}`);
    if (this.samples && this.window) parts.push(`window ${this.window.low}–${this.window.high} (right-drag, W resets)`);
    if (this.note) parts.push(this.note);
    this.status.textContent = parts.join(" · ");
  }
}

function edgesNear(b, p, tol) {
  const inY = p.y >= b.y - tol && p.y <= b.y + b.h + tol;
  const inX = p.x >= b.x - tol && p.x <= b.x + b.w + tol;
  const edges = {
    left: inY && Math.abs(p.x - b.x) <= tol,
    right: inY && Math.abs(p.x - (b.x + b.w)) <= tol,
    top: inX && Math.abs(p.y - b.y) <= tol,
    bottom: inX && Math.abs(p.y - (b.y + b.h)) <= tol,
  };
  return edges.left || edges.right || edges.top || edges.bottom ? edges : null;
}

function cursorFor(target) {
  if (target.kind === "move") return "move";
  if (target.kind !== "resize") return "crosshair";
  const { left, right, top, bottom } = target.edges;
  if ((left && top) || (right && bottom)) return "nwse";
  if ((right && top) || (left && bottom)) return "nesw";
  return left || right ? "ew" : "ns";
}

function isTyping(target) {
  return !!(target && target.closest && target.closest("input, textarea, select, [contenteditable]"));
}

const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), Math.max(lo, hi));
const round2 = (v) => Math.round(v * 100) / 100;
