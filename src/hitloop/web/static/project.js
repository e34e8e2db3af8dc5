// The project page's upload forms: they post to the JSON API with the CSRF
// header, in batches that stay under the server's upload limit.

import { Api, HttpError, csrfFromPage } from "./api.js";

const api = new Api(csrfFromPage());

// Split files into batches whose total size stays under `limit` bytes.
function batches(files, limit, maxCount = 50) {
  const out = [];
  let batch = [];
  let size = 0;
  for (const file of files) {
    if (batch.length && (size + file.size > limit || batch.length >= maxCount)) {
      out.push(batch);
      batch = [];
      size = 0;
    }
    batch.push(file);
    size += file.size;
  }
  if (batch.length) out.push(batch);
  return out;
}

function say(form, text, kind = "info") {
  const status = form.querySelector(".upload-status");
  status.textContent = text;
  status.dataset.kind = kind;
}

function errorText(err) {
  return err instanceof HttpError ? err.describe() : `network error: ${err.message}`;
}

async function refreshStats(projectUrl) {
  try {
    const project = await api.get(projectUrl);
    for (const [key, value] of Object.entries(project.stats || {})) {
      const cell = document.querySelector(`[data-stat="${key}"]`);
      if (cell) cell.textContent = String(value);
    }
  } catch {
    // the numbers refresh on the next page load
  }
}

async function uploadImages(form) {
  const input = form.querySelector('input[type="file"]');
  const files = Array.from(input.files);
  const limit = Math.floor(Number(form.dataset.maxBytes) * 0.9);
  const tooBig = files.filter((f) => f.size > limit);
  let done = 0;
  for (const batch of batches(files.filter((f) => f.size <= limit), limit)) {
    const body = new FormData();
    for (const file of batch) body.append("files", file, file.name);
    try {
      const result = await api.upload(form.dataset.url, body);
      done += result.item_ids.length;
      say(form, `Uploaded ${done} of ${files.length} images…`);
    } catch (err) {
      say(form, `Stopped after ${done} images: ${errorText(err)}`, "error");
      return done;
    }
  }
  if (tooBig.length) {
    say(form, `Uploaded ${done} images; ${tooBig.length} were too large: ${tooBig.map((f) => f.name).join(", ")}`, "error");
  } else {
    say(form, `Uploaded ${done} images.`, "ok");
  }
  return done;
}

async function importFile(form) {
  const file = form.querySelector('input[type="file"]').files[0];
  const body = new FormData();
  body.append("file", file, file.name);
  const textField = form.elements.text_field.value.trim();
  const idField = form.elements.id_field.value.trim();
  if (textField) body.append("text_field", textField);
  if (idField) body.append("id_field", idField);
  say(form, `Importing ${file.name}…`);
  try {
    const result = await api.upload(form.dataset.url, body);
    say(form, `Imported ${result.created} items from ${result.source}.`, "ok");
    return result.created;
  } catch (err) {
    say(form, `Nothing was imported: ${errorText(err)}`, "error");
    return 0;
  }
}

for (const form of document.querySelectorAll("form[data-upload]")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      const added = form.dataset.upload === "images" ? await uploadImages(form) : await importFile(form);
      if (added) {
        form.querySelector('input[type="file"]').value = ""; // keep the field names typed
        await refreshStats(document.querySelector('link[rel="alternate"]').href);
      }
    } finally {
      button.disabled = false;
    }
  });
}
