"""Plugins: built-ins register through the hooks; installed and in-process plugins join them."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from hitloop import plugins
from hitloop.errors import InputError
from hitloop.ml.learners import LogisticLearner, labeled_mask
from hitloop.ml.simulate import simulate
from hitloop.ml.strategies import STRATEGIES, LeastConfidence
from hitloop.plugins import PluginError, hookimpl


@pytest.fixture(autouse=True)
def _fresh_plugins() -> Iterator[None]:
    plugins.reset()
    yield
    plugins.reset()


class NearestMean(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A user's own model: any object with fit and predict_proba."""

    def __init__(self, sharpness: float = 1.0) -> None:
        self.sharpness = sharpness

    def fit(self, X: Any, y: Any) -> NearestMean:
        y = np.asarray(y)
        keep = labeled_mask(y)
        self.classes_ = np.unique(y[keep])
        self.means_ = np.array([X[keep][y[keep] == c].mean(axis=0) for c in self.classes_])
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        logits = -self.sharpness * ((np.asarray(X)[:, None] - self.means_[None]) ** 2).sum(axis=2)
        P = np.exp(logits - logits.max(axis=1, keepdims=True))
        return np.asarray(P / P.sum(axis=1, keepdims=True))

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(self.classes_[self.predict_proba(X).argmax(axis=1)])


class MyPlugin:
    @hookimpl
    def hitloop_learners(self) -> Mapping[str, Callable[..., Any]]:
        return {"nearest-mean": NearestMean}

    @hookimpl
    def hitloop_strategies(self) -> Mapping[str, Callable[..., Any]]:
        return {"least-confident-first": LeastConfidence}


def test_builtins_register_through_the_hooks() -> None:
    assert set(plugins.strategies()) == set(STRATEGIES)
    assert {"logistic", "label-spreading", "remote"} <= set(plugins.learners())
    assert {"tfidf", "pixels", "hog", "wordllama", "minilm"} <= set(plugins.featurizers())
    assert isinstance(plugins.make_learner("logistic", C=2.0), LogisticLearner)
    assert plugins.make_strategy("margin", batch="diverse").get_params()["batch"] == "diverse"
    assert plugins.make_featurizer("tfidf", char_ngrams=True).char_ngrams is True


def test_unknown_names_and_bad_parameters_are_input_errors() -> None:
    with pytest.raises(InputError, match="unknown strategy 'nope'; known: badge, cold-start, ") as info:
        plugins.make_strategy("nope")
    assert info.value.field == "strategy"
    with pytest.raises(InputError, match=r"invalid parameters for the learner 'logistic': .*'depth'"):
        plugins.make_learner("logistic", depth=3)


def test_an_in_process_plugin_adds_a_learner_used_by_the_loop() -> None:
    plugins.register(MyPlugin())
    learner = plugins.make_learner("nearest-mean", sharpness=2.0)
    assert isinstance(learner, NearestMean)
    assert "least-confident-first" in plugins.strategies()
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 0.5, (30, 2)), rng.normal(3, 0.5, (30, 2))])
    y = np.repeat([0, 1], 30)
    result = simulate(
        X,
        y,
        learner=learner,
        strategy=plugins.make_strategy("least-confident-first"),
        seed_labels=4,
        batch_size=4,
        budget=12,
        repeats=1,
    )
    assert result.accuracy[0, -1] == 1.0


def test_a_name_clash_is_refused_and_rolled_back() -> None:
    class Clash:
        @hookimpl
        def hitloop_strategies(self) -> Mapping[str, Callable[..., Any]]:
            return {"margin": LeastConfidence}

    with pytest.raises(
        PluginError, match=r"the strategy 'margin' is registered by both 'hitloop.builtins' and"
    ):
        plugins.register(Clash())
    assert plugins.strategies()["margin"] is STRATEGIES["margin"]


def test_a_factory_must_build_a_real_component() -> None:
    class Broken:
        @hookimpl
        def hitloop_learners(self) -> Mapping[str, Callable[..., Any]]:
            return {"no-proba": lambda: object()}

    plugins.register(Broken())
    with pytest.raises(PluginError, match="the learner 'no-proba' has no fit, predict_proba method"):
        plugins.make_learner("no-proba")


def _install(site: Path, name: str, module: str, source: str) -> None:
    """A real installed distribution on sys.path: a module and a dist-info with its entry point."""
    (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = site / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[hitloop]\n{name} = {module}\n", encoding="utf-8")


def test_installed_plugins_are_found_through_the_entry_point_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install(
        tmp_path,
        "hitloop-demo-plugin",
        "hitloop_demo_plugin",
        """
        from hitloop.plugins import hookimpl
        from hitloop.ml.strategies import Entropy

        @hookimpl
        def hitloop_strategies():
            return {"plugin-entropy": Entropy}
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "plugin-entropy" in plugins.strategies()
    assert plugins.plugin_manager().get_plugin("hitloop-demo-plugin") is sys.modules["hitloop_demo_plugin"]


def test_a_plugin_that_fails_to_import_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install(tmp_path, "hitloop-broken", "hitloop_broken", "raise RuntimeError('missing model file')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(
        PluginError, match=r"the plugin 'hitloop-broken' .* failed to load: RuntimeError: missing"
    ):
        plugins.learners()
