// The model's suggestion on the labeling page: pre-select it (Enter accepts),
// show its confidence and why, and say what was shown when the answer is sent.
// Everything from data (labels, words, text) is set with textContent, never as HTML.

const SUGGEST_ID = "hl-suggest";

// The labels to pre-select for an item: the suggested label of a classify item.
export function preselect(item, labels, task) {
  const label = item?.suggestion?.label;
  if (task !== "classify" || !label || !labels.includes(label)) return new Set();
  return new Set([label]);
}

// The `shown` lineage of an answer: what the person saw, and whether it was pre-selected.
export function shownFor(item, task) {
  const s = item?.suggestion;
  if (!s) return undefined;
  return { value: s.value, model_version_id: s.model_version_id, preselected: task === "classify" && !!s.label };
}

function panel(stage) {
  let box = document.getElementById(SUGGEST_ID);
  if (!box) {
    box = document.createElement("div");
    box.id = SUGGEST_ID;
    box.className = "suggestion";
    box.setAttribute("aria-live", "polite");
    stage.insertAdjacentElement("afterend", box);
  }
  return box;
}

// Show the suggestion under the item (or hide the panel when there is none).
export function renderSuggestion(stage, item, { reviewing = false } = {}) {
  const box = panel(stage);
  const s = item?.suggestion;
  if (!s || !s.label || reviewing) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  box.hidden = false;
  const line = document.createElement("p");
  line.className = "suggestion-line";
  const lead = document.createElement("span");
  lead.textContent = "Model suggests ";
  const label = document.createElement("strong");
  label.className = "suggestion-label";
  label.textContent = s.label;
  const conf = document.createElement("span");
  conf.className = "suggestion-confidence";
  conf.textContent = s.confidence == null ? "" : ` ${Math.round(s.confidence * 100)}%`;
  const keys = document.createElement("span");
  keys.className = "muted";
  keys.textContent = " · pre-selected, Enter accepts";
  line.append(lead, label, conf, keys);
  box.replaceChildren(line);
  const why = s.explanation || {};
  if (Array.isArray(why.words) && why.words.length) {
    const p = document.createElement("p");
    p.className = "suggestion-why";
    p.append("Because of: ");
    why.words.forEach(([word], i) => {
      const chip = document.createElement("mark");
      chip.className = "why-word";
      chip.textContent = word;
      if (i) p.append(" ");
      p.append(chip);
    });
    box.append(p);
    highlightWords(stage, why.words.map(([w]) => w));
  } else if (Array.isArray(why.neighbors) && why.neighbors.length) {
    const p = document.createElement("p");
    p.className = "suggestion-why";
    p.append("Most like these labeled items: ");
    for (const id of why.neighbors) {
      const img = document.createElement("img");
      img.className = "why-neighbor";
      img.alt = `item ${Number(id)}`;
      img.src = `/api/items/${Number(id)}/media`;
      p.append(img);
    }
    box.append(p);
  }
}

// Wrap the explanation's words in <mark> inside the item's text, by splitting text nodes.
function highlightWords(stage, words) {
  const text = stage.querySelector(".item-text");
  if (!text) return;
  const wanted = new Set(words.flatMap((w) => w.toLowerCase().split(/\s+/)));
  if (!wanted.size) return;
  const walker = document.createTreeWalker(text, NodeFilter.SHOW_TEXT);
  const nodes = [];
  while (walker.nextNode()) nodes.push(walker.currentNode);
  for (const node of nodes) {
    const parts = node.textContent.split(/(\p{L}[\p{L}\p{N}'’-]*)/u);
    if (!parts.some((part) => wanted.has(part.toLowerCase()))) continue;
    const frag = document.createDocumentFragment();
    for (const part of parts) {
      if (wanted.has(part.toLowerCase())) {
        const mark = document.createElement("mark");
        mark.className = "why-word";
        mark.textContent = part;
        frag.append(mark);
      } else if (part) {
        frag.append(part);
      }
    }
    node.replaceWith(frag);
  }
}
