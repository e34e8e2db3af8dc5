"""Time to first paint of the box editor, and frame gaps while zooming and panning.

    python benchmarks/box_editor.py [--runs 5] [--json OUT]

Starts a real server (uvicorn, SQLite in a temporary folder) with a boxes
project and opens its labeling page in headless Chromium (/usr/bin/chromium)
through Playwright, logged in. Three cases: a 1024x768 photo-like JPEG, a
4000x3000 one, and the 4000x3000 one with 200 suggested boxes. For each run,
a fresh page reports (from the Performance API, relative to navigation start):

- ``fcp_ms``: the browser's first contentful paint (the page shell);
- ``boxes_ms``: the editor's first paint of the image with its boxes
  (``performance.mark("hl-boxes-first-paint")`` in boxes.js);

then 40 wheel zoom steps and a 40-step pan drag while requestAnimationFrame
timestamps are recorded: ``max_frame_gap_ms`` and ``p95_frame_gap_ms`` say how
smooth it stayed (16.7 ms is 60 frames a second).
"""

from __future__ import annotations

import sys

# This folder comes first on sys.path, where select.py (another benchmark) would
# shadow the standard library's select module: move it last.
sys.path.append(sys.path.pop(0))

import argparse
import io
import json
import os
import platform
import statistics
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from _browser import PASSWORD, VIEWPORT, launch, login_state, serve
from PIL import Image


def photo(width: int, height: int, seed: int = 0) -> bytes:
    """A JPEG with smooth gradients and noise, about as hard to decode as a photo."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width, y / height, (x + y) / (width + height)], axis=-1) * 200
    noisy = base + rng.normal(0, 12, size=base.shape).astype(np.float32)
    out = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=88)
    return out.getvalue()


def grid_boxes(width: int, height: int, n: int, labels: list[str]) -> list[dict[str, Any]]:
    cols = int(np.ceil(np.sqrt(n * width / height)))
    rows = int(np.ceil(n / cols))
    cw, ch = width / cols, height / rows
    return [
        {
            "x": round((i % cols) * cw + cw * 0.1, 2),
            "y": round((i // cols) * ch + ch * 0.1, 2),
            "w": round(cw * 0.8, 2),
            "h": round(ch * 0.8, 2),
            "label": labels[i % len(labels)],
        }
        for i in range(n)
    ]


def setup(data_dir: Path) -> tuple[Any, dict[str, int]]:
    from hitloop.api import create_app
    from hitloop.api.context import AppContext
    from hitloop.schemas import ProjectCreate
    from hitloop.services import auth, boxes, items, projects
    from hitloop.settings import Settings
    from hitloop.types import Modality, TaskType

    settings = Settings(data_dir=data_dir)
    ctx = AppContext.from_settings(settings)
    ctx.db.upgrade()
    user = auth.create_user(ctx.db, "bench", PASSWORD, is_admin=True)
    labels = ["face", "person", "car", "sign"]
    cases = {}
    sizes = [("1024x768", (1024, 768), 0), ("4000x3000", (4000, 3000), 0)]
    sizes.append(("4000x3000+200 boxes", (4000, 3000), 200))
    for name, size, n_boxes in sizes:
        spec = ProjectCreate(name=name, task=TaskType.BOXES, modality=Modality.IMAGE, labels=labels)
        pid = projects.create_project(ctx.db, user.id, spec).id
        # Every run opens the same (leased) item in a fresh browser context: nothing is cached.
        item = items.add_image(
            ctx.db, ctx.media, pid, user.id, photo(*size), filename="a.jpg", limits=ctx.limits
        )
        if n_boxes:
            found = {item: grid_boxes(*size, n_boxes, labels)}
            boxes._write_suggestions(ctx.db, pid, found, {"source": "bench"})
        cases[name] = pid
    return create_app(context=ctx), cases


_RECORD_FRAMES = """() => {
  window.__frames = [];
  const tick = (t) => {
    window.__frames.push(t);
    if (window.__frames.length < 100000) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""


def measure(page: Any, url: str, pid: int) -> dict[str, float]:
    page.goto(f"{url}/projects/{pid}/label")
    page.wait_for_selector('.box-editor[data-ready="true"]')
    page.wait_for_function("performance.getEntriesByName('hl-boxes-first-paint').length > 0")
    timing = page.evaluate(
        """() => ({
        fcp: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime,
        boxes: performance.getEntriesByName('hl-boxes-first-paint')[0].startTime,
    })"""
    )
    canvas = page.locator(".box-canvas").bounding_box()
    cx, cy = canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 2
    page.evaluate(_RECORD_FRAMES)
    page.mouse.move(cx, cy)
    for _ in range(40):
        page.mouse.wheel(0, -60)
    page.keyboard.down(" ")
    page.mouse.down()
    page.mouse.move(cx - 300, cy - 200, steps=40)
    page.mouse.up()
    page.keyboard.up(" ")
    page.wait_for_timeout(100)
    frames = page.evaluate("window.__frames")
    gaps = np.diff(np.asarray(frames))
    return {
        "fcp_ms": round(float(timing["fcp"]), 1),
        "boxes_ms": round(float(timing["boxes"]), 1),
        "max_frame_gap_ms": round(float(gaps.max()), 1),
        "p95_frame_gap_ms": round(float(np.percentile(gaps, 95)), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        app, cases = setup(Path(tmp))
        url, server = serve(app)
        results: dict[str, Any] = {
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
            "load_average": os.getloadavg()[0],
            "runs": args.runs,
            "cases": {},
        }
        try:
            with sync_playwright() as p:
                browser = launch(p)
                cookies = login_state(browser, url)
                print(f"{'case':<22} {'FCP ms':>8} {'boxes ms':>9} {'max gap ms':>11} {'p95 gap ms':>11}")
                for name, pid in cases.items():
                    runs = []
                    for _ in range(args.runs):
                        context = browser.new_context(viewport=VIEWPORT, storage_state=cookies)
                        runs.append(measure(context.new_page(), url, pid))
                        context.close()
                    summary = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
                    results["cases"][name] = {"median": summary, "runs": runs}
                    print(
                        f"{name:<22} {summary['fcp_ms']:>8.0f} {summary['boxes_ms']:>9.0f}"
                        f" {summary['max_frame_gap_ms']:>11.0f} {summary['p95_frame_gap_ms']:>11.1f}"
                    )
                browser.close()
        finally:
            server.should_exit = True
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
