"""Placement policies for GPU-sharing pods, registered by name.

Every policy implements :class:`Policy`: ``score`` rates all nodes at once
(higher is better; only entries where ``feasible`` is true are read) and
``select_gpus`` picks the GPUs on the chosen node. :func:`schedule_one` takes
the highest score, ties going to the node of lowest ``state.rank``.

The upstream policies (``random`` ... ``fgd``) score exactly as the
hkust-adsl simulator's score plugins do, including their truncation to the
kube-scheduler integer range 0-100 (``int64(...)`` in Go); the many ties this
creates are part of their behaviour. Scores are integers stored as float64.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from suanli.scheduler.core.gpushare.frag import FragCache, TypicalPods
from suanli.scheduler.core.gpushare.model import (
    MAX_SPEC_CPU,
    MAX_SPEC_GPU,
    MILLI,
    ClusterState,
    Placement,
    PodRequest,
    affinity_tag,
    feasible_nodes,
    lowest_full_gpus,
)

__all__ = [
    "Policy",
    "PolicyContext",
    "make_policy",
    "policy_names",
    "register_policy",
    "schedule_one",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class Policy(Protocol):
    """A node-scoring placement policy."""

    name: str

    def score(self, state: ClusterState, pod: PodRequest, feasible: BoolArray) -> FloatArray:
        """Scores for all nodes, higher is better; entries outside ``feasible`` are ignored."""
        ...

    def select_gpus(self, state: ClusterState, pod: PodRequest, node: int) -> tuple[int, ...]:
        """GPU indices on ``node`` (which is feasible) for ``pod``; ``()`` for CPU-only pods."""
        ...


@dataclass(frozen=True, slots=True)
class PolicyContext:
    """What a policy may know besides the cluster: the typical pods and a seed."""

    typical: TypicalPods
    seed: int = 0


PolicyFactory = Callable[[PolicyContext, ClusterState], Policy]
_REGISTRY: dict[str, PolicyFactory] = {}


def register_policy(name: str, factory: PolicyFactory) -> None:
    """Register ``factory`` under ``name`` (names are unique)."""
    if name in _REGISTRY:
        raise ValueError(f"policy {name!r} already registered")
    _REGISTRY[name] = factory


def policy_names() -> list[str]:
    """Registered policy names in registration order."""
    return list(_REGISTRY)


def make_policy(name: str, context: PolicyContext, state: ClusterState) -> Policy:
    """Instantiate policy ``name`` for one replay on ``state``; KeyError if unknown."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown policy {name!r}; known: {', '.join(_REGISTRY)}") from None
    return factory(context, state)


def schedule_one(state: ClusterState, pod: PodRequest, policy: Policy) -> Placement | None:
    """Place ``pod`` with ``policy`` and bind it; None (state unchanged) if no node fits.

    The highest score wins; among equal scores the node with the lowest
    ``state.rank`` (upstream: the smallest node name).
    """
    feasible = feasible_nodes(state, pod)
    if not feasible.any():
        return None
    scores = np.where(feasible, policy.score(state, pod, feasible), -np.inf)
    top = scores == scores.max()
    node = int(np.argmin(np.where(top, state.rank, np.iinfo(np.int64).max)))
    placement = Placement(node, policy.select_gpus(state, pod, node))
    state.bind(pod, placement)
    return placement


def bestfit_gpus(state: ClusterState, pod: PodRequest, node: int) -> tuple[int, ...]:
    """Sharing: the eligible GPU with the least free milli (lowest index on ties);
    whole: the lowest-index fully free GPUs."""
    if pod.num_gpu == 0:
        return ()
    if not pod.is_share:
        return lowest_full_gpus(state, node, pod.num_gpu)
    free = state.gpu_free[node]
    masked = np.where(free >= pod.gpu_milli, free, np.iinfo(np.int64).max)
    return (int(np.argmin(masked)),)


def _idle(state: ClusterState) -> npt.NDArray[np.int64]:
    idle: npt.NDArray[np.int64] = np.maximum(state.gpu_free, 0).sum(axis=1)
    return idle


class RandomPolicy:
    """Uniformly random feasible node; random eligible GPU for sharing pods."""

    name = "random"

    def __init__(self, context: PolicyContext, state: ClusterState) -> None:
        self.rng = np.random.default_rng(context.seed)

    def score(self, state: ClusterState, pod: PodRequest, feasible: BoolArray) -> FloatArray:
        return self.rng.random(state.num_nodes)

    def select_gpus(self, state: ClusterState, pod: PodRequest, node: int) -> tuple[int, ...]:
        if not pod.is_share:
            return bestfit_gpus(state, pod, node)
        eligible = np.flatnonzero(state.gpu_free[node] >= pod.gpu_milli)
        return (int(self.rng.choice(eligible)),)


class _BestFitGpuMixin:
    def select_gpus(self, state: ClusterState, pod: PodRequest, node: int) -> tuple[int, ...]:
        return bestfit_gpus(state, pod, node)


