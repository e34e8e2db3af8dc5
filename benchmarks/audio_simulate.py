"""Spoken digits: labels to 95% of full-pool accuracy, default strategy vs random, on audio.

Builds a JSONL of the Free Spoken Digit Dataset clips (path + digit, the digit
is the first field of ``{digit}_{speaker}_{take}.wav``) and runs the real
``hitloop simulate --modality audio`` on it: MFCC statistics, the default
learner, each strategy, 5 repeats.

    nice -n 19 python benchmarks/audio_simulate.py --fsdd ../shared/data/audio/fsdd

Writes ``benchmarks/results/audio-simulate.json`` (the simulate report) and
prints labels-to-target per strategy.
"""

from __future__ import annotations

import sys

# benchmarks/select.py would shadow the standard library's select module: move this folder last.
sys.path.append(sys.path.pop(0))

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fsdd", type=Path, default=Path("../shared/data/audio/fsdd"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--strategies", default="diverse-margin,random")
    parser.add_argument("--json", type=Path, default=RESULTS / "audio-simulate.json")
    args = parser.parse_args(argv)
    clips = sorted(args.fsdd.glob("*.wav"))
    if not clips:
        parser.error(f"no .wav files in {args.fsdd}")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "fsdd.jsonl"
        with data.open("w") as out:
            for clip in clips:
                out.write(json.dumps({"audio": str(clip.resolve()), "digit": clip.name.split("_")[0]}) + "\n")
        command = [
            sys.executable, "-c", "from hitloop.cli.main import main; main()",
            "simulate", "--data", str(data),
            "--text-field", "audio", "--label-field", "digit", "--modality", "audio",
            "--budget", str(args.budget), "--repeats", str(args.repeats), "--json", str(args.json), "--quiet",
        ]  # fmt: skip
        for name in args.strategies.split(","):
            command += ["--strategy", name]
        started = time.perf_counter()
        subprocess.run(command, check=True)
        seconds = time.perf_counter() - started
    report = json.loads(args.json.read_text())
    print(f"{len(clips)} clips, {seconds:.0f} s")
    print(json.dumps(_summary(report), indent=2))
    return 0


def _summary(report: dict) -> dict:  # type: ignore[type-arg]
    keys = ("labels_to_target", "labels_to_target_per_repeat", "reference_accuracy_mean", "target_accuracy")
    out = {entry["name"]: {key: entry.get(key) for key in keys} for entry in report["strategies"]}
    out["setup"] = report["setup"]
    return out


if __name__ == "__main__":
    raise SystemExit(main())
