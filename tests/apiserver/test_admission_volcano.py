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
from suanli.apiserver.admission import AdmissionRequest
from suanli.apiserver.admission_volcano import (
    CommandWarnings,
    QueueValidation,
    store_queue_children,
    store_queue_lookup,
    unsupported_job_fields,
    volcano_admission,
)
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
    mutating, validating = volcano_admission(store_queue_lookup(store), store_queue_children(store))
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


# Upstream validate_queue_test.go (DELETE cases) and validateQueueDeleting.
@pytest.mark.parametrize(
    ("name", "state", "error"),
    [
        ("default", None, "`default` queue can not be deleted"),
        ("root", None, "`root` queue can not be deleted"),
        ("open-state-for-delete", "Open", None),
        ("closed-state-for-delete", "Closed", None),
        ("queue-with-child-queues", "Open", "queue queue-with-child-queues can not be deleted because it has 1 "
                                            "child queues: child-queue"),
    ],
    ids=["default-refused", "root-refused", "open-queue-deleted", "closed-queue-deleted", "parent-of-a-child-refused"],
)
async def test_queue_deletion(client: LocalClient, name: str, state: str | None, error: str | None) -> None:
    if name != "default":
        await client.create(QUEUES, queue(name))
    if state:
        await client.patch(QUEUES, name, {"status": {"state": state}}, subresource="status")
    if name == "queue-with-child-queues":
        await client.create(QUEUES, queue("child-queue", parent=name))
    if error is None:
        await client.delete(QUEUES, name)
        with pytest.raises(ApiError) as gone:
            await client.get(QUEUES, name)
        assert gone.value.code == 404
        return
    with pytest.raises(ApiError) as info:
        await client.delete(QUEUES, name)
    assert info.value.code == 400
    assert info.value.message == f'admission webhook "validatequeue.volcano.sh" denied the request: {error}'
    assert (await client.get(QUEUES, name))["metadata"]["name"] == name


def test_queue_with_allocated_pods_is_kept_only_when_the_check_is_on() -> None:
    q = queue("queue-with-jobs")
    q["status"] = {"allocated": {"pods": "1"}}
    registry = Registry()
    registry.add_all(builtin_resource_types())
    rt = registry.get("", "v1", "pods")
    assert rt is not None
    req = AdmissionRequest("DELETE", rt, "", "queue-with-jobs", None, q)
    on = QueueValidation(lambda n: q, lambda n: [], allocated_pods_check=True)
    with pytest.raises(ApiError) as info:
        on.validate(req)
    assert info.value.message.endswith("queue queue-with-jobs cannot be deleted because it has allocated Pods: 1")
    QueueValidation(lambda n: q, lambda n: []).validate(req)  # off by default, as upstream


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


# -- Job plugins, dependsOn, timeouts and warnings ------------------------------------------------


