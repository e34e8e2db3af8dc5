"""The plugin manager: learners, featurizers and query strategies by name, built-in or installed.

Plugins are found lazily, on the first lookup (nothing happens at import):
hitloop's built-ins (:mod:`hitloop.builtins`), then every entry point of the
``hitloop`` group, then anything registered in-process with :func:`register`.
The hooks are declared in :mod:`hitloop.hookspecs`. Two plugins that claim
the same name are an error, never a silent override.

    from hitloop.plugins import hookimpl, make_learner, register

    class MyPlugin:
        @hookimpl
        def hitloop_learners(self):
            return {"my-forest": MyForestLearner}

    register(MyPlugin())
    learner = make_learner("my-forest", n_estimators=200)
"""

from __future__ import annotations

import importlib.metadata
import threading
from collections.abc import Callable, Mapping
from typing import Any, Literal

import pluggy

from hitloop import hookspecs
from hitloop.errors import HitloopError, InputError
from hitloop.hookspecs import PROJECT_NAME, hookimpl

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginError",
    "featurizers",
    "hookimpl",
    "learners",
    "make_featurizer",
    "make_learner",
    "make_strategy",
    "plugin_manager",
    "register",
    "reset",
    "strategies",
]

ENTRY_POINT_GROUP = PROJECT_NAME

Kind = Literal["learner", "featurizer", "strategy"]
_HOOKS: dict[str, str] = {
    "learner": "hitloop_learners",
    "featurizer": "hitloop_featurizers",
    "strategy": "hitloop_strategies",
}
# What a built object must offer, per kind: a learner without predict_proba is no learner.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "learner": ("fit", "predict_proba"),
    "featurizer": ("fit", "transform"),
    "strategy": ("select", "score"),
}


class PluginError(HitloopError):
    """A plugin failed to load or claims a name another plugin already has."""

    code = "plugin_error"


_lock = threading.Lock()
_manager: pluggy.PluginManager | None = None


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if pm.get_plugin(entry.name) is not None:
            continue
        try:
            plugin = entry.load()
        except Exception as exc:  # any import-time failure of third-party code
            raise PluginError(
                f"the plugin {entry.name!r} ({entry.value}) failed to load: {type(exc).__name__}: {exc}"
            ) from exc
        pm.register(plugin, name=entry.name)


def plugin_manager() -> pluggy.PluginManager:
    """The process's plugin manager, built on first use."""
    global _manager
    with _lock:
        if _manager is None:
            from hitloop import builtins

            pm = pluggy.PluginManager(PROJECT_NAME)
            pm.add_hookspecs(hookspecs)
            pm.register(builtins, name="hitloop.builtins")
            _load_entry_points(pm)
            _manager = pm
        return _manager


def register(plugin: object, name: str | None = None) -> None:
    """Register a plugin in this process (a module or an object with ``@hookimpl`` methods)."""
    pm = plugin_manager()
    pm.register(plugin, name=name or getattr(plugin, "__name__", None) or type(plugin).__qualname__)
    try:
        for kind in _HOOKS:
            _registry(kind)  # refuse a name clash now, not at the first lookup
    except PluginError:
        pm.unregister(plugin)
        raise


def reset() -> None:
    """Forget every plugin; the next lookup loads built-ins and entry points again (for tests)."""
    global _manager
    with _lock:
        _manager = None


def _registry(kind: str) -> dict[str, Callable[..., Any]]:
    pm = plugin_manager()
    hook = getattr(pm.hook, _HOOKS[kind])
    found: dict[str, Callable[..., Any]] = {}
    owner: dict[str, str] = {}
    for impl in hook.get_hookimpls():  # registration order: built-ins first
        result: Mapping[str, Callable[..., Any]] | None = impl.function()
        if not result:
            continue
        plugin_name = impl.plugin_name
        for name, factory in result.items():
            if name in found and found[name] is not factory:
                raise PluginError(
                    f"the {kind} {name!r} is registered by both {owner[name]!r} and {plugin_name!r}"
                )
            if not callable(factory):
                raise PluginError(f"the plugin {plugin_name!r} registers {kind} {name!r} as a non-callable")
            found[name] = factory
            owner.setdefault(name, plugin_name)
    return found


def learners() -> dict[str, Callable[..., Any]]:
    """Every registered learner factory by name."""
    return _registry("learner")


def featurizers() -> dict[str, Callable[..., Any]]:
    """Every registered featurizer factory by name."""
    return _registry("featurizer")


def strategies() -> dict[str, Callable[..., Any]]:
    """Every registered query strategy factory by name."""
    return _registry("strategy")


def _make(kind: Kind, name: str, params: dict[str, Any]) -> Any:
    known = _registry(kind)
    factory = known.get(name)
    if factory is None:
        raise InputError(f"unknown {kind} {name!r}; known: {', '.join(sorted(known))}", field=kind)
    try:
        built = factory(**params)
    except TypeError as exc:
        raise InputError(f"invalid parameters for the {kind} {name!r}: {exc}", field=kind) from None
    missing = [method for method in _REQUIRED[kind] if not callable(getattr(built, method, None))]
    if missing:
        raise PluginError(f"the {kind} {name!r} has no {', '.join(missing)} method")
    return built


def make_learner(name: str, **params: Any) -> Any:
    """A new, unfitted learner of the registered ``name``."""
    return _make("learner", name, params)


def make_featurizer(name: str, **params: Any) -> Any:
    """A new, unfitted featurizer of the registered ``name``."""
    return _make("featurizer", name, params)


def make_strategy(name: str, **params: Any) -> Any:
    """A new query strategy of the registered ``name``."""
    return _make("strategy", name, params)
