"""Every plugin hook of hitloop, in one place.

A plugin is a module or object with functions marked ``@hookimpl`` whose
names match the specifications below. Installed packages register plugins
through the ``hitloop`` entry-point group::

    # pyproject.toml of your package
    [project.entry-points.hitloop]
    my_models = "my_package.hitloop_plugin"

hitloop's own learners, featurizers and strategies register through these
same hooks (:mod:`hitloop.builtins`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pluggy

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]

PROJECT_NAME = "hitloop"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def hitloop_learners() -> Mapping[str, Callable[..., Any]]:  # type: ignore[empty-body]
    """Learners by name: each value builds an unfitted learner from keyword parameters.

    A learner needs ``fit(X, y)`` returning itself and ``predict_proba(X)``
    returning shape (n_items, n_classes) with columns in the order of its
    ``classes_``; scikit-learn's ``get_params``/``set_params`` let hitloop
    clone it and store its parameters.
    """


@hookspec
def hitloop_featurizers() -> Mapping[str, Callable[..., Any]]:  # type: ignore[empty-body]
    """Featurizers by name: each value builds an unfitted transformer (``fit``, ``transform``).

    A ``modality`` attribute ("text", "image", "audio") says what items it reads.
    """


@hookspec
def hitloop_strategies() -> Mapping[str, Callable[..., Any]]:  # type: ignore[empty-body]
    """Query strategies by name: each value builds a :class:`hitloop.ml.strategies.QueryStrategy`."""
