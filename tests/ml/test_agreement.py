"""Agreement coefficients against published values, scikit-learn, and their algebra."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from hitloop.ml.agreement import (
    binary_agreement,
    cohen_kappa,
    fleiss_kappa,
    fleiss_kappa_per_class,
    krippendorff_alpha,
    krippendorff_alpha_distance,
    krippendorff_alpha_masi,
    masi_distance,
    pairwise_kappa,
    pooled_pairwise_kappa,
    rating_counts,
    reliability_data,
    sample_items_by_distinct_values,
)

# Fleiss (1971), Table 1: 30 patients, 6 psychiatrists each, diagnoses Depression,
# Personality disorder, Schizophrenia, Neurosis, Other (as in R's irr::diagnoses).
FLEISS_1971 = [
    "NNNNNN",
    "PPPOOO",
    "PSSSSO",
    "OOOOOO",
    "PPPNNN",
    "DDSSSS",
    "SSSSOO",
    "DDSSSN",
    "DDNNNN",
    "OOOOOO",
    "DNNNNN",
    "DPNNNN",
    "PPPSSS",
    "DNNNNN",
    "PPNNNO",
    "SSSSSO",
    "DDDNOO",
    "DDDDDP",
    "PPNNNN",
    "DSSOOO",
    "OOOOOO",
    "PNNNNN",
    "PPNOOO",
    "DDNNNN",
    "DNNNNO",
    "PPPPPN",
    "DDDDOO",
    "PPNNNN",
    "DSSSSS",
    "OOOOOO",
]
FLEISS_1971_COUNTS = np.array([[row.count(c) for c in "DPSNO"] for row in FLEISS_1971])

# The usual 10 subjects x 14 raters illustration of Fleiss' kappa (kappa = 0.210).
FOURTEEN_RATERS = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", section C:
# 4 observers x 12 units with missing values; nominal 0.743, interval 0.849.
nan = np.nan
KRIPPENDORFF_2011 = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ]
)


def test_fleiss_1971_overall_and_per_category_kappa() -> None:
    assert FLEISS_1971_COUNTS.shape == (30, 5) and set(FLEISS_1971_COUNTS.sum(axis=1)) == {6}
    assert fleiss_kappa(FLEISS_1971_COUNTS) == pytest.approx(0.430, abs=5e-4)
    # the paper's per-category values: .245, .245, .520, .471, .566
    np.testing.assert_allclose(
        fleiss_kappa_per_class(FLEISS_1971_COUNTS), [0.245, 0.245, 0.520, 0.471, 0.566], atol=5e-4
    )


def test_fleiss_fourteen_rater_illustration() -> None:
    assert fleiss_kappa(FOURTEEN_RATERS) == pytest.approx(0.210, abs=5e-4)


@pytest.mark.parametrize(
    ("level", "expected"), [("nominal", 0.743), ("interval", 0.849)], ids=["nominal", "interval"]
)
def test_krippendorff_canonical_reliability_data(level: str, expected: float) -> None:
    assert krippendorff_alpha(KRIPPENDORFF_2011, level) == pytest.approx(expected, abs=5e-4)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", range(6), ids=[f"seed{s}" for s in range(6)])
def test_cohen_kappa_matches_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, 50)
    b = np.where(rng.random(50) < 0.6, a, rng.integers(0, 4, 50))
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)


def test_undefined_coefficients_are_nan() -> None:
    assert np.isnan(cohen_kappa([], []))
    assert np.isnan(cohen_kappa([1, 1, 1], [1, 1, 1]))  # no variation: chance agreement is 1
    assert np.isnan(fleiss_kappa([[1, 0], [0, 1]]))  # nobody rated an item twice
    assert np.isnan(krippendorff_alpha([[1, nan], [nan, 2]]))  # nothing pairable
    assert np.isnan(fleiss_kappa_per_class([[3, 0], [3, 0]])[1])


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="same length"):
        cohen_kappa([0, 1], [0])
    with pytest.raises(ValueError, match="class codes"):
        cohen_kappa([0.5], [1.0])
    with pytest.raises(ValueError, match="non-negative"):
        fleiss_kappa([[-1, 3]])
    with pytest.raises(ValueError, match="level"):
        krippendorff_alpha(KRIPPENDORFF_2011, "ordinal")  # type: ignore[arg-type]


def test_answer_table_helpers_feed_the_coefficients() -> None:
    answers = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 0], [1, 1, 1], [2, 1, 0], [2, 2, 0]])
    np.testing.assert_array_equal(rating_counts(answers), [[0, 2], [1, 1], [2, 0]])
    data = reliability_data(answers)
    assert data.shape == (3, 3) and np.isnan(data[2, 0]) and data[1, 2] == 0
    assert krippendorff_alpha(data) == pytest.approx(krippendorff_alpha(data.T.T))
    with pytest.raises(ValueError, match="more than once"):
        reliability_data(np.array([[0, 0, 1], [0, 0, 0]]))


def test_pairwise_kappa_equals_cohen_on_each_pairs_shared_items() -> None:
    rng = np.random.default_rng(4)
    truth = rng.integers(0, 3, 80)
    rows = [
        (i, w, truth[i] if rng.random() < 0.7 else rng.integers(0, 3))
        for i in range(80)
        for w in range(5)
        if rng.random() < 0.7
    ]
    answers = np.array(rows)
    result = pairwise_kappa(answers)
    data = reliability_data(answers)
    for u in range(5):
        assert np.isnan(result.kappa[u, u])
        for v in range(u + 1, 5):
            both = ~np.isnan(data[u]) & ~np.isnan(data[v])
            assert result.n_shared[u, v] == both.sum()
            expected = cohen_kappa(data[u, both].astype(int), data[v, both].astype(int), n_classes=3)
            assert result.kappa[u, v] == pytest.approx(expected, abs=1e-12)
    np.testing.assert_array_equal(np.isnan(result.kappa), np.isnan(result.kappa.T))
    np.testing.assert_allclose(result.kappa, result.kappa.T, equal_nan=True)


def test_pairwise_kappa_leaves_pairs_with_too_few_shared_items_blank() -> None:
    answers = np.array([[0, 0, 0], [0, 1, 0], [1, 0, 1], [1, 1, 1], [2, 2, 1], [1, 2, 1]])
    result = pairwise_kappa(answers, min_shared=2)
    assert result.kappa[0, 1] == pytest.approx(1.0)
    assert result.n_shared[0, 2] == 1 and np.isnan(result.kappa[0, 2])


# ---------------------------------------------------------------- properties

labels = st.lists(st.integers(0, 3), min_size=2, max_size=40).filter(lambda xs: len(set(xs)) > 1)


@settings(max_examples=60, deadline=None)
@given(a=labels)
def test_perfect_agreement_is_one_everywhere(a: list[int]) -> None:
    x = np.array(a)
    assert cohen_kappa(x, x) == pytest.approx(1.0)
    counts = np.zeros((x.size, 4))
    counts[np.arange(x.size), x] = 3  # three raters who always agree
    assert fleiss_kappa(counts) == pytest.approx(1.0)
    data = np.vstack([x, x, x]).astype(float)
    assert krippendorff_alpha(data, "nominal") == pytest.approx(1.0)
    assert krippendorff_alpha(data, "interval") == pytest.approx(1.0)


@settings(max_examples=60, deadline=None)
@given(pair=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=2, max_size=40))
def test_cohen_kappa_is_symmetric_and_agrees_with_scikit_learn(pair: list[tuple[int, int]]) -> None:
    a, b = (np.array(col) for col in zip(*pair, strict=True))
    ab, ba = cohen_kappa(a, b), cohen_kappa(b, a)
    assert (np.isnan(ab) and np.isnan(ba)) or ab == pytest.approx(ba)
    if not np.isnan(ab):
        assert ab == pytest.approx(cohen_kappa_score(a, b), abs=1e-9)
        assert -1.0 - 1e-9 <= ab <= 1.0 + 1e-9


@settings(max_examples=40, deadline=None)
@given(
    data=st.lists(
        st.lists(st.one_of(st.none(), st.integers(0, 4)), min_size=6, max_size=6), min_size=2, max_size=5
    )
)
def test_krippendorff_ignores_rater_order_and_is_at_most_one(data: list[list[int | None]]) -> None:
    x: npt.NDArray[np.float64] = np.array(
        [[nan if v is None else v for v in row] for row in data], dtype=float
    )
    for level in ("nominal", "interval"):
        alpha = krippendorff_alpha(x, level)
        flipped = krippendorff_alpha(x[::-1], level)
        assert (np.isnan(alpha) and np.isnan(flipped)) or alpha == pytest.approx(flipped)
        assert np.isnan(alpha) or alpha <= 1.0 + 1e-9


def test_interval_alpha_by_hand() -> None:
    # units (1, 2), (3, 3), (5, 4): sum of o_ck (c - k)^2 = 4; over the six values
    # sum_ck n_c n_k (c - k)^2 = 2 * 6 * 10 = 120, so D_e = 120 / 5 and alpha = 1 - 4 / 24
    data = np.array([[1.0, 3.0, 5.0], [2.0, 3.0, 4.0]])
    assert krippendorff_alpha(data, "interval") == pytest.approx(5 / 6)
    # nominal: 4 disagreeing pairs; n^2 - sum n_c^2 = 36 - 8 = 28, alpha = 1 - 4 * 5 / 28
    assert krippendorff_alpha(data, "nominal") == pytest.approx(2 / 7)


def test_masi_distance_by_hand() -> None:
    a, b, c = "a", "b", "c"
    assert masi_distance({a}, {a}) == 0.0
    assert masi_distance(set(), set()) == 0.0
    assert masi_distance({a, b}, {a}) == pytest.approx(1 - 1 / 2 * 2 / 3)  # subset: M = 2/3
    assert masi_distance({a, b}, {b, c}) == pytest.approx(1 - 1 / 3 * 1 / 3)  # overlap: M = 1/3
    assert masi_distance({a}, {b}) == 1.0
    assert masi_distance(set(), {a}) == 1.0


def test_alpha_with_masi_distance_by_hand() -> None:
    # two raters, units {a}/{a}, {a,b}/{a}, {b}/{b}; values {a}=0, {a,b}=1, {b}=2
    sets = [frozenset("a"), frozenset("ab"), frozenset("b")]
    delta = np.array([[masi_distance(x, y) for y in sets] for x in sets])
    codes = np.array([[0.0, 1.0, 2.0], [0.0, 0.0, 2.0]])
    # o(0,1) = o(1,0) = 1 with delta 2/3; n_c = (3, 1, 2), n = 6;
    # sum n_c n_k delta = 2 * (3 * 1 * 2/3 + 3 * 2 * 1 + 1 * 2 * 2/3) = 56/3; alpha = 1 - (4/3) / (56/15)
    assert krippendorff_alpha_distance(codes, delta) == pytest.approx(9 / 14)
    # the nominal distance matrix gives nominal alpha
    nominal = 1.0 - np.eye(3)
    assert krippendorff_alpha_distance(codes, nominal) == pytest.approx(krippendorff_alpha(codes, "nominal"))


def test_alpha_distance_refuses_bad_matrices_and_codes() -> None:
    codes = np.array([[0.0, 1.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match="square"):
        krippendorff_alpha_distance(codes, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="symmetric"):
        krippendorff_alpha_distance(codes, np.array([[0.0, 1.0], [0.5, 0.0]]))
    with pytest.raises(ValueError, match="symmetric"):
        krippendorff_alpha_distance(codes, np.array([[1.0, 1.0], [1.0, 0.0]]))
    with pytest.raises(ValueError, match="whole numbers from 0 to 1"):
        krippendorff_alpha_distance(np.array([[0.0, 2.0], [1.0, 1.0]]), 1.0 - np.eye(2))
    with pytest.raises(ValueError, match="whole numbers"):
        krippendorff_alpha_distance(np.array([[0.5, 1.0], [1.0, 1.0]]), 1.0 - np.eye(2))


def _label_set_answers(
    seed: int,
) -> tuple[npt.NDArray[np.intp], list[frozenset[int]], npt.NDArray[np.float64]]:
    """Random label-set answers: (item, worker, set code) rows, the distinct sets, their 0/1 membership."""
    rng = np.random.default_rng(seed)
    n_items, n_workers, k = int(rng.integers(3, 25)), int(rng.integers(2, 7)), int(rng.integers(1, 6))
    rows = []
    for item in range(n_items):
        for worker in rng.choice(n_workers, size=int(rng.integers(1, n_workers + 1)), replace=False):
            rows.append((item, int(worker), frozenset(np.flatnonzero(rng.random(k) < 0.4).tolist())))
    sets = sorted({r[2] for r in rows}, key=sorted)
    code = {s: j for j, s in enumerate(sets)}
    table = np.array([(item, worker, code[s]) for item, worker, s in rows], dtype=np.intp)
    membership = np.array([[label in s for label in range(k)] for s in sets], dtype=np.float64)
    return table, sets, membership


def _same(a: float, b: float) -> bool:
    return bool((np.isnan(a) and np.isnan(b)) or abs(a - b) < 1e-9)


@pytest.mark.parametrize("seed", range(25))
def test_set_coefficients_equal_their_definitions(seed: int) -> None:
    table, sets, membership = _label_set_answers(seed)
    k = membership.shape[1]
    # MASI alpha in chunks == alpha with the full MASI matrix
    masi = np.array([[masi_distance(a, b) for b in sets] for a in sets])
    assert _same(
        krippendorff_alpha_masi(table, membership),
        krippendorff_alpha_distance(reliability_data(table), masi),
    )
    # each label as a yes/no question: the two-column Fleiss kappa and nominal alpha
    chosen = membership[table[:, 2]]
    n_items = int(table[:, 0].max()) + 1
    totals = np.bincount(table[:, 0], minlength=n_items)
    yes = np.zeros((n_items, k))
    np.add.at(yes, table[:, 0], chosen)
    binary = binary_agreement(yes, totals)
    for j in range(k):
        assert _same(binary.kappa[j], fleiss_kappa(np.column_stack([totals - yes[:, j], yes[:, j]])))
        one = np.column_stack([table[:, :2], chosen[:, j].astype(np.intp)])
        assert _same(binary.alpha[j], krippendorff_alpha(reliability_data(one), "nominal"))
    # pooled over every (item, label) decision
    decisions = np.column_stack(
        [
            (table[:, 0, None] * k + np.arange(k)).ravel(),
            np.repeat(table[:, 1], k),
            chosen.ravel().astype(np.intp),
        ]
    )
    assert _same(binary.pooled_kappa, fleiss_kappa(rating_counts(decisions, n_classes=2)))
    assert _same(binary.pooled_alpha, krippendorff_alpha(reliability_data(decisions), "nominal"))
    pooled = pooled_pairwise_kappa(table, membership)
    explicit = pairwise_kappa(decisions, n_classes=2, min_shared=2 * k)
    assert np.array_equal(np.isnan(pooled.kappa), np.isnan(explicit.kappa))
    assert np.allclose(np.nan_to_num(pooled.kappa), np.nan_to_num(explicit.kappa), atol=1e-9)
    assert np.array_equal(pooled.n_shared * k, explicit.n_shared)


def test_set_coefficients_refuse_bad_input() -> None:
    table = np.array([[0, 0, 0], [0, 1, 1]])
    with pytest.raises(ValueError, match="0 or 1"):
        krippendorff_alpha_masi(table, np.array([[1.0], [2.0]]))
    with pytest.raises(ValueError, match="set code 1 has no row"):
        pooled_pairwise_kappa(table, np.array([[1.0]]))
    with pytest.raises(ValueError, match="more than once"):
        krippendorff_alpha_masi(np.array([[0, 0, 0], [0, 0, 1]]), np.eye(2))
    with pytest.raises(ValueError, match="one entry per unit"):
        binary_agreement(np.zeros((2, 3)), [2, 2, 2])
    with pytest.raises(ValueError, match="between 0 and the unit's total"):
        binary_agreement(np.array([[3.0]]), [2])


# ---- sampling items for the MASI alpha -----------------------------------------


def test_sample_takes_whole_items_in_rank_order_within_the_cap() -> None:
    # item, worker, value: item 0 {0, 1}, item 1 {1, 2}, item 2 {3}, item 3 {4} answered once
    answers = [[0, 0, 0], [0, 1, 1], [1, 0, 1], [1, 1, 2], [2, 0, 3], [2, 1, 3], [3, 0, 4]]
    assert sample_items_by_distinct_values(answers, [0, 1, 2, 3], 4) is None  # 4 values in pairable items
    assert sample_items_by_distinct_values(answers, [0, 1, 2, 3], 5) is None
    # rank: item 2 first (1 value), then item 1 (2 more: 3), then item 0 (would add value 0: 4 > 3)
    keep = sample_items_by_distinct_values(answers, [2, 1, 0, 9], 3)
    assert keep is not None and keep.tolist() == [False, False, True, True, True, True, False]
    keep = sample_items_by_distinct_values(answers, [0, 1, 2, 3], 2)  # item 0 alone: values 0, 1
    assert keep is not None and keep.tolist() == [True, True, False, False, False, False, False]
    keep = sample_items_by_distinct_values(answers, [0, 1, 2, 3], 1)  # item 0 has 2 values already
    assert keep is not None and not keep.any()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 12))
def test_sample_never_exceeds_the_cap_and_is_a_prefix(seed: int, cap: int) -> None:
    rng = np.random.default_rng(seed)
    n_items = 30
    answers = np.array(
        [(i, w, rng.integers(0, 25)) for i in range(n_items) for w in range(rng.integers(1, 4))]
    )
    rank = rng.permutation(n_items)
    keep = sample_items_by_distinct_values(answers, rank, cap)
    pairable = {i for i in range(n_items) if np.sum(answers[:, 0] == i) >= 2}
    if keep is None:
        assert len(np.unique(answers[np.isin(answers[:, 0], list(pairable)), 2])) <= cap
        return
    taken = set(answers[keep, 0].tolist())
    assert taken <= pairable and len(np.unique(answers[keep, 2])) <= cap
    assert all(
        np.sum(keep & (answers[:, 0] == i)) == np.sum(answers[:, 0] == i) for i in taken
    )  # whole items
    ordered = sorted(pairable, key=lambda i: rank[i])
    assert set(ordered[: len(taken)]) == taken  # the lowest-ranked items
    if len(taken) < len(ordered):  # the next item would have broken the cap
        more = taken | {ordered[len(taken)]}
        assert len(np.unique(answers[np.isin(answers[:, 0], list(more)), 2])) > cap


def test_sample_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="max_values"):
        sample_items_by_distinct_values([[0, 0, 0], [0, 1, 1]], [0], 0)
    with pytest.raises(ValueError, match="rank has shape"):
        sample_items_by_distinct_values([[0, 0, 0], [0, 1, 1]], [0, 1], 1)
