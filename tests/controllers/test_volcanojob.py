"""Volcano Job controller against the real in-process API stack (tests play scheduler and kubelet)."""

from __future__ import annotations

import time
from fractions import Fraction
from typing import Any

import pytest

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.apiserver.admission_volcano import store_queue_lookup, volcano_admission
from suanli.controllers._pods import PODS
from suanli.controllers.volcanojob import (
    JobEvent,
    Task,
    VolcanoJobController,
    derive_events,
    min_resources,
    policy_action,
)
from suanli.kinds.volcano import COMMANDS, PODGROUPS, QUEUES, VCJOBS, default_queue, volcano_crds
from suanli.node.nfd.crds import ensure_crds
from suanli.runtime.clock import FakeClock
from tests.controllers.conftest import Api, eventually, running

NS = "default"


@pytest.fixture
async def vapi(api: Api) -> Api:
    mutating, validating = volcano_admission(store_queue_lookup(api.store))
    for m in mutating:
        api.service.admission.add_mutating(m)
    for v in validating:
        api.service.admission.add_validating(v)
    await ensure_crds(api.client, volcano_crds())
    await api.client.create(QUEUES, default_queue())
    return api


def template(cpu: str = "1", **labels: str) -> Obj:
    return {
        "metadata": {"labels": labels},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": cpu}}}],
        },
    }


def vcjob(name: str, tasks: list[Obj], **spec: Any) -> Obj:
    return {
        "apiVersion": "batch.volcano.sh/v1alpha1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"tasks": tasks, **spec},
    }


def task(name: str, replicas: int, **extra: Any) -> Obj:
    return {"name": name, "replicas": replicas, "template": template(), **extra}


async def job_pods(api: Api, name: str) -> list[Obj]:
    items = (await api.client.list(PODS, NS, label_selector=f"volcano.sh/job-name={name}"))["items"]
    return sorted(items, key=lambda p: p["metadata"]["name"])


async def live_pods(api: Api, name: str) -> list[Obj]:
    return [p for p in await job_pods(api, name) if not p["metadata"].get("deletionTimestamp")]


async def state(api: Api, name: str) -> Obj:
    return (await api.client.get(VCJOBS, name, NS)).get("status") or {}


async def phase_is(api: Api, name: str, phase: str) -> Obj | None:
    st = await state(api, name)
    return st if (st.get("state") or {}).get("phase") == phase else None


async def set_phase(api: Api, pod: Obj, phase: str, exit_code: int | None = None) -> None:
    status: Obj = {"phase": phase}
    if exit_code is not None:
        status["containerStatuses"] = [
            {
                "name": "c",
                "ready": False,
                "restartCount": 0,
                "image": "busybox",
                "imageID": "",
                "state": {"terminated": {"exitCode": exit_code}},
            }
        ]
    await api.client.patch(PODS, pod["metadata"]["name"], {"status": status}, NS, subresource="status")


async def wait_pods(api: Api, name: str, count: int, version: int | None = None) -> list[Obj]:
    async def check() -> list[Obj] | None:
        pods = await live_pods(api, name)
        if len(pods) != count:
            return None
        if version is not None and any(
            p["metadata"]["annotations"]["volcano.sh/job-version"] != str(version) for p in pods
        ):
            return None
        return pods

    return await eventually(check, what=f"{count} pods of {name} (version {version})")


async def pg_of(api: Api, job: Obj) -> Obj | None:
    try:
        return await api.client.get(PODGROUPS, f"{job['metadata']['name']}-{job['metadata']['uid']}", NS)
    except ApiError as err:
        if err.code == 404:
            return None
        raise


# -- names, labels, annotations, PodGroup -----------------------------------------------------