def _job(**spec: Any) -> Obj:
    tasks = spec.pop("tasks", None) or [
        {"name": "a", "replicas": 1, "template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}
    ]
    return {"apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job", "metadata": {"name": "j", "namespace": NS},
            "spec": {"tasks": tasks, **spec}}


def _task(name: str, **extra: Any) -> Obj:
    return {"name": name, "replicas": 1, "template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}, **extra}


@pytest.mark.parametrize(
    ("spec", "field", "text"),
    [
        ({"plugins": {"bogus": []}}, "spec.plugins[bogus]", "unable to find job plugin: bogus"),
        ({"tasks": [_task("a", dependsOn={"name": ["b"]}), _task("b", dependsOn={"name": ["a"]})]},
         "spec.tasks", "doesn't form a directed acyclic graph(DAG)"),
        ({"tasks": [_task("a", dependsOn={"name": ["missing"]})]},
         "spec.tasks", "doesn't form a directed acyclic graph(DAG)"),
        ({"tasks": [_task("a"), _task("b", dependsOn={"name": ["a"], "iteration": "some"})]},
         "spec.tasks[1].dependsOn.iteration", "Unsupported value"),
        ({"policies": [{"event": "PodPending", "action": "AbortJob", "timeout": "soon"}]},
         "spec.policies[0].timeout", "must be a duration"),
    ],
    ids=["unknown-plugin", "dependency-cycle", "dependency-on-missing-task", "bad-iteration", "bad-timeout"],
)
async def test_job_admission_refuses(client: LocalClient, spec: Obj, field: str, text: str) -> None:
    with pytest.raises(ApiError) as info:
        await client.create(VCJOBS, _job(**spec), NS)
    assert info.value.code == 422
    assert any(c.field == field and text in c.message for c in info.value.causes), info.value.causes


async def test_job_admission_accepts_a_dependency_chain(client: LocalClient) -> None:
    tasks = [_task("a"), _task("b", dependsOn={"name": ["a"]}), _task("c", dependsOn={"name": ["a", "b"],
                                                                                        "iteration": "any"})]
    out = await client.create(VCJOBS, _job(tasks=tasks), NS)
    assert out["spec"]["tasks"][2]["dependsOn"] == {"name": ["a", "b"], "iteration": "any"}


@pytest.mark.parametrize(
    ("plugins", "want"),
    [
        ({"mpi": []}, {"mpi": [], "svc": [], "ssh": []}),
        ({"pytorch": ["--master=m"]}, {"pytorch": ["--master=m"], "svc": []}),
        ({"tensorflow": [], "svc": ["--disable-network-policy"]},
         {"tensorflow": [], "svc": ["--disable-network-policy"]}),
        ({"env": []}, {"env": []}),
    ],
    ids=["mpi-adds-svc-and-ssh", "pytorch-adds-svc", "existing-svc-kept", "env-alone"],
)
async def test_default_plugins(client: LocalClient, plugins: Obj, want: Obj) -> None:
    out = await client.create(VCJOBS, _job(plugins=plugins), NS)
    assert out["spec"]["plugins"] == want


@pytest.mark.parametrize(
    ("spec", "warnings"),
    [
        ({"plugins": {"env": [], "svc": ["--disable-network-policy"], "ssh": []}}, []),
        ({"plugins": {"svc": []}},
         ["spec.plugins[svc]: no NetworkPolicy is created (Suanli does not serve networking.k8s.io)"]),
        ({"plugins": {"ray": []}}, ["spec.plugins[ray]: the ray plugin is not supported by Suanli and is ignored"]),
        ({"plugins": {"ssh": ["--no-root"]}},
         ["spec.plugins[ssh]: flag provided but not defined: -no-root (this and later arguments are ignored)"]),
        ({"volumes": [{"mountPath": "/data"}]},
         ["spec.volumes: volumes are not supported by Suanli (no PersistentVolumeClaims are created)"]),
        ({"policies": [{"event": "PodRunning", "action": "AbortJob"}]},
         ["spec.policies[0]: the PodRunning event is not supported by Suanli; the policy never fires"]),
    ],
    ids=["supported-plugins-no-warning", "svc-network-policy", "unsupported-plugin", "removed-ssh-flag",
         "volumes", "pod-running-policy"],
)
def test_unsupported_job_fields(spec: Obj, warnings: list[str]) -> None:
    assert unsupported_job_fields(_job(**spec)["spec"]) == warnings


@pytest.mark.parametrize(
    ("target", "action", "warnings"),
    [
        ({"apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job"}, "AbortJob", []),
        ({"apiVersion": "scheduling.volcano.sh/v1beta1", "kind": "Queue"}, "CloseQueue", []),
        ({"apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job"}, "CloseQueue",
         ['action: "CloseQueue" is not a job action; the Command is deleted without effect']),
        ({"apiVersion": "scheduling.volcano.sh/v1beta1", "kind": "Queue"}, "AbortJob",
         ['action: "AbortJob" is not a queue action; the Command is deleted without effect']),
        ({"apiVersion": "apps/v1", "kind": "Deployment"}, "AbortJob",
         ["target: Commands for apps/v1/Deployment are not executed by Suanli (only Volcano Jobs and Queues)"]),
    ],
    ids=["job-command-silent", "queue-command-silent", "unknown-job-action-warned", "unknown-queue-action-warned",
         "other-target-warned"],
)
def test_command_warnings(target: Obj, action: str, warnings: list[str]) -> None:
    registry = Registry()
    registry.add_all(builtin_resource_types())
    rt = registry.get("", "v1", "pods")
    assert rt is not None
    cmd = {"apiVersion": "bus.volcano.sh/v1alpha1", "kind": "Command", "metadata": {"name": "c"},
           "target": {**target, "name": "x", "uid": "u"}, "action": action}
    req = AdmissionRequest("CREATE", rt, NS, "c", cmd, None)
    CommandWarnings().validate(req)
    assert req.warnings == warnings
