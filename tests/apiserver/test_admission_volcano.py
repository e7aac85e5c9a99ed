"""Volcano admission plug-ins through the real API service (CRDs installed through the API)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.apiserver.admission_volcano import store_queue_lookup, volcano_admission
from suanli.apiserver.service import ApiService
from suanli.client.local import LocalClient
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.registry import Registry
from suanli.kinds.volcano import PODGROUPS, QUEUES, VCJOBS, default_queue, volcano_crds
from suanli.node.nfd.crds import ensure_crds
from suanli.storage import Store

NS = "default"
PODS = GVR("", "v1", "pods")


@pytest.fixture
async def client() -> AsyncIterator[LocalClient]:
    registry = Registry()
    registry.add_all(builtin_resource_types())
    store = Store(None, compaction_interval=0)
    await store.start()
    service = ApiService(store, registry)
    mutating, validating = volcano_admission(store_queue_lookup(store))
    for m in mutating:
        service.admission.add_mutating(m)
    for v in validating:
        service.admission.add_validating(v)
    c = LocalClient(service)
    await c.create(
        GVR("", "v1", "namespaces", namespaced=False),
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
    )
    await ensure_crds(c, volcano_crds())
    await c.create(QUEUES, default_queue())
    try:
        yield c
    finally:
        await service.drain_background()
        await store.stop()


def queue(name: str, **spec: Any) -> Obj:
    return {"apiVersion": "scheduling.volcano.sh/v1beta1", "kind": "Queue", "metadata": {"name": name}, "spec": spec}


def podgroup(name: str, **spec: Any) -> Obj:
    return {
        "apiVersion": "scheduling.volcano.sh/v1beta1",
        "kind": "PodGroup",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }


TEMPLATE = {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}


def vcjob(name: str, tasks: list[Obj] | None = None, **spec: Any) -> Obj:
    if tasks is None:
        tasks = [{"name": "worker", "replicas": 2, "template": TEMPLATE}]
    return {
        "apiVersion": "batch.volcano.sh/v1alpha1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"tasks": tasks, **spec},
    }


def pod(name: str, workload: str | None) -> Obj:
    ann = {"business.workload/type": workload} if workload is not None else {}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "annotations": ann},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }


async def rejected(c: LocalClient, gvr: GVR, obj: Obj) -> ApiError:
    with pytest.raises(ApiError) as info:
        await c.create(gvr, obj, NS if gvr.namespaced else "")
    assert info.value.code == 422, info.value
    return info.value


# -- Queue ------------------------------------------------------------------------------------

INVALID_QUEUES = [
    (queue("q", weight=-1), "spec.weight"),
    (queue("q", capability={"cpu": "-2"}), "spec.capability[cpu]"),
    (queue("q", capability={"cpu": "4"}, deserved={"cpu": "8"}), "spec.deserved[cpu]"),
    (
        queue("q", deserved={"nvidia.com/a100": 2}, guarantee={"resource": {"nvidia.com/a100": 3}}),
        "spec.guarantee.resource[nvidia.com/a100]",
    ),
    (queue("q", parent="q"), "spec.parent"),
    (queue("q", parent="missing"), "spec.parent"),
]


@pytest.mark.parametrize(
    ("obj", "field"),
    INVALID_QUEUES,
    ids=[
        "negative-weight",
        "negative-capability",
        "deserved-above-capability",
        "guarantee-above-deserved",
        "own-parent",
        "missing-parent",
    ],
)
async def test_invalid_queue_is_rejected_naming_the_field(client: LocalClient, obj: Obj, field: str) -> None:
    err = await rejected(client, QUEUES, obj)
    assert [c.field for c in err.causes] == [field]


async def test_queue_under_the_implicit_root_queue_is_accepted(client: LocalClient) -> None:
    """As Volcano's webhook: ``parent: root`` needs no lookup (``root`` is the top of every hierarchy)."""
    out = await client.create(QUEUES, queue("team-a", parent="root", deserved={"cpu": "2"}))
    assert out["spec"]["parent"] == "root"


