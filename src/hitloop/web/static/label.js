// The annotation app. Keyboard first: 1–9 and 0 pick labels, Enter submits,
// S skips, Backspace / B / ← go back to fix an earlier answer, → and Esc come
// forward again. Items are prefetched (feed.js) and answers saved in the
// background (outbox.js). Data from items and labels only ever reaches the
// page through textContent and attributes, never as HTML.

import { Api, HttpError, csrfFromPage, newClientKey } from "./api.js";
import { Feed } from "./feed.js";
import { Outbox } from "./outbox.js";

const config = JSON.parse(document.getElementById("hl-config").textContent);
const project = config.project;
const labels = project.labels;
const multi = project.task === "multilabel";
const api = new Api(csrfFromPage());

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
const log = []; // this page's answers, newest first: {item, value, skipped}
let older = null; // answers from before this page, from GET history
let olderComplete = false;
const fixes = new Map(); // item id -> corrected answer, until history shows it
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
  holding: () => [current?.entry ? null : current?.item.id, parked?.item.id, ...outbox.itemIds()].filter(
    (id) => id != null,
  ),
  onChange: () => {
    if (!current && depth === 0) advance();
    else renderEmptyState();
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

function renderItem(item) {
  ui.stage.replaceChildren();
  if (item.media_url) {
    const img = document.createElement("img");
    img.className = "item-image";
    img.alt = `Image ${item.external_id || item.id}`;
    img.addEventListener("load", () => sizeImage(img));
    img.src = item.media_url;
    ui.stage.append(img);
  } else {
    const text = document.createElement("div");
    text.className = "item-text";
    text.textContent = item.text ?? "";
    ui.stage.append(text);
  }
  ui.meta.textContent = item.external_id ? `#${item.id} · ${item.external_id}` : `#${item.id}`;
}

// Tiny images (8×8 digits, icons) are scaled up by a whole factor without smoothing.
function sizeImage(img) {
  const w = img.naturalWidth;
  const h = img.naturalHeight;
  const box = Math.min(ui.stage.clientWidth || 640, 420);
  if (Math.max(w, h) <= 128) {
    const factor = Math.max(1, Math.floor(box / Math.max(w, h)));
    img.classList.add("pixelated");
    img.style.width = `${w * factor}px`;
    img.style.height = `${h * factor}px`;
  }
}

function present(cur) {
  current = cur;
  renderItem(cur.item);
  renderChoice();
  renderMode();
}

function showEntry(entry) {
  present({ item: entry.item, chosen: new Set(chosenFrom(entry)), started: performance.now(), entry });
}

function chosenFrom(entry) {
  if (entry.skipped || !entry.value) return [];
  return multi ? entry.value.labels || [] : [entry.value.label];
}

function advance() {
  const item = feed.take();
  if (item) {
    present({ item, chosen: new Set(), started: performance.now(), entry: null });
  } else {
    current = null;
    renderMode();
  }
}

function renderChoice() {
  ui.buttons.forEach((button, i) => {
    button.setAttribute("aria-pressed", String(!!current && current.chosen.has(labels[i])));
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
    const was = entry.skipped ? "skipped" : `answered ${chosenFrom(entry).join(", ") || "(none)"}`;
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

function renderEmptyState() {
  if (!current) renderMode();
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
  ui.banner.replaceChildren();
  const rows = [];
  if (blocked) {
    const row = bannerRow(
      blocked.status === 401
        ? "Your session has ended. Log in again (in a new tab), then retry: your answers are kept."
        : `The server refused the request: ${blocked.describe()}. Log in again (in a new tab), then retry.`,
    );
    const login = document.createElement("a");
    login.href = "/login";
    login.target = "_blank";
    login.rel = "noopener";
    login.textContent = "Log in";
    login.className = "btn btn-small";
    const retry = button("Retry", async () => {
      try {
        await api.refreshCsrf();
      } catch {
        return; // still logged out: keep the banner
      }
      blocked = null;
      renderBanner();
      outbox.resume();
      feed.refresh();
    });
    row.append(login, retry);
    rows.push(row);
  }
  failures.forEach((failure, i) => {
    let text = failure.message;
    if (failure.job) {
      const what = failure.job.body.skip ? "skip" : describeValue(failure.job.body.value);
      text = `Your answer (${what}) for item #${failure.job.itemId} was not saved: ${failure.message}`;
    }
    const row = bannerRow(text);
    row.append(
      button("Dismiss", () => {
        failures.splice(i, 1);
        renderBanner();
      }),
    );
    rows.push(row);
  });
  ui.banner.append(...rows);
  ui.banner.hidden = rows.length === 0;
}

function bannerRow(text) {
  const row = document.createElement("div");
  row.className = "banner-row";
  const p = document.createElement("p");
  p.textContent = text;
  row.append(p);
  return row;
}

function button(text, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "btn btn-small";
  b.textContent = text;
  b.addEventListener("click", onClick);
  return b;
}

function describeValue(value) {
  if (!value) return "none";
  return value.label ?? (value.labels.length ? value.labels.join(", ") : "none of these");
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
  const body = { ...choice, client_key: newClientKey(), seconds: secondsOn(cur) };
  if (cur.entry) {
    const entry = cur.entry;
    const unchanged = entry.skipped === skipped && sameValue(entry.value, choice.value);
    if (!unchanged) {
      outbox.add({ url: annotationsUrl(cur.item), body, itemId: cur.item.id, counts: false });
      entry.value = choice.value || null;
      entry.skipped = skipped;
      fixes.set(cur.item.id, { value: entry.value, skipped });
    }
    forward();
    return;
  }
  outbox.add({ url: annotationsUrl(cur.item), body, itemId: cur.item.id, counts: !skipped });
  log.unshift({ item: cur.item, value: choice.value || null, skipped });
  if (skipped) session.skipped += 1;
  else session.labeled += 1;
  renderProgress();
  advance();
}

const annotationsUrl = (item) => `/api/items/${item.id}/annotations`;
const secondsOn = (cur) => Math.round((performance.now() - cur.started) / 100) / 10;

function sameValue(a, b) {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

// ---- going back ------------------------------------------------------------

// Newest first: this page's answers, then earlier ones the server remembers.
function answered() {
  const mine = new Set(log.map((e) => e.item.id));
  return [...log, ...(older || []).filter((e) => !mine.has(e.item.id))];
}

async function loadHistory() {
  // Ask for 20 more than already known, so each load reaches further back.
  const limit = Math.min(200, answered().length + 20);
  const rows = await api.get(`/api/projects/${project.id}/history?limit=${limit}`);
  older = rows.map((row) => ({
    item: row.item,
    value: row.annotation.value,
    skipped: row.annotation.skipped,
    ...fixes.get(row.item.id),
  }));
  olderComplete = rows.length < limit;
}

async function back() {
  if (busy) return;
  let list = answered();
  if (depth >= list.length && !olderComplete) {
    busy = true;
    try {
      await loadHistory();
    } catch (err) {
      hint(`Could not load earlier answers: ${err.message}`);
      return;
    } finally {
      busy = false;
    }
    list = answered();
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
    showEntry(answered()[depth - 1]);
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
  if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
  const target = event.target;
  if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
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

window.addEventListener("beforeunload", (event) => {
  if (outbox.size > 0 || failures.length > 0) event.preventDefault();
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
loadHistory().catch(() => {});
