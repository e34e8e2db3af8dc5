"""Speech drafts: the recognizer's word error rate on read speech, and the typing a draft saves.

Runs hitloop's draft recognizer (PocketSphinx with the model its wheel
carries) on the LibriVox recordings of Debian's ``pocketsphinx-testdata``
(``apt-get install pocketsphinx-testdata``), scores each draft against the
reference transcript, and counts the keystrokes a person needs to correct
the draft against typing the transcript from scratch.

    nice -n 19 python benchmarks/speech.py --json benchmarks/results/speech.json
"""

from __future__ import annotations

import sys

# benchmarks/select.py would shadow the standard library's select module: move this folder last.
sys.path.append(sys.path.pop(0))

import argparse
import json
import platform
import re
import time
from pathlib import Path

from hitloop.formats.audio import decode_audio
from hitloop.ml.recognizer import SAMPLERATE, PocketSphinxRecognizer
from hitloop.ml.speech import edit_counts, keystrokes_to_correct, word_errors

DATA = Path("/usr/share/pocketsphinx/test/data/librivox")
RESULTS = Path(__file__).resolve().parent / "results"


def _references(folder: Path) -> dict[str, str]:
    out = {}
    for line in (folder / "transcription").read_text().splitlines():
        m = re.match(r"<s>\s*(.*?)\s*</s>\s*\((.+)\)", line.strip())
        if m:
            out[m.group(2)] = m.group(1)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--json", type=Path, default=RESULTS / "speech.json")
    args = parser.parse_args(argv)
    references = _references(args.data)
    if not references:
        parser.error(f"no transcription in {args.data} (apt-get install pocketsphinx-testdata)")
    recognizer = PocketSphinxRecognizer()
    rows, pairs = [], []
    audio_seconds = decode_seconds = 0.0
    for name, reference in sorted(references.items()):
        samples, _ = decode_audio(args.data / f"{name}.wav", samplerate=SAMPLERATE)
        started = time.perf_counter()
        draft = recognizer.recognize(samples)
        decode_seconds += time.perf_counter() - started
        audio_seconds += len(samples) / SAMPLERATE
        pairs.append((draft.text, reference))
        low = [w.text for w in draft.words if w.confidence < 0.5]
        rows.append(
            {
                "file": name,
                "reference": reference,
                "draft": draft.text,
                "word_errors": word_errors(reference, draft.text),
                "words": len(reference.split()),
                "keystrokes_typed": len(reference),
                "keystrokes_corrected": keystrokes_to_correct(draft.text, reference),
                "low_confidence_words": low,
            }
        )
    counts = edit_counts(pairs)
    report = {
        "recordings": len(rows),
        "audio_seconds": round(audio_seconds, 2),
        "wer": round(counts.wer or 0.0, 4),
        "keystrokes_saved": round(counts.keystrokes_saved or 0.0, 4),
        "keystrokes_typed": counts.keystrokes_typed,
        "keystrokes_corrected": counts.keystrokes_corrected,
        "real_time_factor": round(decode_seconds / audio_seconds, 3),
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "items": rows,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    summary = {k: v for k, v in report.items() if k != "items"}
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
