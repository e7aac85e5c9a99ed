"""Name → factory registries for plugins and actions (built-ins register on import)."""

from __future__ import annotations

from collections.abc import Callable

from suanli.scheduler.core.framework import Action, PluginFactory

__all__ = ["action", "action_names", "plugin_factory", "plugin_names", "register_action", "register_plugin"]

_PLUGINS: dict[str, PluginFactory] = {}
_ACTIONS: dict[str, Callable[[], Action]] = {}


def register_plugin(name: str, factory: PluginFactory) -> None:
    """Register plugin ``name``; re-registering a name raises ValueError."""
    if name in _PLUGINS:
        raise ValueError(f"plugin {name!r} already registered")
    _PLUGINS[name] = factory


def register_action(name: str, factory: Callable[[], Action]) -> None:
    """Register action ``name``; re-registering a name raises ValueError."""
    if name in _ACTIONS:
        raise ValueError(f"action {name!r} already registered")
    _ACTIONS[name] = factory


def _load_builtins() -> None:
    import suanli.scheduler.core.actions
    import suanli.scheduler.core.plugins  # noqa: F401  (registers)


def plugin_names() -> list[str]:
    _load_builtins()
    return sorted(_PLUGINS)


def action_names() -> list[str]:
    _load_builtins()
    return sorted(_ACTIONS)


def plugin_factory(name: str) -> PluginFactory:
    _load_builtins()
    return _PLUGINS[name]


def action(name: str) -> Action:
    _load_builtins()
    return _ACTIONS[name]()
