"""Bayesian and spectral alternatives to Dawid–Skene, each fixed in advance, on dog, face and product.

    python benchmarks/aggregate_bayes.py --data ../shared/data/crowd --json OUT

Runs on the ``dog``, ``face`` and ``product`` folders under ``--data`` (each
with ``answer.csv`` and ``truth.csv``, as for ``aggregate.py``). Every method
is unsupervised, with one setting for all sets that was fixed before looking at
any score: hyperparameters are either a common choice from the literature or
fitted by the model's own evidence (the variational lower bound, ELBO). The
truth is read only to score. Methods:

- ``dawid-skene``: hitloop's default, for reference.
- ``IBCC``: independent Bayesian classifier combination (Kim & Ghahramani
  2012; Simpson et al. 2013), mean-field variational Bayes. Each worker's
  confusion row ``pi[w, k]`` has a Dirichlet prior ``alpha0[k]``, the class
  proportions a Dirichlet ``nu0``; item posteriors use the posterior
  expectations ``E[log pi] = digamma(a) - digamma(sum a)`` instead of DS's point
  estimates, so a worker with few answers counts for less. Two prior settings:
  a fixed one (``alpha0`` 2 on the diagonal, 1 off it; ``nu0`` 1), and
  *empirical Bayes*: ``alpha0`` (one k x k matrix shared by all workers) and
  ``nu0`` re-fitted after every VB sweep to maximise the ELBO (Minka's fixed
  point for a Dirichlet), from the fixed prior as a start. Both VB runs start
  from majority vote, and again from DS's fitted posteriors (does VB keep what
  DS found?).
- ``community BCC``: workers belong to one of ``M`` latent communities
  (Venanzi et al. 2014); a worker's confusion rows are Dirichlet around their
  community's, ``pi[w, k] ~ Dir(alpha[m, k])``, with the community priors
  ``alpha[m]`` and the community shares fitted by empirical Bayes (ELBO) and
  the worker's community, confusion, the class proportions and the true labels
  inferred by mean-field VB. ``M`` in 1..4, and the ``M`` of the highest ELBO
  on each set (model selection by evidence, never by accuracy) is the method's
  result. Communities start from quantiles of the workers' DS accuracy.
- ``spectral + DS``: Dawid–Skene EM started from the spectral (method of
  moments) estimate of Zhang, Chen, Zhou & Jordan (2014) instead of majority
  vote: workers are split into three groups (round-robin by worker code), each
  group's averaged answer vector is a view of a 3-view mixture, the group
  confusions come from a whitened third-moment tensor's robust power
  iteration, and the item posteriors they imply start EM. Also its
  one-step-only variant (the spectral estimate alone, no EM).
- ``MACE``: Hovy et al. (2013): a worker either knows the answer (probability
  ``theta[w]``) or "spams" from their own label distribution ``xi[w]``; EM from
  majority vote, uniform prior over the true label as in the paper; and its
  variational version with the paper's priors (``Beta(0.5, 0.5)`` on theta,
  ``Dir(1)`` on xi) through posterior digamma expectations. Both again with
  the class proportions fitted, as DS does.

Results and what they say: ``benchmarks/results/aggregate.md`` (session 4).
"""

from __future__ import annotations

import sys

# Python puts this folder first on sys.path, where select.py (the selection
# benchmark) would shadow the standard library's select module: move it last.
sys.path.append(sys.path.pop(0))

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from aggregate_variants import load
from scipy.special import digamma, gammaln, polygamma

from hitloop.ml.aggregation import AnswerTable, dawid_skene, majority_vote
from hitloop.ml.aggregation.counts import ItemSums, normalize_rows, posterior_from_log

FloatArray = np.ndarray
SETS = ("dog", "face", "product")
TOL = 1e-6  # stop when the bound gains less than this per item (DS's setting)
MAX_ITER = 300


# --------------------------------------------------------------------------- helpers


def expected_log_dirichlet(a: FloatArray) -> FloatArray:
    """E[log p] under Dir(a) along the last axis."""
    return digamma(a) - digamma(a.sum(axis=-1, keepdims=True))


def log_beta(a: FloatArray) -> FloatArray:
    """log of the multivariate Beta function along the last axis."""
    return gammaln(a).sum(axis=-1) - gammaln(a.sum(axis=-1))