async def test_queue_defaults_and_accepts_upstream_capacity_queue(client: LocalClient) -> None:
    q = queue(
        "gpu",
        deserved={"nvidia.com/a100": 4, "nvidia.com/v100": "2"},
        capability={"nvidia.com/a100": 8, "cpu": "64"},
        guarantee={"resource": {"nvidia.com/a100": 1}},
        parent="default",
        affinity={
            "nodeGroupAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": ["g1"],
                "preferredDuringSchedulingIgnoredDuringExecution": ["g2"],
            },
            "nodeGroupAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": ["g3"]},
        },
    )
    out = await client.create(QUEUES, q)
    assert out["spec"]["weight"] == 1
    assert out["spec"]["reclaimable"] is True
    assert out["spec"]["affinity"]["nodeGroupAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == ["g3"]


async def test_default_queue_cannot_be_deleted(client: LocalClient) -> None:
    with pytest.raises(ApiError) as info:
        await client.delete(QUEUES, "default")
    assert info.value.code == 422
    assert info.value.causes[0].field == "metadata.name"


@pytest.mark.parametrize(
    ("old", "new", "ok"),
    [("Open", "Closed", True), ("Closed", "Closing", False), ("Open", "Bogus", False)],
    ids=["open-to-closed-allowed", "closed-to-closing-refused", "unknown-state-refused"],
)
async def test_queue_state_transitions(client: LocalClient, old: str, new: str, ok: bool) -> None:
    await client.create(QUEUES, queue("q"))
    await client.patch(QUEUES, "q", {"status": {"state": old}}, subresource="status")
    if ok:
        out = await client.patch(QUEUES, "q", {"status": {"state": new}}, subresource="status")
        assert out["status"]["state"] == new
    else:
        with pytest.raises(ApiError) as info:
            await client.patch(QUEUES, "q", {"status": {"state": new}}, subresource="status")
        assert info.value.code == 422
        assert info.value.causes[0].field == "status.state"


# -- PodGroup ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        (podgroup("pg", minMember=-1), "spec.minMember"),
        (podgroup("pg", minMember=2, minTaskMember={"ps": -1}), "spec.minTaskMember[ps]"),
        (podgroup("pg", minMember=1, queue="nope"), "spec.queue"),
    ],
    ids=["negative-min-member", "negative-min-task-member", "unknown-queue"],
)
async def test_invalid_podgroup_is_rejected(client: LocalClient, obj: Obj, field: str) -> None:
    err = await rejected(client, PODGROUPS, obj)
    assert [c.field for c in err.causes] == [field]


async def test_podgroup_queue_defaults_to_default(client: LocalClient) -> None:
    out = await client.create(PODGROUPS, podgroup("pg", minMember=3, minResources={"cpu": "3", "memory": "1Gi"}))
    assert out["spec"]["queue"] == "default"


async def test_podgroup_in_closed_queue_is_rejected(client: LocalClient) -> None:
    await client.create(QUEUES, queue("closed"))
    await client.patch(QUEUES, "closed", {"status": {"state": "Closed"}}, subresource="status")
    err = await rejected(client, PODGROUPS, podgroup("pg", queue="closed"))
    assert err.causes[0].field == "spec.queue"
    assert "Closed" in err.causes[0].message


# -- Volcano Job ------------------------------------------------------------------------------


def task(name: str | None = "worker", replicas: int = 2, **extra: Any) -> Obj:
    t: Obj = {"replicas": replicas, "template": TEMPLATE, **extra}
    if name is not None:
        t["name"] = name
    return t


INVALID_JOBS = [
    (vcjob("j", [task(replicas=-1)]), "spec.tasks[0].replicas"),
    (vcjob("j", [task(replicas=2, minAvailable=3)]), "spec.tasks[0].minAvailable"),
    (vcjob("j", [task("Bad_Name")]), "spec.tasks[0].name"),
    (vcjob("j", [task("a"), task("a")]), "spec.tasks[1].name"),
    (vcjob("j", [task(replicas=2)], minAvailable=5), "spec.minAvailable"),
    (vcjob("j", minAvailable=-1), "spec.minAvailable"),
    (vcjob("j", maxRetry=-2), "spec.maxRetry"),
    (vcjob("j", []), "spec.tasks"),
    (vcjob("j", policies=[{"event": "PodExploded", "action": "RestartJob"}]), "spec.policies[0].event"),
    (vcjob("j", policies=[{"event": "PodFailed", "action": "Reboot"}]), "spec.policies[0].action"),
    (vcjob("j", policies=[{"exitCode": 0, "action": "AbortJob"}]), "spec.policies[0].exitCode"),
    (vcjob("j", policies=[{"event": "PodFailed", "exitCode": 3, "action": "AbortJob"}]), "spec.policies[0]"),
    (vcjob("j", policies=[{"action": "AbortJob"}]), "spec.policies[0]"),
    (
        vcjob(
            "j", [task(policies=[{"event": "*", "action": "AbortJob"}, {"event": "PodFailed", "action": "RestartJob"}])]
        ),
        "spec.tasks[0].policies",
    ),
    (vcjob("j", queue="nope"), "spec.queue"),
    (vcjob("j", volumes=[{"mountPath": "/d"}, {"mountPath": "/d"}]), "spec.volumes[1].mountPath"),
    (
        vcjob("j", [task(template={"metadata": {"annotations": {"business.workload/type": "x"}}, **TEMPLATE})]),
        "spec.tasks[0].template.metadata.annotations[business.workload/type]",
    ),
]


