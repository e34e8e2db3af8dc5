// A small buffer of leased items, refilled in the background, so the next item
// is on screen the moment the current one is answered.

import { HttpError, backoff, sleep } from "./api.js";

export class Feed {
  constructor(api, projectId, { size = 3, holding = () => [], onChange = () => {}, onError = () => {} } = {}) {
    this.api = api;
    this.projectId = projectId;
    this.size = size;
    this.holding = holding; // ids the page holds outside the buffer (on screen, being saved)
    this.onChange = onChange;
    this.onError = onError;
    this.items = [];
    this.loading = false;
    this.empty = false; // the last request came back with nothing
    this.started = false;
    this.failures = 0;
    this.stopped = false;
  }

  get ids() {
    return this.items.map((item) => item.id);
  }

  // Refill after the caller has put the item on screen, so the request's
  // `have` list names it (the server re-serves held items not listed there).
  take() {
    const item = this.items.shift() || null;
    if (!this.empty) queueMicrotask(() => this.fill());
    return item;
  }

  putBack(item) {
    this.items.unshift(item);
  }

  async fill() {
    if (this.loading || this.stopped || this.items.length >= this.size) return;
    this.loading = true;
    let again = false;
    try {
      const want = this.size - this.items.length;
      const have = [...new Set([...this.ids, ...this.holding()])].slice(0, 100);
      const body = await this.api.post(`/api/projects/${this.projectId}/next`, { count: want, have });
      // Checked again on arrival: the page may have taken items meanwhile.
      const known = new Set([...this.ids, ...this.holding()]);
      const fresh = body.items.filter((item) => !known.has(item.id));
      for (const item of fresh) {
        preload(item);
        this.items.push(item);
      }
      this.empty = fresh.length === 0;
      this.failures = 0;
      again = fresh.length > 0 && this.items.length < this.size;
    } catch (err) {
      this.failures += 1;
      this.onError(err);
      if (err instanceof HttpError && err.status < 500 && err.status !== 429) {
        this.stopped = true;
      } else {
        await sleep(backoff(this.failures));
        again = true;
      }
    } finally {
      this.loading = false;
      this.started = true;
      this.onChange();
    }
    if (again) this.fill();
  }

  // Ask again even though the queue looked empty (new items, expired leases).
  refresh() {
    this.empty = false;
    this.stopped = false;
    this.fill();
  }
}

const warm = new Map();

// Fetch an image before it is shown; the media route is immutable, so the
// browser's cache serves it instantly later.
function preload(item) {
  if (!item.media_url || warm.has(item.id)) return;
  const img = new Image();
  img.decoding = "async";
  img.src = item.media_url;
  warm.set(item.id, img);
  if (warm.size > 50) warm.delete(warm.keys().next().value);
}
