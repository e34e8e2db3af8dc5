"""A 60-minute recording in the labeling page: time to load, time to seek, bytes fetched, memory.

    nice -n 19 python benchmarks/audio_browser.py [--minutes 60] [--runs 3] [--json OUT]

Synthesizes a recording (speech-like bursts and pauses, 8 kHz mono, OGG
Vorbis), imports it into an audio project of a real server (uvicorn, SQLite in
a temporary folder) and opens the labeling page in headless Chromium
(/usr/bin/chromium) through Playwright. Per run, in a fresh browser context:

- ``ready_ms``: navigation start to the player knowing the full length and
  drawing the waveform (the peaks come from the server);
- ``seek_ms``: a click on the waveform at 50 minutes to audio playing there;
- ``media_responses``: the recording's responses the browser asked for
  (status and ``Content-Range``): it reads the start, then jumps by range
  request to where it seeks, instead of downloading everything before it;
- ``js_heap_mb``: the page's JavaScript heap afterwards; decoding the whole
  recording would take over 100 MB of samples.
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
import time
from pathlib import Path
from typing import Any

import numpy as np
from _browser import PASSWORD, VIEWPORT, launch, login_state, serve

RATE = 8000


def recording(minutes: float, seed: int = 0) -> bytes:
    """Bursts of a few harmonics with noise, 0.5-3 s long, between 0.3-1.5 s pauses, as OGG Vorbis."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    total = int(minutes * 60 * RATE)
    out = io.BytesIO()
    with sf.SoundFile(out, "w", RATE, 1, format="OGG", subtype="VORBIS") as f:
        written = 0
        while written < total:
            burst = int(rng.uniform(0.5, 3.0) * RATE)
            t = np.arange(burst) / RATE
            f0 = rng.uniform(100, 250)
            voice = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 5))
            envelope = np.sin(np.pi * t / t[-1]) * rng.uniform(0.2, 0.6)
            pause = rng.normal(0, 0.002, int(rng.uniform(0.3, 1.5) * RATE))
            chunk = np.concatenate([voice * envelope + rng.normal(0, 0.01, burst), pause])[: total - written]
            f.write(chunk.astype(np.float32))
            written += len(chunk)
    return out.getvalue()


def length_label(minutes: float) -> str:
    """The whole length as the player's clock shows it (audio.js clock(), tenths of a second).

    1:00:00.0 for 60 minutes, 0:30.0 for 0.5, 1:15.0 for 1.25.
    """
    seconds = max(0.0, minutes * 60)
    h, m = int(seconds // 3600), int(seconds % 3600 // 60)
    rest = f"{seconds % 60:.1f}".rjust(4, "0")
    return f"{h}:{m:02d}:{rest}" if h else f"{m}:{rest}"


def measure(page: Any, url: str, pid: int, seek_to: float, minutes: float) -> dict[str, float]:
    fetched: list[str] = []

    def on_response(response: Any) -> None:
        if "/media" in response.url:
            fetched.append(f"{response.status} {response.headers.get('content-range', 'whole file')}")

    page.on("response", on_response)
    page.goto(f"{url}/projects/{pid}/label")
    page.wait_for_function(
        "() => { const a = document.querySelector('.audio-player audio');"
        " const t = document.querySelector('.audio-time');"
        f" return a && a.readyState >= 1 && t && t.textContent.includes('/ {length_label(minutes)}'); }}",
        timeout=120_000,
    )
    ready = page.evaluate("() => performance.now()")
    wave = page.locator(".audio-wave").bounding_box()
    duration = page.evaluate("() => document.querySelector('.audio-player audio').duration")
    started = page.evaluate("() => performance.now()")
    page.mouse.click(wave["x"] + wave["width"] * seek_to / duration, wave["y"] + wave["height"] / 2)
    page.locator("body").press("Space")
    page.wait_for_function(
        f"() => document.querySelector('.audio-player audio').currentTime > {seek_to - 30} && "
        "!document.querySelector('.audio-player audio').paused && "
        "document.querySelector('.audio-player audio').readyState >= 3",
        timeout=120_000,
    )
    seeked = page.evaluate("() => performance.now()")
    heap = page.evaluate("() => performance.memory ? performance.memory.usedJSHeapSize : 0")
    page.locator("body").press("Space")
    return {
        "ready_ms": round(float(ready), 1),
        "seek_ms": round(float(seeked - started), 1),
        "media_responses": fetched,
        "js_heap_mb": round(heap / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--minutes", type=float, default=60.0, help="length of the recording; fractions too, e.g. 0.5"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from hitloop.api import create_app
    from hitloop.api.context import AppContext
    from hitloop.schemas import ProjectCreate
    from hitloop.services import auth, items, projects
    from hitloop.settings import Settings

    started = time.perf_counter()
    data = recording(args.minutes)
    encode_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        ctx = AppContext.from_settings(Settings(data_dir=Path(tmp)))
        ctx.db.upgrade()
        user = auth.create_user(ctx.db, "bench", PASSWORD, is_admin=True)
        spec = ProjectCreate(name="Calls", task="transcribe", modality="audio", labels=[])
        pid = projects.create_project(ctx.db, user.id, spec).id
        started = time.perf_counter()
        items.add_audio(ctx.db, ctx.media, pid, user.id, data, filename="call.ogg", limits=ctx.limits)
        import_s = time.perf_counter() - started
        url, server = serve(create_app(context=ctx))
        results: dict[str, Any] = {
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
            "load_average": os.getloadavg()[0],
            "minutes": args.minutes,
            "file_bytes": len(data),
            "encode_s": round(encode_s, 1),
            "import_s": round(import_s, 1),
            "runs": [],
        }
        try:
            with sync_playwright() as p:
                browser = launch(p)
                state = login_state(browser, url)
                for _ in range(args.runs):
                    context = browser.new_context(viewport=VIEWPORT, storage_state=state)
                    run = measure(
                        context.new_page(),
                        url,
                        pid,
                        seek_to=50 * 60 * args.minutes / 60,
                        minutes=args.minutes,
                    )
                    results["runs"].append(run)
                    print(run, flush=True)
                    context.close()
                browser.close()
        finally:
            server.should_exit = True
    for key in ("ready_ms", "seek_ms", "js_heap_mb"):
        results[f"{key}_median"] = statistics.median(r[key] for r in results["runs"])
    print(json.dumps({k: v for k, v in results.items() if k != "runs"}, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
