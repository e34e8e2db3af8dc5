"""Accuracy and run time of every aggregation method on a crowd data set with gold truth.

    python benchmarks/aggregate.py --answers answer.csv --truth truth.csv --json OUT

``answer.csv`` has columns ``question,worker,answer`` and ``truth.csv`` has
``question,truth`` (the layout of the truth-inference benchmark of Zheng et
al., VLDB 2017, whose dog, face and product sets this was written for).

Every aggregator in ``hitloop.ml.aggregation.AGGREGATORS`` runs with its
defaults, plus a few named variants. Times are the median of ``--repeat``
fits on the encoded table (encoding is timed once, separately).

The model-assisted aggregator needs a model's class probabilities, and these
sets carry no item features. So its "model" here is a logistic regression on
the item × (worker, answer) indicator matrix, trained out-of-fold on the
Dawid–Skene consensus: a stand-in built from the answers alone, reported for
its run time and as a sanity check, not as evidence of what a real model adds.

If crowd-kit is importable, its aggregators run on the same files.
"""

from __future__ import annotations

import sys

# Python puts this folder first on sys.path, where select.py (the selection
# benchmark) would shadow the standard library's select module: move it last.
sys.path.append(sys.path.pop(0))

import argparse
import contextlib
import csv
import json
import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from hitloop.ml.aggregation import AGGREGATORS, Aggregator, DawidSkene, check_answers, encode_answers
from hitloop.ml.label_errors import out_of_fold_proba

# Variants worth a row of their own besides each aggregator's defaults.
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "dawid-skene (classic ML, prior_correct=0)": ("dawid-skene", {"prior_correct": 0.0}),
    "dawid-skene (regularised: shrinkage=2 toward the pooled confusion)": ("dawid-skene", {"shrinkage": 2.0}),
    "glad (class prior fitted)": ("glad", {"fit_class_prior": True}),
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


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def timed(fn: Callable[[], Any], repeat: int) -> tuple[Any, list[float]]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, times


def answer_model(answers: np.ndarray, consensus: np.ndarray) -> np.ndarray:
    """Out-of-fold probabilities of a logistic regression on the (worker, answer) indicators."""
    t = check_answers(answers)
    X = sp.csr_matrix(
        (np.ones(t.n_answers), (t.item, t.worker * t.n_classes + t.label)),
        shape=(t.n_items, t.n_workers * t.n_classes),
    )
    return out_of_fold_proba(LogisticRegression(max_iter=1000), X, consensus)


def run_hitloop(
    answers: np.ndarray, truth: np.ndarray, has_truth: np.ndarray, repeat: int
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    consensus = DawidSkene().fit(answers).labels_
    probs, model_times = timed(lambda: answer_model(answers, consensus), 1)
    runs: list[tuple[str, str, dict[str, Any]]] = [(n, n, {}) for n in AGGREGATORS]
    runs += [(label, name, params) for label, (name, params) in VARIANTS.items()]
    for label, name, params in runs:
        est: Aggregator = AGGREGATORS[name](**params)
        kwargs = {"pred_probs": probs} if est.uses_model else {}
        fitted, times = timed(lambda est=est, kwargs=kwargs: est.fit(answers, **kwargs), repeat)
        row = {
            "method": label,
            "implementation": "hitloop",
            "params": est.get_params(),
            "accuracy": float(np.mean(fitted.labels_[has_truth] == truth[has_truth])),
            "seconds_median": statistics.median(times),
            "seconds_max": max(times),
        }
        if est.uses_model:
            row["note"] = "model: out-of-fold logistic regression on the answers (no item features exist)"
            row["model_seconds"] = model_times[0]
            row["model_accuracy"] = float(np.mean(probs.argmax(axis=1)[has_truth] == truth[has_truth]))
        rows.append(row)
    return rows


def run_crowdkit(answer_rows: list[dict[str, str]], truth_map: dict[str, str]) -> list[dict[str, Any]]:
    warnings.filterwarnings("ignore", module="pandas")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    try:
        import crowdkit
        import pandas as pd
        from crowdkit.aggregation import GLAD, MACE, DawidSkene, MajorityVote, OneCoinDawidSkene, Wawa
    except ImportError:
        return []
    df = pd.DataFrame(
        {
            "task": [r["question"] for r in answer_rows],
            "worker": [r["worker"] for r in answer_rows],
            "label": [r["answer"] for r in answer_rows],
        }
    )
    truth = pd.Series(truth_map)
    rows: list[dict[str, Any]] = []
    methods: list[tuple[str, Callable[[], Any]]] = [
        ("majority-vote", MajorityVote),
        ("wawa", Wawa),
        ("dawid-skene", lambda: DawidSkene(n_iter=100)),
        ("one-coin-dawid-skene", lambda: OneCoinDawidSkene(n_iter=100)),
        ("glad", GLAD),
        ("mace", MACE),
    ]
    for name, make in methods:
        row: dict[str, Any] = {"method": name, "implementation": f"crowd-kit {crowdkit.__version__}"}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                labels = make().fit_predict(df)
                row["seconds_median"] = time.perf_counter() - start
            row["accuracy"] = float((labels.reindex(truth.index) == truth).mean())
        except Exception as exc:  # a crowd-kit failure is a result to report, not a crash
            row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answers", type=Path, required=True, help="CSV with question,worker,answer")
    parser.add_argument("--truth", type=Path, required=True, help="CSV with question,truth")
    parser.add_argument("--json", type=Path, required=True, help="where to write the report")
    parser.add_argument("--name", help="data set name (default: the answers file's folder)")
    parser.add_argument("--repeat", type=int, default=5, help="fits per method for the timing")
    parser.add_argument("--no-crowdkit", action="store_true", help="skip crowd-kit even if installed")
    args = parser.parse_args(argv)

    answer_rows = read_csv(args.answers)
    truth_map = {r["question"]: r["truth"] for r in read_csv(args.truth)}
    start = time.perf_counter()
    labels = [r["answer"] for r in answer_rows]
    classes = sorted(set(labels) | set(truth_map.values()))
    enc = encode_answers(
        [r["question"] for r in answer_rows], [r["worker"] for r in answer_rows], labels, classes=classes
    )
    encode_seconds = time.perf_counter() - start
    code = {c: i for i, c in enumerate(enc.classes)}
    truth = np.array([code[truth_map[q]] if q in truth_map else -1 for q in enc.items])
    has_truth = truth >= 0

    report: dict[str, Any] = {
        "dataset": args.name or args.answers.parent.name,
        "answers": str(args.answers),
        "truth": str(args.truth),
        "n_answers": len(answer_rows),
        "n_items": len(enc.items),
        "n_items_with_truth": int(has_truth.sum()),
        "n_workers": len(enc.workers),
        "n_classes": len(enc.classes),
        "encode_seconds": encode_seconds,
        "repeat": args.repeat,
        "machine": machine(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "results": run_hitloop(enc.answers, truth, has_truth, args.repeat),
    }
    if not args.no_crowdkit:
        report["results"] += run_crowdkit(answer_rows, truth_map)
    report["machine"]["load_avg_1m_at_end"] = os.getloadavg()[0]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    width = max(len(r["method"]) for r in report["results"])
    print(f"{report['dataset']}: {report['n_answers']} answers, {report['n_items']} items")
    for r in report["results"]:
        acc = f"{r['accuracy']:.4f}" if "accuracy" in r else r.get("error", "")
        secs = f"{r['seconds_median']:.3f}s" if "seconds_median" in r else ""
        print(f"  {r['method']:<{width}}  {r['implementation']:<16}  {acc}  {secs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
