"""Go ``time.Duration`` strings (``metav1.Duration`` fields): parsing and Go's rendering."""

from __future__ import annotations

import re

from suanli.apimachinery.protobuf.decode import go_duration

__all__ = ["format_duration", "go_duration", "parse_duration"]

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Seconds in a Go duration string; ``"0"`` is 0. Raises ValueError on bad input.

    >>> parse_duration("1m30s")
    90.0
    """
    s = text.strip()
    sign = 1.0
    if s[:1] in "+-" and s:
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise ValueError(f"invalid duration {text!r}")
    pos, total = 0, 0.0
    while pos < len(s):
        m = _PART.match(s, pos)
        if m is None:
            raise ValueError(f"invalid duration {text!r}")
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return sign * total


def format_duration(seconds: float) -> str:
    """``seconds`` rendered as Go's ``Duration.String`` (``300`` → ``"5m0s"``, ``1.5`` → ``"1.5s"``)."""
    return go_duration(round(seconds * 1e9))
