"""Shared fixtures and object builders for the store tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from suanli.storage import Store


def pod(name: str, ns: str = "default", node: str | None = None, **labels: str) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": dict(labels)},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    if node is not None:
        obj["spec"]["nodeName"] = node
    return obj


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    s = Store(None, compaction_interval=0)
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"
