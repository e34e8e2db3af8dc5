"""Label efficiency: how many labels each query strategy needs to reach 95% of full-pool accuracy.

Side by side, with the same learner, splits and seeds: hitloop's strategies,
random sampling, and the same uncertainty strategies from an established
library (scikit-activeml), on scikit-learn's digits and three text sets.
Then hitloop's default pipeline (cold start, diverse batches, better
features, semi-supervised learner, calibration) and an ablation that removes
one ingredient at a time.

    pip install scikit-activeml        # comparator only; never a hitloop dependency
    nice -n 19 python benchmarks/label_efficiency.py --data-dir ../shared/data \\
        --datasets digits,youtube,trec,sst2 --repeats 5

Writes ``benchmarks/results/label-efficiency-<dataset>.json`` and rebuilds
``benchmarks/results/label-efficiency.md`` from every such file present.
Data sources: digits ships with scikit-learn; SST-2 (Socher et al. 2013) and
TREC (Li & Roth 2002) from the Kim 2014 pack; YouTube spam from UCI (CC BY 4.0).
"""

from __future__ import annotations

import sys

# Python puts this folder first on sys.path, where select.py (the selection
# benchmark) would shadow the standard library's select module: move it last.
sys.path.append(sys.path.pop(0))

import argparse
import csv
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from hitloop.ml.defaults import default_featurizer, default_learner, default_strategy, semi_supervised_learner
from hitloop.ml.featurizers import ImagePixels, TextTfidf
from hitloop.ml.learners import LabelSpreadingLearner, LogisticLearner
from hitloop.ml.simulate import simulate
from hitloop.ml.strategies import Pool, QueryStrategy, make_strategy

RESULTS = Path(__file__).resolve().parent / "results"
TARGET = 0.95
DISCUSSION = "## Discussion"


# --------------------------------------------------------------------------- the library, same learner


class SkactivemlUncertainty(QueryStrategy):
    """scikit-activeml's ``UncertaintySampling`` driven by hitloop's fitted learner.

    The library scores the learner's own probabilities: items are passed as
    their indices and a thin ``SkactivemlClassifier`` returns the pool's
    probability rows, so the learner, its training and the data are exactly
    those of the hitloop runs; only scoring and batch selection are the library's.
    """

    def __init__(self, method: str = "margin_sampling") -> None:
        self.method = method

    def _select(self, pool: Pool, n: int, rng: np.random.Generator) -> np.ndarray:
        from skactiveml.base import SkactivemlClassifier
        from skactiveml.pool import UncertaintySampling

        proba = pool.probabilities
        classes = np.arange(proba.shape[1])

        class Fitted(SkactivemlClassifier):  # type: ignore[misc]
            def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Fitted:
                return self

            def predict_proba(self, X: Any) -> np.ndarray:
                return proba[np.asarray(X, dtype=np.intp).ravel()]

        y = np.full(pool.n_items, np.nan)
        y[pool.labeled] = pool.y
        candidates = np.setdiff1d(np.arange(pool.n_items), pool.excluded)
        clf = Fitted(classes=classes, missing_label=np.nan)
        query = UncertaintySampling(method=self.method, random_state=int(rng.integers(2**31 - 1)))
        index = np.arange(pool.n_items, dtype=np.float64)[:, None]
        return np.asarray(query.query(index, y, clf=clf, fit_clf=False, candidates=candidates, batch_size=n))


# --------------------------------------------------------------------------- data sets