def inverse_digamma(y: FloatArray) -> FloatArray:
    """x with digamma(x) = y (Minka's initialisation and five Newton steps)."""
    x = np.where(y >= -2.22, np.exp(y) + 0.5, -1.0 / (y - digamma(1.0)))
    for _ in range(5):
        x = x - (digamma(x) - y) / polygamma(1, x)
    return x


def fit_dirichlet(mean_log: FloatArray, start: FloatArray, iters: int = 5) -> FloatArray:
    """Dirichlet parameters (last axis) whose E[log p] equals ``mean_log``: maximum likelihood.

    Minka's fixed point ``alpha = psi^-1(psi(sum alpha) + mean_log)``; ``start``
    is the previous value, so a few steps per VB sweep suffice. Capped to keep
    a community of near-identical workers finite.
    """
    alpha = start.copy()
    for _ in range(iters):
        alpha = inverse_digamma(digamma(alpha.sum(axis=-1, keepdims=True)) + mean_log)
        alpha = np.clip(alpha, 1e-3, 1e4)
    return alpha


def per_answer_log(t: AnswerTable, log_conf: FloatArray) -> FloatArray:
    """log P(answer | true k) per answer and k from ``log_conf[worker, true, answered]``."""
    k = t.n_classes
    return log_conf.transpose(0, 2, 1).reshape(-1, k)[t.worker * k + t.label]


def ds_accuracy_quantiles(t: AnswerTable, m: int) -> FloatArray:
    """Soft start for m communities: workers split by quantile of their DS accuracy."""
    params = dawid_skene(t).params
    acc = np.einsum("wkk,k->w", params.confusions, params.priors)
    order = np.argsort(np.argsort(acc, kind="stable"), kind="stable")
    group = (order * m) // max(t.n_workers, 1)
    r = np.full((t.n_workers, m), 0.1 / m)
    r[np.arange(t.n_workers), group] += 0.9
    return normalize_rows(r)


# --------------------------------------------------------------------------- IBCC


@dataclass
class IBCCResult:
    proba: FloatArray
    elbo: float
    n_iter: int
    alpha0: FloatArray


def ibcc(
    t: AnswerTable,
    alpha0: FloatArray,
    nu0: FloatArray,
    *,
    empirical_bayes: bool = False,
    init_proba: FloatArray | None = None,
) -> IBCCResult:
    """Mean-field VB for IBCC; with ``empirical_bayes`` the priors are re-fitted to the ELBO each sweep."""
    sums = ItemSums(t)
    proba = majority_vote(t)[0] if init_proba is None else init_proba
    alpha0 = np.array(alpha0, dtype=float)
    nu0 = np.array(nu0, dtype=float)
    previous = -np.inf
    elbo = -np.inf
    n_iter = 0
    for it in range(1, MAX_ITER + 1):
        n_iter = it
        # q(pi), q(kappa) from the current q(t)
        a = alpha0[None] + sums.confusion_counts(proba)  # [w, true, answered]
        nu = nu0 + proba.sum(axis=0)
        e_log_pi = expected_log_dirichlet(a)
        e_log_kappa = expected_log_dirichlet(nu)
        if empirical_bayes:
            alpha0 = fit_dirichlet(e_log_pi.mean(axis=0), alpha0)
            nu0 = fit_dirichlet(e_log_kappa, nu0)
        # q(t)
        log_joint = e_log_kappa + sums.per_item(per_answer_log(t, e_log_pi))
        proba, log_norm = posterior_from_log(log_joint)
        # ELBO: sum_i log Z_i  -  KL(q(pi) || p(pi))  -  KL(q(kappa) || p(kappa)); the
        # expectation terms of pi and kappa cancel against log Z's (standard for conjugate VB)
        kl_pi = dirichlet_kl(a, alpha0[None]).sum()
        kl_kappa = dirichlet_kl(nu, nu0)
        elbo = float(log_norm - kl_pi - kl_kappa)
        if abs(elbo - previous) <= TOL * t.n_items:
            break
        previous = elbo
    return IBCCResult(proba, elbo, n_iter, alpha0)


