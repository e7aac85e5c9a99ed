"""EventRecorder over the in-process client: uncopied creates store the same Events; the
aggregation cache drops its oldest entry first."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import deep_copy
from suanli.apiserver.service import ApiService
from suanli.client.local import LocalClient
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.registry import Registry
from suanli.runtime.clock import FakeClock
from suanli.runtime.events import EventRecorder
from suanli.storage import Store

NOW = "2024-05-01T12:00:00Z"
EVENTS = GVR("", "v1", "events")


class CopyingClient(LocalClient):
    """A LocalClient whose recorder path is the copying ``create`` (the general form)."""

    async def create_owned(self, gvr: GVR, obj: dict[str, Any], namespace: str = "") -> dict[str, Any]:
        return await self.create(gvr, obj, namespace)


@pytest.fixture
async def service() -> AsyncIterator[ApiService]:
    registry = Registry()
    registry.add_all(builtin_resource_types())
    store = Store(None, compaction_interval=0)
    await store.start()
    svc = ApiService(store, registry, now=lambda: NOW)
    await svc.create(svc.resource("", "v1", "namespaces"), "",
                     {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}})
    yield svc
    await store.stop()


def pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", "resourceVersion": "7"}}


def stable(ev: dict[str, Any]) -> dict[str, Any]:
    out = deep_copy(ev)
    for k in ("uid", "name", "resourceVersion", "creationTimestamp"):
        out["metadata"].pop(k)
    for k in ("firstTimestamp", "lastTimestamp"):
        out.pop(k)
    for entry in out["metadata"]["managedFields"]:
        entry.pop("time")
    return out


@pytest.mark.parametrize(("type_", "reason", "message"), [
    ("Normal", "Scheduled", "Successfully assigned ns/p to node-1"),
    ("Warning", "FailedScheduling", "0/5 nodes are available"),
], ids=["a normal event", "a warning event"])
async def test_uncopied_events_equal_copied_ones(service: ApiService, type_: Any, reason: str,
                                                  message: str) -> None:
    fast = EventRecorder(LocalClient(service, field_manager="s"), "sched", clock=FakeClock())
    general = EventRecorder(CopyingClient(service, field_manager="s"), "sched", clock=FakeClock())
    involved = pod("p")
    await fast.record(involved, type_, reason, message)
    await general.record(pod("p"), type_, reason, message)
    assert involved == pod("p")  # the recorded-about object is untouched
    stored = [so.obj for so in service.store.list("events").items]
    assert len(stored) == 2
    assert stable(stored[0]) == stable(stored[1])
    assert stored[0]["metadata"]["name"].startswith("p.")


async def test_aggregation_cache_forgets_its_oldest_entry_first(service: ApiService) -> None:
    rec = EventRecorder(LocalClient(service, field_manager="s"), "sched", clock=FakeClock(), max_cached=2)
    for name in ("a", "b", "c"):  # "a" is evicted when "c" arrives
        await rec.record(pod(name), "Normal", "R", "m")
    await rec.record(pod("c"), "Normal", "R", "m")  # cached: bumps the count
    await rec.record(pod("a"), "Normal", "R", "m")  # forgotten: a second Event
    events = [so.obj for so in service.store.list("events").items]
    by_object: dict[str, list[int]] = {}
    for ev in events:
        by_object.setdefault(ev["involvedObject"]["name"], []).append(ev["count"])
    assert by_object == {"a": [1, 1], "b": [1], "c": [2]}


async def test_aggregation_cache_is_an_lru_bounded_like_client_go(service: ApiService) -> None:
    rec = EventRecorder(LocalClient(service, field_manager="s"), "sched", clock=FakeClock(), max_cached=2)
    assert EventRecorder(LocalClient(service), "x").max_cached == 4096  # client-go's maxLruCacheEntries
    await rec.record(pod("a"), "Normal", "R", "m")
    await rec.record(pod("b"), "Normal", "R", "m")
    await rec.record(pod("a"), "Normal", "R", "m")  # a hit makes "a" the most recent
    await rec.record(pod("c"), "Normal", "R", "m")  # so "b" is evicted, not "a"
    await rec.record(pod("a"), "Normal", "R", "m")
    await rec.record(pod("b"), "Normal", "R", "m")  # forgotten: a second Event for "b"
    counts: dict[str, list[int]] = {}
    for so in service.store.list("events").items:
        counts.setdefault(so.obj["involvedObject"]["name"], []).append(so.obj["count"])
    assert counts == {"a": [3], "b": [1, 1], "c": [1]}
    assert rec.correlator.cached_keys() == 3 * 2  # spam buckets, message groups, recorded Events


async def test_a_repeat_of_an_expired_event_creates_it_again_with_its_count(service: ApiService) -> None:
    rec = EventRecorder(LocalClient(service, field_manager="s"), "sched", clock=FakeClock())
    await rec.record(pod("a"), "Normal", "R", "m")
    await rec.record(pod("a"), "Normal", "R", "m")
    (first,) = service.store.list("events").items
    assert first.obj["count"] == 2
    await LocalClient(service).delete(EVENTS, first.obj["metadata"]["name"], "ns")  # as the TTL would
    await rec.record(pod("a"), "Normal", "R", "m")
    (again,) = service.store.list("events").items
    assert again.obj["metadata"]["name"] == first.obj["metadata"]["name"]
    assert again.obj["count"] == 3


async def test_a_source_may_burst_25_events_about_one_object_then_is_throttled(service: ApiService) -> None:
    rec = EventRecorder(LocalClient(service, field_manager="s"), "sched", clock=FakeClock())
    for i in range(30):  # 30 different reasons about one pod: each takes a token
        await rec.record(pod("a"), "Normal", f"R{i}", "m")
    await rec.record(pod("b"), "Normal", "R0", "m")  # another object has its own budget
    names = sorted(so.obj["reason"] for so in service.store.list("events").items
                   if so.obj["involvedObject"]["name"] == "a")
    assert names == sorted(f"R{i}" for i in range(25))
    assert [so.obj["involvedObject"]["name"] for so in service.store.list("events").items].count("b") == 1


async def test_ten_messages_for_one_reason_are_combined(service: ApiService) -> None:
    rec = EventRecorder(LocalClient(service, field_manager="s"), "sched", clock=FakeClock())
    for i in range(12):
        await rec.record(pod("a"), "Warning", "FailedScheduling", f"0/{i} nodes are available")
    events = [so.obj for so in service.store.list("events").items]
    plain = [e for e in events if not e["message"].startswith("(combined from similar events): ")]
    combined = [e for e in events if e["message"].startswith("(combined from similar events): ")]
    assert len(plain) == 9
    assert len(combined) == 1
    assert combined[0]["count"] == 3
    assert combined[0]["message"] == "(combined from similar events): 0/11 nodes are available"



def _counts(service: ApiService) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for so in service.store.list("events").items:
        out.setdefault(so.obj["involvedObject"]["name"], []).append(so.obj["count"])
    return out


async def test_emitted_events_are_written_in_the_background_and_aggregate_per_object(service: ApiService) -> None:
    rec = EventRecorder(LocalClient(service, field_manager="s"), "sched", clock=FakeClock(), sinks=3)
    for _ in range(4):
        for name in ("a", "b", "c", "d"):
            rec.emit(pod(name), "Normal", "R", "m")  # returns at once: nothing written yet
    assert _counts(service) == {}
    await rec.flush()
    # one object's Events go through one writer in order: one Event each, count 4 (no duplicates)
    assert _counts(service) == {"a": [4], "b": [4], "c": [4], "d": [4]}
    await rec.close()


async def test_a_full_buffer_drops_events_and_counts_them(service: ApiService) -> None:
    rec = EventRecorder(LocalClient(service, field_manager="s"), "sched", clock=FakeClock(), buffer=3)
    for name in ("a", "b", "c", "d", "e"):
        rec.emit(pod(name), "Normal", "R", "m")
    assert rec.dropped == 2
    await rec.flush()
    assert sorted(_counts(service)) == ["a", "b", "c"]
    rec.emit(pod("f"), "Normal", "R", "m")  # written again once the buffer has room
    await rec.flush()
    assert "f" in _counts(service) and rec.dropped == 2
    await rec.close()


async def test_close_stops_the_writers_and_emit_starts_them_again(service: ApiService) -> None:
    rec = EventRecorder(LocalClient(service, field_manager="s"), "sched", clock=FakeClock())
    rec.emit(pod("a"), "Normal", "R", "m")
    await rec.flush()
    await rec.close()
    assert rec._writers == []
    rec.emit(pod("b"), "Normal", "R", "m")
    await rec.flush()
    assert sorted(_counts(service)) == ["a", "b"]
    await rec.close()
