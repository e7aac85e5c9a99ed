"""CronJob controller against the in-process API stack, driven by a fake clock (cases after upstream's
cronjob_controllerv2_test.go syncCronJob table: Allow/Forbid/Replace, suspend, history limits, time zones)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from suanli.apimachinery.objects import Obj
from suanli.controllers._pods import CRONJOBS, JOBS, controller_of, rfc3339
from suanli.controllers.cronjob import SCHEDULED_TIMESTAMP_ANNOTATION, CronJobController, job_from_template
from suanli.runtime.clock import FakeClock
from suanli.runtime.events import EVENTS
from tests.controllers.conftest import Api, eventually, running

NS = "default"


def cronjob(name: str, schedule: str = "* * * * *", **spec: Any) -> Obj:
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name, "namespace": NS},
            "spec": {"schedule": schedule, **spec, "jobTemplate": {
                "metadata": {"labels": {"app": name}, "annotations": {"x": "y"}},
                "spec": {"template": {"spec": {"restartPolicy": "Never",
                                               "containers": [{"name": "c", "image": "busybox"}]}}}}}}


async def jobs_of(api: Api, name: str) -> list[Obj]:
    cj = await api.client.get(CRONJOBS, name, NS)
    return sorted((j for j in (await api.client.list(JOBS, NS))["items"]
                   if (controller_of(j) or {}).get("uid") == cj["metadata"]["uid"]
                   and not j["metadata"].get("deletionTimestamp")), key=lambda j: j["metadata"]["name"])


async def n_jobs(api: Api, name: str, n: int) -> list[Obj] | None:
    jobs = await jobs_of(api, name)
    return jobs if len(jobs) == n else None


async def next_minute(clock: FakeClock) -> None:
    """Move the fake clock just past the next whole minute, once the controller waits for it."""
    await eventually(lambda: clock.next_deadline() is not None, what="the controller to wait for the schedule")
    clock.advance(60 - clock.now() % 60 + 1)


async def finish(api: Api, job: Obj, condition: str = "Complete") -> str:
    """Mark ``job`` finished as the Job controller would; its completion time."""
    now = rfc3339(time.time())
    status: Obj = {"startTime": now, "conditions": [{"type": condition, "status": "True",
                                                     "lastTransitionTime": now}]}
    if condition == "Complete":
        status["completionTime"] = now
        status["succeeded"] = 1
    await api.client.patch(JOBS, job["metadata"]["name"], {"status": status}, NS, subresource="status")
    return now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(wall_start=time.time())


async def test_allow_creates_one_job_per_activation_named_by_minute(api: Api, clock: FakeClock) -> None:
    async with running(CronJobController(api.client, clock=clock)):
        await api.client.create(CRONJOBS, cronjob("every"), NS)
        await next_minute(clock)
        first = (await eventually(lambda: n_jobs(api, "every", 1), what="the first job"))[0]
        minute = int(clock.now()) // 60
        assert first["metadata"]["name"] == f"every-{minute}"
        assert first["metadata"]["labels"] == {"app": "every"}
        assert first["metadata"]["annotations"] == {
            "x": "y", SCHEDULED_TIMESTAMP_ANNOTATION: datetime.fromtimestamp(minute * 60, UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ")}

        async def listed(n: int) -> Obj | None:
            st = (await api.client.get(CRONJOBS, "every", NS)).get("status") or {}
            return st if len(st.get("active") or []) == n else None
        st = await eventually(lambda: listed(1), what="the job in status.active")
        assert st["active"][0]["name"] == first["metadata"]["name"] and st["active"][0]["kind"] == "Job"
        assert st["lastScheduleTime"] == rfc3339(minute * 60)
        await next_minute(clock)  # Allow: a second job runs alongside the first
        jobs = await eventually(lambda: n_jobs(api, "every", 2), what="a second job")
        assert jobs[1]["metadata"]["name"] == f"every-{minute + 1}"
        await eventually(lambda: listed(2), what="two active jobs")
        # its own jobs, seen before the status listing them reached the informer, are not "unexpected"
        assert not await _event(api, "every", "UnexpectedJob")


async def test_forbid_skips_while_a_job_is_active(api: Api, clock: FakeClock) -> None:
    async with running(CronJobController(api.client, clock=clock)):
        await api.client.create(CRONJOBS, cronjob("fb", concurrencyPolicy="Forbid"), NS)
        await next_minute(clock)
        first = (await eventually(lambda: n_jobs(api, "fb", 1)))[0]
        await eventually(lambda: _active(api, "fb", 1))
        await next_minute(clock)
        await eventually(lambda: _event(api, "fb", "JobAlreadyActive"), what="JobAlreadyActive event")
        assert [j["metadata"]["name"] for j in await jobs_of(api, "fb")] == [first["metadata"]["name"]]
        completed = await finish(api, first)
        await eventually(lambda: _event(api, "fb", "SawCompletedJob"), what="SawCompletedJob event")
        await next_minute(clock)
        await eventually(lambda: n_jobs(api, "fb", 2), what="a new job once the first finished")

        async def last_success() -> str | None:
            return ((await api.client.get(CRONJOBS, "fb", NS)).get("status") or {}).get("lastSuccessfulTime")
        assert await eventually(last_success, what="lastSuccessfulTime") == completed


async def test_replace_deletes_the_running_job(api: Api, clock: FakeClock) -> None:
    async with running(CronJobController(api.client, clock=clock)):
        await api.client.create(CRONJOBS, cronjob("rp", concurrencyPolicy="Replace"), NS)
        await next_minute(clock)
        first = (await eventually(lambda: n_jobs(api, "rp", 1)))[0]
        await eventually(lambda: _active(api, "rp", 1))
        await next_minute(clock)

        async def replaced() -> list[Obj] | None:
            jobs = await jobs_of(api, "rp")
            return jobs if len(jobs) == 1 and jobs[0]["metadata"]["name"] != first["metadata"]["name"] else None
        await eventually(replaced, what="the first job replaced")
        assert await _event(api, "rp", "SuccessfulDelete")


async def test_history_limits_keep_the_newest_finished_jobs(api: Api, clock: FakeClock) -> None:
    async with running(CronJobController(api.client, clock=clock)):
        await api.client.create(CRONJOBS, cronjob("hl", successfulJobsHistoryLimit=1, failedJobsHistoryLimit=0), NS)
        for _ in range(3):
            await next_minute(clock)
            n = len(await jobs_of(api, "hl"))
            await eventually(lambda n=n: n_jobs(api, "hl", n + 1), what="a new job")  # type: ignore[misc]
        jobs = await jobs_of(api, "hl")
        for j in jobs[:2]:
            await finish(api, j)
        await finish(api, jobs[2], "Failed")
        kept = await eventually(lambda: n_jobs(api, "hl", 1), what="history trimmed to one successful job")
        assert kept[0]["metadata"]["name"] == jobs[1]["metadata"]["name"]


async def test_suspended_cronjob_starts_nothing(api: Api, clock: FakeClock) -> None:
    ctrl = CronJobController(api.client, clock=clock)
    async with running(ctrl):
        await api.client.create(CRONJOBS, cronjob("sus", suspend=True), NS)
        await api.client.create(CRONJOBS, cronjob("marker"), NS)
        await next_minute(clock)
        await eventually(lambda: n_jobs(api, "marker", 1), what="the marker's job")
        await ctrl.reconcile(f"{NS}/sus")  # deterministic: the suspended one is past its activation too
        assert await jobs_of(api, "sus") == []


def test_job_from_template_stamps_the_activation_in_the_cronjob_time_zone() -> None:
    cj = cronjob("tz", timeZone="Asia/Shanghai")
    cj["metadata"]["uid"] = "u1"
    job = job_from_template(cj, datetime(2026, 1, 1, 1, 0, tzinfo=UTC))
    assert job["metadata"]["name"] == f"tz-{int(datetime(2026, 1, 1, 1, 0, tzinfo=UTC).timestamp()) // 60}"
    assert job["metadata"]["annotations"][SCHEDULED_TIMESTAMP_ANNOTATION] == "2026-01-01T09:00:00+08:00"
    assert controller_of(job) == {"apiVersion": "batch/v1", "kind": "CronJob", "name": "tz", "uid": "u1",
                                  "controller": True, "blockOwnerDeletion": True}


async def _active(api: Api, name: str, n: int) -> bool:
    st = (await api.client.get(CRONJOBS, name, NS)).get("status") or {}
    return len(st.get("active") or []) == n


async def _event(api: Api, name: str, reason: str) -> bool:
    events = (await api.client.list(EVENTS, NS))["items"]
    return any(e.get("reason") == reason and e["involvedObject"]["name"] == name for e in events)


@pytest.mark.parametrize(("zone", "annotations", "stamp"), [
    ("UTC", {"x": "y"}, "2016-05-19T10:00:00Z"),
    (None, {"x": "y"}, "2016-05-19T10:00:00Z"),
    ("Europe/Rome", {"x": "y", "z": "x"}, "2016-05-19T12:00:00+02:00"),
], ids=["utc-zone-one-annotation", "no-zone-one-annotation", "rome-zone-two-annotations"])
def test_job_from_template_table(zone: str | None, annotations: dict[str, str], stamp: str) -> None:
    """Upstream TestGetJobFromTemplate2: labels copied, annotations copied plus the scheduled timestamp."""
    cj = cronjob("mycronjob")
    cj["metadata"].update(namespace="snazzycats", uid="1a2b3c")
    cj["spec"]["jobTemplate"]["metadata"] = {"labels": {"a": "b"}, "annotations": annotations}
    if zone is not None:
        cj["spec"]["timeZone"] = zone
    job = job_from_template(cj, datetime(2016, 5, 19, 10, 0, tzinfo=UTC))
    assert job["metadata"]["name"].startswith("mycronjob-")
    assert job["metadata"]["labels"] == {"a": "b"}
    assert job["metadata"]["annotations"] == {**annotations, SCHEDULED_TIMESTAMP_ANNOTATION: stamp}
    assert job["metadata"]["namespace"] == "snazzycats"