def dirichlet_kl(a: FloatArray, b: FloatArray) -> FloatArray:
    """KL(Dir(a) || Dir(b)) along the last axis (broadcasting)."""
    b = np.broadcast_to(b, a.shape)
    return log_beta(b) - log_beta(a) + ((a - b) * expected_log_dirichlet(a)).sum(axis=-1)


def fixed_prior(k: int) -> tuple[FloatArray, FloatArray]:
    return np.ones((k, k)) + np.eye(k), np.ones(k)


def ibcc_fixed(t: AnswerTable) -> FloatArray:
    alpha0, nu0 = fixed_prior(t.n_classes)
    return ibcc(t, alpha0, nu0).proba


def ibcc_eb(t: AnswerTable) -> FloatArray:
    alpha0, nu0 = fixed_prior(t.n_classes)
    return ibcc(t, alpha0, nu0, empirical_bayes=True).proba


def ibcc_fixed_from_ds(t: AnswerTable) -> FloatArray:
    alpha0, nu0 = fixed_prior(t.n_classes)
    return ibcc(t, alpha0, nu0, init_proba=dawid_skene(t).proba).proba


def ibcc_eb_from_ds(t: AnswerTable) -> FloatArray:
    alpha0, nu0 = fixed_prior(t.n_classes)
    return ibcc(t, alpha0, nu0, empirical_bayes=True, init_proba=dawid_skene(t).proba).proba


# --------------------------------------------------------------------------- community BCC


@dataclass
class CBCCResult:
    proba: FloatArray
    elbo: float
    n_iter: int
    communities: FloatArray


def community_bcc(t: AnswerTable, m: int) -> CBCCResult:
    """Mean-field VB for a community model: ``pi[w, k] ~ Dir(alpha[z_w, k])``, ``z_w ~ Cat(rho)``.

    ``alpha`` (m, k, k) and ``rho`` are fitted by empirical Bayes (ELBO); q(t),
    q(pi), q(z), q(kappa) by coordinate ascent.
    """
    k = t.n_classes
    sums = ItemSums(t)
    proba, _ = majority_vote(t)
    nu0 = np.ones(k)
    r = ds_accuracy_quantiles(t, m) if m > 1 else np.ones((t.n_workers, 1))
    alpha = np.broadcast_to(np.ones((k, k)) + np.eye(k), (m, k, k)).copy()
    rho = r.mean(axis=0)
    previous = -np.inf
    elbo = -np.inf
    n_iter = 0
    for it in range(1, MAX_ITER + 1):
        n_iter = it
        counts = sums.confusion_counts(proba)
        prior_w = np.einsum("wm,mkl->wkl", r, alpha)  # mean-field: q(pi_w) = Dir(sum_m r_wm alpha_m + N_w)
        a = prior_w + counts
        e_log_pi = expected_log_dirichlet(a)
        # empirical Bayes: rho and each community's alpha (weighted Minka fixed point);
        # before q(z), so that the first sweep's communities differ (the start's alphas are equal)
        rho = np.clip(r.mean(axis=0), 1e-12, None)
        weights = r / np.clip(r.sum(axis=0, keepdims=True), 1e-12, None)
        mean_log = np.einsum("wm,wkl->mkl", weights, e_log_pi)
        alpha = fit_dirichlet(mean_log, alpha)
        # q(z): log rho_m + E[log Dir(pi_w | alpha_m)]
        log_dir = -log_beta(alpha).sum(axis=1)[None] + np.einsum("mkl,wkl->wm", alpha - 1, e_log_pi)
        r, _ = posterior_from_log(np.log(rho)[None] + log_dir)
        # q(kappa), q(t)
        nu = nu0 + proba.sum(axis=0)
        e_log_kappa = expected_log_dirichlet(nu)
        log_joint = e_log_kappa + sums.per_item(per_answer_log(t, e_log_pi))
        proba, _ = posterior_from_log(log_joint)
        elbo = cbcc_elbo(t, sums, proba, a, r, rho, alpha, nu, nu0)
        if abs(elbo - previous) <= TOL * t.n_items:
            break
        previous = elbo
    return CBCCResult(proba, elbo, n_iter, r)


