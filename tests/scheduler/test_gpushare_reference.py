"""The vectorised GPU-sharing core agrees with the plain per-node reference."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.scheduler.core.gpushare import (
    ClusterState,
    NodeSpec,
    PodRequest,
    PolicyContext,
    TypicalPods,
    feasible_nodes,
    make_policy,
    node_frag,
    schedule_one,
)
from suanli.scheduler.core.gpushare.frag import FragCache
from suanli.scheduler.core.gpushare.policies import BestFitPolicy, DotProductPolicy, fgd_score
from suanli.scheduler.core.gpushare.reference import (
    ref_bestfit_score,
    ref_dotproduct_score,
    ref_feasible,
    ref_fgd_score,
    ref_fgd_upstream_score,
    ref_node_frag,
)

MODELS = ("A", "B", "C")


@st.composite
def nodes_st(draw: st.DrawFn) -> list[NodeSpec]:
    n = draw(st.integers(1, 6))
    out = []
    for i in range(n):
        gpu = draw(st.sampled_from([0, 1, 2, 4, 8]))
        out.append(
            NodeSpec(
                f"n{i}",
                draw(st.integers(0, 64)) * 1000,
                draw(st.integers(0, 64)) * 1024,
                gpu,
                draw(st.sampled_from(MODELS)) if gpu else "",
            )
        )
    return out


@st.composite
def pod_st(draw: st.DrawFn) -> PodRequest:
    kind = draw(st.sampled_from(["cpu", "share", "whole"]))
    cpu = draw(st.integers(0, 24)) * 1000
    mem = draw(st.integers(0, 16)) * 1024
    spec = frozenset(draw(st.sets(st.sampled_from(MODELS), max_size=2)))
    if kind == "cpu":
        return PodRequest("p", cpu, mem)
    if kind == "share":
        return PodRequest(
            "p", cpu, mem, 1, draw(st.sampled_from([50, 100, 250, 300, 470, 500, 810, 999])), spec
        )
    return PodRequest("p", cpu, mem, draw(st.sampled_from([1, 2, 4, 8])), 1000, spec)


def _warm(state: ClusterState, pods: list[PodRequest], seed: int) -> None:
    """Bring the cluster into a random, partly used state."""
    policy = make_policy("random", PolicyContext(TypicalPods.from_pods(pods), seed), state)
    for p in pods:
        schedule_one(state, p, policy)


def _model(state: ClusterState, n: int) -> str:
    m = int(state.model_id[n])
    return state.models[m] if m >= 0 else ""


@settings(max_examples=60, deadline=None)
@given(
    nodes_st(),
    st.lists(pod_st(), min_size=1, max_size=25),
    st.lists(pod_st(), min_size=1, max_size=6),
    st.integers(0, 1000),
)
def test_vectorised_scores_match_reference(
    nodes: list[NodeSpec], warm: list[PodRequest], probes: list[PodRequest], seed: int
) -> None:
    state = ClusterState(nodes)
    _warm(state, warm, seed)
    typical = TypicalPods.from_pods(warm + probes)
    # Node fragmentation.
    frag = node_frag(state, typical)
    for n in range(state.num_nodes):
        gpus = [int(g) for g in state.gpu_free[n, : state.gpu_count[n]]]
        assert frag[n] == ref_node_frag(typical, int(state.cpu_free[n]), gpus, _model(state, n))
    cache = FragCache(typical, state)
    bestfit = BestFitPolicy(PolicyContext(typical), state)
    dotproduct = DotProductPolicy(PolicyContext(typical), state)
    for pod in probes:
        mask = feasible_nodes(state, pod)
        assert list(mask) == [ref_feasible(state, pod, n) for n in range(state.num_nodes)]
        delta, gpu = cache.deltas(state, pod, mask)
        upstream, up_gpu = cache.deltas(state, pod, mask, fgd_score)
        bf = bestfit.score(state, pod, mask)
        dp = dotproduct.score(state, pod, mask)
        for n in np.flatnonzero(mask):
            ref_delta, ref_gpu = ref_fgd_score(state, pod, typical, int(n))
            assert delta[n] == ref_delta
            assert gpu[n] == ref_gpu
            assert (upstream[n], up_gpu[n]) == ref_fgd_upstream_score(state, pod, typical, int(n))
            assert bf[n] == ref_bestfit_score(state, pod, int(n))
            assert dp[n] == ref_dotproduct_score(state, pod, int(n))
        assert np.all(np.isneginf(delta[~mask]))


@settings(max_examples=40, deadline=None)
@given(
    nodes_st(),
    st.lists(pod_st(), min_size=1, max_size=40),
    st.sampled_from(["random", "dotproduct", "gpuclustering", "gpupacking", "bestfit", "fgd", "fgdpack"]),
    st.integers(0, 1000),
)
def test_replay_never_overallocates_and_honours_spec(
    nodes: list[NodeSpec], pods: list[PodRequest], policy_name: str, seed: int
) -> None:
    state = ClusterState(nodes)
    policy = make_policy(policy_name, PolicyContext(TypicalPods.from_pods(pods), seed), state)
    for pod in pods:
        fits_somewhere = any(ref_feasible(state, pod, n) for n in range(state.num_nodes))
        placement = schedule_one(state, pod, policy)
        assert (placement is not None) == fits_somewhere
        if placement is not None and pod.gpu_spec and pod.num_gpu:
            assert _model(state, placement.node) in pod.gpu_spec
        assert (state.cpu_free >= 0).all() and (state.mem_free >= 0).all()
        present = np.arange(state.gpu_free.shape[1])[None, :] < state.gpu_count[:, None]
        assert (state.gpu_free[present] >= 0).all()
        assert (state.gpu_free[~present] == -1).all()


@settings(max_examples=25, deadline=None)
@given(
    nodes_st(),
    st.lists(pod_st(), min_size=1, max_size=30),
    st.sampled_from(["random", "fgd", "fgdpack", "gpupacking"]),
    st.integers(0, 1000),
)
def test_same_seed_gives_identical_placements(
    nodes: list[NodeSpec], pods: list[PodRequest], policy_name: str, seed: int
) -> None:
    runs = []
    for _ in range(2):
        state = ClusterState(nodes)
        policy = make_policy(policy_name, PolicyContext(TypicalPods.from_pods(pods), seed), state)
        runs.append([schedule_one(state, p, policy) for p in pods])
    assert runs[0] == runs[1]