class DotProductPolicy(_BestFitGpuMixin):
    """Tetris: the smaller the dot product of node free and pod request, the better.

    Upstream ``DotProductScore`` with ``dimExtMethod: merge``, ``normMethod:
    max`` (the artifact's setting): vectors ``[cpu, gpu]`` with the node's GPUs
    merged into one dimension, each divided by ``(128000, 8000)``;
    score ``= int(100 * (1 - dot / 2))``. GPUs: best fit (``gpuSelMethod: best``).
    """

    name = "dotproduct"

    def __init__(self, context: PolicyContext, state: ClusterState) -> None:
        pass

    def score(self, state: ClusterState, pod: PodRequest, feasible: BoolArray) -> FloatArray:
        dot = (state.cpu_free / MAX_SPEC_CPU) * (pod.cpu_milli / MAX_SPEC_CPU) + (_idle(state) / MAX_SPEC_GPU) * (
            pod.total_gpu_milli / MAX_SPEC_GPU
        )
        out: FloatArray = np.trunc(100.0 * (1.0 - dot / 2.0))
        return out


class BestFitPolicy(_BestFitGpuMixin):
    """Least leftover: ``s = 0.5*(cpu_free-c)/128000 + 0.5*(idle-g)/8000``.

    Upstream ``BestFitScore``: ``int(100 * (1 - s))``. Its min-max
    ``NormalizeScore`` over the feasible nodes is monotone and keeps the set of
    top nodes, so it is not applied. GPUs: best fit.
    """

    name = "bestfit"

    def __init__(self, context: PolicyContext, state: ClusterState) -> None:
        pass

    def score(self, state: ClusterState, pod: PodRequest, feasible: BoolArray) -> FloatArray:
        left = (state.cpu_free - pod.cpu_milli) / MAX_SPEC_CPU * 0.5 + (
            _idle(state) - pod.total_gpu_milli
        ) / MAX_SPEC_GPU * 0.5
        out: FloatArray = np.trunc((1.0 - left) * 100.0)
        return out


