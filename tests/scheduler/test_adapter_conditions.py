"""PodGroup conditions as the live scheduler writes them: ``lastTransitionTime`` changes only
when the condition does (as upstream compares conditions without their times)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from suanli.client.local import LocalClient
from suanli.kinds.volcano import PODGROUPS
from suanli.scheduler.adapter import LiveScheduler, stamp_conditions
from tests.scheduler.test_adapter_resync import NODES, PODS, _node, _pod, _until, scheduler

__all__ = ["scheduler"]  # the fixture, shared with the resync tests

UNSCHED = {"type": "Unschedulable", "status": "True", "reason": "NotEnoughResources",
           "message": "0/0 tasks in gang unschedulable: queue resource quota insufficient: insufficient cpu"}
OLD_TIME = "2026-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("old", "new", "kept"),
    [
        ([{**UNSCHED, "lastTransitionTime": OLD_TIME}], [UNSCHED], True),
        ([{**UNSCHED, "message": "other", "lastTransitionTime": OLD_TIME}], [UNSCHED], False),
        ([], [UNSCHED], False),
        ([{**UNSCHED, "type": "Scheduled", "lastTransitionTime": OLD_TIME}], [UNSCHED], False),
    ],
    ids=["unchanged-condition-keeps-its-time", "new-message-is-a-transition", "first-condition-is-stamped",
         "other-type-is-a-transition"],
)
def test_condition_time_changes_only_with_the_condition(old: list[dict[str, Any]], new: list[dict[str, Any]],
                                                       kept: bool) -> None:
    (got,) = stamp_conditions(old, new)
    assert {k: v for k, v in got.items() if k != "lastTransitionTime"} == UNSCHED
    assert (got["lastTransitionTime"] == OLD_TIME) is kept
    assert got["lastTransitionTime"]


async def test_what_was_told_about_deleted_objects_is_forgotten(scheduler: tuple[LiveScheduler, LocalClient]) -> None:
    """A refused PodGroup and an unschedulable pod leave their verdicts in the adapter's caches
    (one Event per change); deleting them frees those entries."""
    sched, client = scheduler
    await client.create(NODES, _node("n0"))
    pg = {"apiVersion": "scheduling.volcano.sh/v1beta1", "kind": "PodGroup",
          "metadata": {"name": "huge", "namespace": "default"},
          "spec": {"minMember": 1, "queue": "default", "minResources": {"cpu": "100"}}}
    await client.create(PODGROUPS, pg, "default")
    pod = _pod("big")
    pod["spec"]["schedulerName"] = "default-scheduler"
    pod["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "100"
    created = await client.create(PODS, pod, "default")
    await _until(lambda: sched.podgroups.get("default", "huge") is not None and sched.pods.get("default", "big"))
    await sched.run_cycle()
    assert sched._pg_event_marks["default/huge"].startswith("U ")
    assert "default/huge" in sched._last_pg_status
    assert created["metadata"]["uid"] in sched._last_unschedulable
    await client.delete(PODGROUPS, "huge", "default")
    await client.delete(PODS, "big", "default")
    await _until(lambda: "default/huge" not in sched._pg_event_marks and "default/huge" not in sched._last_pg_status
                 and created["metadata"]["uid"] not in sched._last_unschedulable)


async def test_binds_still_in_flight_are_assumed_so_the_next_cycle_places_nothing_twice(
        scheduler: tuple[LiveScheduler, LocalClient]) -> None:
    """The binding cycle runs in the background (kube-scheduler's goroutines): while the API has not
    answered, a later cycle sees those pods on their nodes and binds none of them again."""
    sched, client = scheduler
    gate = asyncio.Event()
    calls: list[str] = []
    real_bind = client.bind

    async def slow_bind(name: str, namespace: str, node_name: str) -> None:
        calls.append(name)
        await gate.wait()
        await real_bind(name, namespace, node_name)

    client.bind = slow_bind  # type: ignore[method-assign]
    await client.create(NODES, _node("n0"))
    for i in range(3):
        pod = _pod(f"p{i}")
        pod["spec"]["schedulerName"] = "default-scheduler"
        await client.create(PODS, pod, "default")
    await _until(lambda: len(calls) == 3)  # the run loop's cycle is binding them, held at the gate
    later = await sched.run_cycle(wait_binds=False)
    assert not later.binds
    gate.set()
    await sched.wait_binds()
    assert sorted(calls) == ["p0", "p1", "p2"]
    await _until(lambda: all((sched.pods.get("default", f"p{i}") or {}).get("spec", {}).get("nodeName") == "n0"
                             for i in range(3)))
