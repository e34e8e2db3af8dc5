"""Dawid–Skene variants that target its known weaknesses, and the ceiling of any DS-type model.

    python benchmarks/aggregate_variants.py --data ../shared/data/crowd --json OUT

Runs on the ``dog``, ``face`` and ``product`` folders under ``--data`` (each
with ``answer.csv`` and ``truth.csv``, as for ``aggregate.py``). Every variant
is unsupervised with one setting for all sets; the truth is read only to score
them, except by the last row, which is a ceiling and not a method:

- ``dawid-skene``: hitloop's default, for reference.
- ``restarts``: DS from 20 random perturbations of the majority vote, keeping
  the fit of highest likelihood (is DS stuck in a poor local optimum?).
- ``cross-fitted``: 5 folds of items; each fold is scored with confusions fitted
  on the other four (does DS overfit its confusions to the items it scores?).
- ``leave-one-out M-step``: each answer counts toward its worker's confusion with
  the item's posterior computed without that answer (removes the feedback by
  which a worker trusted on an item "confirms" their own answer); from DS's
  fit, one step and 30 steps.
- ``uniform class prior``: DS without the fitted class prior.
- ``shrink to own one-coin``: each worker's confusion pulled toward a symmetric
  matrix with that worker's own accuracy (2 pseudo-answers per true class).
- ``supervised``: not a method but a bound: each tenth of the items is scored
  with confusions and class prior counted from the *truth* of the other nine
  tenths (Laplace pseudo-count 0.01 or 1 per cell). What DS's model can do
  when its parameters are learned from 90 % of the true labels.
- ``supervised logistic regression``: also a bound: a logistic regression on
  the item x (worker, answer) indicators, trained on the truth of nine tenths
  of the items and scored on the rest (10 stratified folds); the best of
  ``C`` in 0.3, 1, 3 (chosen on the truth, so optimistic). It may weigh any
  answer pattern, not only DS's product of per-worker terms; "with worker-pair
  features" adds one indicator per (worker, answer, worker, answer) seen on
  one item, so correlated workers can be told apart.
- ``in-sample ceiling``: the same with confusions counted from the truth of
  every item, the scored ones included (optimistic: it has seen the answer).
"""

from __future__ import annotations

import sys

# Python puts this folder first on sys.path, where select.py (the selection
# benchmark) would shadow the standard library's select module: move it last.
sys.path.append(sys.path.pop(0))

import argparse
import csv
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from hitloop.ml.aggregation import AnswerTable, check_answers, dawid_skene, encode_answers, majority_vote
from hitloop.ml.aggregation.counts import ItemSums, normalize_rows, posterior_from_log

FloatArray = np.ndarray
SETS = ("dog", "face", "product")
SMOOTHING, PRIOR_CORRECT = 0.01, 0.1  # DawidSkene's defaults


