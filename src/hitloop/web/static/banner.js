// The error banner: answers the server refused, and a session that ended.
// Messages can quote data (labels), so they are set as text only.

export function renderBanner(root, { blocked, failures, onRetry, onDismiss }) {
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
    row.append(login, button("Retry", onRetry));
    rows.push(row);
  }
  failures.forEach((failure, i) => {
    let text = failure.message;
    if (failure.job) {
      const what = failure.job.body.skip ? "skip" : describeValue(failure.job.body.value);
      text = `Your answer (${what}) for item #${failure.job.itemId} was not saved: ${failure.message}`;
    }
    const row = bannerRow(text);
    row.append(button("Dismiss", () => onDismiss(i)));
    rows.push(row);
  });
  root.replaceChildren(...rows);
  root.hidden = rows.length === 0;
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
