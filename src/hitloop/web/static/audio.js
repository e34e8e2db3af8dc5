// The audio player of the labeling page: waveform, play/pause, seek, speed,
// a selected region, and (for transcribe projects) the transcript under it.
//
// The browser never decodes a recording to draw it: the waveform comes from
// the server as a few thousand peak pairs (/api/items/{id}/audio), and the
// <audio> element streams the file with HTTP range requests, so a 60-minute
// call opens and seeks at once. Text from data reaches the page through
// textContent and form values only, never as HTML.

import { TranscriptBox } from "./transcript.js";

const SPEEDS = [0.5, 0.75, 1, 1.25, 1.5, 2];
const SEEK_S = 5;

export class AudioPlayer {
  constructor(api, { transcribe = false, onSubmit = () => {} } = {}) {
    this.api = api;
    this.transcribe = transcribe;
    this.onSubmit = onSubmit;
    this.audio = null;
    this.info = null;
    this.region = null; // {start, end} in seconds
    this.speed = 1;
    this.box = null;
    this.token = 0;
  }

  // Put one item on the stage; `value` is an earlier answer being reviewed.
  show(stage, meta, item, value) {
    this.stop();
    const token = ++this.token;
    this.region = null;
    this.info = null;
    const root = el("div", "audio-player");
    const wave = el("canvas", "audio-wave");
    wave.height = 96;
    wave.setAttribute("aria-label", "Waveform: click to seek, drag to select a region");
    const audio = el("audio");
    audio.preload = "metadata";
    audio.src = item.media_url;
    audio.playbackRate = this.speed;
    const play = button("audio-play", "▶", "Play (Space)");
    const time = el("span", "audio-time");
    const speed = el("select", "audio-speed");
    speed.setAttribute("aria-label", "Playback speed");
    for (const s of SPEEDS) {
      const option = el("option");
      option.value = String(s);
      option.textContent = `${s}×`;
      speed.append(option);
    }
    speed.value = String(this.speed);
    const regionNote = el("span", "audio-region");
    const controls = el("div", "audio-controls");
    controls.append(play, time, speed, regionNote);
    root.append(wave, audio, controls);
    stage.replaceChildren(root);
    meta.textContent = item.external_id ? `#${item.id} · ${item.external_id}` : `#${item.id}`;
    Object.assign(this, { audio, wave, play, time, speedSelect: speed, regionNote, root });

    play.addEventListener("click", () => this.toggle());
    speed.addEventListener("change", () => this.setSpeed(Number(speed.value)));
    audio.addEventListener("play", () => this.render());
    audio.addEventListener("pause", () => this.render());
    audio.addEventListener("timeupdate", () => this.tick());
    audio.addEventListener("loadedmetadata", () => this.render());
    this.bindWave(wave);

    if (this.transcribe) {
      this.box = new TranscriptBox(root, {
        seek: (t) => this.seek(t, true),
        keys: (event) => this.handleKey(event, true),
      });
    }
    this.api
      .get(`/api/items/${item.id}/audio`)
      .then((info) => {
        if (token !== this.token) return;
        this.info = info;
        if (this.box) this.box.fill(info.draft, value);
        this.render();
      })
      .catch(() => {
        if (token !== this.token) return;
        this.info = { duration: 0, peaks: [], draft: null };
        if (this.box) this.box.fill(null, value);
        this.render();
      });
    this.render();
  }

  get ready() {
    return !!this.info;
  }

  value() {
    return this.box ? this.box.value() : null;
  }

  stop() {
    if (this.audio) {
      this.audio.pause();
      this.audio.removeAttribute("src");
      this.audio.load();
    }
    cancelAnimationFrame(this.frame);
  }

  toggle() {
    if (!this.audio) return;
    if (this.audio.paused) {
      if (this.region && (this.audio.currentTime < this.region.start || this.audio.currentTime >= this.region.end)) {
        this.audio.currentTime = this.region.start;
      }
      this.audio.play().catch(() => {});
    } else {
      this.audio.pause();
    }
  }

  seek(seconds, andPlay = false) {
    if (!this.audio) return;
    const end = this.duration();
    const t = Math.max(0, end ? Math.min(seconds, end) : seconds);
    // Jumping outside the selected region lets go of it.
    if (this.region && (t < this.region.start || t > this.region.end)) this.region = null;
    this.audio.currentTime = t;
    if (andPlay && this.audio.paused) this.audio.play().catch(() => {});
    this.render();
  }

  setSpeed(value) {
    this.speed = value;
    if (this.audio) this.audio.playbackRate = value;
    if (this.speedSelect) this.speedSelect.value = String(value);
  }

  stepSpeed(direction) {
    const i = SPEEDS.indexOf(this.speed);
    const next = SPEEDS[Math.max(0, Math.min(SPEEDS.length - 1, (i < 0 ? 2 : i) + direction))];
    this.setSpeed(next);
  }

  duration() {
    const d = this.audio?.duration;
    return Number.isFinite(d) && d > 0 ? d : this.info?.duration || 0;
  }

