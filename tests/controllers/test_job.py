"""batch/v1 Job controller against the real in-process API stack (tests play the kubelet)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.controllers._pods import JOBS, PODS, controller_of, is_active
from suanli.controllers.job import TRACKING_FINALIZER, JobController, format_indexes, parse_indexes
from suanli.runtime.clock import FakeClock
from tests.controllers.conftest import Api, eventually, running

NS = "default"


def job(name: str, **spec: Any) -> Obj:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}},
            **spec,
        },
    }


async def pods_of(api: Api, name: str) -> list[Obj]:
    j = await api.client.get(JOBS, name, NS)
    return [
        p
        for p in (await api.client.list(PODS, NS))["items"]
        if (controller_of(p) or {}).get("uid") == j["metadata"]["uid"]
    ]


async def active_pods(api: Api, name: str) -> list[Obj]:
    return [p for p in await pods_of(api, name) if is_active(p)]


async def finish(api: Api, pod: Obj, phase: str) -> None:
    try:
        await api.client.patch(PODS, pod["metadata"]["name"], {"status": {"phase": phase}}, NS, subresource="status")
    except ApiError as err:
        if err.code != 404:
            raise


def cond(j: Obj, ctype: str) -> Obj:
    return next((c for c in (j.get("status") or {}).get("conditions") or [] if c["type"] == ctype), {})


async def status(api: Api, name: str) -> Obj:
    return (await api.client.get(JOBS, name, NS)).get("status") or {}


@pytest.fixture
async def ctrl(api: Api) -> Any:
    c = JobController(api.client)
    async with running(c):
        yield c


@pytest.mark.parametrize(
    ("text", "indexes"),
    [("", set()), ("0-2,5", {0, 1, 2, 5}), ("3", {3}), ("0,2-3,7-9", {0, 2, 3, 7, 8, 9})],
    ids=["empty", "range-and-single", "single", "several-ranges"],
)
def test_completed_indexes_round_trip(text: str, indexes: set[int]) -> None:
    assert parse_indexes(text) == indexes
    assert format_indexes(indexes) == text


async def test_pods_carry_job_labels_and_tracking_finalizer(api: Api, ctrl: JobController) -> None:
    await api.client.create(JOBS, job("lbl"), NS)
    pods = await eventually(lambda: active_pods(api, "lbl"))
    j = await api.client.get(JOBS, "lbl", NS)
    uid = j["metadata"]["uid"]
    labels = pods[0]["metadata"]["labels"]
    assert (
        labels["batch.kubernetes.io/controller-uid"],
        labels["batch.kubernetes.io/job-name"],
        labels["controller-uid"],
        labels["job-name"],
    ) == (uid, "lbl", uid, "lbl")
    assert TRACKING_FINALIZER in pods[0]["metadata"]["finalizers"]
    assert pods[0]["metadata"]["name"].startswith("lbl-")

    async def started() -> bool:
        st = await status(api, "lbl")
        return st.get("active") == 1 and bool(st.get("startTime"))

    await eventually(started)


@pytest.mark.parametrize(
    ("completions", "parallelism"), [(3, 1), (5, 2), (4, 4)], ids=["serial-3", "five-two-at-a-time", "all-parallel"]
)
async def test_completes_after_n_successes_respecting_parallelism(
    api: Api, ctrl: JobController, completions: int, parallelism: int
) -> None:
    await api.client.create(JOBS, job("c", completions=completions, parallelism=parallelism), NS)
    deadline = time.monotonic() + 10
    finished = 0
    while True:
        active = await active_pods(api, "c")
        assert len(active) <= parallelism, "parallelism exceeded"
        assert len(active) <= completions - finished, "more pods than remaining completions"
        st = await status(api, "c")
        if cond({"status": st}, "Complete").get("status") == "True":
            break
        if active:
            await finish(api, active[0], "Succeeded")
            finished += 1

            async def counted(n: int = finished) -> bool:
                s = await status(api, "c")
                return s.get("succeeded", 0) == n and not (s.get("uncountedTerminatedPods") or {}).get("succeeded")

            await eventually(counted, what=f"{finished} counted")
        else:
            await eventually(lambda st=st: _changed(api, "c", st), what="progress")
        assert time.monotonic() < deadline
    assert st["succeeded"] == completions and st.get("active", 0) == 0 and st.get("completionTime")
    assert cond({"status": st}, "SuccessCriteriaMet").get("status") == "True"
    # finalizers were removed from every counted pod
    assert all(TRACKING_FINALIZER not in (p["metadata"].get("finalizers") or []) for p in await pods_of(api, "c"))


async def _changed(api: Api, name: str, before: Obj) -> bool:
    return await status(api, name) != before or bool(await active_pods(api, name))


@pytest.mark.parametrize("backoff_limit", [0, 2], ids=["no-retries", "two-retries"])
async def test_fails_after_backoff_limit(api: Api, ctrl: JobController, backoff_limit: int) -> None:
    await api.client.create(JOBS, job("b", backoffLimit=backoff_limit), NS)
    for n in range(backoff_limit + 1):
        active = await eventually(lambda: active_pods(api, "b"), what=f"pod #{n + 1}")
        await finish(api, active[0], "Failed")

    async def failed() -> Obj | None:
        st = await status(api, "b")
        return st if cond({"status": st}, "Failed").get("status") == "True" else None

    st = await eventually(failed)
    assert cond({"status": st}, "Failed")["reason"] == "BackoffLimitExceeded"
    assert st["failed"] == backoff_limit + 1 and not st.get("active") and not st.get("succeeded")
    assert not await active_pods(api, "b")


async def test_backoff_failure_deletes_other_active_pods(api: Api, ctrl: JobController) -> None:
    await api.client.create(JOBS, job("bd", completions=3, parallelism=3, backoffLimit=0), NS)

    async def three() -> list[Obj] | None:
        a = await active_pods(api, "bd")
        return a if len(a) == 3 else None

    active = await eventually(three)
    await finish(api, active[0], "Failed")

    async def failed() -> Obj | None:
        st = await status(api, "bd")
        return st if cond({"status": st}, "Failed").get("status") == "True" else None

    st = await eventually(failed)
    assert not await active_pods(api, "bd")
    assert st["failed"] == 3  # the two deleted running pods count as failed, as upstream
    assert not await pods_of(api, "bd") or all(
        TRACKING_FINALIZER not in (p["metadata"].get("finalizers") or []) for p in await pods_of(api, "bd")
    )


async def test_active_deadline_fails_job(api: Api) -> None:
    clock = FakeClock(wall_start=time.time())
    async with running(JobController(api.client, clock=clock)):
        await api.client.create(JOBS, job("dl", activeDeadlineSeconds=30), NS)
        await eventually(lambda: active_pods(api, "dl"))
        await eventually(lambda: clock.next_deadline() is not None)
        clock.advance(31)

        async def failed() -> Obj | None:
            st = await status(api, "dl")
            c = cond({"status": st}, "Failed")
            return st if c.get("reason") == "DeadlineExceeded" else None

        await eventually(failed)
        assert not await active_pods(api, "dl")


async def test_suspend_deletes_pods_and_resume_recreates(api: Api, ctrl: JobController) -> None:
    await api.client.create(JOBS, job("s", parallelism=2, completions=2), NS)
    await eventually(lambda: _count(api, "s", 2), timeout=20.0)
    await api.client.patch(JOBS, "s", {"spec": {"suspend": True}}, NS)

    async def suspended() -> bool:
        st = await status(api, "s")
        return cond({"status": st}, "Suspended").get("status") == "True" and not await active_pods(api, "s")

    await eventually(suspended, timeout=20.0)
    await api.client.patch(JOBS, "s", {"spec": {"suspend": False}}, NS)
    await eventually(lambda: _count(api, "s", 2), timeout=20.0, what="pods recreated after resume")

    async def resumed() -> bool:  # the condition is written in the status step after the pods
        st = await status(api, "s")
        return cond({"status": st}, "Suspended").get("reason") == "JobResumed"

    await eventually(resumed, timeout=20.0, what="the Suspended condition saying JobResumed")


async def _count(api: Api, name: str, n: int) -> list[Obj] | bool:
    """The active pods once there are exactly ``n`` (``True`` for zero), else ``False``."""
    pods = await active_pods(api, name)
    return (pods or True) if len(pods) == n else False


async def test_work_queue_job_completes_when_one_succeeds_and_rest_finish(api: Api, ctrl: JobController) -> None:
    await api.client.create(JOBS, job("wq", parallelism=2), NS)
    active = await eventually(lambda: _count(api, "wq", 2))
    assert isinstance(active, list)
    await finish(api, active[0], "Succeeded")
    await eventually(lambda: _count(api, "wq", 1), what="no replacement after a success")
    await finish(api, active[1], "Succeeded")

    async def complete() -> Obj | None:
        st = await status(api, "wq")
        return st if cond({"status": st}, "Complete").get("status") == "True" else None

    st = await eventually(complete)
    assert st["succeeded"] == 2


async def test_indexed_job_assigns_each_index_once(api: Api, ctrl: JobController) -> None:
    await api.client.create(JOBS, job("ix", completions=3, parallelism=3, completionMode="Indexed"), NS)

    async def three() -> list[Obj] | None:
        a = await active_pods(api, "ix")
        return a if len(a) == 3 else None

    active = await eventually(three)
    idx = sorted(int(p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]) for p in active)
    assert idx == [0, 1, 2]
    assert {p["spec"]["hostname"] for p in active} == {"ix-0", "ix-1", "ix-2"}
    by_index = {p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]: p for p in active}
    await finish(api, by_index["1"], "Failed")

    async def replaced() -> Obj | None:
        a = await active_pods(api, "ix")
        ones = [p for p in a if p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] == "1"]
        return ones[0] if len(a) == 3 and ones else None

    by_index["1"] = await eventually(replaced, what="index 1 recreated")
    for p in by_index.values():
        await finish(api, p, "Succeeded")

    async def complete() -> Obj | None:
        st = await status(api, "ix")
        return st if cond({"status": st}, "Complete").get("status") == "True" else None

    st = await eventually(complete)
    assert st["completedIndexes"] == "0-2" and st["succeeded"] == 3 and st["failed"] == 1


async def test_ttl_after_finished_deletes_job(api: Api, ctrl: JobController) -> None:
    await api.client.create(JOBS, job("ttl", ttlSecondsAfterFinished=0), NS)
    active = await eventually(lambda: active_pods(api, "ttl"))
    await finish(api, active[0], "Succeeded")

    async def gone() -> bool:
        try:
            await api.client.get(JOBS, "ttl", NS)
        except ApiError as err:
            return err.code == 404
        return False

    await eventually(gone)


async def test_deleting_job_releases_pod_finalizers(api: Api, ctrl: JobController) -> None:
    await api.client.create(JOBS, job("del", parallelism=2, completions=2), NS)
    pods = await eventually(lambda: _count(api, "del", 2))
    assert isinstance(pods, list)
    await api.client.delete(JOBS, "del", NS, propagation_policy="Background")
    names = {p["metadata"]["name"] for p in pods}

    async def pods_gone() -> bool:
        left = [p for p in (await api.client.list(PODS, NS))["items"] if p["metadata"]["name"] in names]
        return not left

    await eventually(pods_gone, what="pods deleted and finalizers released")
