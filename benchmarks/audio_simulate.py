"""Spoken digits: labels to 95% of full-pool accuracy, default strategy vs random, on audio.

Builds a JSONL of the Free Spoken Digit Dataset clips (path + digit, the digit
is the first field of ``{digit}_{speaker}_{take}.wav``) and runs the real
``hitloop simulate --modality audio`` on it: the default MFCC statistics, the
default learner, each strategy (default: cover-margin, the audio default, then
diverse-margin, margin, random), 5 repeats, every strategy on the same features.

Then the baselines of the label-efficiency benchmark's protocol
(``benchmarks/label_efficiency.py``, issue 3's target), in-process with the
same splits and seeds: random, margin, entropy and least confidence with
random seed labels and plain (uncalibrated) logistic regression, on the
default features (the strict reading: same features, same learner) and, for
random and margin, on the baseline features (session one's MFCC statistics:
13 coefficients, filters to half the sample rate, whole clip, thirds).
hitloop's margin stands in for the libraries' (scikit-activeml and modAL
chose the same items as it on digits).

    nice -n 19 python benchmarks/audio_simulate.py --fsdd ../shared/data/audio/fsdd

Writes ``benchmarks/results/audio-simulate.json`` (the simulate report, with
the baselines under ``"baselines"``) and prints labels-to-target per run.
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
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fsdd", type=Path, default=Path("../shared/data/audio/fsdd"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--strategies", default="cover-margin,diverse-margin,margin,random")
    parser.add_argument("--no-baselines", action="store_true", help="skip the baseline-features runs")
    parser.add_argument(
        "--ablation", action="store_true", help="also the default with one ingredient removed"
    )
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
    if not args.no_baselines:
        report["baselines"] = _baselines(clips, report["setup"])
    if args.ablation:
        report["ablation"] = _ablation(clips, report["setup"])
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{len(clips)} clips, {seconds:.0f} s")
    print(json.dumps(_summary(report), indent=2))
    return 0


BASELINE_FEATURES = {"n_mfcc": 13, "n_mels": 40, "fmax": None, "trim_db": None, "parts": 3}


LIBRARY_STRATEGIES = ("random", "margin", "entropy", "least-confidence")


def _baselines(clips: list[Path], setup: dict) -> dict:  # type: ignore[type-arg]
    """The library-style strategies with the plain learner and random seeds, on both feature sets.

    ``default features``: the strict reading (same features as the default
    pipeline); ``baseline features``: issue 3's baseline (random and margin).
    """
    from hitloop.formats.audio import decode_audio
    from hitloop.ml.audio import AudioMfcc
    from hitloop.ml.learners import LogisticLearner
    from hitloop.ml.simulate import simulate
    from hitloop.ml.strategies import make_strategy

    y = [clip.name.split("_")[0] for clip in clips]
    samples = [decode_audio(c, samplerate=AudioMfcc().samplerate)[0] for c in clips]
    out: dict = {"learner": "LogisticLearner(calibrate=False)", "seed_selection": "random"}  # type: ignore[type-arg]
    arms: tuple[tuple[str, dict[str, Any], tuple[str, ...]], ...] = (
        ("default features", {}, LIBRARY_STRATEGIES),
        ("baseline features", BASELINE_FEATURES, ("random", "margin")),
    )
    for key, params, names in arms:
        featurizer = AudioMfcc(**params)
        X = featurizer.fit_transform(samples)
        runs: dict = {"features": repr(featurizer)}  # type: ignore[type-arg]
        for name in names:
            result = simulate(
                X, y,
                learner=LogisticLearner(calibrate=False), strategy=make_strategy(name),
                seed_labels=setup["seed_labels"], batch_size=setup["batch"], budget=setup["budget"],
                repeats=setup["repeats"], test_size=setup["test_size"], seed_selection="random",
                random_state=setup["seed"],
            )  # fmt: skip
            runs[name] = result.to_dict(setup["target"])
        out[key] = runs
    return out


def _ablation(clips: list[Path], setup: dict) -> dict:  # type: ignore[type-arg]
    """The default pipeline (cover-margin, cold start, calibrated learner) with one ingredient changed.

    ``per_class`` (labels per class that cover clusters) is swept: 5 is the
    default; 0 is diverse-margin.
    """
    from hitloop.formats.audio import decode_audio
    from hitloop.ml.audio import AudioMfcc
    from hitloop.ml.defaults import default_learner
    from hitloop.ml.simulate import simulate
    from hitloop.ml.strategies import make_strategy

    y = [clip.name.split("_")[0] for clip in clips]
    samples = [decode_audio(c, samplerate=AudioMfcc().samplerate)[0] for c in clips]
    runs: dict[str, tuple[dict, dict]] = {  # type: ignore[type-arg]
        f"cover-margin per_class={k}": ({}, {"strategy": make_strategy("cover-margin", per_class=k)})
        for k in (0, 2, 3, 4, 10)
    }
    runs |= {
        "- silence trimming (trim_db=None)": ({"trim_db": None}, {}),
        "- telephone band (fmax=None: filters to 8 kHz)": ({"fmax": None}, {}),
        "13 coefficients, 40 filters (as before)": ({"n_mfcc": 13, "n_mels": 40}, {}),
        "thirds instead of quarters (parts=3)": ({"parts": 3}, {}),
        "baseline features (all of the above)": (BASELINE_FEATURES, {}),
        "- cold start (random seed labels)": ({}, {"seed_selection": "random"}),
        "- calibration": ({}, {"learner": default_learner("audio").set_params(calibrate=False)}),
    }
    out = {}
    cache: dict[str, object] = {}
    for name, (features, change) in runs.items():
        key = repr(sorted(features.items()))
        if key not in cache:
            cache[key] = AudioMfcc(**features).fit_transform(samples)
        spec = {
            "learner": default_learner("audio"), "seed_selection": "strategy",
            "strategy": make_strategy("cover-margin"), **change,
        }  # fmt: skip
        result = simulate(
            cache[key], y,
            seed_labels=setup["seed_labels"], batch_size=setup["batch"], budget=min(setup["budget"], 200),
            repeats=setup["repeats"], test_size=setup["test_size"], random_state=setup["seed"], **spec,
        )  # fmt: skip
        out[name] = result.to_dict(setup["target"])
    return out


def _summary(report: dict) -> dict:  # type: ignore[type-arg]
    keys = ("labels_to_target", "labels_to_target_per_repeat", "reference_accuracy_mean", "target_accuracy")
    out = {entry["name"]: {key: entry.get(key) for key in keys} for entry in report["strategies"]}
    extra = [
        (f"baseline {features}: {k}", v)
        for features, runs in report.get("baselines", {}).items()
        if isinstance(runs, dict)
        for k, v in runs.items()
    ]
    extra += [(f"ablation {k}", v) for k, v in report.get("ablation", {}).items()]
    for name, entry in extra:
        if isinstance(entry, dict):
            out[name] = {
                "labels_to_target": entry["labels_to_target"],
                "labels_to_target_per_repeat": entry["labels_to_target_per_repeat"],
                "reference_accuracy_mean": round(
                    sum(entry["reference_accuracy"]) / len(entry["reference_accuracy"]), 5
                ),
            }
    out["setup"] = report["setup"]
    return out


if __name__ == "__main__":
    raise SystemExit(main())
