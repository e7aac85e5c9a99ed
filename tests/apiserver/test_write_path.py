"""The API write path's cheap shortcuts keep its results: uids, generated names, binds."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import deep_copy
from suanli.apiserver.context import RequestContext
from suanli.apiserver.service import ApiService, name_suffix, new_uid
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.registry import Registry
from suanli.storage import Store

NOW = "2024-05-01T12:00:00Z"


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


def pod(name: str, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **meta},
            "spec": {"containers": [{"name": "c", "image": "img",
                                     "resources": {"requests": {"cpu": "100m", "memory": "500Mi"}}}]}}


def test_uids_are_canonical_version_4_and_distinct() -> None:
    uids = [new_uid() for _ in range(2000)]
    assert len(set(uids)) == len(uids)
    for u in uids[:200]:
        parsed = uuid.UUID(u)
        assert str(parsed) == u and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_name_suffixes_use_the_upstream_alphabet() -> None:
    suffixes = {name_suffix() for _ in range(500)}
    assert all(re.fullmatch(r"[bcdfghjklmnpqrstvwxz2456789]{5}", s) for s in suffixes)
    assert len(suffixes) > 490  # 27^5 possibilities: collisions among 500 are rare


async def test_created_objects_get_uids_and_generated_names(service: ApiService) -> None:
    pods = service.resource("", "v1", "pods")
    created = [await service.create(pods, "ns", pod("", generateName="web-"), RequestContext(field_manager="t"))
               for _ in range(50)]
    names = [p["metadata"]["name"] for p in created]
    assert all(re.fullmatch(r"web-[bcdfghjklmnpqrstvwxz2456789]{5}", n) for n in names)
    assert len(set(names)) == 50
    assert len({p["metadata"]["uid"] for p in created}) == 50
    assert created[0]["metadata"]["creationTimestamp"] == NOW
    assert created[0]["metadata"]["managedFields"] == [{
        "manager": "t", "operation": "Update", "apiVersion": "v1", "time": NOW, "fieldsType": "FieldsV1",
        "fieldsV1": {"f:metadata": {"f:generateName": {}}, "f:spec": {
            "f:containers": {'k:{"name":"c"}': {
                ".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {},
                "f:resources": {"f:requests": {"f:cpu": {}, "f:memory": {}}},
                "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}}},
            "f:dnsPolicy": {}, "f:enableServiceLinks": {}, "f:preemptionPolicy": {}, "f:priority": {},
            "f:restartPolicy": {}, "f:schedulerName": {}, "f:securityContext": {},
            "f:terminationGracePeriodSeconds": {}}},
    }]


def expected_bind(old: dict[str, Any], node: str, annotations: dict[str, str] | None, rv: str) -> dict[str, Any]:
    """The bound pod as a full copy-and-edit computes it (the general form of the shortcut)."""
    new = deep_copy(old)
    new.setdefault("spec", {})["nodeName"] = node
    status = new.setdefault("status", {})
    conds = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
    conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": NOW})
    status["conditions"] = conds
    if annotations:
        new["metadata"].setdefault("annotations", {}).update(annotations)
    new["metadata"]["resourceVersion"] = rv
    return new


@pytest.mark.parametrize(("meta", "annotations", "conditions"), [
    ({}, None, None),
    ({"annotations": {"a": "1"}}, {"b": "2"}, None),
    ({}, {"b": "2"}, None),
    ({}, None, [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"},
                {"type": "Ready", "status": "False"}]),
], ids=["a plain bind", "binding annotations merge into existing ones", "binding annotations on a pod without any",
        "an earlier PodScheduled condition is replaced, others kept"])
async def test_bind_result_equals_copy_and_edit_and_leaves_the_old_object_alone(
        service: ApiService, meta: dict[str, Any], annotations: dict[str, str] | None,
        conditions: list[dict[str, Any]] | None) -> None:
    pods = service.resource("", "v1", "pods")
    await service.create(pods, "ns", pod("p", **meta))
    if conditions is not None:
        current = service.get(pods, "ns", "p").obj
        body = deep_copy(current)
        body["status"] = {"conditions": conditions}
        await service.update(pods, "ns", "p", body, subresource="status")
    old = service.get(pods, "ns", "p")
    snapshot = deep_copy(old.obj)
    binding: dict[str, Any] = {"metadata": {"name": "p"}, "target": {"kind": "Node", "name": "n1"}}
    if annotations:
        binding["metadata"]["annotations"] = annotations
    await service.bind("ns", "p", binding)
    bound = service.get(pods, "ns", "p")
    assert bound.obj == expected_bind(snapshot, "n1", annotations, str(bound.rv))
    assert old.obj == snapshot  # the previous stored version is unchanged


async def test_bind_twice_is_a_conflict(service: ApiService) -> None:
    pods = service.resource("", "v1", "pods")
    await service.create(pods, "ns", pod("p"))
    await service.bind("ns", "p", {"target": {"name": "n1"}})
    with pytest.raises(ApiError) as err:
        await service.bind("ns", "p", {"target": {"name": "n2"}})
    assert err.value.code == 409
    assert 'already assigned to node "n1"' in err.value.message
