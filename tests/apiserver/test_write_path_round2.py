"""Round-2 write-path shortcuts keep their results: suffix draws, admission skipping, owned creates."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import deep_copy
from suanli.apiserver.admission import AdmissionChain, AdmissionRequest
from suanli.apiserver.context import RequestContext
from suanli.apiserver.service import _NAME_SUFFIX_ALPHABET, ApiService, name_suffix
from suanli.client.local import LocalClient
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.registry import Registry
from suanli.storage import Store

NOW = "2024-05-01T12:00:00Z"
EVENTS = GVR("", "v1", "events")
PODS = GVR("", "v1", "pods")


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


def test_every_alphabet_character_appears_at_every_suffix_position() -> None:
    suffixes = [name_suffix() for _ in range(3000)]
    for pos in range(5):
        assert {s[pos] for s in suffixes} == set(_NAME_SUFFIX_ALPHABET)


@dataclass
class Recorder:
    name: str
    resources: frozenset[str]
    seen: list[str] = field(default_factory=list)

    def mutate(self, request: AdmissionRequest) -> None:
        self.seen.append(request.resource.storage_key)
        request.warnings.append(f"{self.name} saw {request.name}")

    def validate(self, request: AdmissionRequest) -> None:
        self.seen.append(request.resource.storage_key)


@pytest.mark.parametrize(("mutating", "validating", "key", "applies"), [
    ([], [], "events", False),
    ([frozenset({"pods"})], [], "events", False),
    ([frozenset({"pods"})], [], "pods", True),
    ([], [frozenset({"pods"})], "pods", True),
    ([], [frozenset()], "events", True),
], ids=["empty chain applies to nothing", "a pods plug-in skips events", "a pods plug-in sees pods",
        "a validating plug-in counts", "an unrestricted plug-in sees everything"])
def test_chain_applies_exactly_when_a_plugin_would_run(mutating: list[frozenset[str]],
                                                       validating: list[frozenset[str]], key: str,
                                                       applies: bool) -> None:
    chain = AdmissionChain()
    for r in mutating:
        chain.add_mutating(Recorder("m", r))
    for r in validating:
        chain.add_validating(Recorder("v", r))
    assert chain.applies(key) is applies


async def test_plugins_run_only_for_their_resources_and_warnings_still_propagate(service: ApiService) -> None:
    pods_only, everything = Recorder("pods-only", frozenset({"pods"})), Recorder("all", frozenset())
    service.admission.add_mutating(pods_only)
    ctx = RequestContext(field_manager="t")
    ev = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1"}, "involvedObject": {"name": "p"}}
    await service.create(service.resource("", "v1", "events"), "ns", deep_copy(ev), ctx)
    assert pods_only.seen == [] and ctx.warnings == []
    service.admission.add_validating(everything)
    service.admission.add_mutating(everything)
    await service.create(service.resource("", "v1", "events"), "ns", {**deep_copy(ev), "metadata": {"name": "e2"}},
                         ctx)
    assert everything.seen == ["events", "events"] and ctx.warnings == ["all saw e2"]


def _stable(obj: dict[str, Any]) -> dict[str, Any]:
    out = deep_copy(obj)
    for k in ("uid", "resourceVersion", "name"):
        out["metadata"].pop(k, None)
    return out


BODIES = [
    (EVENTS, {"apiVersion": "v1", "kind": "Event", "metadata": {"generateName": "p.", "namespace": "ns"},
              "involvedObject": {"kind": "Pod", "name": "p", "namespace": "ns", "uid": "u"},
              "type": "Normal", "reason": "Scheduled", "message": "m", "source": {"component": "s"},
              "firstTimestamp": NOW, "lastTimestamp": NOW, "count": 1}),
    (PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "w-"},
            "spec": {"containers": [{"name": "c", "image": "img", "resources": {"limits": {"cpu": "1"}}}]},
            "status": {"phase": "Running"}}),
]


@pytest.mark.parametrize(("gvr", "body"), BODIES, ids=["an event", "a pod (defaulted, status reset)"])
async def test_owned_create_stores_what_a_copying_create_stores(service: ApiService, gvr: GVR,
                                                                body: dict[str, Any]) -> None:
    client = LocalClient(service, field_manager="t")
    copied_input = deep_copy(body)
    copied = await client.create(gvr, copied_input, "ns")
    owned = await client.create_owned(gvr, deep_copy(body), "ns")
    assert copied_input == body  # the copying create leaves the caller's object alone
    assert _stable(owned) == _stable(copied)
    assert list(owned) == list(copied) and list(owned["metadata"]) == list(copied["metadata"])


@pytest.mark.parametrize(("body", "code"), [
    ({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "Bad_Name"}, "involvedObject": {}}, 422),
    ({"apiVersion": "v1", "kind": "Event", "metadata": {}, "involvedObject": {}}, 422),
    ({"apiVersion": "v2", "kind": "Event", "metadata": {"name": "e"}}, 400),
], ids=["invalid name", "missing name", "wrong apiVersion"])
async def test_owned_create_fails_like_a_copying_create(service: ApiService, body: dict[str, Any],
                                                        code: int) -> None:
    client = LocalClient(service, field_manager="t")
    with pytest.raises(ApiError) as copied:
        await client.create(EVENTS, deep_copy(body), "ns")
    with pytest.raises(ApiError) as owned:
        await client.create_owned(EVENTS, deep_copy(body), "ns")
    assert copied.value.code == owned.value.code == code
    assert copied.value.status() == owned.value.status()
