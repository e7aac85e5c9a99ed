"""The FGD experiment (ATC'23): inflate a pod trace to ``tune`` x GPU capacity and replay it.

Method, per seed, as the artifact (hkust-adsl simulator, ``--shuffle-pod=true``,
``workloadTuningConfig``): the pod list is shuffled (seeded ``numpy``
Generator); if its GPU request (``num_gpu * gpu_milli``) is below
``tune`` x capacity, pods drawn uniformly with replacement are appended until
the next draw's *per-GPU* milli would cross the target (the upstream stopping
rule); if above, random pods are removed until it is not. Pods arrive in that
order and never depart; each is placed by the policy or fails for good. Ties
between equally scored nodes go to the lowest rank of a seeded node
permutation (upstream: random name prefixes, smallest name wins). The
typical-pod distribution comes from the input pod list
(:meth:`TypicalPods.from_pods`).

Recorded every 1% of capacity of arrived GPU request: the allocation ratio
(allocated GPU milli / capacity milli) and the fragmentation rate (fragmented
idle GPU / idle GPU). The headline number is read as the artifact's analysis
script reads its ``130`` column: the mean allocation ratio over all pod
arrivals whose arrived GPU request, in % of capacity, rounds to ``100 x tune``
(:func:`allocation_at`); unallocated GPUs = ``(1 - that ratio) x capacity``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from suanli.scheduler.core.gpushare.frag import FragCache, TypicalPods
from suanli.scheduler.core.gpushare.model import MILLI, ClusterState, IntArray, NodeSpec, Placement, PodRequest
from suanli.scheduler.core.gpushare.policies import PolicyContext, make_policy, schedule_one

__all__ = ["ReplayResult", "allocation_at", "node_rank", "replay", "run_experiment", "sample_workload"]


def sample_workload(
    pods: Sequence[PodRequest], capacity_milli: int, tune: float, seed: int
) -> list[PodRequest]:
    """The artifact's workload: the shuffled pod list, tuned to ``tune * capacity_milli``.

    Tune-up appends uniform draws while ``total + gpu_milli <= target``
    (``gpu_milli`` per GPU, so a multi-GPU draw may overshoot; the first draw
    that fails the test ends it). Tune-down removes uniformly chosen pods while
    ``total > target``. Example: the default openb list requests 6,086.8 GPUs;
    at 130% of 6,212 GPUs about 2,600 drawn pods are appended.
    """
    if not pods:
        raise ValueError("empty pod list")
    gpu = np.array([p.total_gpu_milli for p in pods], dtype=np.int64)
    per_gpu = np.array([p.gpu_milli for p in pods], dtype=np.int64)
    if gpu.sum() == 0:
        raise ValueError("the pod list requests no GPU; cannot inflate to a GPU target")
    target = tune * capacity_milli
    rng = np.random.default_rng(seed)
    order = [int(i) for i in rng.permutation(len(pods))]
    total = int(gpu.sum())
    while total > target:
        total -= int(gpu[order.pop(int(rng.integers(0, len(order))))])
    if total < target:
        while True:
            idx = rng.integers(0, len(pods), size=len(pods))
            before = total + np.concatenate(([0], np.cumsum(gpu[idx])[:-1]))
            stop = np.flatnonzero(before + per_gpu[idx] > target)
            take = idx if stop.size == 0 else idx[: stop[0]]
            order.extend(int(i) for i in take)
            total += int(gpu[take].sum())
            if stop.size:
                break
    return [pods[i] for i in order]


def node_rank(num_nodes: int, seed: int) -> IntArray:
    """The seeded tie-break order of the nodes (a permutation of ``range(num_nodes)``)."""
    ranks: IntArray = np.random.default_rng([seed, 1]).permutation(num_nodes).astype(np.int64)
    return ranks


def allocation_at(arrived_milli: IntArray, allocated_milli: IntArray, capacity_milli: int, pct: int) -> float:
    """Allocation ratio "at ``pct``% arrived", read as the artifact's ``merge_alloc_discrete.py``.

    One sample per pod arrival: arrived and allocated GPU milli after it. The
    samples whose arrived % (rounded half to even, as pandas) equals ``pct``
    (else within ``pct +- 1``) are averaged, each allocation % rounded to two
    decimals. Returns a ratio in [0, 1] (NaN if no sample is near ``pct``).
    """
    arr = np.round(100.0 * arrived_milli / capacity_milli)
    alloc = np.round(100.0 * allocated_milli / capacity_milli, 2)
    sel = arr == pct
    if not sel.any():
        sel = (arr >= pct - 1) & (arr <= pct + 1)
    if not sel.any():
        return float("nan")
    return float(np.round(alloc[sel].mean(), 2)) / 100.0


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
    #: Allocation ratio at the tune target, read as the artifact does (:func:`allocation_at`).
    allocation_at_tune: float = float("nan")
    arrived_pct: list[float] = field(default_factory=list)
    allocation_ratio_curve: list[float] = field(default_factory=list)
    fragmentation_curve: list[float] = field(default_factory=list)
    placements: list[Placement | None] = field(default_factory=list)

    @property
    def allocation_ratio(self) -> float:
        """Final allocation ratio (after the last pod)."""
        return self.allocated_gpu_milli / self.cluster_gpu_milli

    @property
    def final_unallocated_gpus(self) -> float:
        """Unallocated GPUs after the last pod."""
        return (self.cluster_gpu_milli - self.allocated_gpu_milli) / MILLI

    @property
    def unallocated_gpus(self) -> float:
        """Unallocated GPUs at the tune target, the artifact's reading (``(1 - ratio) x GPUs``)."""
        return (1.0 - self.allocation_at_tune) * self.cluster_gpu_milli / MILLI


def replay(
    nodes: Sequence[NodeSpec],
    workload: Sequence[PodRequest],
    policy_name: str,
    typical: TypicalPods,
    seed: int,
    *,
    tune: float = 1.3,
    step: float = 0.01,
    keep_placements: bool = False,
) -> ReplayResult:
    """Place ``workload`` in order on a fresh cluster; see the module docstring."""
    started = time.perf_counter()
    state = ClusterState(nodes, node_rank(len(nodes), seed))
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
    arrived_log = np.zeros(len(workload), dtype=np.int64)
    allocated_log = np.zeros(len(workload), dtype=np.int64)
    for i, pod in enumerate(workload):
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
        arrived_log[i] = arrived
        allocated_log[i] = allocated
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
        allocation_at_tune=allocation_at(arrived_log, allocated_log, cap, round(100 * tune)) if cap else 0.0,
        arrived_pct=pct,
        allocation_ratio_curve=ratio,
        fragmentation_curve=frag,
        placements=placements,
    )


def _one(args: tuple[Sequence[NodeSpec], Sequence[PodRequest], str, TypicalPods, int, float]) -> ReplayResult:
    nodes, pods, policy, typical, seed, tune = args
    cap = sum(n.gpu for n in nodes) * MILLI
    return replay(nodes, sample_workload(pods, cap, tune, seed), policy, typical, seed, tune=tune)


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
