"""Placement rules and each policy's choice on hand-built clusters."""

from __future__ import annotations

import pytest

from suanli.scheduler.core.gpushare import (
    ClusterState,
    NodeSpec,
    Placement,
    PodRequest,
    PolicyContext,
    TypicalPods,
    cluster_frag_rate,
    feasible_nodes,
    make_policy,
    policy_names,
    schedule_one,
)


def share(milli: int, cpu: int = 1000, spec: frozenset[str] = frozenset()) -> PodRequest:
    return PodRequest("s", cpu, 1024, 1, milli, spec)


def whole(k: int, cpu: int = 1000) -> PodRequest:
    return PodRequest("w", cpu, 1024, k, 1000)


def cluster(*gpu_frees: list[int], model: str = "A", cpu: int = 32000) -> ClusterState:
    state = ClusterState([NodeSpec(f"n{i}", cpu, 65536, len(g), model) for i, g in enumerate(gpu_frees)])
    for i, g in enumerate(gpu_frees):
        state.gpu_free[i, : len(g)] = g
    return state


@pytest.mark.parametrize(
    ("gpus", "pod", "expected"),
    [
        ([[1000, 300]], share(300), [True]),
        ([[1000, 300]], share(301), [True]),
        ([[700, 300]], share(800), [False]),
        ([[1000, 999]], whole(2), [False]),
        ([[1000, 1000]], whole(2), [True]),
        ([[1000], [500, 500]], whole(1), [True, False]),
        ([[0, 0]], PodRequest("c", 1000, 1024), [True]),
    ],
    ids=[
        "share-fits-on-full-gpu",
        "share-fits-on-any-gpu-with-room",
        "share-needs-one-gpu-not-the-sum",
        "whole-needs-fully-free-gpus",
        "two-whole-gpus-fit-two-free",
        "partial-gpus-do-not-serve-whole-pods",
        "cpu-pod-ignores-gpus",
    ],
)
def test_feasibility_rules(gpus: list[list[int]], pod: PodRequest, expected: list[bool]) -> None:
    assert list(feasible_nodes(cluster(*gpus), pod)) == expected


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        (PodRequest("p", 40000, 1), [False, False]),
        (PodRequest("p", 1000, 70000), [False, False]),
        (share(100, spec=frozenset({"B"})), [False, True]),
        (share(100, spec=frozenset({"A", "B"})), [True, True]),
        (PodRequest("c", 1000, 1, 0, 0, frozenset({"B"})), [True, True]),
    ],
    ids=[
        "cpu-must-fit",
        "memory-must-fit",
        "gpu-spec-selects-model",
        "gpu-spec-any-of",
        "cpu-pod-ignores-spec",
    ],
)
def test_resource_and_model_filters(pod: PodRequest, expected: list[bool]) -> None:
    state = ClusterState([NodeSpec("a", 32000, 65536, 1, "A"), NodeSpec("b", 32000, 65536, 1, "B")])
    assert list(feasible_nodes(state, pod)) == expected


@pytest.mark.parametrize(
    ("cpu", "mem", "num", "milli"),
    [(0, 0, 2, 500), (0, 0, 0, 100), (0, 0, 1, 1001), (-1, 0, 0, 0), (0, 0, 1, 0)],
    ids=[
        "sharing-is-single-gpu",
        "cpu-pod-has-no-milli",
        "milli-at-most-1000",
        "negative-cpu",
        "gpu-pod-needs-milli",
    ],
)
def test_invalid_pod_shapes_are_rejected(cpu: int, mem: int, num: int, milli: int) -> None:
    with pytest.raises(ValueError):
        PodRequest("bad", cpu, mem, num, milli)


TYPICAL = TypicalPods.from_pods([share(500)] * 3 + [whole(1)] * 3)


@pytest.mark.parametrize(
    ("policy", "gpus", "pod", "expected"),
    [
        ("bestfit", [[1000, 1000], [1000, 200]], share(200), Placement(1, (1,))),
        ("gpupacking", [[1000, 1000], [1000, 600]], share(300), Placement(1, (1,))),
        ("gpupacking", [[1000, 1000], [1000, 100]], whole(1), Placement(1, (0,))),
        ("dotproduct", [[1000] * 8, [1000] + [0] * 7], whole(1), Placement(1, (0,))),
        ("dotproduct", [[1000, 1000], [1000, 0]], share(300), Placement(0, (0,))),
        ("gpuclustering", [[1000, 1000], [1000, 1000]], share(300), Placement(0, (0,))),
        ("fgd", [[1000, 1000], [1000, 500]], share(500), Placement(1, (1,))),
        ("fgd", [[1000, 300], [1000, 1000]], share(300), Placement(0, (1,))),
        ("fgdpack", [[1000, 1000], [1000, 500]], share(500), Placement(1, (1,))),
    ],
    ids=[
        "bestfit-fills-the-tightest-gpu",
        "packing-prefers-a-shared-gpu",
        "packing-prefers-a-used-node-for-whole-gpus",
        "dotproduct-prefers-least-free-node",
        "dotproduct-truncated-scores-tie-to-lowest-rank",
        "clustering-ties-go-to-lowest-index",
        "fgd-fills-a-hole-typical-pods-cannot-use",
        "fgd-picks-the-gpu-that-removes-fragment",
        "ours-keeps-fgds-choice-when-frag-differs",
    ],
)
def test_policy_choice(policy: str, gpus: list[list[int]], pod: PodRequest, expected: Placement) -> None:
    state = cluster(*gpus)
    assert schedule_one(state, pod, make_policy(policy, PolicyContext(TYPICAL), state)) == expected


def test_clustering_keeps_tags_together() -> None:
    state = cluster([1000, 1000], [1000, 1000])
    policy = make_policy("gpuclustering", PolicyContext(TYPICAL), state)
    assert schedule_one(state, whole(1), policy) == Placement(0, (0,))
    # A sharing pod avoids the node that hosts a different tag.
    assert schedule_one(state, share(300), policy) == Placement(1, (0,))


def test_unplaceable_pod_leaves_state_untouched() -> None:
    state = cluster([300])
    before = state.gpu_free.copy()
    assert schedule_one(state, whole(1), make_policy("fgd", PolicyContext(TYPICAL), state)) is None
    assert (state.gpu_free == before).all()


def test_fragmentation_rate_worked_example() -> None:
    # Typical: 50% 1x500m, 50% 1x1000m. GPUs [1000, 300]: each type strands 300 of 1300 idle.
    typical = TypicalPods.from_pods([share(500), whole(1)])
    assert cluster_frag_rate(cluster([1000, 300]), typical) == pytest.approx(300 / 1300)
    assert cluster_frag_rate(cluster([0, 0]), typical) == 0.0


def test_registry_lists_every_policy_once() -> None:
    assert policy_names() == [
        "random",
        "dotproduct",
        "gpuclustering",
        "gpupacking",
        "bestfit",
        "fgd",
        "fgdpack",
    ]
    with pytest.raises(KeyError, match="unknown policy"):
        make_policy("nope", PolicyContext(TYPICAL), cluster([1000]))