def load(folder: Path) -> tuple[AnswerTable, np.ndarray]:
    with (folder / "answer.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    with (folder / "truth.csv").open(newline="", encoding="utf-8") as f:
        truth_map = {r["question"]: r["truth"] for r in csv.DictReader(f)}
    labels = [r["answer"] for r in rows]
    classes = sorted(set(labels) | set(truth_map.values()))
    enc = encode_answers([r["question"] for r in rows], [r["worker"] for r in rows], labels, classes=classes)
    code = {c: i for i, c in enumerate(enc.classes)}
    truth = np.array([code[truth_map[q]] if q in truth_map else -1 for q in enc.items])
    return check_answers(enc.answers, len(enc.classes)), truth


def subset(t: AnswerTable, mask: np.ndarray) -> AnswerTable:
    return AnswerTable(t.item[mask], t.worker[mask], t.label[mask], t.n_items, t.n_workers, t.n_classes)


def log_lik_per_answer(t: AnswerTable, confusions: FloatArray) -> FloatArray:
    """log P(answer | true class k) for every answer and k, shape (n_answers, n_classes)."""
    k = t.n_classes
    return np.log(confusions).transpose(0, 2, 1).reshape(-1, k)[t.worker * k + t.label]


def posterior(t: AnswerTable, confusions: FloatArray, priors: FloatArray) -> FloatArray:
    proba, _ = posterior_from_log(ItemSums(t).per_item(log_lik_per_answer(t, confusions)) + np.log(priors))
    return proba


def restarts(t: AnswerTable, n: int = 20, seed: int = 0) -> FloatArray:
    rng = np.random.default_rng(seed)
    mv, _ = majority_vote(t)
    best = dawid_skene(t)
    for _ in range(n):
        init = 0.5 * mv + 0.5 * rng.dirichlet(np.ones(t.n_classes), size=t.n_items)
        trace = dawid_skene(t, init_proba=init)
        if trace.log_likelihood > best.log_likelihood:
            best = trace
    return best.proba


def cross_fitted(t: AnswerTable, folds: int = 5, seed: int = 0) -> FloatArray:
    fold = np.random.default_rng(seed).permutation(t.n_items) % folds
    out = np.full((t.n_items, t.n_classes), 1.0 / t.n_classes)
    for f in range(folds):
        held = fold[t.item] == f
        params = dawid_skene(subset(t, ~held)).params
        proba = posterior(subset(t, held), params.confusions, params.priors)
        items = np.unique(t.item[held])
        out[items] = proba[items]
    return out


def leave_one_out(t: AnswerTable, steps: int) -> FloatArray:
    k = t.n_classes
    sums = ItemSums(t)
    pseudo = np.full((k, k), SMOOTHING) + PRIOR_CORRECT * np.eye(k)
    params = dawid_skene(t).params
    confusions, priors = params.confusions, params.priors
    proba = posterior(t, confusions, priors)
    for _ in range(steps):
        per_answer = log_lik_per_answer(t, confusions)
        without, _ = posterior_from_log(sums.per_item(per_answer)[t.item] - per_answer + np.log(priors))
        counts = np.asarray(sums.by_worker_label @ without).reshape(t.n_workers, k, k).transpose(0, 2, 1)
        confusions = normalize_rows(counts + pseudo)
        priors = normalize_rows(proba.sum(axis=0) + SMOOTHING)
        proba = posterior(t, confusions, priors)
    return proba


def fixed_point(
    t: AnswerTable,
    confusions_from: Callable[[FloatArray], FloatArray],
    uniform_prior: bool,
    max_iter: int = 200,
) -> FloatArray:
    """EM like DS's, with the M-step's confusions given by ``confusions_from(counts)``."""
    k = t.n_classes
    sums = ItemSums(t)
    proba, _ = majority_vote(t)
    previous = -np.inf
    for _ in range(max_iter):
        confusions = confusions_from(sums.confusion_counts(proba))
        priors = np.full(k, 1.0 / k) if uniform_prior else normalize_rows(proba.sum(axis=0) + SMOOTHING)
        proba, loglik = posterior_from_log(sums.per_item(log_lik_per_answer(t, confusions)) + np.log(priors))
        if abs(loglik - previous) <= 1e-6 * t.n_items:
            break
        previous = loglik
    return proba


def uniform_prior(t: AnswerTable) -> FloatArray:
    k = t.n_classes
    pseudo = np.full((k, k), SMOOTHING) + PRIOR_CORRECT * np.eye(k)
    return fixed_point(t, lambda counts: normalize_rows(counts + pseudo), uniform_prior=True)


def shrink_to_own_one_coin(t: AnswerTable, strength: float = 2.0) -> FloatArray:
    k = t.n_classes
    eye = np.eye(k)
    pseudo = np.full((k, k), SMOOTHING) + PRIOR_CORRECT * eye

    def confusions(counts: FloatArray) -> FloatArray:
        accuracy = (np.trace(counts, axis1=1, axis2=2) + 1) / (counts.sum(axis=(1, 2)) + 2)
        wrong = (1 - accuracy) / max(k - 1, 1)
        own = accuracy[:, None, None] * eye + wrong[:, None, None] * (1 - eye)
        return normalize_rows(counts + pseudo + strength * own)

    return fixed_point(t, confusions, uniform_prior=False)


def from_truth(t: AnswerTable, truth: np.ndarray, counted: np.ndarray, pseudo: float) -> FloatArray:
    """DS posteriors with confusions and class prior counted from the truth of the ``counted`` items."""
    k = t.n_classes
    onehot = np.zeros((t.n_items, k))
    use = counted & (truth >= 0)
    onehot[use] = np.eye(k)[truth[use]]
    confusions = normalize_rows(ItemSums(t).confusion_counts(onehot) + pseudo)
    return posterior(t, confusions, normalize_rows(onehot.sum(axis=0)))


def supervised(
    t: AnswerTable, truth: np.ndarray, pseudo: float, folds: int = 10, seed: int = 0
) -> FloatArray:
    fold = np.random.default_rng(seed).permutation(t.n_items) % folds
    out = np.empty((t.n_items, t.n_classes))
    for f in range(folds):
        out[fold == f] = from_truth(t, truth, fold != f, pseudo)[fold == f]
    return out


def pair_features(t: AnswerTable) -> sp.csr_matrix:
    """One indicator per (worker a, answer of a, worker b, answer of b) that answered the same item."""
    order = np.lexsort((t.worker, t.item))
    item, worker, label = t.item[order], t.worker[order], t.label[order]
    starts = np.flatnonzero(np.r_[True, item[1:] != item[:-1]])
    ends = np.r_[starts[1:], item.size]
    codes: dict[tuple[int, int, int, int], int] = {}
    rows, cols = [], []
    for a, b in zip(starts, ends, strict=True):
        for x in range(a, b):
            for y in range(x + 1, b):
                key = (int(worker[x]), int(label[x]), int(worker[y]), int(label[y]))
                rows.append(int(item[a]))
                cols.append(codes.setdefault(key, len(codes)))
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(t.n_items, max(len(codes), 1)))


