"""Each policy's score pinned on small cases, hand-computed from the artifact's Go code.

Reference: hkust-adsl/kubernetes-scheduler-simulator, ``pkg/simulator/plugin/*_score.go``
(GpuPacking cases ported from ``gpu_packing_score_test.go``). Every expected value is
worked out in the case's comment.
"""

from __future__ import annotations

import numpy as np
import pytest

from suanli.scheduler.core.gpushare import (
    ClusterState,
    NodeSpec,
    Placement,
    PodRequest,
    PolicyContext,
    TypicalPods,
    make_policy,
    schedule_one,
)
from suanli.scheduler.core.gpushare.policies import fgd_score


def share(milli: int, cpu: int = 1000) -> PodRequest:
    return PodRequest("s", cpu, 1024, 1, milli)


def whole(k: int, cpu: int = 1000) -> PodRequest:
    return PodRequest("w", cpu, 1024, k, 1000)


def cpu_only(cpu: int = 1000) -> PodRequest:
    return PodRequest("c", cpu, 1024)


def node(gpus: list[int], cpu_free: int = 32000, cpu_cap: int | None = None) -> ClusterState:
    """One node with ``len(gpus)`` GPUs at the given free milli and ``cpu_free`` milli-CPU free."""
    cap = cpu_cap if cpu_cap is not None else cpu_free
    state = ClusterState([NodeSpec("n0", cap, 1 << 20, len(gpus), "A")])
    state.gpu_free[0, : len(gpus)] = gpus
    state.cpu_free[0] = cpu_free
    return state


TYPICAL = TypicalPods.from_pods([share(500), whole(1)])


def score_of(policy: str, state: ClusterState, pod: PodRequest, typical: TypicalPods = TYPICAL) -> float:
    p = make_policy(policy, PolicyContext(typical), state)
    return float(p.score(state, pod, np.ones(state.num_nodes, dtype=np.bool_))[0])


@pytest.mark.parametrize(
    ("gpus", "cpu_free", "pod", "expected"),
    [
        # dot = 0.25*(1000/128000) + (2000/8000)*(500/8000) = 0.017578125; 100*(1 - dot/2) = 99.12
        ([1000, 1000], 32000, share(500), 99),
        # dot = 1*0.5 + 1*1 = 1.5; 100*(1 - 0.75) = 25
        ([1000] * 8, 128000, whole(8, cpu=64000), 25),
        # dot = 0.75*0.25 + 0.25*0.25 = 0.25; 100*(1 - 0.125) = 87.5 -> 87 (truncated)
        ([1000, 1000, 0, 0], 96000, whole(2, cpu=32000), 87),
        # a CPU-only pod: dot = (64000/128000)*(64000/128000) = 0.25 -> 87
        ([1000, 1000], 64000, cpu_only(64000), 87),
    ],
    ids=[
        "dotproduct-small-share-scores-99",
        "dotproduct-full-node-for-8-gpu-pod-scores-25",
        "dotproduct-truncates-87.5-to-87",
        "dotproduct-cpu-only-uses-cpu-dimension",
    ],
)
def test_dotproduct_score(gpus: list[int], cpu_free: int, pod: PodRequest, expected: int) -> None:
    assert score_of("dotproduct", node(gpus, cpu_free), pod) == expected


@pytest.mark.parametrize(
    ("gpus", "cpu_free", "pod", "expected"),
    [
        # s = 0.5*28000/128000 + 0.5*1000/8000 = 0.171875; (1 - s)*100 = 82.81 -> 82
        ([1000, 500], 32000, share(500, cpu=4000), 82),
        # exact fit leaves nothing: s = 0 -> 100
        ([500], 4000, share(500, cpu=4000), 100),
        # an empty 8-GPU, 128-core node for a pod requesting nothing of it: s = 1 -> 0
        ([1000] * 8, 128000, cpu_only(0), 0),
    ],
    ids=["bestfit-partial-leftover-truncates", "bestfit-exact-fit-scores-100", "bestfit-empty-big-node-scores-0"],
)
def test_bestfit_score(gpus: list[int], cpu_free: int, pod: PodRequest, expected: int) -> None:
    assert score_of("bestfit", node(gpus, cpu_free), pod) == expected


@pytest.mark.parametrize(
    ("gpus", "pod", "expected"),
    [
        # upstream case-2: two fully free GPUs on a used node: max(50 - 2, 33)
        ([200, 1000, 1000, 500], whole(2), 48),
        # upstream case-3, 4 GPUs: an idle node: max(33 - 4, 4)
        ([1000] * 4, whole(2), 29),
        # upstream case-3, 8 GPUs: max(33 - 8, 8)
        ([1000] * 8, whole(2), 25),
        # case-1 (upstream's uses two shared GPUs; sharing is single-GPU here): the 200m GPU,
        # 100 - (200*100/1000)/10 = 98
        ([200, 1000, 1000, 500], share(200), 98),
        # best-fit GPU with room is the 500m one: 100 - 50/10 = 95
        ([200, 1000, 1000, 500], share(300), 95),
        # only a full GPU has room: case-2 with one free GPU, max(50 - 1, 33)
        ([200, 1000, 1000, 500], share(600), 49),
        # a 1-GPU idle node: max(33 - 1, 1)
        ([1000], share(100), 32),
        ([1000, 1000], cpu_only(), 0),
    ],
    ids=[
        "packing-used-node-two-free-gpus-48",
        "packing-idle-4-gpu-node-29",
        "packing-idle-8-gpu-node-25",
        "packing-shared-gpu-200m-98",
        "packing-best-fit-shared-gpu-95",
        "packing-share-needs-a-free-gpu-49",
        "packing-idle-1-gpu-node-32",
        "packing-cpu-only-0",
    ],
)
def test_gpupacking_score(gpus: list[int], pod: PodRequest, expected: int) -> None:
    assert score_of("gpupacking", node(gpus), pod) == expected


