// The project page's model panel: the stopping signal, a learning curve (inline
// SVG), model versions and jobs with live progress, and "Retrain now".
// Data from GET /api/projects/{id}/models; text is set with textContent only.

import { Api, HttpError, csrfFromPage } from "./api.js";

const SVG = "http://www.w3.org/2000/svg";
const root = document.getElementById("hl-model");
const api = new Api(csrfFromPage());
let timer = 0;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = String(text);
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

const pct = (x) => (x == null ? "–" : `${(x * 100).toFixed(1)}%`);

// Labels (x) against cross-validated accuracy (y), one point per model version.
function curve(points) {
  const W = 360;
  const H = 160;
  const pad = { l: 36, r: 10, t: 10, b: 26 };
  const pts = points.filter((p) => p.accuracy != null);
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "learning-curve", role: "img" });
  chart.append(Object.assign(svg("title", {}), { textContent: "Learning curve: labels vs estimated accuracy" }));
  const maxX = Math.max(1, ...pts.map((p) => p.n_train));
  const x = (n) => pad.l + (n / maxX) * (W - pad.l - pad.r);
  const y = (a) => H - pad.b - a * (H - pad.t - pad.b);
  chart.append(svg("line", { x1: pad.l, y1: y(0), x2: W - pad.r, y2: y(0), class: "axis" }));
  chart.append(svg("line", { x1: pad.l, y1: y(0), x2: pad.l, y2: y(1), class: "axis" }));
  for (const a of [0, 0.5, 1]) {
    const t = svg("text", { x: pad.l - 4, y: y(a) + 4, "text-anchor": "end", class: "tick" });
    t.textContent = `${a * 100}%`;
    chart.append(t);
  }
  const xl = svg("text", { x: W - pad.r, y: H - 6, "text-anchor": "end", class: "tick" });
  xl.textContent = `${maxX} labels`;
  chart.append(xl);
  if (pts.length) {
    chart.append(svg("polyline", { points: pts.map((p) => `${x(p.n_train)},${y(p.accuracy)}`).join(" "), class: "curve" }));
    for (const p of pts) {
      const dot = svg("circle", { cx: x(p.n_train), cy: y(p.accuracy), r: 3, class: "point" });
      dot.append(Object.assign(svg("title", {}), { textContent: `${p.n_train} labels: ${pct(p.accuracy)}` }));
      chart.append(dot);
    }
  }
  return chart;
}

function jobRow(job) {
  const li = el("li", `job job-${job.state}`);
  li.dataset.state = job.state;
  li.append(el("span", "job-kind", `${job.kind} #${job.id}`), el("span", "job-state", job.state));
  if (job.state === "running" || job.state === "queued") {
    const bar = el("progress");
    bar.max = 1;
    bar.value = job.progress;
    li.append(bar, el("span", "muted", job.message));
  } else if (job.state === "failed") {
    li.append(el("span", "job-error", job.error || job.message));
  }
  return li;
}

function render(data) {
  const body = el("div", "model-body");
  const s = data.stopping;
  const signal = el("p", "stopping");
  signal.append(
    el("strong", null, `Estimated accuracy ${pct(s.accuracy)}`),
    ` · ${s.changed == null ? "no earlier version" : `${pct(s.changed)} of suggestions changed at the last retraining`}`,
  );
  body.append(signal, el("p", "muted advice", s.advice));
  if (data.learning_curve.length) body.append(curve(data.learning_curve));
  if (data.versions.length) {
    const table = el("table", "versions");
    const head = table.createTHead().insertRow();
    for (const h of ["Version", "Labels", "Accuracy", "Changed", "Learner"]) head.append(el("th", null, h));
    const tb = table.createTBody();
    for (const v of data.versions.slice(0, 8)) {
      const row = tb.insertRow();
      for (const c of [v.id, v.n_train, pct(v.metrics.accuracy), pct(v.metrics.changed), v.learner]) {
        row.append(el("td", null, c));
      }
    }
    body.append(table);
  } else {
    body.append(el("p", "muted", "No model yet: it trains once enough labels of two classes arrive."));
  }
  if (data.jobs.length) {
    const list = el("ul", "jobs");
    data.jobs.slice(0, 5).forEach((j) => list.append(jobRow(j)));
    body.append(el("h3", null, "Jobs"), list);
  }
  const old = root.querySelector(".model-body");
  if (old) old.replaceWith(body);
  else root.append(body);
  return data.jobs.some((j) => j.state === "queued" || j.state === "running");
}

async function refresh() {
  clearTimeout(timer);
  let active = false;
  try {
    active = render(await api.get(`/api/projects/${root.dataset.project}/models`));
  } catch (err) {
    root.querySelector(".model-status").textContent = err instanceof HttpError ? err.describe() : "Offline";
  }
  timer = setTimeout(refresh, active ? 1500 : 15000);
}

if (root) {
  root.hidden = false;
  const button = root.querySelector("[data-train]");
  button?.addEventListener("click", async () => {
    const status = root.querySelector(".model-status");
    try {
      const job = await api.post(`/api/projects/${root.dataset.project}/train`, {});
      status.textContent = `Train job #${job.id} ${job.state}`;
    } catch (err) {
      status.textContent = err instanceof HttpError ? err.describe() : "Could not reach the server";
    }
    refresh();
  });
  refresh();
}
