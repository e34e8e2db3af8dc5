// The annotation app. Keyboard first: 1–9 and 0 pick labels, Enter submits,
// S skips, Backspace / B / ← go back to fix an earlier answer, → and Esc come
// forward again. Items are prefetched (feed.js) and answers saved in the
// background (outbox.js). Data from items and labels only ever reaches the
// page through textContent and attributes, never as HTML.

import { Api, HttpError, csrfFromPage, newClientKey } from "./api.js";
import { AudioPlayer } from "./audio.js";
import { renderBanner as drawBanner } from "./banner.js";
import { BoxEditor } from "./boxes.js";
import { Feed } from "./feed.js";
import { AnswerHistory } from "./history.js";
import { renderItem as drawItem } from "./item.js";
import { Outbox } from "./outbox.js";
import { preselect, renderSuggestion, shownFor } from "./suggest.js";

const config = JSON.parse(document.getElementById("hl-config").textContent);
const project = config.project;
const labels = project.labels;
const multi = project.task === "multilabel";
const api = new Api(csrfFromPage());
// Boxes: number keys label the selected box, Enter submits all boxes (boxes.js has the rest).
const editor = project.task === "boxes" ? new BoxEditor(labels, { onChange: () => renderChoice() }) : null;
// Audio: the player (audio.js) takes its keys first; a transcribe answer is its text box.
const transcribe = project.task === "transcribe";
const player = project.modality === "audio" ? new AudioPlayer(api, { transcribe, onSubmit: () => submit() }) : null;

const $ = (id) => document.getElementById(id);
const ui = {
  app: $("hl-app"),
  stage: $("hl-stage"),
  meta: $("hl-meta"),
  done: $("hl-done"),
  review: $("hl-review"),
  banner: $("hl-banner"),
  save: $("hl-save"),
  hint: $("hl-hint"),
  sessionCount: $("hl-session-count"),
  projectLabeled: $("hl-project-labeled"),
  projectTotal: $("hl-project-total"),
  projectProgress: $("hl-project-progress"),
  buttons: Array.from(document.querySelectorAll("#hl-labels .label-btn")),
  back: $("hl-back"),
  skip: $("hl-skip"),
  submit: $("hl-submit"),
  recheck: $("hl-recheck"),
};

// What is on screen: {item, chosen: Set, started, entry}. `entry` is set when
// the item is an earlier answer being reviewed.
let current = null;
let parked = null; // the queue item set aside while reviewing
let depth = 0; // 0: the queue; n: the n-th most recent answer
const answers = new AnswerHistory(api, project.id); // what Back returns to
let busy = false;
const session = { labeled: 0, skipped: 0 };
const stats = { ...config.stats };
const failures = [];
let blocked = null;

const outbox = new Outbox(api, {
  onChange: renderSaveState,
  onSaved: (job) => {
    if (job.counts) stats.labeled += 1;
    renderProgress();
    // The queue may have looked empty only because our unsaved answers still held leases.
    if (outbox.size === 0 && feed.empty && !feed.stopped) feed.refresh();
  },
  onRefused: (job, err) => {
    unsave(job);
    failures.push({ job, message: err.describe() });
    renderBanner();
  },
  onBlocked: (err) => {
    blocked = err;
    renderBanner();
  },
});

const feed = new Feed(api, project.id, {
  size: config.prefetch || 3,
  // Unsaved answers keep their lease: they come back through Back, not as new items.
  holding: () =>
    [
      current?.entry ? null : current?.item.id,
      parked?.item.id,
      ...outbox.itemIds(),
      ...answers.unsavedIds(),
    ].filter((id) => id != null),
  onChange: () => {
    if (!current && depth === 0) advance();
  },
  onError: (err) => {
    if (err instanceof HttpError && (err.status === 401 || err.status === 403)) {
      blocked = err;
      renderBanner();
    } else if (err instanceof HttpError && err.status < 500) {
      failures.push({ job: null, message: `Could not load items: ${err.describe()}` });
      renderBanner();
    }
  },
});

// ---- showing items ---------------------------------------------------------

function present(cur) {
  current = cur;
  if (editor) showBoxes(cur);
  else if (player) player.show(ui.stage, ui.meta, cur.item, cur.entry?.value);
  else drawItem(ui.stage, ui.meta, cur.item);
  if (!editor) renderSuggestion(ui.stage, cur.item, { reviewing: !!cur.entry });
  renderChoice();
  renderMode();
}

function showEntry(entry) {
  present({ item: entry.item, chosen: new Set(chosenFrom(entry)), started: performance.now(), entry });
}

function showBoxes(cur) {
  const suggested = cur.item.suggestion?.value?.boxes;
  const boxes = cur.entry ? cur.entry.value?.boxes : suggested;
  editor.show(ui.stage, cur.item, boxes, !cur.entry && suggested ? "suggested boxes: correct them" : "");
  ui.meta.textContent = cur.item.external_id ? `#${cur.item.id} · ${cur.item.external_id}` : `#${cur.item.id}`;
}

