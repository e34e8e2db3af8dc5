// Calls to hitloop's JSON API from a logged-in page: the session cookie rides
// along, and every unsafe request carries the CSRF token from the page.

export class HttpError extends Error {
  constructor(status, body) {
    const detail = body && body.error ? body.error : {};
    super(detail.message || `HTTP ${status}`);
    this.status = status;
    this.code = detail.code || null;
    this.field = detail.field || null;
    this.file = detail.file || null;
    this.line = detail.line ?? null;
  }

  // "file:line: field: message", like the CLI prints it.
  describe() {
    const where = [];
    if (this.file) where.push(this.line != null ? `${this.file}:${this.line}` : this.file);
    if (this.field) where.push(this.field);
    return where.length ? `${where.join(": ")}: ${this.message}` : this.message;
  }
}

// Network failures, timeouts and server trouble are worth retrying; a 4xx is an answer.
export function isRetryable(err) {
  if (!(err instanceof HttpError)) return true;
  return err.status >= 500 || err.status === 408 || err.status === 429;
}

export function csrfFromPage(doc = document) {
  const meta = doc.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

export class Api {
  constructor(csrfToken) {
    this.csrfToken = csrfToken;
  }

  headers(json) {
    const h = { Accept: "application/json", "X-CSRF-Token": this.csrfToken };
    if (json) h["Content-Type"] = "application/json";
    return h;
  }

  async request(method, url, { json, form, keepalive = false } = {}) {
    const init = { method, credentials: "same-origin", keepalive, headers: this.headers(json !== undefined) };
    if (json !== undefined) init.body = JSON.stringify(json);
    if (form !== undefined) init.body = form;
    const response = await fetch(url, init);
    const text = await response.text();
    let body = null;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = null;
      }
    }
    if (!response.ok) throw new HttpError(response.status, body);
    return body;
  }

  get(url) {
    return this.request("GET", url);
  }

  post(url, json) {
    return this.request("POST", url, { json });
  }

  upload(url, form) {
    return this.request("POST", url, { form });
  }

  // Fire-and-forget that outlives the page (pagehide); errors cannot be reported.
  beacon(url, json) {
    try {
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        keepalive: true,
        headers: this.headers(true),
        body: JSON.stringify(json),
      }).catch(() => {});
    } catch {
      // keepalive bodies are capped at 64 KB in flight; nothing more can be done while unloading
    }
  }

  // After logging in again (in another tab) the session, and so the token, is new.
  async refreshCsrf() {
    const me = await this.get("/api/me");
    if (me && me.csrf_token) this.csrfToken = me.csrf_token;
    return me;
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function backoff(attempt) {
  return Math.min(10000, 400 * 2 ** Math.min(attempt, 5)) * (0.75 + Math.random() / 2);
}

// 32 hex characters; works outside secure contexts too (crypto.randomUUID does not).
export function newClientKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
