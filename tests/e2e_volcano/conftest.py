"""Fixtures for the Volcano Job / Queue / Events end-to-end suite: a fresh `suanli up --demo` per module,
driven by the real kubectl (``hk``: a fresh namespace per test; ``kc``: cluster scope)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Server
from tests.e2e.conftest import K
from tests.e2e_hardware.conftest import fresh_demo_server, hk, kc

__all__ = ["events_of", "hk", "kc"]  # re-exported fixtures


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A fresh demo platform per module (queues and node labels are cluster-wide)."""
    yield from fresh_demo_server(tmp_path_factory)


def events_of(k: K, kind: str, name: str) -> list[tuple[str, str, str]]:
    """``(type, reason, message)`` of the Events about ``kind``/``name`` in ``k``'s namespace."""
    out = k("get", "events", "--field-selector", f"involvedObject.kind={kind},involvedObject.name={name}",
            "-o", "json")
    items: list[dict[str, Any]] = json.loads(out)["items"]
    return [(e["type"], e["reason"], e["message"]) for e in items]