def test_gpuclustering_score_by_affinity_tags() -> None:
    state = ClusterState([NodeSpec(f"n{i}", 64000, 1 << 20, 8, "A") for i in range(3)])
    state.bind(share(500), Placement(1, (0,)))  # n1 hosts the sharing tag only (idle 7500)
    state.bind(share(500), Placement(2, (0,)))  # n2 hosts sharing and 1-GPU tags (idle 6500)
    state.bind(whole(1), Placement(2, (1,)))
    policy = make_policy("gpuclustering", PolicyContext(TYPICAL), state)
    everywhere = np.ones(3, dtype=np.bool_)
    # base = 25*(8000 - idle)//8000: n0 0, n1 25*500//8000 = 1, n2 25*1500//8000 = 4
    assert list(policy.score(state, share(300), everywhere)) == [0 + 25, 1 + 75, 4 + 50]
    assert list(policy.score(state, whole(1), everywhere)) == [0 + 25, 1 + 0, 4 + 50]
    assert list(policy.score(state, whole(2), everywhere)) == [0 + 25, 1 + 0, 4 + 0]
    assert list(policy.score(state, cpu_only(), everywhere)) == [0, 0, 0]


@pytest.mark.parametrize(
    ("delta", "expected"),
    [(0.0, 50), (100.0, 52), (1000.0, 73), (-1000.0, 26), (5000.0, 99), (-5000.0, 0)],
    ids=["no-change-50", "100m-52", "1000m-73", "minus-1000m-26", "saturates-at-99", "floors-at-0"],
)
def test_fgd_integer_score(delta: float, expected: int) -> None:
    # int(100 * 1 / (1 + exp(-delta/1000))), as FGDScore's sigmoid
    assert fgd_score(np.array([delta]))[0] == expected


def test_fgd_scores_and_picks_the_gpu_that_removes_fragment() -> None:
    # Typical: 1x500m and 1x1000m, equal weight. GPUs [1000, 300]: each type strands 300, F = 300m.
    # 300m on GPU 1 -> [1000, 0]: F = 0, decrease 300 -> int(100*sigmoid(0.3)) = 57.
    # 300m on GPU 0 -> [700, 300]: 1x500 strands 300, 1x1000 no longer fits (1000): F = 650,
    # decrease -350 -> 41. FGD scores the node 57 and takes GPU 1.
    state = node([1000, 300])
    policy = make_policy("fgd", PolicyContext(TYPICAL), state)
    assert policy.score(state, share(300), np.array([True]))[0] == 57
    assert policy.select_gpus(state, share(300), 0) == (1,)
    # A whole GPU on [1000, 1000] strands nothing before or after: decrease 0 -> 50.
    assert score_of("fgd", node([1000, 1000]), whole(1)) == 50


def test_ties_go_to_the_lowest_rank() -> None:
    nodes = [NodeSpec(f"n{i}", 32000, 1 << 20, 2, "A") for i in range(3)]
    state = ClusterState(nodes, rank=[2, 0, 1])
    assert schedule_one(state, whole(1), make_policy("fgd", PolicyContext(TYPICAL), state)) == Placement(1, (0,))
    with pytest.raises(ValueError, match="distinct"):
        ClusterState(nodes, rank=[0, 0, 1])


def test_fgdpack_breaks_fgd_ties_by_best_fit() -> None:
    # Both nodes: FGD decrease 0 for a whole GPU (score 50). FGD takes rank 0 (n0);
    # fgdpack takes n1, which has less CPU left.
    nodes = [NodeSpec("n0", 32000, 1 << 20, 2, "A"), NodeSpec("n1", 16000, 1 << 20, 2, "A")]
    for policy, expected in (("fgd", 0), ("fgdpack", 1)):
        state = ClusterState(nodes)
        placed = schedule_one(state, whole(1), make_policy(policy, PolicyContext(TYPICAL), state))
        assert placed is not None and placed.node == expected


def test_fgdpack_takes_the_tightest_of_equally_scored_gpus() -> None:
    # Typical: 1x1000m only, so every partial GPU is fragment. GPUs [1000, 600, 400], 300m pod:
    # on GPU 1 -> frag 300+400 = 700, on GPU 2 -> 600+100 = 700 (both decrease 300 -> 57);
    # on GPU 0 -> 1700 (decrease -700 -> 33). FGD takes GPU 1 (lowest index), fgdpack GPU 2.
    typical = TypicalPods.from_pods([whole(1)])
    for policy, gpu in (("fgd", 1), ("fgdpack", 2)):
        state = node([1000, 600, 400])
        placed = schedule_one(state, share(300), make_policy(policy, PolicyContext(typical), state))
        assert placed == Placement(0, (gpu,))