async def test_podgroup_first_then_pods_once_enqueued(vapi: Api) -> None:
    client = vapi.client
    async with running(VolcanoJobController(client)):
        job = await client.create(
            VCJOBS,
            vcjob(
                "train",
                [task("ps", 1), {**task("worker", 3, minAvailable=2), "template": template("2", app="w")}],
                priorityClassName="high",
                plugins={"env": [], "svc": []},
            ),
            NS,
        )
        pg = await eventually(lambda: pg_of(vapi, job), what="podgroup")
        assert pg["metadata"]["name"] == f"train-{job['metadata']['uid']}"
        assert pg["spec"]["minMember"] == 3
        assert pg["spec"]["minTaskMember"] == {"ps": 1, "worker": 2}
        assert pg["spec"]["queue"] == "default"
        assert pg["spec"]["priorityClassName"] == "high"
        assert pg["spec"]["minResources"] == {"cpu": "5"}  # ps 1 CPU + 2 workers * 2 CPU
        assert pg["metadata"]["ownerReferences"][0]["uid"] == job["metadata"]["uid"]
        st = await eventually(lambda: phase_is(vapi, "train", "Pending"), what="Pending")
        assert st["minAvailable"] == 3
        assert await job_pods(vapi, "train") == []  # the scheduler has not enqueued the group yet

        await client.patch(
            PODGROUPS, pg["metadata"]["name"], {"status": {"phase": "Inqueue"}}, NS, subresource="status"
        )
        pods = await wait_pods(vapi, "train", 4)
    assert [p["metadata"]["name"] for p in pods] == ["train-ps-0", "train-worker-0", "train-worker-1", "train-worker-2"]
    w1 = pods[2]
    m = w1["metadata"]
    assert m["annotations"]["scheduling.k8s.io/group-name"] == pg["metadata"]["name"]
    assert {
        k: m["annotations"][k]
        for k in (
            "volcano.sh/job-name",
            "volcano.sh/task-spec",
            "volcano.sh/job-version",
            "volcano.sh/queue-name",
            "volcano.sh/task-index",
        )
    } == {
        "volcano.sh/job-name": "train",
        "volcano.sh/task-spec": "worker",
        "volcano.sh/job-version": "0",
        "volcano.sh/queue-name": "default",
        "volcano.sh/task-index": "1",
    }
    assert {
        k: m["labels"][k]
        for k in (
            "volcano.sh/job-name",
            "volcano.sh/job-namespace",
            "volcano.sh/queue-name",
            "volcano.sh/task-spec",
            "app",
        )
    } == {
        "volcano.sh/job-name": "train",
        "volcano.sh/job-namespace": NS,
        "volcano.sh/queue-name": "default",
        "volcano.sh/task-spec": "worker",
        "app": "w",
    }
    assert m["ownerReferences"][0]["kind"] == "Job" and m["ownerReferences"][0]["controller"] is True
    assert w1["spec"]["schedulerName"] == "volcano"
    assert w1["spec"]["priorityClassName"] == "high"
    assert {"name": "VC_TASK_INDEX", "value": "1"} in w1["spec"]["containers"][0]["env"]
    assert (w1["spec"]["hostname"], w1["spec"]["subdomain"]) == ("train-worker-1", "train")


# -- phases -----------------------------------------------------------------------------------


async def test_phases_follow_pods_to_completion(vapi: Api) -> None:
    client = vapi.client
    async with running(VolcanoJobController(client, wait_for_enqueue=False)):
        job = await client.create(VCJOBS, vcjob("j", [task("a", 2), task("b", 1)]), NS)
        pods = await wait_pods(vapi, "j", 3)
        st = await eventually(lambda: phase_is(vapi, "j", "Pending"), what="Pending with counts")
        await eventually(lambda: _counts(vapi, "j", pending=3))
        for p in pods[:2]:
            await set_phase(vapi, p, "Running")
        await eventually(lambda: _counts(vapi, "j", running=2, pending=1))
        assert (await state(vapi, "j"))["state"]["phase"] == "Pending"  # 2 < minAvailable 3
        await set_phase(vapi, pods[2], "Running")
        st = await eventually(lambda: phase_is(vapi, "j", "Running"), what="Running")
        for p in pods:
            await set_phase(vapi, p, "Succeeded")
        st = await eventually(lambda: phase_is(vapi, "j", "Completed"), what="Completed")
        assert st["succeeded"] == 3
        assert st["taskStatusCount"] == {"a": {"phase": {"Succeeded": 2}}, "b": {"phase": {"Succeeded": 1}}}
        assert [c["status"] for c in st["conditions"]] == ["Pending", "Running", "Completed"]
        assert st["state"]["lastTransitionTime"] == st["conditions"][-1]["lastTransitionTime"]
        await eventually(lambda: _none(pg_of(vapi, job)), what="podgroup removed when finished")


