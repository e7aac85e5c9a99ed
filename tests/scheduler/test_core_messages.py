"""Unschedulable explanations (what ``kubectl describe pod`` shows) and pods whose PodGroup is unknown."""

from __future__ import annotations

import pytest

from ._builders import bind_map, build_node, build_pod, build_podgroup, run

NODES = [build_node("a", {"cpu": "4"}), build_node("b", {"cpu": "4", "huawei.com/Ascend910": "8"})]


@pytest.mark.parametrize(
    ("req", "expected"),
    [
        (
            {"cpu": "1", "openfuyao.com/kae.hpre": "1"},
            "0/2 nodes are available: 2 Insufficient openfuyao.com/kae.hpre.",
        ),
        ({"cpu": "100"}, "0/2 nodes are available: 2 Insufficient cpu."),
        (
            {"cpu": "1", "huawei.com/Ascend910": "10"},
            "0/2 nodes are available: 2 Insufficient huawei.com/Ascend910.",
        ),
    ],
    ids=["resource-no-node-has-is-named", "too-big-for-every-node", "more-devices-than-any-node-has"],
)
def test_plain_pod_blocked_at_enqueue_names_the_missing_resource(req: dict[str, str], expected: str) -> None:
    d = run(NODES, [build_pod("ns", "p", req=req)])
    assert d.binds == ()
    assert [u.message for u in d.unschedulable] == [expected]


def test_gang_that_fits_per_pod_but_not_as_a_whole_keeps_the_gang_message() -> None:
    pods = [build_pod("ns", f"p{i}", req={"cpu": "3"}, group="pg") for i in range(3)]
    pg = build_podgroup("ns", "pg", "default", 3, phase="Pending", min_resources={"cpu": "12"})
    d = run(NODES, pods, [pg])
    assert d.binds == ()
    assert {u.message for u in d.unschedulable} == {
        "pod group is not ready: resource in cluster is overused: overused cpu"}


def test_gang_stopped_by_queue_quota_explains_every_pod_by_the_quota() -> None:
    pods = [build_pod("ns", f"p{i}", req={"cpu": "3"}, group="pg") for i in range(3)]
    pg = build_podgroup("ns", "pg", "default", 3, phase="Pending", min_resources={"cpu": "9"})
    d = run(NODES, pods, [pg])
    assert d.binds == ()
    assert {u.name: u.message for u in d.unschedulable} == {
        "p0": "pod group pg is not ready: queue default resource quota insufficient",
        "p1": "pod group pg is not ready: queue default resource quota insufficient",
        "p2": "queue default resource quota insufficient",
    }
    cond = d.podgroup_status["ns/pg"]["conditions"][0]
    assert cond["message"] == "3/3 tasks in gang unschedulable: queue default resource quota insufficient"


@pytest.mark.parametrize(
    ("podgroups", "expected_binds"),
    [([], {}), ([build_podgroup("ns", "pg", "default", 1)], {"ns/p": "a"})],
    ids=["podgroup-not-yet-known-pod-waits", "podgroup-known-pod-binds"],
)
def test_pod_naming_an_unknown_podgroup_is_not_scheduled(
    podgroups: list[dict[str, object]], expected_binds: dict[str, str]
) -> None:
    d = run(NODES, [build_pod("ns", "p", req={"cpu": "1"}, group="pg")], podgroups)
    assert bind_map(d) == expected_binds
    assert d.evictions == ()