def cbcc_elbo(
    t: AnswerTable,
    sums: ItemSums,
    proba: FloatArray,
    a: FloatArray,
    r: FloatArray,
    rho: FloatArray,
    alpha: FloatArray,
    nu: FloatArray,
    nu0: FloatArray,
) -> float:
    """The variational lower bound of the community model, every term explicit."""
    e_log_pi = expected_log_dirichlet(a)
    e_log_kappa = expected_log_dirichlet(nu)
    counts = sums.confusion_counts(proba)
    with np.errstate(divide="ignore", invalid="ignore"):
        ent_t = -np.nansum(np.where(proba > 0, proba * np.log(proba), 0.0))
        ent_z = -np.nansum(np.where(r > 0, r * np.log(r), 0.0))
    answers = float((counts * e_log_pi).sum())
    labels = float((proba.sum(axis=0) * e_log_kappa).sum())
    log_p_pi = float(
        (r * (-log_beta(alpha).sum(axis=1)[None] + np.einsum("mkl,wkl->wm", alpha - 1, e_log_pi))).sum()
    )
    log_q_pi = float((-log_beta(a) + ((a - 1) * e_log_pi).sum(axis=-1)).sum())
    log_p_z = float((r * np.log(rho)[None]).sum())
    kl_kappa = float(dirichlet_kl(nu, nu0))
    return answers + labels + log_p_pi - log_q_pi + log_p_z + ent_z + ent_t - kl_kappa


def community_bcc_by_evidence(
    t: AnswerTable, sizes: tuple[int, ...] = (1, 2, 3, 4)
) -> tuple[FloatArray, int]:
    fits = [community_bcc(t, m) for m in sizes]
    best = int(np.argmax([f.elbo for f in fits]))
    return fits[best].proba, sizes[best]


# --------------------------------------------------------------------------- spectral (Zhang et al. 2014)


def spectral_confusions(t: AnswerTable, seed: int = 0) -> tuple[FloatArray, FloatArray]:
    """Group confusion matrices and class weights by the method of moments of Zhang et al. (2014).

    Workers go to three groups round-robin; ``Z_g[i]`` is the mean one-hot answer of
    group g's workers on item i (zero when none answered). Returns per-group
    ``C[g, answered, true]`` (columns are the group's conditional answer means)
    and the class weights.
    """
    k = t.n_classes
    group = t.worker % 3
    z = np.zeros((3, t.n_items, k))
    n = np.zeros((3, t.n_items))
    np.add.at(z, (group, t.item, t.label), 1.0)
    np.add.at(n, (group, t.item), 1.0)
    z = z / np.maximum(n, 1)[..., None]
    items = t.n_items
    rng = np.random.default_rng(seed)
    mus = np.zeros((3, k, k))
    for g in range(3):
        a, b, c = (g + 1) % 3, (g + 2) % 3, g
        # symmetrise views a and b onto view c (Anandkumar et al.: Z'_a = M_cb M_ab^-1 Z_a ...)
        m_cb = z[c].T @ z[b] / items
        m_ab = z[a].T @ z[b] / items
        m_ca = z[c].T @ z[a] / items
        m_ba = z[b].T @ z[a] / items
        za = z[a] @ (m_cb @ np.linalg.pinv(m_ab)).T
        zb = z[b] @ (m_ca @ np.linalg.pinv(m_ba)).T
        m2 = za.T @ zb / items
        m2 = (m2 + m2.T) / 2
        vals, vecs = np.linalg.eigh(m2)
        order = np.argsort(vals)[::-1][:k]
        vals, vecs = np.clip(vals[order], 1e-9, None), vecs[:, order]
        w = vecs / np.sqrt(vals)  # whitening: W^T M2 W = I
        ya, yb, yc = za @ w, zb @ w, z[c] @ w
        # T(u) for the whitened third moment: E[(ya.u) yb (x) yc] symmetrised by power iteration
        found: list[FloatArray] = []
        lambdas: list[float] = []
        deflate: list[tuple[float, FloatArray]] = []
        for _ in range(k):
            best_u, best_val = None, -np.inf
            for _restart in range(10):
                u = rng.standard_normal(k)
                u /= np.linalg.norm(u)
                for _step in range(50):
                    v = np.einsum("i,ij,i->j", ya @ u, yc, yb @ u) / items
                    for lam, phi in deflate:
                        v -= lam * (phi @ u) ** 2 * phi
                    norm = np.linalg.norm(v)
                    if norm == 0:
                        break
                    u = v / norm
                val = float(np.einsum("i,i,i->", ya @ u, yb @ u, yc @ u) / items)
                val -= sum(lam * (phi @ u) ** 3 for lam, phi in deflate)
                if val > best_val:
                    best_u, best_val = u, val
            assert best_u is not None
            found.append(best_u)
            lambdas.append(best_val)
            deflate.append((best_val, best_u))
        lam = np.array(lambdas)
        u = np.array(found).T  # (k, k)
        # columns of view c's conditional means: mu_h = lam_h * W^{-T} u_h
        mu = np.linalg.pinv(w.T) @ u * lam[None]
        mus[g] = mu
    # match each component to a class: the class that group's mean puts most weight on
    confusions = np.zeros((3, k, k))
    for g in range(3):
        mu = np.clip(mus[g], 1e-6, None)
        mu = mu / mu.sum(axis=0, keepdims=True)
        # greedy assignment of components to classes by diagonal weight
        perm = np.full(k, -1)
        taken: set[int] = set()
        for h in np.argsort(-mu.max(axis=0)):
            scores = [mu[c_, h] if c_ not in taken else -1 for c_ in range(k)]
            c_ = int(np.argmax(scores))
            perm[c_] = h
            taken.add(c_)
        confusions[g] = mu[:, perm]  # [answered, true]
    weights = np.full(k, 1.0 / k)
    return confusions, weights


