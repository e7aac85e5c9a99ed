"""Small helpers shared by plugins."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from suanli.scheduler.core.session import Session

__all__ = ["BasePlugin", "float_arg"]


def float_arg(args: Mapping[str, Any], key: str, default: float) -> float:
    """``args[key]`` as a float, ``default`` when absent or unparsable."""
    value = args.get(key)
    if value is None:
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


class BasePlugin:
    """Plugin with no-op open/close; subclasses set ``name`` and override ``on_session_open``."""

    name = ""

    def __init__(self, option: Any) -> None:
        self.option = option
        self.args: Mapping[str, Any] = option.arguments

    def on_session_open(self, ssn: Session) -> None:
        pass

    def on_session_close(self, ssn: Session) -> None:
        pass