@pytest.mark.parametrize(
    ("obj", "field"),
    INVALID_JOBS,
    ids=[
        "negative-replicas",
        "task-min-above-replicas",
        "task-name-not-dns-label",
        "duplicate-task-name",
        "min-available-above-total-replicas",
        "negative-min-available",
        "negative-max-retry",
        "no-tasks",
        "unknown-policy-event",
        "unknown-policy-action",
        "zero-exit-code",
        "event-and-exit-code",
        "neither-event-nor-exit-code",
        "star-with-other-events",
        "unknown-queue",
        "duplicate-mount-path",
        "bad-workload-type-in-template",
    ],
)
async def test_invalid_job_is_rejected_naming_the_field(client: LocalClient, obj: Obj, field: str) -> None:
    err = await rejected(client, VCJOBS, obj)
    assert field in [c.field for c in err.causes], err.causes
    assert err.message.startswith('Job.batch.volcano.sh "j" is invalid')


async def test_job_defaults_follow_volcano(client: LocalClient) -> None:
    out = await client.create(VCJOBS, vcjob("j", [task(None, 2), task(None, 3, minAvailable=1)]))
    spec = out["spec"]
    assert (spec["queue"], spec["schedulerName"], spec["maxRetry"]) == ("default", "volcano", 3)
    assert [t["name"] for t in spec["tasks"]] == ["default0", "default1"]
    assert [t["minAvailable"] for t in spec["tasks"]] == [2, 1]
    assert spec["minAvailable"] == 3


async def test_job_keeps_explicit_values_and_upstream_fields(client: LocalClient) -> None:
    obj = vcjob(
        "j",
        [
            task("ps", 1),
            task("worker", 4, minAvailable=2, policies=[{"event": "TaskCompleted", "action": "CompleteJob"}]),
        ],
        minAvailable=3,
        maxRetry=5,
        schedulerName="suanli",
        plugins={"svc": [], "env": [], "ssh": []},
        ttlSecondsAfterFinished=60,
        policies=[
            {"events": ["PodEvicted", "PodFailed"], "action": "RestartJob"},
            {"exitCode": 137, "action": "AbortJob"},
        ],
    )
    out = await client.create(VCJOBS, obj)
    assert (out["spec"]["minAvailable"], out["spec"]["maxRetry"], out["spec"]["schedulerName"]) == (3, 5, "suanli")
    assert out["spec"]["plugins"] == {"svc": [], "env": [], "ssh": []}


@pytest.mark.parametrize(
    ("patch", "ok"),
    [
        ({"spec": {"minAvailable": 1}}, True),
        ({"spec": {"tasks": [task("worker", 3)]}}, True),
        ({"spec": {"queue": "other"}}, False),
        ({"spec": {"tasks": [task("worker", 2), task("ps", 1)]}}, False),
    ],
    ids=["min-available-may-change", "replicas-may-change", "queue-is-frozen", "tasks-cannot-be-added"],
)
async def test_job_update_rules(client: LocalClient, patch: Obj, ok: bool) -> None:
    await client.create(QUEUES, queue("other"))
    await client.create(VCJOBS, vcjob("j"))
    if ok:
        await client.patch(VCJOBS, "j", patch, NS)
    else:
        with pytest.raises(ApiError) as info:
            await client.patch(VCJOBS, "j", patch, NS)
        assert info.value.code == 422
        assert info.value.causes[0].field in ("spec", "spec.tasks")


# -- pods -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "workload",
    ["io-intensive", "memory-sensitive", "compute-intensive", None],
    ids=["io-intensive", "memory-sensitive", "compute-intensive", "no-annotation"],
)
async def test_valid_workload_types_are_admitted(client: LocalClient, workload: str | None) -> None:
    out = await client.create(PODS, pod("p", workload), NS)
    assert out["metadata"]["name"] == "p"


async def test_invalid_workload_type_lists_the_valid_values(client: LocalClient) -> None:
    err = await rejected(client, PODS, pod("p", "gpu-hungry"))
    assert err.causes[0].field == "metadata.annotations[business.workload/type]"
    for valid in ("io-intensive", "memory-sensitive", "compute-intensive"):
        assert valid in err.message
    assert '"gpu-hungry"' in err.message


async def test_changing_workload_type_to_invalid_is_rejected(client: LocalClient) -> None:
    await client.create(PODS, pod("p", "io-intensive"), NS)
    with pytest.raises(ApiError) as info:
        await client.patch(PODS, "p", {"metadata": {"annotations": {"business.workload/type": "fast"}}}, NS)
    assert info.value.code == 422


# -- shipped examples -------------------------------------------------------------------------

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "volcano"
_GVRS = {"Queue": QUEUES, "PodGroup": PODGROUPS, "Job": VCJOBS}


async def test_example_manifests_are_admitted_unchanged(client: LocalClient) -> None:
    docs = [d for f in sorted(EXAMPLES.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]
    docs.sort(key=lambda d: d["kind"] != "Queue")  # queues first: jobs name them
    assert {d["kind"] for d in docs} == {"Queue", "Job"}
    for doc in docs:
        gvr = _GVRS[doc["kind"]]
        out = await client.create(gvr, doc, NS if gvr.namespaced else "")
        for key, value in doc["spec"].items():
            if key != "tasks":
                assert out["spec"][key] == value, key