def spectral_init(t: AnswerTable) -> FloatArray:
    """Item posteriors implied by the spectral group confusions (each worker uses their group's)."""
    conf, weights = spectral_confusions(t)
    group_conf = np.clip(conf.transpose(0, 2, 1), 1e-6, None)  # [g, true, answered]
    group_conf = group_conf / group_conf.sum(axis=-1, keepdims=True)
    per_worker = group_conf[np.arange(t.n_workers) % 3]
    proba, _ = posterior_from_log(
        np.log(weights) + ItemSums(t).per_item(per_answer_log(t, np.log(per_worker)))
    )
    return proba


def spectral_ds(t: AnswerTable) -> FloatArray:
    return dawid_skene(t, init_proba=spectral_init(t)).proba


# --------------------------------------------------------------------------- MACE (Hovy et al. 2013)


def mace(t: AnswerTable, variational: bool, class_prior: bool = False) -> FloatArray:
    """MACE by EM (or VB with Beta(0.5, 0.5) on theta and Dir(1) on xi), from majority vote.

    The paper's true labels are uniform a priori; ``class_prior`` fits their
    proportions too (as DS does).
    """
    k = t.n_classes
    sums = ItemSums(t)
    proba, _ = majority_vote(t)
    onehot = np.eye(k)[t.label]
    theta = np.full(t.n_workers, 0.8)
    not_theta = 1 - theta
    xi = np.full((t.n_workers, k), 1.0 / k)
    previous = -np.inf
    for _ in range(MAX_ITER):
        p_true = proba[t.item, t.label]  # q(t_i = answer)
        th, x = theta[t.worker], xi[t.worker, t.label]
        # posterior that the answer was "known": only possible if t = answer
        knows = p_true * th / (th + not_theta[t.worker] * x)
        spam = 1 - knows
        known_sum = sums.per_worker(knows[:, None])[:, 0]
        spam_sum = sums.per_worker(spam[:, None])[:, 0]
        spam_label = sums.per_worker(spam[:, None] * onehot)
        if variational:
            e_log_th = digamma(known_sum + 0.5) - digamma(known_sum + spam_sum + 1.0)
            e_log_not = digamma(spam_sum + 0.5) - digamma(known_sum + spam_sum + 1.0)
            e_log_xi = expected_log_dirichlet(spam_label + 1.0)
            theta, xi = np.exp(e_log_th), np.exp(e_log_xi)
            not_theta = np.exp(e_log_not)
        else:
            theta = (known_sum + 1e-2) / (known_sum + spam_sum + 2e-2)
            xi = normalize_rows(spam_label + 1e-2)
            not_theta = 1 - theta
        # E-step over t: P(answer | t=k) = theta [k = answer] + (1 - theta) xi[answer]
        spam_term = not_theta[t.worker] * xi[t.worker, t.label]
        like = spam_term[:, None] + theta[t.worker][:, None] * onehot
        log_prior = np.log(normalize_rows(proba.sum(axis=0) + 1e-2)) if class_prior else np.zeros(k)
        proba, loglik = posterior_from_log(log_prior + sums.per_item(np.log(like)))
        if abs(loglik - previous) <= TOL * t.n_items:
            break
        previous = loglik
    return proba


