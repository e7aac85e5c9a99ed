"""Shared set-up for the atheris harnesses: instrumented imports, input decoding, the libFuzzer main.

Each harness module defines ``one_input(data: bytes) -> None`` that feeds ``data`` to one parser and
lets only the parser's declared error type escape as "expected" (it returns); any other exception
propagates, and atheris reports it as a crash with the input that caused it.
Run one with ``python -m tests.fuzz.harnesses.<name> [libFuzzer flags] [corpus dirs]``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import atheris
import orjson


def json_or_none(data: bytes) -> Any:
    """``data`` parsed as JSON, or ``None`` (the harness then has nothing to test)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


def split_json(data: bytes, parts: int) -> list[Any] | None:
    """``data`` as a JSON array of exactly ``parts`` values (e.g. ``[document, patch]``), else ``None``."""
    value = json_or_none(data)
    if isinstance(value, list) and len(value) == parts:
        return value
    return None


def text(data: bytes) -> str:
    """``data`` as text, invalid UTF-8 replaced (query parameters reach the parsers decoded)."""
    return data.decode("utf-8", errors="replace")


def main(one_input: Callable[[bytes], None]) -> None:
    """libFuzzer entry point for a harness module's ``__main__``."""
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