async def test_unhandled_failure_runs_on_and_fails_the_job(vapi: Api) -> None:
    client = vapi.client
    async with running(VolcanoJobController(client, wait_for_enqueue=False)):
        await client.create(VCJOBS, vcjob("j", [task("a", 2)]), NS)
        pods = await wait_pods(vapi, "j", 2)
        for p in pods:
            await set_phase(vapi, p, "Running")
        await eventually(lambda: phase_is(vapi, "j", "Running"))
        await set_phase(vapi, pods[0], "Failed", exit_code=1)
        await eventually(lambda: _counts(vapi, "j", running=1, failed=1))
        await set_phase(vapi, pods[1], "Succeeded")
        st = await eventually(lambda: phase_is(vapi, "j", "Failed"), what="Failed")
    assert st["retryCount"] == 0
    assert len(await job_pods(vapi, "j")) == 2  # finished pods are kept


# -- policies ---------------------------------------------------------------------------------


async def test_pod_failed_restarts_until_max_retry_then_fails(vapi: Api) -> None:
    client = vapi.client
    async with running(VolcanoJobController(client, wait_for_enqueue=False)):
        await client.create(
            VCJOBS,
            vcjob("j", [task("a", 2)], maxRetry=2, policies=[{"event": "PodFailed", "action": "RestartJob"}]),
            NS,
        )
        pods = await wait_pods(vapi, "j", 2, version=0)
        await set_phase(vapi, pods[0], "Failed")
        st = await eventually(lambda: _retry(vapi, "j", 1), what="first restart")
        assert st["version"] == 1
        pods = await wait_pods(vapi, "j", 2, version=1)
        assert (await state(vapi, "j"))["state"]["phase"] == "Pending"
        await set_phase(vapi, pods[1], "Failed")
        st = await eventually(lambda: phase_is(vapi, "j", "Failed"), what="Failed after maxRetry")
    assert st["retryCount"] == 2
    assert st["state"]["reason"] == "MaxRetryExceeded"
    assert "Restarting" in [c["status"] for c in st["conditions"]]


async def test_first_matching_policy_wins(vapi: Api) -> None:
    client = vapi.client
    async with running(VolcanoJobController(client, wait_for_enqueue=False)):
        await client.create(
            VCJOBS,
            vcjob(
                "j",
                [task("a", 3)],
                policies=[{"event": "PodFailed", "action": "RestartJob"}, {"exitCode": 137, "action": "AbortJob"}],
            ),
            NS,
        )
        pods = await wait_pods(vapi, "j", 3)
        await set_phase(vapi, pods[1], "Failed", exit_code=137)
        st = await eventually(lambda: _retry(vapi, "j", 1), what="restart")
    assert "Aborting" not in [c["status"] for c in st["conditions"]]


async def test_abort_job_kills_running_pods_and_keeps_finished(vapi: Api) -> None:
    client = vapi.client
    async with running(VolcanoJobController(client, wait_for_enqueue=False)):
        await client.create(VCJOBS, vcjob("j", [task("a", 3)], policies=[{"exitCode": 3, "action": "AbortJob"}]), NS)
        pods = await wait_pods(vapi, "j", 3)
        for p in pods:
            await set_phase(vapi, p, "Running")
        await eventually(lambda: phase_is(vapi, "j", "Running"))
        await set_phase(vapi, pods[0], "Succeeded")
        await set_phase(vapi, pods[1], "Failed", exit_code=3)
        st = await eventually(lambda: phase_is(vapi, "j", "Aborted"), what="Aborted")
        remaining = await job_pods(vapi, "j")
    assert [p["metadata"]["name"] for p in remaining] == ["j-a-0", "j-a-1"]
    assert st["state"]["reason"] == "AbortJob"
    assert [c["status"] for c in st["conditions"]][-2:] == ["Aborting", "Aborted"]


