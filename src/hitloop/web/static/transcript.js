// The transcript under the player: the recognizer's draft with unsure words
// marked (click a word to hear it), and the text box the person corrects.
// Long recordings come in segments, one box each, with their times.

const LOW = 0.5;

export class TranscriptBox {
  constructor(root, { seek, keys }) {
    this.seek = seek;
    this.keys = keys;
    this.words = [];
    this.segments = null;
    this.draftView = el("p", "draft");
    this.draftView.hidden = true;
    this.fields = el("div", "transcript-fields");
    root.append(this.draftView, this.fields);
    this.inputs = [];
  }

  // draft: {text, segments?, words: [[word, confidence, start, end]]} or null; value: an earlier answer.
  fill(draft, value) {
    this.words = (draft?.words || []).map(([text, confidence, start, end]) => ({ text, confidence, start, end }));
    this.renderDraft();
    const source = value || draft;
    const segments = source?.segments || (value ? null : draft?.segments) || null;
    this.segments = segments ? segments.map((s) => ({ start: s.start, end: s.end })) : null;
    this.fields.replaceChildren();
    this.inputs = [];
    if (this.segments) {
      segments.forEach((segment, i) => {
        const row = el("div", "segment-row");
        const at = el("button", "btn btn-ghost segment-time");
        at.type = "button";
        at.textContent = `${clock(segment.start)}–${clock(segment.end)}`;
        at.addEventListener("click", () => this.seek(segment.start));
        row.append(at, this.input(segment.text || "", `Segment ${i + 1} transcript`));
        this.fields.append(row);
      });
    } else {
      this.fields.append(this.input(source?.text || "", "Transcript"));
    }
  }

  input(text, label) {
    const area = el("textarea", "transcript");
    area.value = text;
    area.rows = this.segments ? 2 : 4;
    area.spellcheck = true;
    area.setAttribute("aria-label", label);
    area.addEventListener("keydown", (event) => {
      if (this.keys(event)) {
        event.preventDefault();
        event.stopPropagation();
      }
    });
    this.inputs.push(area);
    return area;
  }

  renderDraft() {
    this.draftView.replaceChildren();
    this.spans = [];
    if (!this.words.length) {
      this.draftView.hidden = true;
      return;
    }
    const label = el("span", "draft-label");
    label.textContent = "Draft: ";
    this.draftView.append(label);
    for (const word of this.words) {
      const span = el("span", word.confidence < LOW ? "word low" : "word");
      span.textContent = word.text;
      span.title = `${Math.round(word.confidence * 100)}% sure · ${clock(word.start)}`;
      span.addEventListener("click", () => this.seek(word.start));
      this.draftView.append(span, document.createTextNode(" "));
      this.spans.push(span);
    }
    this.draftView.hidden = false;
  }

  highlight(t) {
    if (!this.spans) return;
    this.words.forEach((w, i) => this.spans[i].classList.toggle("now", t >= w.start && t < w.end));
  }

  focus() {
    this.inputs[0]?.focus();
  }

  value() {
    const texts = this.inputs.map((a) => a.value.split(/\s+/).filter(Boolean).join(" "));
    if (!this.segments) return { text: texts[0] || "" };
    const segments = this.segments.map((s, i) => ({ start: s.start, end: s.end, text: texts[i] }));
    return { text: texts.filter(Boolean).join(" "), segments };
  }
}

function clock(seconds) {
  const s = Math.max(0, seconds || 0);
  const m = Math.floor(s / 60);
  return `${m}:${(s % 60).toFixed(1).padStart(4, "0")}`;
}

function el(tag, className) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  return node;
}