  // Keys the player answers. In the transcript box only Ctrl combinations,
  // so typing stays typing. Returns true when the key was used.
  handleKey(event, inText = false) {
    if (!this.audio) return false;
    const key = event.key;
    if (inText) {
      if (!event.ctrlKey || event.altKey || event.metaKey) return false;
      if (key === " ") this.toggle();
      else if (key === ",") this.seek(this.audio.currentTime - SEEK_S);
      else if (key === ".") this.seek(this.audio.currentTime + SEEK_S);
      else if (key === "Enter") this.onSubmit();
      else return false;
      return true;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return false;
    if (key === " ") this.toggle();
    else if (key === ",") this.seek(this.audio.currentTime - SEEK_S);
    else if (key === ".") this.seek(this.audio.currentTime + SEEK_S);
    else if (key === "[") this.stepSpeed(-1);
    else if (key === "]") this.stepSpeed(1);
    else if (key === "i" || key === "I") this.mark("start");
    else if (key === "o" || key === "O") this.mark("end");
    else if (key === "x" || key === "X") this.clearRegion();
    else if (key === "t" || key === "T") {
      if (!this.box) return false;
      this.box.focus();
    } else return false;
    return true;
  }

  mark(side) {
    const t = this.audio.currentTime;
    const r = this.region || { start: 0, end: this.duration() };
    r[side] = t;
    if (r.end <= r.start) this.region = side === "start" ? { start: t, end: this.duration() } : { start: 0, end: t };
    else this.region = r;
    this.render();
  }

  clearRegion() {
    this.region = null;
    this.render();
  }

  tick() {
    if (this.region && !this.audio.paused && this.audio.currentTime >= this.region.end) {
      this.audio.pause();
      this.audio.currentTime = this.region.end;
    }
    this.render();
  }

  bindWave(wave) {
    let down = null;
    const at = (event) => {
      const rect = wave.getBoundingClientRect();
      return (Math.max(0, Math.min(rect.width, event.clientX - rect.left)) / rect.width) * this.duration();
    };
    wave.addEventListener("pointerdown", (event) => {
      down = at(event);
      wave.setPointerCapture(event.pointerId);
    });
    wave.addEventListener("pointermove", (event) => {
      if (down === null) return;
      const t = at(event);
      if (Math.abs(t - down) > this.duration() / 200) {
        this.region = { start: Math.min(down, t), end: Math.max(down, t) };
        this.render();
      }
    });
    wave.addEventListener("pointerup", (event) => {
      if (down === null) return;
      const t = at(event);
      if (Math.abs(t - down) <= this.duration() / 200) {
        this.region = null;
        this.seek(t);
      } else {
        this.seek(this.region.start);
      }
      down = null;
    });
  }

  render() {
    if (!this.audio) return;
    const playing = !this.audio.paused;
    this.play.textContent = playing ? "❚❚" : "▶";
    this.play.setAttribute("aria-label", playing ? "Pause (Space)" : "Play (Space)");
    this.root.dataset.state = playing ? "playing" : "paused";
    const d = this.duration();
    this.time.textContent = `${clock(this.audio.currentTime)} / ${clock(d)}`;
    this.regionNote.textContent = this.region ? `region ${clock(this.region.start)}–${clock(this.region.end)}` : "";
    if (this.box) this.box.highlight(this.audio.currentTime);
    this.draw();
    cancelAnimationFrame(this.frame);
    if (playing) this.frame = requestAnimationFrame(() => this.render());
  }

  draw() {
    const wave = this.wave;
    const width = Math.max(200, Math.round(wave.clientWidth || 600));
    const ratio = window.devicePixelRatio || 1;
    if (wave.width !== width * ratio) wave.width = width * ratio;
    wave.height = 96 * ratio;
    const g = wave.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, width, 96);
    const peaks = this.info?.peaks || [];
    const d = this.duration();
    const now = d ? this.audio.currentTime / d : 0;
    if (this.region && d) {
      g.fillStyle = "rgba(59, 130, 246, 0.18)";
      g.fillRect((this.region.start / d) * width, 0, ((this.region.end - this.region.start) / d) * width, 96);
    }
    const mid = 48;
    for (let x = 0; x < width && peaks.length; x++) {
      const i0 = Math.floor((x / width) * peaks.length);
      const i1 = Math.max(i0 + 1, Math.floor(((x + 1) / width) * peaks.length));
      let lo = 0;
      let hi = 0;
      for (let i = i0; i < i1 && i < peaks.length; i++) {
        lo = Math.min(lo, peaks[i][0]);
        hi = Math.max(hi, peaks[i][1]);
      }
      g.fillStyle = x / width <= now ? "#2563eb" : "#94a3b8";
      g.fillRect(x, mid - (hi / 127) * 44, 1, Math.max(1, ((hi - lo) / 127) * 44));
    }
    g.fillStyle = "#dc2626";
    g.fillRect(Math.min(width - 1, now * width), 0, 2, 96);
  }
}

function clock(seconds) {
  if (!Number.isFinite(seconds)) return "0:00";
  const s = Math.max(0, seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = (s % 60).toFixed(1).padStart(4, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

function el(tag, className) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  return node;
}

function button(className, text, label) {
  const b = el("button", `btn ${className}`);
  b.type = "button";
  b.textContent = text;
  b.setAttribute("aria-label", label);
  return b;
}