async def test_task_completed_completes_the_job(vapi: Api) -> None:
    client = vapi.client
    async with running(VolcanoJobController(client, wait_for_enqueue=False)):
        await client.create(
            VCJOBS,
            vcjob(
                "j",
                [task("master", 1, policies=[{"event": "TaskCompleted", "action": "CompleteJob"}]), task("worker", 2)],
            ),
            NS,
        )
        pods = await wait_pods(vapi, "j", 3)
        for p in pods:
            await set_phase(vapi, p, "Running")
        await eventually(lambda: phase_is(vapi, "j", "Running"))
        master = next(p for p in pods if p["metadata"]["name"] == "j-master-0")
        await set_phase(vapi, master, "Succeeded")
        st = await eventually(lambda: phase_is(vapi, "j", "Completed"), what="Completed")
        remaining = await job_pods(vapi, "j")
    assert [p["metadata"]["name"] for p in remaining] == ["j-master-0"]  # running workers were killed
    assert [c["status"] for c in st["conditions"]][-2:] == ["Completing", "Completed"]


async def test_evicted_pod_restarts_the_job(vapi: Api) -> None:
    client = vapi.client
    async with running(VolcanoJobController(client, wait_for_enqueue=False)):
        await client.create(
            VCJOBS, vcjob("j", [task("a", 2)], policies=[{"event": "PodEvicted", "action": "RestartJob"}]), NS
        )
        pods = await wait_pods(vapi, "j", 2, version=0)
        await client.delete(PODS, pods[0]["metadata"]["name"], NS)
        st = await eventually(lambda: _retry(vapi, "j", 1), what="restart after eviction")
        assert st["version"] == 1
        await wait_pods(vapi, "j", 2, version=1)


async def test_deleted_pod_without_policy_is_recreated(vapi: Api) -> None:
    client = vapi.client
    async with running(VolcanoJobController(client, wait_for_enqueue=False)):
        await client.create(VCJOBS, vcjob("j", [task("a", 2)]), NS)
        pods = await wait_pods(vapi, "j", 2)
        await client.delete(PODS, pods[0]["metadata"]["name"], NS)

        async def replaced() -> bool:
            now = await live_pods(vapi, "j")
            return len(now) == 2 and now[0]["metadata"]["uid"] != pods[0]["metadata"]["uid"]

        await eventually(replaced, what="replacement pod")
    assert (await state(vapi, "j"))["retryCount"] == 0


async def test_restart_waits_for_the_new_podgroup_to_be_enqueued(vapi: Api) -> None:
    client = vapi.client
    async with running(VolcanoJobController(client)):
        job = await client.create(
            VCJOBS, vcjob("j", [task("a", 2)], policies=[{"event": "PodFailed", "action": "RestartJob"}]), NS
        )
        pg = await eventually(lambda: pg_of(vapi, job))
        await client.patch(
            PODGROUPS, pg["metadata"]["name"], {"status": {"phase": "Inqueue"}}, NS, subresource="status"
        )
        pods = await wait_pods(vapi, "j", 2)
        await set_phase(vapi, pods[0], "Failed")
        await eventually(lambda: _retry(vapi, "j", 1))

        async def fresh_group() -> Obj | None:
            new = await pg_of(vapi, job)
            return new if new is not None and new["metadata"]["uid"] != pg["metadata"]["uid"] else None

        new_pg = await eventually(fresh_group, what="a new podgroup")
        await eventually(lambda: phase_is(vapi, "j", "Pending"))
        assert await live_pods(vapi, "j") == []
        await client.patch(
            PODGROUPS, new_pg["metadata"]["name"], {"status": {"phase": "Inqueue"}}, NS, subresource="status"
        )
        await wait_pods(vapi, "j", 2, version=1)


