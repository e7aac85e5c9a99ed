"""The FGD experiment (ATC'23): inflate a pod trace to ``tune`` x GPU capacity and replay it.

Method, per seed: pods are drawn uniformly with replacement from the pod list
(a seeded ``numpy`` Generator) until their total GPU request (``num_gpu *
gpu_milli``) reaches ``tune`` x cluster GPU capacity (the pod that crosses the
target is included). Pods arrive in draw order and never depart; each is placed
by the policy or fails for good. The typical-pod distribution is taken from
the input pod list (:meth:`TypicalPods.from_pods`).

Recorded every 1% of capacity of arrived GPU request: the allocation ratio
(allocated GPU milli / capacity milli) and the fragmentation rate (fragmented
idle GPU / idle GPU). At the end: allocated milli, unallocated GPUs
(``(capacity - allocated) / 1000``) and the final fragmentation rate.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from suanli.scheduler.core.gpushare.frag import FragCache, TypicalPods
from suanli.scheduler.core.gpushare.model import MILLI, ClusterState, NodeSpec, Placement, PodRequest
from suanli.scheduler.core.gpushare.policies import PolicyContext, make_policy, schedule_one

__all__ = ["ReplayResult", "replay", "run_experiment", "sample_workload"]


def sample_workload(
    pods: Sequence[PodRequest], capacity_milli: int, tune: float, seed: int
) -> list[PodRequest]:
    """Draw pods with replacement until their GPU request reaches ``tune * capacity_milli``.

    Example: capacity 6,212,000 milli and tune 1.3 -> draws stop at the first
    pod where the cumulative request is >= 8,075,600 milli.
    """
    if not pods:
        raise ValueError("empty pod list")
    gpu = np.array([p.total_gpu_milli for p in pods], dtype=np.int64)
    if gpu.sum() == 0:
        raise ValueError("the pod list requests no GPU; cannot inflate to a GPU target")
    target = tune * capacity_milli
    rng = np.random.default_rng(seed)
    chosen: list[np.ndarray] = []
    total = 0
    while True:
        idx = rng.integers(0, len(pods), size=len(pods))
        cum = total + np.cumsum(gpu[idx])
        hit = np.flatnonzero(cum >= target)
        if hit.size:
            chosen.append(idx[: hit[0] + 1])
            break
        chosen.append(idx)
        total = int(cum[-1])
    order = np.concatenate(chosen)
    return [pods[int(i)] for i in order]


@dataclass(slots=True)
class ReplayResult:
    """Outcome of one replay (one policy, one seed)."""

    policy: str
    seed: int
    cluster_gpu_milli: int
    pods: int
    failed: int
    allocated_gpu_milli: int
    fragmentation_rate: float
    seconds: float
    schedule_seconds: float
    arrived_pct: list[float] = field(default_factory=list)
    allocation_ratio_curve: list[float] = field(default_factory=list)
    fragmentation_curve: list[float] = field(default_factory=list)
    placements: list[Placement | None] = field(default_factory=list)

    @property
    def allocation_ratio(self) -> float:
        return self.allocated_gpu_milli / self.cluster_gpu_milli

    @property
    def unallocated_gpus(self) -> float:
        return (self.cluster_gpu_milli - self.allocated_gpu_milli) / MILLI


def replay(
    nodes: Sequence[NodeSpec],
    workload: Sequence[PodRequest],
    policy_name: str,
    typical: TypicalPods,
    seed: int,
    *,
    step: float = 0.01,
    keep_placements: bool = False,
) -> ReplayResult:
    """Place ``workload`` in order on a fresh cluster; see the module docstring."""
    started = time.perf_counter()
    state = ClusterState(nodes)
    policy = make_policy(policy_name, PolicyContext(typical, seed), state)
    metric = FragCache(typical, state)
    cap = state.gpu_capacity_milli
    W = typical.total_weight
    arrived = 0
    next_cp = 0.0
    failed = 0
    sched = 0.0
    pct: list[float] = []
    ratio: list[float] = []
    frag: list[float] = []
    placements: list[Placement | None] = []
    allocated = 0

    def record(at: float) -> None:
        metric.refresh(state)
        idle = int(metric.idle.sum())
        pct.append(round(100 * at, 6))
        ratio.append(allocated / cap if cap else 0.0)
        frag.append(float(metric.F.sum()) / (W * idle) if idle else 0.0)

    record(0.0)
    next_cp = step
    for pod in workload:
        t0 = time.perf_counter()
        placement = schedule_one(state, pod, policy)
        sched += time.perf_counter() - t0
        if placement is None:
            failed += 1
        else:
            allocated += pod.total_gpu_milli
        if keep_placements:
            placements.append(placement)
        arrived += pod.total_gpu_milli
        while cap and arrived >= next_cp * cap - 1e-9:
            record(next_cp)
            next_cp = round(next_cp + step, 10)
    metric.refresh(state)
    idle = int(metric.idle.sum())
    final_frag = float(metric.F.sum()) / (W * idle) if idle else 0.0
    return ReplayResult(
        policy=policy_name,
        seed=seed,
        cluster_gpu_milli=cap,
        pods=len(workload),
        failed=failed,
        allocated_gpu_milli=allocated,
        fragmentation_rate=final_frag,
        seconds=time.perf_counter() - started,
        schedule_seconds=sched,
        arrived_pct=pct,
        allocation_ratio_curve=ratio,
        fragmentation_curve=frag,
        placements=placements,
    )


def _one(args: tuple[Sequence[NodeSpec], Sequence[PodRequest], str, TypicalPods, int, float]) -> ReplayResult:
    nodes, pods, policy, typical, seed, tune = args
    cap = sum(n.gpu for n in nodes) * MILLI
    return replay(nodes, sample_workload(pods, cap, tune, seed), policy, typical, seed)


def run_experiment(
    nodes: Sequence[NodeSpec],
    pods: Sequence[PodRequest],
    policies: Sequence[str],
    seeds: Sequence[int],
    *,
    tune: float = 1.3,
    jobs: int = 1,
) -> dict[str, list[ReplayResult]]:
    """Run every ``(policy, seed)`` pair; results per policy in seed order."""
    typical = TypicalPods.from_pods(pods)
    tasks = [(nodes, pods, p, typical, s, tune) for p in policies for s in seeds]
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(_one, tasks))
    else:
        results = [_one(t) for t in tasks]
    out: dict[str, list[ReplayResult]] = {p: [] for p in policies}
    for r in results:
        out[r.policy].append(r)
    return out
