"""The managedFields parse cache is bounded by age and count, so churned objects do not pin it."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.apimachinery.patch import apply
from suanli.apimachinery.patch.apply import managed_fields_of, parsed_fields_cache_size, record_update


def _pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(apply, "_clock", lambda: now[0])
    monkeypatch.setattr(apply, "_PARSED", type(apply._PARSED)())
    return now


def _managed(name: str) -> dict[str, Any]:
    return record_update(None, _pod(name), "bench", "Pod", "2026-01-01T00:00:00Z")


def test_parsed_entries_expire_once_older_than_the_max_age(clock: list[float]) -> None:
    old = [_managed(f"old-{i}") for i in range(50)]
    for obj in old:
        managed_fields_of(obj)
    assert parsed_fields_cache_size() == 50
    clock[0] += apply._PARSED_MAX_AGE + 1
    fresh = _managed("fresh")
    managed_fields_of(fresh)  # an insertion evicts every expired entry
    assert parsed_fields_cache_size() == 1


def test_a_cached_parse_is_reused_while_fresh(clock: list[float]) -> None:
    obj = _managed("p")
    first = managed_fields_of(obj)
    clock[0] += apply._PARSED_MAX_AGE / 2
    assert managed_fields_of(obj) == first
    assert parsed_fields_cache_size() == 1


def test_count_bound_holds_when_every_entry_is_fresh(clock: list[float], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(apply, "_PARSED_MAX", 10)
    for i in range(40):
        managed_fields_of(_managed(f"p{i}"))
    assert parsed_fields_cache_size() == 10