class GpuPackingPolicy(_BestFitGpuMixin):
    """Prefer, in order: a partially used GPU, then free GPUs on a used node, then an idle node.

    Scores (0-100, as upstream): sharing on a used GPU with ``f`` milli free:
    ``max(100 - (f*100//1000)//10, 50)``; needing ``u`` fully free GPUs on a
    node that is not idle: ``max(50 - u, 33)``; a node whose ``n`` GPUs are all
    free: ``max(33 - n, n)``. CPU-only pods score 0 everywhere.
    """

    name = "gpupacking"

    def __init__(self, context: PolicyContext, state: ClusterState) -> None:
        pass

    def score(self, state: ClusterState, pod: PodRequest, feasible: BoolArray) -> FloatArray:
        n = state.num_nodes
        if pod.num_gpu == 0:
            return np.zeros(n)
        free = state.gpu_free
        full = (free == MILLI).sum(axis=1)
        idle_node = full == state.gpu_count
        if pod.is_share:
            big = np.iinfo(np.int64).max
            best = np.where(free >= pod.gpu_milli, free, big).min(axis=1)
            uses_full = best == MILLI
            shared = np.maximum(100 - (best * 100 // MILLI) // 10, 50)
            score = np.where(uses_full, np.maximum(50 - 1, 33), shared)
        else:
            score = np.full(n, max(50 - pod.num_gpu, 33))
        score = np.where(idle_node, np.maximum(33 - full, full), score)
        out: FloatArray = score.astype(np.float64)
        return out


class GpuClusteringPolicy(_BestFitGpuMixin):
    """Keep pods of one GPU-affinity tag (sharing, 1-GPU, 2-GPU, ...) together.

    ``25*(8000 - idle)//8000`` plus 75 if the node hosts only this tag, 50 if it
    hosts this tag among others, 25 if it hosts no GPU pod, 0 otherwise.
    CPU-only pods score 0 everywhere.
    """

    name = "gpuclustering"

    def __init__(self, context: PolicyContext, state: ClusterState) -> None:
        pass

    def score(self, state: ClusterState, pod: PodRequest, feasible: BoolArray) -> FloatArray:
        tag = affinity_tag(pod)
        if tag < 0:
            return np.zeros(state.num_nodes)
        tag = min(tag, state.affinity.shape[1] - 1)
        base = 25 * (MAX_SPEC_GPU - _idle(state)) // MAX_SPEC_GPU
        tags = (state.affinity > 0).sum(axis=1)
        same = state.affinity[:, tag] > 0
        bonus = np.where(same, np.where(tags == 1, 75, 50), np.where(tags == 0, 25, 0))
        return (base + bonus).astype(np.float64)


def fgd_score(delta_milli: FloatArray) -> FloatArray:
    """Upstream FGD's node score for a fragmentation decrease ``delta_milli``:
    ``int(100 * sigmoid(delta_milli / 1000))``, e.g. 0 -> 50, 100 -> 52, 1000 -> 73."""
    out: FloatArray = np.trunc(1.0 / (1.0 + np.exp(-delta_milli / 1000.0)) * 100.0)
    return out


class FGDPolicy:
    """Fragmentation Gradient Descent: the node/GPU with the largest decrease of ``F``.

    ``F`` is defined in :mod:`~suanli.scheduler.core.gpushare.frag`. As upstream
    ``FGDScore``, the decrease in milli is scored by :func:`fgd_score`, so
    decreases closer than about 40 milli tie. Sharing pods go to the GPU with
    the best score (lowest index on ties); whole GPU pods to the lowest-index
    free GPUs.
    """

    name = "fgd"
    #: Among GPUs of a node with the best score, take the tightest (else the lowest index).
    tight_gpu = False

    def __init__(self, context: PolicyContext, state: ClusterState) -> None:
        self.cache = FragCache(context.typical, state)
        self._last: tuple[PodRequest, npt.NDArray[np.int64]] | None = None

    def frag_scores(self, state: ClusterState, pod: PodRequest, feasible: BoolArray) -> FloatArray:
        """Upstream FGD score per node (``-inf`` where infeasible); remembers the GPUs."""
        delta, best = self.cache.deltas(state, pod, feasible, fgd_score, tight_gpu=self.tight_gpu)
        self._last = (pod, best)
        return delta

    def score(self, state: ClusterState, pod: PodRequest, feasible: BoolArray) -> FloatArray:
        return self.frag_scores(state, pod, feasible)

    def select_gpus(self, state: ClusterState, pod: PodRequest, node: int) -> tuple[int, ...]:
        if pod.is_share:
            if self._last is not None and self._last[0] is pod and self._last[1][node] >= 0:
                return (int(self._last[1][node]),)
            only = np.arange(state.num_nodes) == node
            _, best = self.cache.deltas(state, pod, only, fgd_score, tight_gpu=self.tight_gpu)
            return (int(best[node]),)
        return bestfit_gpus(state, pod, node)


class FGDPackPolicy(FGDPolicy):
    """Ours: FGD's decision, with its ties broken towards balanced nodes.

    Score ``= 10 * fgd_score(dF) - key``, ``key in [0, 1)``: the node FGD rates
    highest; among nodes it rates equally (its integer score puts all
    decreases within ~40 milli, and all large ones, in one class), the one
    whose CPU:GPU imbalance grows least. A node's imbalance is
    ``|cpu_free / R - idle|`` (in GPU milli), where ``R`` is the CPU the typical
    pods request per GPU (:attr:`TypicalPods.cpu_per_gpu_milli`); a placement
    that leaves a node's free CPU and free GPU in the proportion the workload
    asks for keeps both usable. Remaining ties: best fit (BestFit's leftover),
    then the node rank. A sharing pod takes, among the GPUs of that node with
    the best FGD score, the one with the least free milli.

    Upstream FGD breaks these ties by a random but fixed node order; ordering
    them by CPU:GPU balance instead sends CPU-heavy pods to CPU-rich nodes and
    GPU pods with little CPU to CPU-poor ones, so fewer GPUs end up on nodes
    without CPU (see docs/simulation.md for the measurements and the variants
    that did not help).
    """

    name = "fgdpack"
    tight_gpu = True

    def __init__(self, context: PolicyContext, state: ClusterState) -> None:
        super().__init__(context, state)
        ratio = context.typical.cpu_per_gpu_milli
        self.inv_ratio = 0.0 if not np.isfinite(ratio) or ratio <= 0 else 1.0 / ratio

    def score(self, state: ClusterState, pod: PodRequest, feasible: BoolArray) -> FloatArray:
        q = self.frag_scores(state, pod, feasible)
        cpu_now, gpu_now = state.cpu_free, _idle(state)
        cpu_left, gpu_left = cpu_now - pod.cpu_milli, gpu_now - pod.total_gpu_milli
        grow = np.abs(cpu_left * self.inv_ratio - gpu_left) - np.abs(cpu_now * self.inv_ratio - gpu_now)
        # |grow| <= cpu/R + gpu of one pod, well below 4 x 8000 milli: the clip only guards the range.
        balance = np.clip(grow / (8 * MAX_SPEC_GPU) + 0.5, 0.0, 0.99)
        fit = np.clip(cpu_left / MAX_SPEC_CPU * 0.5 + gpu_left / MAX_SPEC_GPU * 0.5, 0.0, 1.0)
        out: FloatArray = 10.0 * q - balance - 0.005 * fit
        return out


for _cls in (
    RandomPolicy,
    DotProductPolicy,
    GpuClusteringPolicy,
    GpuPackingPolicy,
    BestFitPolicy,
    FGDPolicy,
    FGDPackPolicy,
):
    register_policy(_cls.name, _cls)