async def test_scaling_replicas_adds_and_removes_pods(vapi: Api) -> None:
    client = vapi.client
    async with running(VolcanoJobController(client, wait_for_enqueue=False)):
        job = await client.create(VCJOBS, vcjob("j", [task("a", 2)]), NS)
        await wait_pods(vapi, "j", 2)
        await client.patch(VCJOBS, "j", {"spec": {"tasks": [task("a", 4)], "minAvailable": 4}}, NS)
        await wait_pods(vapi, "j", 4)
        await eventually(lambda: _pg_min(vapi, job, 4), what="podgroup minMember follows")
        await client.patch(VCJOBS, "j", {"spec": {"tasks": [task("a", 1)], "minAvailable": 1}}, NS)
        pods = await wait_pods(vapi, "j", 1)
    assert pods[0]["metadata"]["name"] == "j-a-0"


# -- deletion and TTL -------------------------------------------------------------------------


async def test_deleting_the_job_removes_pods_and_podgroup(vapi: Api) -> None:
    client = vapi.client
    async with running(VolcanoJobController(client, wait_for_enqueue=False)):
        job = await client.create(VCJOBS, vcjob("j", [task("a", 2)]), NS)
        await wait_pods(vapi, "j", 2)
        await eventually(lambda: pg_of(vapi, job))
        await client.delete(VCJOBS, "j", NS)
        await eventually(lambda: _empty(job_pods(vapi, "j")), what="pods collected")
        await eventually(lambda: _none(pg_of(vapi, job)), what="podgroup collected")


async def test_ttl_after_finished_deletes_the_job(vapi: Api) -> None:
    client = vapi.client
    async with running(VolcanoJobController(client, wait_for_enqueue=False)):
        await client.create(VCJOBS, vcjob("j", [task("a", 1)], ttlSecondsAfterFinished=0), NS)
        pods = await wait_pods(vapi, "j", 1)
        await set_phase(vapi, pods[0], "Succeeded")
        await eventually(lambda: _job_gone(vapi, "j"), what="job deleted by TTL")


# -- pure helpers -----------------------------------------------------------------------------


