"""One check suite that every registered query strategy passes, built-in or plugin."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from hitloop import plugins
from hitloop.ml.strategies import DEFAULT_STRATEGY, STRATEGIES, Pool, QueryStrategy
from hitloop.ml.strategies import make_strategy as make_builtin_strategy

from .conftest import Case

# Every strategy the plugin manager knows: hitloop's own and any installed plugin's.
NAMES = sorted(plugins.strategies())
make_strategy = plugins.make_strategy


def _pool(case: Case, exclude: np.ndarray | None = None, with_model: bool = True) -> Pool:
    return Pool(
        case.X,
        labeled=case.labeled,
        y=case.y[case.labeled],
        learner=case.learner if with_model else None,
        exclude=np.array([], dtype=int) if exclude is None else exclude,
    )


@pytest.fixture(params=["two_classes", "ten_classes", "sparse_case"])
def case(request: pytest.FixtureRequest) -> Case:
    return request.getfixturevalue(request.param)


def _check_batch(batch: np.ndarray, pool: Pool, n: int) -> None:
    assert batch.dtype.kind == "i"
    assert batch.ndim == 1
    assert len(batch) == min(n, pool.n_selectable)
    assert len(np.unique(batch)) == len(batch)
    assert batch.min() >= 0 and batch.max() < pool.n_items
    assert not np.isin(batch, pool.labeled).any()
    assert not np.isin(batch, pool.exclude).any()


@pytest.mark.parametrize("name", NAMES)
def test_select_returns_n_unique_unlabeled_items(name: str, case: Case) -> None:
    exclude = np.setdiff1d(np.arange(5, 15), case.labeled)
    pool = _pool(case, exclude=exclude)
    batch = make_strategy(name).select(pool, 10, random_state=0)
    _check_batch(batch, pool, 10)


@pytest.mark.parametrize("name", NAMES)
def test_select_is_deterministic_under_a_seed(name: str, case: Case) -> None:
    strategy = make_strategy(name)
    first = strategy.select(_pool(case), 7, random_state=42)
    again = strategy.select(_pool(case), 7, random_state=42)
    np.testing.assert_array_equal(first, again)


@pytest.mark.parametrize("name", NAMES)
def test_n_larger_than_the_pool_returns_every_selectable_item(name: str, two_classes: Case) -> None:
    pool = _pool(two_classes, exclude=np.setdiff1d(np.arange(0, 100), two_classes.labeled))
    batch = make_strategy(name).select(pool, 10_000, random_state=0)
    _check_batch(batch, pool, 10_000)
    assert set(batch.tolist()) == set(np.setdiff1d(np.arange(pool.n_items), pool.excluded).tolist())


@pytest.mark.parametrize("name", NAMES)
def test_zero_and_nothing_selectable_give_empty_batches(name: str, two_classes: Case) -> None:
    strategy = make_strategy(name)
    assert len(strategy.select(_pool(two_classes), 0, random_state=0)) == 0
    everything = np.setdiff1d(np.arange(len(two_classes.y)), two_classes.labeled)
    assert len(strategy.select(_pool(two_classes, exclude=everything), 5, random_state=0)) == 0


@pytest.mark.parametrize("name", NAMES)
def test_select_works_before_any_model(name: str, case: Case) -> None:
    pool = _pool(case, with_model=False)
    batch = make_strategy(name).select(pool, 10, random_state=0)
    _check_batch(batch, pool, 10)


@pytest.mark.parametrize("name", NAMES)
def test_score_gives_every_item_a_priority(name: str, case: Case) -> None:
    pool = _pool(case, exclude=np.setdiff1d([3, 4], case.labeled))
    scores = make_strategy(name).score(pool, random_state=0)
    assert scores.shape == (pool.n_items,)
    assert np.all(scores[pool.excluded] == -np.inf)
    open_items = np.setdiff1d(np.arange(pool.n_items), pool.excluded)
    assert np.isfinite(scores[open_items]).all()


@pytest.mark.parametrize("name", NAMES)
def test_select_accepts_precomputed_probabilities(name: str, ten_classes: Case) -> None:
    if name.startswith("qbc"):
        pytest.skip("a committee retrains the learner; probabilities alone are not enough")
    proba = ten_classes.learner.predict_proba(ten_classes.X)
    pool = Pool(ten_classes.X, labeled=ten_classes.labeled, proba=proba)
    _check_batch(make_strategy(name).select(pool, 10, random_state=0), pool, 10)


@pytest.mark.parametrize("name", NAMES)
def test_strategy_follows_the_estimator_contract(name: str) -> None:
    strategy = make_strategy(name)
    assert isinstance(strategy, QueryStrategy)
    params = strategy.get_params()
    twin = clone(strategy)
    assert type(twin) is type(strategy)
    assert twin.get_params() == params
    assert make_strategy(name, **params).get_params() == params
    assert name in NAMES and repr(strategy)


@pytest.mark.parametrize("name", NAMES)
def test_invalid_n_is_rejected(name: str, two_classes: Case) -> None:
    with pytest.raises(ValueError, match="n must be"):
        make_strategy(name).select(_pool(two_classes), -1)


def test_unknown_strategy_names_list_the_known_ones() -> None:
    with pytest.raises(KeyError, match="unknown strategy 'nope'; known: random"):
        make_builtin_strategy("nope")


def test_the_default_strategy_is_registered() -> None:
    assert DEFAULT_STRATEGY in STRATEGIES and DEFAULT_STRATEGY in NAMES


def test_diverse_batches_skip_near_duplicates(two_classes: Case) -> None:
    # Ten copies of the single most uncertain item: "top" takes them all, "diverse" one.
    scores = make_strategy("margin").score(_pool(two_classes), random_state=0)
    best = int(np.argmax(scores))
    X = np.vstack([two_classes.X, np.repeat(two_classes.X[[best]], 10, axis=0)])
    y = np.concatenate([two_classes.y, np.repeat(two_classes.y[best], 10)])
    case = Case(X=X, y=y, labeled=two_classes.labeled, learner=two_classes.learner)
    copies = set(range(len(two_classes.y), len(y))) | {best}
    top = make_strategy("margin").select(_pool(case), 5, random_state=0)
    diverse = make_strategy("diverse-margin").select(_pool(case), 5, random_state=0)
    assert len(copies & set(top.tolist())) == 5
    assert len(copies & set(diverse.tolist())) == 1


def test_bad_parameters_are_reported_at_call_time(ten_classes: Case) -> None:
    with pytest.raises(ValueError, match="batch must be one of"):
        make_strategy("margin", batch="sideways").select(_pool(ten_classes), 3)
    with pytest.raises(ValueError, match="measure must be one of"):
        make_strategy("qbc-vote-entropy", measure="loudness").select(_pool(ten_classes), 3)


# The strategies that declare themselves pointwise (the others score jointly; the loop rescores
# the whole pool for them). There must be some: the loop's scoring of added items relies on them.
POINTWISE = [name for name in NAMES if make_strategy(name).pointwise]


def test_the_margin_family_is_pointwise() -> None:
    assert {"margin", "entropy", "least-confidence", "diverse-margin", "cover-margin"} <= set(POINTWISE)
    assert "random" not in POINTWISE and "density-margin" not in POINTWISE


@pytest.mark.parametrize("name", POINTWISE)
def test_a_pointwise_strategy_scores_items_alone_as_in_the_whole_pool(name: str, case: Case) -> None:
    """``pointwise`` strategies: a few items scored in a pool of their own get their whole-pool scores.

    The loop relies on it to score only the items added since the last scoring.
    """
    strategy = make_strategy(name)
    whole = strategy.score(_pool(case), random_state=3)
    some = np.setdiff1d(np.arange(len(case.y)), case.labeled)[[0, 3, 7]]
    alone = strategy.score(Pool(case.X[some], learner=case.learner), random_state=11)
    np.testing.assert_allclose(alone, whole[some], rtol=1e-12)