def _jsonl(path: Path, limit: int | None = None) -> tuple[list[str], list[str]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = rows[:limit]
    return [r["text"] for r in rows], [r["label"] for r in rows]


def _youtube(folder: Path) -> tuple[list[str], list[int]]:
    texts, labels = [], []
    for path in sorted(folder.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                texts.append(row["CONTENT"])
                labels.append(int(row["label"]))
    return texts, labels


def _digits(_: Path) -> tuple[Any, Any]:
    from sklearn.datasets import load_digits

    data = load_digits()
    return data.images, data.target


@dataclass(frozen=True)
class Dataset:
    name: str
    modality: str
    load: Callable[[Path], tuple[Any, Any]]
    baseline_features: Callable[[], Any]
    seed_labels: int
    batch_size: int
    budget: int
    note: str = ""


DATASETS = {
    "digits": Dataset(
        "digits",
        "image",
        _digits,
        ImagePixels,
        seed_labels=10,
        batch_size=10,
        budget=200,
        note="scikit-learn digits, 1,797 8x8 images, 10 classes",
    ),
    "youtube": Dataset(
        "youtube",
        "text",
        lambda d: _youtube(d / "text/youtube_spam"),
        TextTfidf,
        seed_labels=10,
        batch_size=10,
        budget=300,
        note="YouTube spam, 5 videos, 1,956 comments, 2 classes",
    ),
    "trec": Dataset(
        "trec",
        "text",
        lambda d: _jsonl(d / "text/trec/train.jsonl"),
        TextTfidf,
        seed_labels=10,
        batch_size=50,
        budget=2000,
        note="TREC question types, 5,452 questions, 6 classes",
    ),
    "sst2": Dataset(
        "sst2",
        "text",
        lambda d: _jsonl(d / "text/sst2/train.jsonl", 8000),
        TextTfidf,
        seed_labels=10,
        batch_size=100,
        budget=2500,
        note="SST-2 sentences, first 8,000 of train (6,920 exist), 2 classes",
    ),
}


# --------------------------------------------------------------------------- configurations


@dataclass(frozen=True)
class Config:
    name: str
    group: str  # "baseline" (plain features + logistic regression), "default", "ablation"
    features: str
    learner: Callable[[], Any]
    strategy: Callable[[], QueryStrategy]
    seed_selection: str = "random"
    description: str = ""
    library: bool = False


def plain() -> LogisticLearner:
    return LogisticLearner(calibrate=False)


def semi_supervised_ablation(ds: Dataset, default: Callable[..., dict[str, Any]]) -> Config:
    """The default with the semi-supervised step toggled: removed where it is on, added where it is off."""
    if isinstance(default_learner(ds.modality), LabelSpreadingLearner):
        return Config(
            "− semi-supervised (logistic only)", "ablation", **default(learner=lambda: LogisticLearner())
        )
    spec = default(learner=lambda: semi_supervised_learner())
    return Config("+ semi-supervised (label spreading)", "ablation", **spec)


def configs(ds: Dataset) -> list[Config]:
    base, best = "baseline", "default"
    out = [
        Config("random", "baseline", base, plain, lambda: make_strategy("random")),
        Config(
            "skactiveml margin",
            "baseline",
            base,
            plain,
            lambda: SkactivemlUncertainty("margin_sampling"),
            library=True,
        ),
        Config(
            "skactiveml entropy",
            "baseline",
            base,
            plain,
            lambda: SkactivemlUncertainty("entropy"),
            library=True,
        ),
        Config(
            "skactiveml least-confidence",
            "baseline",
            base,
            plain,
            lambda: SkactivemlUncertainty("least_confident"),
            library=True,
        ),
    ]
    for name in (
        "least-confidence",
        "margin",
        "entropy",
        "diverse-margin",
        "density-margin",
        "qbc-vote-entropy",
        "qbc-bald",
        "k-center-greedy",
        "badge",
        "cold-start",
    ):
        out.append(Config(name, "baseline", base, plain, lambda name=name: make_strategy(name)))

    def learner() -> Any:
        return default_learner(ds.modality)

    def default(**change: Any) -> dict[str, Any]:
        spec = dict(features=best, learner=learner, strategy=default_strategy, seed_selection="strategy")
        spec.update(change)
        return spec

    out += [
        Config(
            "hitloop default",
            "default",
            **default(),
            description="diverse-margin + cold start + better features + calibrated learner"
            + (" + label spreading" if ds.modality == "image" else ""),
        ),
        Config("− cold start (random seeds)", "ablation", **default(seed_selection="random")),
        Config(
            "− diverse batches (plain margin)",
            "ablation",
            **default(strategy=lambda: make_strategy("margin")),
        ),
        Config("− better features", "ablation", **default(features=base)),
        semi_supervised_ablation(ds, default),
        Config("− calibration", "ablation", **default(learner=lambda: learner().set_params(calibrate=False))),
        Config(
            "skactiveml margin in the default pipeline",
            "ablation",
            **default(strategy=lambda: SkactivemlUncertainty("margin_sampling")),
            library=True,
        ),
        Config(
            "random in the default pipeline",
            "ablation",
            **default(strategy=lambda: make_strategy("random"), seed_selection="random"),
        ),
    ]
    return out


# --------------------------------------------------------------------------- running


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("numpy", "scipy", "scikit-learn", "scikit-activeml", "hitloop"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def _machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()),
        "platform": platform.platform(),
        "blas_threads": 1,
    }


@dataclass
class Run:
    config: Config
    result: dict[str, Any] = field(default_factory=dict)


def run_dataset(
    ds: Dataset,
    data_dir: Path,
    repeats: int,
    only: set[str] | None,
    runs: dict[str, Any],
    save: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:
    """Run every configuration (or those in ``only``) into ``runs``, saving after each."""
    raw, y = ds.load(data_dir)
    features: dict[str, Any] = {}
    for config in configs(ds):
        if only and config.name not in only:
            continue
        if config.features not in features:
            # Featurizers are unsupervised and fit on all items, as a project fits them on its pool.
            make = (
                ds.baseline_features
                if config.features == "baseline"
                else partial(default_featurizer, ds.modality)
            )
            features[config.features] = make().fit_transform(raw)
        strategy = config.strategy()
        result = simulate(
            features[config.features],
            y,
            learner=config.learner,
            strategy=strategy,
            seed_labels=ds.seed_labels,
            batch_size=ds.batch_size,
            budget=ds.budget,
            repeats=repeats,
            seed_selection=config.seed_selection,
            random_state=0,
        )
        summary = result.to_dict(TARGET)
        runs[config.name] = {
            "group": config.group,
            "library": config.library,
            "features": repr(
                ds.baseline_features() if config.features == "baseline" else default_featurizer(ds.modality)
            ),
            "learner": repr(config.learner()),
            "strategy": repr(strategy),
            "seed_selection": config.seed_selection,
            "description": config.description,
            **summary,
        }
        print(
            f"{ds.name:8s} {config.name:44s} labels→{TARGET:.0%}: {summary['labels_to_target']!s:>5}  "
            f"ref {np.mean(summary['reference_accuracy']):.3f}  {summary['seconds']:.0f}s",
            flush=True,
        )
        save(runs)
    return runs


def summarize(runs: dict[str, Any]) -> dict[str, Any]:
    """Labels to target against each run's own reference and against one common bar."""
    refs = [float(np.mean(r["reference_accuracy"])) for r in runs.values()]
    bar = TARGET * max(refs)
    for r in runs.values():
        hits = [n for n, a in zip(r["labels"], r["accuracy_mean"], strict=True) if a >= bar]
        r["labels_to_common_bar"] = hits[0] if hits else None
    out: dict[str, Any] = {"common_bar": round(bar, 4)}

    def labels(name: str, key: str = "labels_to_target") -> int | None:
        return runs.get(name, {}).get(key)

    library = {n: r["labels_to_target"] for n, r in runs.items() if r["library"] and r["group"] == "baseline"}
    reached = {n: v for n, v in library.items() if v is not None}
    best_library = min(reached, key=lambda n: reached[n]) if reached else None
    default, rand = labels("hitloop default"), labels("random")
    out.update(
        default=default,
        random=rand,
        best_library=best_library,
        best_library_labels=reached.get(best_library) if best_library else None,
    )
    if default is not None:
        out["ratio_to_random"] = round(default / rand, 3) if rand else None
        out["ratio_to_best_library"] = round(default / reached[best_library], 3) if best_library else None
    budget = max(max(r["labels"]) for r in runs.values())
    # A run that never reached the target needed more than the budget: a bound, not a number.
    out["random_bound"] = rand if rand is not None else f">{budget}"
    ok_random = default is not None and (rand is None or default <= 0.4 * rand)
    ok_library = default is not None and (best_library is None or default <= 0.67 * reached[best_library])
    out["target_met"] = bool(ok_random and ok_library)
    out["target_met_random"] = bool(ok_random)
    out["target_met_library"] = bool(ok_library)
    return out


# --------------------------------------------------------------------------- report


def _fmt(v: Any) -> str:
    return "—" if v is None else str(v)


def write_markdown(folder: Path) -> None:
    files = sorted(folder.glob("label-efficiency-*.json"))
    reports = [json.loads(f.read_text()) for f in files]
    order = {name: i for i, name in enumerate(DATASETS)}
    reports.sort(key=lambda r: order.get(r["dataset"], 99))
    lines = [
        "# Label efficiency",
        "",
        "Generated by `benchmarks/label_efficiency.py` from the JSON files beside "
        "this page; see the end for the discussion.",
        "",
    ]
    lines += [
        "## Targets",
        "",
        "| data set | hitloop default | random | best library (strategy) | default/random "
        "| default/library | target met |",
        "|---|---|---|---|---|---|---|",
    ]
    for rep in reports:
        s = rep["summary"]
        library = f"{_fmt(s['best_library_labels'])} ({_fmt(s['best_library'])})"
        lines.append(
            f"| {rep['dataset']} | {_fmt(s['default'])} | {s['random_bound']} | {library} "
            f"| {_fmt(s.get('ratio_to_random'))} | "
            f"{_fmt(s.get('ratio_to_best_library'))} | {'yes' if s['target_met'] else 'no'} |"
        )
    lines.append("")
    for rep in reports:
        p = rep["protocol"]
        lines += [
            f"## {rep['dataset']}",
            "",
            rep["note"],
            "",
            f"Seed labels {p['seed_labels']}, batches of {p['batch_size']}, budget {p['budget']}, "
            f"{p['repeats']} repeats, {p['test_size']:.0%} held out (stratified, new split per repeat). "
            f"Labels to reach {TARGET:.0%} of the same learner's full-pool accuracy (own reference), "
            f"and to reach one common bar ({rep['summary']['common_bar']:.3f} = {TARGET:.0%} of the best "
            f"full-pool accuracy of any configuration). `—`: not reached within the budget.",
            "",
            "| configuration | group | features | labels (own ref) | labels (common bar) | full-pool acc | "
            f"acc @ ≤{p['report_at']} labels | seconds |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, r in rep["runs"].items():
            at = max(i for i, n in enumerate(r["labels"]) if n <= p["report_at"] or i == 0)
            lines.append(
                f"| {name} | {r['group']} | {r['features']} | {_fmt(r['labels_to_target'])} | "
                f"{_fmt(r['labels_to_common_bar'])} | {np.mean(r['reference_accuracy']):.3f} | "
                f"{r['accuracy_mean'][at]:.3f} ± {r['accuracy_std'][at]:.3f} | {r['seconds']:.0f} |"
            )
        lines.append("")
    if reports:
        rep = reports[0]
        lines += [
            "## Run",
            "",
            f"`{rep['command']}`",
            "",
            f"Machine: {rep['machine']['cpu']}, "
            f"{rep['machine']['cores']} cores, one BLAS thread, `nice -n 19` beside other work. "
            f"Versions: {', '.join(f'{k} {v}' for k, v in rep['versions'].items())}.",
            "",
        ]
    page = folder / "label-efficiency.md"
    # The hand-written discussion at the end of the page survives regeneration.
    old = page.read_text(encoding="utf-8") if page.exists() else ""
    if DISCUSSION in old:
        lines += [old[old.index(DISCUSSION) :].rstrip(), ""]
    page.write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--datasets", default="digits,youtube,trec,sst2")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", default="", help="comma-separated configuration names (default: all)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--merge", action="store_true", help="keep the other configurations of an earlier run"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    only = {s.strip() for s in args.only.split(",") if s.strip()} or None
    for name in args.datasets.split(","):
        ds = DATASETS[name]
        path = args.out / f"label-efficiency-{ds.name}.json"
        earlier = json.loads(path.read_text(encoding="utf-8"))["runs"] if args.merge and path.exists() else {}
        save = partial(
            _save, ds=ds, path=path, earlier=earlier, args=args, argv=argv, started=time.perf_counter()
        )
        with threadpool_limits(limits=1):
            run_dataset(ds, args.data_dir, args.repeats, only, {}, save)
        print(json.dumps({ds.name: json.loads(path.read_text())["summary"]}), flush=True)
    write_markdown(args.out)
    return 0


def _save(
    runs: dict[str, Any],
    *,
    ds: Dataset,
    path: Path,
    earlier: dict[str, Any],
    args: argparse.Namespace,
    argv: list[str] | None,
    started: float,
) -> None:
    """Write the report so far, in configuration order, keeping earlier runs not redone."""
    merged = {
        c.name: runs.get(c.name, earlier.get(c.name))
        for c in configs(ds)
        if c.name in runs or c.name in earlier
    }
    path.write_text(json.dumps(report(ds, args, argv, merged, started), indent=1), encoding="utf-8")


def report(
    ds: Dataset, args: argparse.Namespace, argv: list[str] | None, runs: dict[str, Any], started: float
) -> dict[str, Any]:
    return {
        "dataset": ds.name,
        "note": ds.note,
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *(argv or sys.argv[1:])]),
        "machine": _machine(),
        "versions": _versions(),
        "protocol": {
            "seed_labels": ds.seed_labels,
            "batch_size": ds.batch_size,
            "budget": ds.budget,
            "repeats": args.repeats,
            "test_size": 0.3,
            "target": TARGET,
            "random_state": 0,
            "report_at": 50 if ds.name in {"digits", "youtube"} else 500,
        },
        "runs": runs,
        "summary": summarize(runs),
        "seconds": round(time.perf_counter() - started, 1),
    }


if __name__ == "__main__":
    raise SystemExit(main())
