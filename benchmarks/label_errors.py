"""Precision and recall of the label-error queue on scikit-learn's digits with injected label flips.

    python benchmarks/label_errors.py --json OUT [--seeds 5] [--noise 0.1]

For each seed, ``noise`` of the 1,797 digits get a label chosen uniformly among
the other nine classes. Out-of-fold probabilities (5-fold, stratified) come
from each model below; ``find_label_errors`` then ranks examples by
self-confidence (and by normalized margin). Two cut-offs are scored:

- ``estimated``: the top k, k being the off-diagonal count of the calibrated
  confident joint, which is what the review queue shows;
- ``k = flips``: the top k for the true number of flips (precision = recall).

If cleanlab is importable, its default ``find_label_issues`` runs on the same
probabilities, side by side. The digits ship with scikit-learn (Alpaydin &
Kaynak, UCI optical recognition of handwritten digits), so no data path is needed.
"""

from __future__ import annotations

import sys

# Python puts this folder first on sys.path, where select.py (the selection
# benchmark) would shadow the standard library's select module: move it last.
sys.path.append(sys.path.pop(0))

import argparse
import contextlib
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from hitloop.ml.label_errors import estimate_n_errors, find_label_errors, out_of_fold_proba

MODELS: dict[str, Callable[[], ClassifierMixin]] = {
    "logistic regression (standardised pixels)": lambda: make_pipeline(
        StandardScaler(), LogisticRegression(C=0.1, max_iter=2000)
    ),
    "k-nearest neighbours (k=10, pixels)": lambda: KNeighborsClassifier(n_neighbors=10),
    "RBF SVM (standardised pixels, Platt-calibrated)": lambda: make_pipeline(
        StandardScaler(), CalibratedClassifierCV(SVC(), ensemble=False)
    ),
}


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "load_avg_1m_at_start": os.getloadavg()[0],
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
    }


def flip(y: np.ndarray, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_classes = int(y.max()) + 1
    idx = rng.choice(y.size, round(noise * y.size), replace=False)
    noisy = y.copy()
    noisy[idx] = (y[idx] + rng.integers(1, n_classes, idx.size)) % n_classes
    return noisy, idx


def score(found: np.ndarray, flipped: np.ndarray) -> dict[str, float]:
    hits = np.isin(found, flipped).sum()
    return {
        "k": int(found.size),
        "precision": float(hits / found.size) if found.size else float("nan"),
        "recall": float(hits / flipped.size),
    }


def cleanlab_scores(noisy: np.ndarray, probs: np.ndarray, flipped: np.ndarray) -> dict[str, Any]:
    try:
        import cleanlab
        from cleanlab.filter import find_label_issues
    except ImportError:
        return {}
    out: dict[str, Any] = {"version": cleanlab.__version__}
    found = np.flatnonzero(find_label_issues(noisy, probs))
    out["default (prune_by_noise_rate)"] = score(found, flipped)
    ranked = find_label_issues(noisy, probs, return_indices_ranked_by="self_confidence")
    out["ranked by self_confidence"] = score(np.asarray(ranked), flipped)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, required=True, help="where to write the report")
    parser.add_argument("--seeds", type=int, default=5, help="flip seeds to average over")
    parser.add_argument("--noise", type=float, default=0.1, help="share of labels flipped")
    args = parser.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    runs: list[dict[str, Any]] = []
    for seed in range(args.seeds):
        noisy, flipped = flip(y, args.noise, seed)
        for name, make in MODELS.items():
            start = time.perf_counter()
            probs = out_of_fold_proba(make(), X, noisy, random_state=seed)
            run: dict[str, Any] = {
                "seed": seed,
                "model": name,
                "n_flips": int(flipped.size),
                "oof_seconds": time.perf_counter() - start,
                "oof_accuracy_vs_clean": float(np.mean(probs.argmax(axis=1) == y)),
                "estimated_n_errors": estimate_n_errors(noisy, probs),
                "estimated_n_errors_uncalibrated": estimate_n_errors(noisy, probs, calibrate=False),
            }
            for rank_by in ("self_confidence", "normalized_margin"):
                run[f"{rank_by}, estimated"] = score(
                    find_label_errors(noisy, probs, rank_by=rank_by), flipped
                )
                run[f"{rank_by}, k = flips"] = score(
                    find_label_errors(noisy, probs, rank_by=rank_by, n_errors=flipped.size), flipped
                )
            run["cleanlab"] = cleanlab_scores(noisy, probs, flipped)
            runs.append(run)
            print(
                f"seed {seed}  {name:<48} "
                f"P/R {run['self_confidence, estimated']['precision']:.3f}/"
                f"{run['self_confidence, estimated']['recall']:.3f}  "
                f"k=flips {run['self_confidence, k = flips']['precision']:.3f}",
                flush=True,
            )

    summary: dict[str, Any] = {}
    for name in MODELS:
        mine = [r for r in runs if r["model"] == name]
        entry: dict[str, Any] = {
            "oof_accuracy_vs_clean": statistics.mean(r["oof_accuracy_vs_clean"] for r in mine),
            "estimated_n_errors": statistics.mean(r["estimated_n_errors"] for r in mine),
        }
        for key in (
            "self_confidence, estimated",
            "self_confidence, k = flips",
            "normalized_margin, estimated",
            "normalized_margin, k = flips",
        ):
            entry[key] = {m: statistics.mean(r[key][m] for r in mine) for m in ("precision", "recall")}
        for key in ("default (prune_by_noise_rate)", "ranked by self_confidence"):
            vals = [r["cleanlab"][key] for r in mine if key in r["cleanlab"]]
            if vals:
                entry[f"cleanlab {key}"] = {
                    m: statistics.mean(v[m] for v in vals) for m in ("precision", "recall")
                }
        summary[name] = entry

    report = {
        "dataset": "sklearn digits (1,797 images, 10 classes)",
        "noise": args.noise,
        "seeds": args.seeds,
        "machine": machine(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "summary": summary,
        "runs": runs,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for name, entry in summary.items():
        est, top = entry["self_confidence, estimated"], entry["self_confidence, k = flips"]
        print(
            f"{name}: estimated P/R {est['precision']:.3f}/{est['recall']:.3f}, "
            f"k=flips {top['precision']:.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