function chosenFrom(entry) {
  if (entry.skipped || !entry.value) return [];
  if (editor) return [`${entry.value.boxes.length} boxes`];
  if (transcribe) return [`“${entry.value.text.slice(0, 60)}”`];
  return multi ? entry.value.labels || [] : [entry.value.label];
}

function advance() {
  const item = feed.take();
  if (item) {
    present({ item, chosen: preselect(item, labels, project.task), started: performance.now(), entry: null });
  } else {
    current = null;
    player?.stop();
    renderChoice();
    renderMode();
  }
}

function renderChoice() {
  ui.buttons.forEach((button, i) => {
    const on = editor ? editor.current === i : !!current && current.chosen.has(labels[i]);
    button.setAttribute("aria-pressed", String(on));
    button.disabled = !current;
  });
}

function renderMode() {
  let mode = "item";
  if (depth > 0) mode = "review";
  else if (!current) mode = emptyMode();
  ui.app.dataset.mode = mode;
  ui.done.hidden = mode !== "done";
  ui.stage.hidden = mode === "done";
  ui.meta.hidden = !current;
  if (mode === "loading" || mode === "saving") {
    const p = document.createElement("p");
    p.className = "placeholder";
    p.textContent = mode === "saving" ? "Saving your answers…" : "Loading…";
    ui.stage.replaceChildren(p);
  }
  if (depth > 0) {
    const entry = current.entry;
    let was = entry.skipped ? "skipped" : `answered ${chosenFrom(entry).join(", ") || "(none)"}`;
    if (entry.unsaved) was += ", not saved";
    ui.review.textContent = `Reviewing your answer ${depth} back (${was}). Change it and press Enter, → to go forward, Esc to return to the queue.`;
  }
  ui.review.hidden = depth === 0;
  const active = !!current;
  ui.submit.disabled = !active;
  ui.skip.disabled = !active;
}

function emptyMode() {
  if (!feed.started || feed.loading) return "loading";
  if (feed.empty && outbox.size > 0) return "saving";
  if (feed.empty || feed.stopped) return "done";
  return "loading";
}

function renderProgress() {
  ui.sessionCount.textContent = String(session.labeled);
  ui.projectLabeled.textContent = String(stats.labeled);
  ui.projectTotal.textContent = String(stats.total);
  ui.projectProgress.max = Math.max(1, stats.total);
  ui.projectProgress.value = stats.labeled;
}

function renderSaveState() {
  const pending = outbox.size;
  ui.app.dataset.pending = String(pending);
  let text = "All answers saved";
  let state = "idle";
  if (outbox.blocked) {
    text = `${pending} answer${pending === 1 ? "" : "s"} waiting — see above`;
    state = "error";
  } else if (outbox.retrying) {
    text = `Connection trouble — retrying ${pending} answer${pending === 1 ? "" : "s"}`;
    state = "retrying";
  } else if (pending) {
    text = `Saving ${pending}…`;
    state = "saving";
  }
  ui.save.textContent = text;
  ui.save.dataset.state = state;
  if (!current && depth === 0) renderMode();
}

function renderBanner() {
  drawBanner(ui.banner, {
    blocked,
    failures,
    onRetry: async () => {
      try {
        await api.refreshCsrf();
      } catch {
        return; // still logged out: keep the banner
      }
      blocked = null;
      renderBanner();
      outbox.resume();
      feed.refresh();
    },
    onDismiss: (i) => {
      failures.splice(i, 1);
      renderBanner();
    },
  });
}

let hintTimer = 0;
function hint(text) {
  ui.hint.textContent = text;
  clearTimeout(hintTimer);
  hintTimer = setTimeout(() => {
    ui.hint.textContent = "";
  }, 2500);
}

// ---- answering -------------------------------------------------------------

function choose(index) {
  if (!current || index >= labels.length) return;
  if (editor) {
    editor.setLabel(index);
    renderChoice();
    return;
  }
  const name = labels[index];
  if (multi) {
    if (current.chosen.has(name)) current.chosen.delete(name);
    else current.chosen.add(name);
  } else {
    current.chosen = new Set([name]);
  }
  renderChoice();
}

function submit() {
  if (!current) return;
  if (editor) {
    if (editor.ready) answer({ value: editor.value() });
    else hint("The image is still loading");
    return;
  }
  if (transcribe) {
    if (player.ready) answer({ value: player.value() });
    else hint("The recording is still loading");
    return;
  }
  if (!multi && current.chosen.size === 0) {
    hint(`Pick a label first (1–${Math.min(labels.length, 9)})`);
    return;
  }
  const value = multi ? { labels: labels.filter((n) => current.chosen.has(n)) } : { label: [...current.chosen][0] };
  answer({ value });
}

function skip() {
  if (current) answer({ skip: true });
}

