// The answers Back can return to, newest first: this page's own, then earlier
// ones the server remembers (GET /api/projects/{id}/history).

export class AnswerHistory {
  constructor(api, projectId) {
    this.api = api;
    this.projectId = projectId;
    this.mine = []; // {item, value, skipped, unsaved}, newest first
    this.older = [];
    this.complete = false; // the server has nothing older than `older`
    this.corrections = new Map(); // item id -> {value, skipped} given on this page
  }

  add(entry) {
    this.mine.unshift(entry);
  }

  // A corrected answer wins over what an earlier history request returned.
  correct(itemId, answer) {
    this.corrections.set(itemId, answer);
  }

  unsavedIds() {
    return this.mine.filter((e) => e.unsaved).map((e) => e.item.id);
  }

  list() {
    const seen = new Set(this.mine.map((e) => e.item.id));
    return [...this.mine, ...this.older.filter((e) => !seen.has(e.item.id))];
  }

  async load() {
    // 20 more than already known, so each load reaches further back.
    const limit = Math.min(200, this.list().length + 20);
    const rows = await this.api.get(`/api/projects/${this.projectId}/history?limit=${limit}`);
    this.older = rows.map((row) => ({
      item: row.item,
      value: row.annotation.value,
      skipped: row.annotation.skipped,
      unsaved: false,
      ...this.corrections.get(row.item.id),
    }));
    this.complete = rows.length < limit;
  }
}