# --------------------------------------------------------------------------- runner


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder holding dog/, face/, product/")
    parser.add_argument("--json", type=Path, required=True, help="where to write the results")
    parser.add_argument("--repeat", type=int, default=3, help="fits per method for the timing (median)")
    args = parser.parse_args(argv)
    chosen: dict[str, int] = {}

    def cbcc(t: AnswerTable, name: str) -> FloatArray:
        proba, m = community_bcc_by_evidence(t)
        chosen[name] = m
        return proba

    results: dict[str, dict[str, Any]] = {}
    diagnostics: dict[str, Any] = {}
    load_start = os.getloadavg()[0]
    for name in SETS:
        t, truth = load(args.data / name)
        known = truth >= 0
        runs: list[tuple[str, Callable[[AnswerTable], FloatArray]]] = [
            ("dawid-skene (hitloop default)", lambda t: dawid_skene(t).proba),
            ("IBCC, VB, fixed prior (alpha0 2 diag / 1 off, nu0 1)", ibcc_fixed),
            ("IBCC, VB, empirical-Bayes prior (ELBO)", ibcc_eb),
            ("IBCC, VB, fixed prior, started from DS's posteriors", ibcc_fixed_from_ds),
            ("IBCC, VB, empirical-Bayes prior, started from DS's posteriors", ibcc_eb_from_ds),
            *[
                (f"community BCC, M={m}, VB + EB", lambda t, m=m: community_bcc(t, m).proba)
                for m in (1, 2, 3, 4)
            ],
            ("community BCC, M by ELBO", lambda t, name=name: cbcc(t, name)),
            ("spectral (Zhang et al.) alone", spectral_init),
            ("spectral init + DS EM", spectral_ds),
            ("MACE, EM", lambda t: mace(t, variational=False)),
            ("MACE, VB (Beta(0.5,0.5), Dir(1))", lambda t: mace(t, variational=True)),
            ("MACE, EM, class prior fitted", lambda t: mace(t, variational=False, class_prior=True)),
            ("MACE, VB, class prior fitted", lambda t: mace(t, variational=True, class_prior=True)),
        ]
        rows: dict[str, Any] = {}
        for label, fit in runs:
            times = []
            proba = None
            for _ in range(args.repeat):
                start = time.perf_counter()
                proba = fit(t)
                times.append(time.perf_counter() - start)
            assert proba is not None
            accuracy = float(np.mean(proba.argmax(axis=1)[known] == truth[known]))
            rows[label] = {
                "accuracy": accuracy,
                "correct": int(np.sum(proba.argmax(axis=1)[known] == truth[known])),
                "seconds_median": statistics.median(times),
            }
            print(f"{name:8} {label:<55} {accuracy:.4f}  {statistics.median(times):.3f}s", flush=True)
        alpha0, nu0 = fixed_prior(t.n_classes)
        fixed, eb = ibcc(t, alpha0, nu0), ibcc(t, alpha0, nu0, empirical_bayes=True)
        diagnostics[name] = {
            "ibcc_fixed": {"elbo": fixed.elbo, "n_iter": fixed.n_iter},
            "ibcc_empirical_bayes": {"elbo": eb.elbo, "n_iter": eb.n_iter, "alpha0": eb.alpha0.tolist()},
            "community_bcc": {
                str(m): {
                    "elbo": f.elbo,
                    "n_iter": f.n_iter,
                    "community_sizes": f.communities.sum(axis=0).tolist(),
                }
                for m in (1, 2, 3, 4)
                for f in [community_bcc(t, m)]
            },
        }
        results[name] = rows
    report = {
        "command": " ".join(sys.argv),
        "load_avg_1m": [load_start, os.getloadavg()[0]],
        "community_bcc_m_by_elbo": chosen,
        "diagnostics (max_iter 300)": diagnostics,
        "results": results,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