function answer(choice) {
  const cur = current;
  const skipped = !!choice.skip;
  const value = choice.value || null;
  const job = {
    url: `/api/items/${cur.item.id}/annotations`,
    body: { ...choice, client_key: newClientKey(), seconds: secondsOn(cur), shown: shownFor(cur.item, project.task) },
    itemId: cur.item.id,
  };
  const entry = cur.entry;
  if (entry) {
    // A correction: a new annotation that supersedes the earlier one on the server.
    const unchanged = !entry.unsaved && entry.skipped === skipped && sameValue(entry.value, value);
    if (!unchanged) {
      const previous = entry.unsaved ? null : { value: entry.value, skipped: entry.skipped };
      Object.assign(entry, { value, skipped, unsaved: false });
      answers.correct(cur.item.id, { value, skipped });
      // An answer the server refused earlier counts as new once it is given again.
      const fresh = previous === null;
      if (fresh) session[skipped ? "skipped" : "labeled"] += 1;
      outbox.add({ ...job, entry, previous, counts: fresh && !skipped, fresh });
      renderProgress();
    }
    forward();
    return;
  }
  const fresh = { item: cur.item, value, skipped, unsaved: false };
  answers.add(fresh);
  outbox.add({ ...job, entry: fresh, previous: null, counts: !skipped, fresh: true });
  session[skipped ? "skipped" : "labeled"] += 1;
  renderProgress();
  advance();
}

// The server refused an answer: the page shows what it believes is saved.
function unsave(job) {
  if (job.previous) {
    Object.assign(job.entry, job.previous);
    answers.correct(job.itemId, job.previous);
  } else {
    job.entry.unsaved = true;
  }
  if (job.fresh) session[job.body.skip ? "skipped" : "labeled"] -= 1;
  renderProgress();
}

const secondsOn = (cur) => Math.round((performance.now() - cur.started) / 100) / 10;

function sameValue(a, b) {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

// ---- going back ------------------------------------------------------------

async function back() {
  if (busy) return;
  let list = answers.list();
  if (depth >= list.length && !answers.complete) {
    busy = true;
    try {
      await answers.load();
    } catch (err) {
      hint(`Could not load earlier answers: ${err.message}`);
      return;
    } finally {
      busy = false;
    }
    list = answers.list();
  }
  if (depth >= list.length) {
    hint("No earlier answers");
    return;
  }
  if (depth === 0) parked = current;
  depth += 1;
  showEntry(list[depth - 1]);
}

function forward() {
  if (depth === 0) return;
  depth -= 1;
  if (depth > 0) {
    showEntry(answers.list()[depth - 1]);
    return;
  }
  const resume = parked;
  parked = null;
  if (resume) present(resume);
  else advance();
}

function toQueue() {
  if (depth === 0) return;
  depth = 1;
  forward();
}

// ---- input -----------------------------------------------------------------

const OWN_CONTROLS = "#hl-labels button, .actions button";

document.addEventListener("keydown", (event) => {
  const target = event.target;
  if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
  if (editor && current && !event.isComposing && editor.handleKey(event)) {
    event.preventDefault();
    return;
  }
  if (player && current && !event.isComposing && !event.repeat && player.handleKey(event)) {
    event.preventDefault();
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
  const key = event.key;
  // Enter on a link or a banner button does what it says there.
  if (key === "Enter" && target.closest && target.closest("a, button") && !target.closest(OWN_CONTROLS)) return;
  if (event.repeat && key !== "Backspace" && key !== "ArrowLeft" && key !== "ArrowRight") {
    if (/^[0-9]$/.test(key) || key === "Enter") event.preventDefault();
    return;
  }
  if (/^[0-9]$/.test(key)) {
    choose(key === "0" ? 9 : Number(key) - 1);
  } else if (key === "Enter") {
    submit();
  } else if (key === "s" || key === "S") {
    skip();
  } else if (key === "Backspace" || key === "b" || key === "B" || key === "ArrowLeft") {
    back();
  } else if (key === "ArrowRight") {
    forward();
  } else if (key === "Escape") {
    toQueue();
  } else {
    return;
  }
  event.preventDefault();
});

ui.buttons.forEach((b) => b.addEventListener("click", () => choose(Number(b.dataset.index))));
ui.submit.addEventListener("click", submit);
ui.skip.addEventListener("click", skip);
ui.back.addEventListener("click", back);
ui.recheck.addEventListener("click", () => {
  feed.refresh();
  renderMode();
});

// Give back the items fetched but never shown, and hand unsaved answers to keepalive requests.
window.addEventListener("pagehide", () => {
  if (feed.items.length) api.beacon(`/api/projects/${project.id}/release`, { item_ids: feed.ids });
  outbox.flushOnUnload();
});

// Back from the back/forward cache: the buffer was released on the way out.
window.addEventListener("pageshow", (event) => {
  if (!event.persisted) return;
  feed.items.length = 0;
  feed.refresh();
});

window.addEventListener("beforeunload", (event) => {
  if (outbox.size > 0) event.preventDefault();
});

// Refresh the project's totals now and then (other people label too), and
// look for new items while the queue is empty.
setInterval(async () => {
  if (outbox.size || document.hidden) return;
  if (ui.app.dataset.mode === "done") feed.refresh();
  try {
    const fresh = await api.get(`/api/projects/${project.id}`);
    if (!outbox.size && fresh.stats) {
      Object.assign(stats, fresh.stats);
      renderProgress();
    }
  } catch {
    // the next tick tries again
  }
}, 15000);

renderProgress();
renderMode();
feed.fill();
answers.load().catch(() => {});