def supervised_logistic(t: AnswerTable, truth: np.ndarray, pairs: bool = False) -> FloatArray:
    k = t.n_classes
    x = sp.csr_matrix(
        (np.ones(t.n_answers), (t.item, t.worker * k + t.label)), shape=(t.n_items, t.n_workers * k)
    )
    if pairs:
        x = sp.hstack([x, pair_features(t)]).tocsr()
    known = truth >= 0
    folds = StratifiedKFold(10, shuffle=True, random_state=0)
    best, best_accuracy = None, -1.0
    for c in (0.3, 1.0, 3.0):
        model = LogisticRegression(C=c, max_iter=2000)
        proba = cross_val_predict(model, x[known], truth[known], cv=folds, method="predict_proba")
        accuracy = float(np.mean(proba.argmax(axis=1) == truth[known]))
        if accuracy > best_accuracy:
            best, best_accuracy = proba, accuracy
    out = np.full((t.n_items, k), 1.0 / k)
    out[known] = best
    return out


VARIANTS: list[tuple[str, Callable[[AnswerTable], FloatArray]]] = [
    ("dawid-skene (hitloop default)", lambda t: dawid_skene(t).proba),
    ("restarts: best likelihood of 21 starts", restarts),
    ("cross-fitted: 5 folds of items", cross_fitted),
    ("leave-one-out M-step, 1 step from DS", lambda t: leave_one_out(t, 1)),
    ("leave-one-out M-step, 30 steps from DS", lambda t: leave_one_out(t, 30)),
    ("uniform class prior", uniform_prior),
    ("shrink to own one-coin (2 pseudo-answers)", shrink_to_own_one_coin),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder holding dog/, face/, product/")
    parser.add_argument("--json", type=Path, required=True, help="where to write the results")
    args = parser.parse_args(argv)
    results: dict[str, dict[str, Any]] = {}
    for name in SETS:
        t, truth = load(args.data / name)
        known = truth >= 0
        rows = {}
        everything = np.ones(t.n_items, dtype=bool)
        runs = [
            *VARIANTS,
            (
                "bound: supervised, 10-fold, pseudo-count 0.01",
                lambda t, truth=truth: supervised(t, truth, SMOOTHING),
            ),
            ("bound: supervised, 10-fold, pseudo-count 1", lambda t, truth=truth: supervised(t, truth, 1.0)),
            (
                "bound: supervised logistic regression, 10-fold",
                lambda t, truth=truth: supervised_logistic(t, truth),
            ),
            (
                "bound: the same with worker-pair features",
                lambda t, truth=truth: supervised_logistic(t, truth, pairs=True),
            ),
            (
                "in-sample ceiling (confusions from all truth)",
                lambda t, truth=truth, every=everything: from_truth(t, truth, every, SMOOTHING),
            ),
        ]
        for label, fit in runs:
            start = time.perf_counter()
            proba = fit(t)
            seconds = time.perf_counter() - start
            accuracy = float(np.mean(proba.argmax(axis=1)[known] == truth[known]))
            rows[label] = {"accuracy": accuracy, "seconds": seconds}
        results[name] = rows
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"command": " ".join(sys.argv), "results": results}, indent=2) + "\n")
    labels = list(next(iter(results.values())))
    width = max(map(len, labels))
    print(f"{'variant':<{width}}  " + "  ".join(f"{s:>8}" for s in SETS))
    for label in labels:
        print(f"{label:<{width}}  " + "  ".join(f"{results[s][label]['accuracy']:8.4f}" for s in SETS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