def _t(name: str, replicas: int, min_available: int, cpu: str = "1", policies: list[Obj] | None = None) -> Task:
    tmpl = {"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]}}
    return Task(name, replicas, min_available, tmpl, policies or [])


@pytest.mark.parametrize(
    ("tasks", "min_available", "cpu"),
    [
        ([_t("ps", 2, 1, "1"), _t("worker", 4, 2, "2")], 4, Fraction(6)),
        ([_t("ps", 2, 1, "1"), _t("worker", 4, 2, "2")], 2, Fraction(3)),
        ([_t("a", 3, 3, "500m")], 3, Fraction(3, 2)),
        ([_t("a", 3, 0, "1")], 0, None),
    ],
    ids=["task-minimums-then-more-replicas", "job-minimum-below-task-minimums", "single-task", "zero-min"],
)
def test_min_resources(tasks: list[Task], min_available: int, cpu: Fraction | None) -> None:
    assert min_resources(tasks, min_available).get("cpu") == cpu


SPEC = {
    "tasks": [
        {"name": "a", "replicas": 1, "policies": [{"event": "PodFailed", "action": "RestartTask"}]},
        {"name": "b", "replicas": 1},
    ],
    "policies": [
        {"events": ["PodFailed", "PodEvicted"], "action": "RestartJob"},
        {"exitCode": 2, "action": "AbortJob"},
        {"event": "*", "action": "TerminateJob"},
    ],
}


@pytest.mark.parametrize(
    ("event", "action"),
    [
        (JobEvent("PodFailed", "a"), "RestartTask"),
        (JobEvent("PodFailed", "b"), "RestartJob"),
        (JobEvent("PodEvicted", "a"), "RestartJob"),
        (JobEvent("TaskFailed", "b", exit_code=2), "AbortJob"),
        (JobEvent("Unknown", "b"), "TerminateJob"),
    ],
    ids=["task-policy-first", "job-policy-when-task-has-none", "events-list", "exit-code", "star-matches-any"],
)
def test_policy_action(event: JobEvent, action: str) -> None:
    assert policy_action(SPEC, event) == action


def test_policy_action_none_without_policies() -> None:
    assert policy_action({"tasks": []}, JobEvent("PodFailed", "a")) is None


def test_derived_events_ignore_stale_and_terminating_pods() -> None:
    def pod(name: str, phase: str, version: int = 1, deleting: bool = False) -> Obj:
        m: Obj = {"name": name, "annotations": {"volcano.sh/job-version": str(version), "volcano.sh/task-spec": "a"}}
        if deleting:
            m["deletionTimestamp"] = "2024-01-01T00:00:00Z"
        return {"metadata": m, "status": {"phase": phase}}

    pods = [pod("p0", "Failed", 0), pod("p1", "Failed", deleting=True), pod("p2", "Succeeded"), pod("p3", "Failed")]
    events = derive_events([_t("a", 3, 3)], pods, 1)
    assert [(e.event, e.pod) for e in events] == [("PodFailed", "p3"), ("TaskFailed", "")]


# -- small polling helpers --------------------------------------------------------------------


async def _counts(api: Api, name: str, **want: int) -> bool:
    st = await state(api, name)
    return all(st.get(k) == v for k, v in want.items())


async def _retry(api: Api, name: str, n: int) -> Obj | None:
    st = await state(api, name)
    return st if st.get("retryCount") == n else None


async def _pg_min(api: Api, job: Obj, n: int) -> bool:
    pg = await pg_of(api, job)
    return pg is not None and pg["spec"]["minMember"] == n


async def _none(aw: Any) -> bool:
    return (await aw) is None


async def _empty(aw: Any) -> bool:
    return not await aw


async def _job_gone(api: Api, name: str) -> bool:
    try:
        await api.client.get(VCJOBS, name, NS)
    except ApiError as err:
        return err.code == 404
    return False


# -- plugins, dependsOn, Commands, timeouts, events -------------------------------------------

CONFIGMAPS = GVR("", "v1", "configmaps")
SECRETS = GVR("", "v1", "secrets")
SERVICES = GVR("", "v1", "services")
EVENTS = GVR("", "v1", "events")


async def enqueue(api: Api, job: Obj) -> None:
    pg = await eventually(lambda: pg_of(api, job), what="podgroup")
    await api.client.patch(PODGROUPS, pg["metadata"]["name"], {"status": {"phase": "Inqueue"}}, NS,
                           subresource="status")


async def job_events(api: Api, name: str) -> list[tuple[str, str, str]]:
    items = (await api.client.list(EVENTS, NS))["items"]
    return [(e["type"], e["reason"], e["message"]) for e in items
            if e["involvedObject"]["name"] == name and e["involvedObject"]["kind"] == "Job"]


async def get_or_none(api: Api, gvr: GVR, name: str) -> Obj | None:
    try:
        return await api.client.get(gvr, name, NS)
    except ApiError as err:
        if err.code == 404:
            return None
        raise


def command(job: Obj, action: str) -> Obj:
    ref = {"apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job", "name": job["metadata"]["name"],
           "uid": job["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
    return {"apiVersion": "bus.volcano.sh/v1alpha1", "kind": "Command",
            "metadata": {"generateName": f"{job['metadata']['name']}-{action.lower()}-", "namespace": NS,
                         "ownerReferences": [ref]},
            "target": ref, "action": action}


async def test_svc_and_ssh_objects_follow_the_job_and_a_restart_renews_the_key(vapi: Api) -> None:
    client = vapi.client
    async with running(VolcanoJobController(client)):
        job = await client.create(VCJOBS, vcjob("mpi", [task("master", 1), task("worker", 2)],
                                                plugins={"svc": [], "ssh": []}), NS)
        await enqueue(vapi, job)
        await wait_pods(vapi, "mpi", 3)
        svc = await client.get(SERVICES, "mpi", NS)
        assert svc["spec"]["clusterIP"] == "None"
        assert svc["spec"]["selector"] == {"volcano.sh/job-name": "mpi", "volcano.sh/job-namespace": NS}
        cm = await client.get(CONFIGMAPS, "mpi-svc", NS)
        assert cm["data"]["VC_WORKER_HOSTS"] == "mpi-worker-0.mpi,mpi-worker-1.mpi"
        assert cm["data"]["master.host"] == "mpi-master-0.mpi"
        secret = await client.get(SECRETS, "mpi-ssh", NS)
        assert sorted(secret["data"]) == ["authorized_keys", "config", "id_rsa", "id_rsa.pub"]
        st = await state(vapi, "mpi")
        assert st["controlledResources"] == {"plugin-svc": "svc", "plugin-ssh": "ssh"}

        await client.create(COMMANDS, command(job, "RestartJob"), NS)
        await eventually(lambda: _retry(vapi, "mpi", 1), what="restarted by the command")
        assert (await client.list(COMMANDS, NS))["items"] == []  # consumed, as upstream
        await enqueue(vapi, job)
        await wait_pods(vapi, "mpi", 3, version=1)

        async def renewed() -> Obj | None:
            s = await get_or_none(vapi, SECRETS, "mpi-ssh")
            return s if s is not None and s["metadata"]["uid"] != secret["metadata"]["uid"] else None

        again = await eventually(renewed, what="a new ssh Secret")
        assert again["data"]["id_rsa"] != secret["data"]["id_rsa"]
        assert await get_or_none(vapi, SERVICES, "mpi") is not None
        events = await job_events(vapi, "mpi")
        assert ("Normal", "CommandIssued", "Start to execute command RestartJob, and clean it up to make sure "
                "executed not more than once.") in events
        assert ("Normal", "ExecuteAction", "Start to execute action RestartJob ") in events


async def test_dependent_task_waits_until_its_dependency_is_ready(vapi: Api) -> None:
    client = vapi.client
    async with running(VolcanoJobController(client)):
        job = await client.create(
            VCJOBS, vcjob("dag", [task("a", 1), task("b", 2, dependsOn={"name": ["a"]})], minAvailable=1), NS)
        await enqueue(vapi, job)
        (a0,) = await wait_pods(vapi, "dag", 1)
        assert a0["metadata"]["name"] == "dag-a-0"  # b waits for a
        def running_status(ready: bool) -> Obj:
            return {"phase": "Running", "containerStatuses": [
                {"name": "c", "ready": ready, "restartCount": 0, "image": "busybox", "imageID": "",
                 "state": {"running": {}}}]}

        await client.patch(PODS, "dag-a-0", {"status": running_status(False)}, NS, subresource="status")
        await eventually(lambda: _counts(vapi, "dag", running=1), what="a-0 counted running")
        assert [p["metadata"]["name"] for p in await live_pods(vapi, "dag")] == ["dag-a-0"]
        await client.patch(PODS, "dag-a-0", {"status": running_status(True)}, NS, subresource="status")
        pods = await wait_pods(vapi, "dag", 3)
    assert [p["metadata"]["name"] for p in pods] == ["dag-a-0", "dag-b-0", "dag-b-1"]


async def test_abort_and_resume_commands(vapi: Api) -> None:
    client = vapi.client
    async with running(VolcanoJobController(client)):
        job = await client.create(VCJOBS, vcjob("cmd", [task("t", 2)]), NS)
        await enqueue(vapi, job)
        await wait_pods(vapi, "cmd", 2)
        await client.create(COMMANDS, command(job, "AbortJob"), NS)
        await eventually(lambda: phase_is(vapi, "cmd", "Aborted"), what="Aborted")
        assert await live_pods(vapi, "cmd") == []
        await client.create(COMMANDS, command(job, "ResumeJob"), NS)
        st = await eventually(lambda: phase_is(vapi, "cmd", "Pending"), what="Pending again")
        assert st["version"] == 1 and st["retryCount"] == 1
        assert (await client.list(COMMANDS, NS))["items"] == []


async def test_commands_for_other_kinds_are_left_alone(vapi: Api) -> None:
    client = vapi.client
    async with running(VolcanoJobController(client)):
        job = await client.create(VCJOBS, vcjob("other", [task("t", 1)]), NS)
        cmd = command(job, "AbortJob")
        cmd["target"] = {**cmd["target"], "apiVersion": "example.com/v1"}
        cmd["metadata"]["ownerReferences"] = []
        made = await client.create(COMMANDS, cmd, NS)
        marker = await client.create(COMMANDS, command(job, "SyncJob"), NS)
        await eventually(lambda: _none(get_or_none(vapi, COMMANDS, marker["metadata"]["name"])),
                         what="the Job command consumed")
        assert await get_or_none(vapi, COMMANDS, made["metadata"]["name"]) is not None


async def test_policy_timeout_delays_the_action(vapi: Api) -> None:
    clock = FakeClock(wall_start=time.time())
    client = vapi.client
    async with running(VolcanoJobController(client, clock=clock)):
        job = await client.create(VCJOBS, vcjob(
            "slow", [task("t", 2, minAvailable=1)],
            policies=[{"event": "PodFailed", "action": "RestartJob", "timeout": "30s"}]), NS)
        await enqueue(vapi, job)
        p0, p1 = await wait_pods(vapi, "slow", 2)
        await set_phase(vapi, p1, "Running")
        await set_phase(vapi, p0, "Failed", exit_code=1)  # the job runs on while the restart waits

        async def announced() -> bool:
            return ("Normal", "ExecuteAction", "Execute action RestartJob after 30s") in await job_events(vapi, "slow")

        await eventually(announced, what="the delayed action announced")
        assert (await state(vapi, "slow"))["version"] == 0
        await eventually(lambda: clock.next_deadline() is not None, what="the timer set")
        clock.advance(31)
        await eventually(lambda: _retry(vapi, "slow", 1), what="restart after the timeout")


async def test_podgroup_condition_becomes_a_job_warning(vapi: Api) -> None:
    client = vapi.client
    async with running(VolcanoJobController(client)):
        job = await client.create(VCJOBS, vcjob("stuck", [task("t", 1)]), NS)
        pg = await eventually(lambda: pg_of(vapi, job), what="podgroup")
        cond = {"type": "Unschedulable", "status": "True", "reason": "NotEnoughResources",
                "message": "1/1 tasks in gang unschedulable: 1 Insufficient cpu",
                "lastTransitionTime": "2024-07-01T15:04:05Z", "transitionID": "x"}
        await client.patch(PODGROUPS, pg["metadata"]["name"], {"status": {"conditions": [cond]}}, NS,
                           subresource="status")
        want = ("Warning", "PodGroupPending",
                "PodGroup default:stuck unschedulable, reason: 1/1 tasks in gang unschedulable: 1 Insufficient cpu")

        async def warned() -> bool:
            return want in await job_events(vapi, "stuck")

        await eventually(warned, what="PodGroupPending on the job")


async def test_podgroup_carries_the_jobs_annotations_and_labels(vapi: Api) -> None:
    client = vapi.client
    async with running(VolcanoJobController(client)):
        body = vcjob("meta", [task("t", 1)])
        body["metadata"]["annotations"] = {"volcano.sh/preemptable": "true"}
        body["metadata"]["labels"] = {"team": "a"}
        job = await client.create(VCJOBS, body, NS)
        pg = await eventually(lambda: pg_of(vapi, job), what="podgroup")
    assert pg["metadata"]["annotations"]["volcano.sh/preemptable"] == "true"
    assert pg["metadata"]["annotations"]["volcano.sh/job-name"] == "meta"
    assert pg["metadata"]["labels"] == {"team": "a", "volcano.sh/job-name": "meta", "volcano.sh/job-namespace": NS}
