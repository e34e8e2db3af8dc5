"""Selection speed: score a pool of cached features and select a batch, for every query strategy.

    nice -n 19 python benchmarks/select.py --pool 1000000 --dim 384 --json OUT

The pool is random float32 features (as sentence embeddings are cached on
disk) with class probabilities from a logistic model fitted on the labeled
items, whose labels come from a random linear teacher. Each strategy gets a
fresh :class:`~hitloop.ml.strategies.Pool` per run (nothing cached between
runs except what the strategy itself memoizes per feature object, reported
as the first run) and selects ``--batch`` items. Reported per strategy: the
wall time of every run, the best and median, and the peak RSS above the
resident size before the run (the kernel's high-water mark is reset before
each strategy through ``/proc/self/clear_refs``). CPU seconds are the
process's (every BLAS thread), so they show the work when the machine is
shared and wall times stretch.
"""

from __future__ import annotations

import os
import sys

# Run as a script, this file's folder comes first on sys.path and its name would
# shadow the standard library's ``select`` module (which subprocess imports).
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from hitloop.ml.strategies import STRATEGIES, Pool, make_strategy  # noqa: E402

UNCERTAINTY = ("least-confidence", "margin", "entropy")
DIVERSITY = ("k-center-greedy", "diverse-margin", "density-margin", "badge")
TARGETS = {**dict.fromkeys(UNCERTAINTY, 1.0), **dict.fromkeys(DIVERSITY, 5.0)}


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def make_pool(n: int, dim: int, classes: int, labeled: int, seed: int) -> tuple[Any, Any, Any, float]:
    """Features, labeled indices and probabilities of a fitted logistic model; seconds to build them."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    X = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        X[start:stop] = rng.standard_normal((stop - start, dim), dtype=np.float32)
    teacher = rng.standard_normal((dim, classes)).astype(np.float32)
    idx = rng.choice(n, labeled, replace=False)
    y = np.argmax(X[idx] @ teacher, axis=1)
    model = LogisticRegression(C=1.0, max_iter=200).fit(X[idx], y)
    proba = np.empty((n, classes), dtype=np.float64)
    for start in range(0, n, 100_000):
        proba[start : start + 100_000] = model.predict_proba(X[start : start + 100_000])
    return X, idx, proba, time.perf_counter() - started


def run(args: argparse.Namespace) -> dict[str, Any]:
    load_at_start = os.getloadavg()
    X, labeled, proba, build_seconds = make_pool(args.pool, args.dim, args.classes, args.labeled, args.seed)
    names = args.strategies.split(",") if args.strategies else [*UNCERTAINTY, *DIVERSITY]
    unknown = [name for name in names if name not in STRATEGIES]
    if unknown:
        sys.exit(f"unknown strategies {unknown}; known: {', '.join(STRATEGIES)}")
    results = {}
    for name in names:
        strategy = make_strategy(name)
        seconds, cpu = [], []
        rss_before = _status("VmRSS")
        peak_reset = _reset_peak()
        batch = np.empty(0)
        for repeat in range(args.repeats):
            pool = Pool(X, labeled=labeled, proba=proba)
            started, cpu_started = time.perf_counter(), time.process_time()
            batch = strategy.select(pool, args.batch, random_state=repeat)
            seconds.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)
        peak = _status("VmHWM")
        assert len(batch) == args.batch and len(np.unique(batch)) == args.batch
        results[name] = {
            "seconds": [round(s, 4) for s in seconds],
            "cpu_seconds": [round(s, 4) for s in cpu],
            "best_seconds": round(min(seconds), 4),
            "median_seconds": round(statistics.median(seconds), 4),
            "target_seconds": TARGETS.get(name),
            "met": None if name not in TARGETS else max(seconds) < TARGETS[name],
            "peak_rss_above_start_mib": round((peak - rss_before) / 2**20, 1) if peak_reset else None,
        }
        print(
            f"{name:18s} first {seconds[0]:7.3f} s  best {min(seconds):7.3f} s"
            f"  median {statistics.median(seconds):7.3f} s  cpu {min(cpu):7.3f} s"
            f"  peak +{results[name]['peak_rss_above_start_mib']} MiB",
            flush=True,
        )
    return {
        "pool": args.pool,
        "dim": args.dim,
        "classes": args.classes,
        "labeled": args.labeled,
        "batch": args.batch,
        "repeats": args.repeats,
        "features_dtype": str(X.dtype),
        "features_mib": round(X.nbytes / 2**20, 1),
        "build_seconds": round(build_seconds, 2),
        "peak_rss_mib": round(_status("VmHWM") / 2**20, 1),
        "strategies": results,
        "machine": {
            "nproc": len(os.sched_getaffinity(0)),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "loadavg_at_start": load_at_start,
            "loadavg_at_end": os.getloadavg(),
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "argv": sys.argv,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pool", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--labeled", type=int, default=1000, help="labeled items (the model's training set)")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--strategies", default="", help="comma-separated names [default: the targeted ones]")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", required=True, metavar="OUT")
    args = parser.parse_args()
    report = run(args)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
