// Answers waiting to reach the server, sent one at a time in the order given.
//
// Order matters: a correction of an answer must land after the answer, or the
// server would supersede the correction. A network failure or server error is
// retried with the same body (and so the same client_key, which the server
// deduplicates); a refusal (409, 422...) is reported and never silently dropped.

import { backoff, isRetryable, sleep } from "./api.js";

export class Outbox {
  constructor(api, { onChange = () => {}, onSaved = () => {}, onRefused = () => {}, onBlocked = () => {} } = {}) {
    this.api = api;
    this.jobs = [];
    this.running = false;
    this.blocked = null; // an HttpError (401/403) that stops everything until resume()
    this.attempt = 0;
    this.hooks = { onChange, onSaved, onRefused, onBlocked };
  }

  get size() {
    return this.jobs.length;
  }

  get retrying() {
    return this.attempt > 0;
  }

  itemIds() {
    return this.jobs.map((job) => job.itemId);
  }

  add(job) {
    this.jobs.push(job);
    this.hooks.onChange();
    this.run();
  }

  resume() {
    this.blocked = null;
    this.attempt = 0;
    this.run();
  }

  async run() {
    if (this.running) return;
    this.running = true;
    try {
      while (this.jobs.length && !this.blocked) {
        const job = this.jobs[0];
        try {
          const saved = await this.api.post(job.url, job.body);
          this.jobs.shift();
          this.attempt = 0;
          this.hooks.onSaved(job, saved);
        } catch (err) {
          if (isRetryable(err)) {
            this.attempt += 1;
            this.hooks.onChange();
            await sleep(backoff(this.attempt));
          } else if (err.status === 401 || err.status === 403) {
            this.blocked = err;
            this.hooks.onBlocked(err, job);
          } else {
            this.jobs.shift();
            this.attempt = 0;
            this.hooks.onRefused(job, err);
          }
        }
        this.hooks.onChange();
      }
    } finally {
      this.running = false;
      this.hooks.onChange();
    }
  }

  // The page is going away: hand what is left to keepalive requests. Only the
  // last answer per item is sent, so arrival order cannot matter.
  flushOnUnload() {
    const last = new Map();
    for (const job of this.jobs) last.set(job.itemId, job);
    for (const job of last.values()) this.api.beacon(job.url, job.body);
  }
}
