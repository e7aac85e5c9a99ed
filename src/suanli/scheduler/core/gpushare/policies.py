"""Placement policies for GPU-sharing pods, registered by name.

Every policy implements :class:`Policy`: ``score`` rates all nodes at once
(higher is better; only entries where ``feasible`` is true are read) and
``select_gpus`` picks the GPUs on the chosen node. :func:`schedule_one` takes
the highest score, ties going to the lowest node index.

Scores are exact integers (stored as float64, exact below 2**53) so that ties
are real ties and the reference implementation agrees bit for bit.
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
    """Place ``pod`` with ``policy`` and bind it; None (state unchanged) if no node fits."""
    feasible = feasible_nodes(state, pod)
    if not feasible.any():
        return None
    scores = np.where(feasible, policy.score(state, pod, feasible), -np.inf)
    node = int(np.argmax(scores))
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
    """Smallest dot product of the node's free vector and the pod's request.

    Vectors are ``[cpu, gpu]`` normalised by ``(128000, 8000)`` (GPU merged over
    the node); score ``= -(cpu_free*c + 256*idle*g)``, i.e. the dot product
    scaled by ``128000**2`` and negated.
    """

    name = "dotproduct"

    def __init__(self, context: PolicyContext, state: ClusterState) -> None:
        self.ratio = (MAX_SPEC_CPU // MAX_SPEC_GPU) ** 2

    def score(self, state: ClusterState, pod: PodRequest, feasible: BoolArray) -> FloatArray:
        dot = state.cpu_free * pod.cpu_milli + self.ratio * _idle(state) * pod.total_gpu_milli
        return -dot.astype(np.float64)


class BestFitPolicy(_BestFitGpuMixin):
    """Least leftover: ``0.5*(cpu_free-c)/128000 + 0.5*(idle-g)/8000``, minimised.

    Integer form: score ``= -((cpu_free - c) + 16*(idle - g))``.
    """

    name = "bestfit"

    def __init__(self, context: PolicyContext, state: ClusterState) -> None:
        self.ratio = MAX_SPEC_CPU // MAX_SPEC_GPU

    def score(self, state: ClusterState, pod: PodRequest, feasible: BoolArray) -> FloatArray:
        left = (state.cpu_free - pod.cpu_milli) + self.ratio * (_idle(state) - pod.total_gpu_milli)
        return -left.astype(np.float64)


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


class FGDPolicy:
    """Fragmentation Gradient Descent: the node/GPU with the largest decrease of ``F``.

    ``F`` is defined in :mod:`~suanli.scheduler.core.gpushare.frag`. Sharing pods
    go to the GPU that achieved the node's score (lowest index on ties); whole
    GPU pods to the lowest-index free GPUs.
    """

    name = "fgd"

    def __init__(self, context: PolicyContext, state: ClusterState) -> None:
        self.cache = FragCache(context.typical, state)
        self._last: tuple[PodRequest, npt.NDArray[np.int64]] | None = None

    def frag_scores(self, state: ClusterState, pod: PodRequest, feasible: BoolArray) -> FloatArray:
        delta, best = self.cache.deltas(state, pod, feasible)
        self._last = (pod, best)
        return delta

    def score(self, state: ClusterState, pod: PodRequest, feasible: BoolArray) -> FloatArray:
        return self.frag_scores(state, pod, feasible)

    def select_gpus(self, state: ClusterState, pod: PodRequest, node: int) -> tuple[int, ...]:
        if pod.is_share:
            if self._last is not None and self._last[0] is pod and self._last[1][node] >= 0:
                return (int(self._last[1][node]),)
            _, best = self.cache.deltas(state, pod, np.arange(state.num_nodes) == node)
            return (int(best[node]),)
        return bestfit_gpus(state, pod, node)


class FGDPackPolicy(FGDPolicy):
    """Ours: FGD plus a gentle GPU best-fit pull.

    ``score = dF / W - lam * (idle - g)`` with ``lam = 1 / LAM_DEN``: the
    fragmentation decrease (in milli, ``W`` = total typical weight) minus a
    small charge per milli of GPU the node would still have free after the
    placement. Integer form: ``LAM_DEN * dF - W * (idle - g)``.

    Why it helps: FGD's ``dF`` is exactly zero or nearly flat for many
    candidates (every pristine node of a model looks the same, and a pod that
    fits a typical "hole" everywhere changes ``F`` equally), so FGD spreads
    pods over fresh nodes by index order. The packing term breaks those
    near-ties towards nodes that are already partly used, keeping whole
    nodes free for the multi-GPU and large-CPU pods that arrive later, while
    ``dF`` still dominates whenever fragmentation really differs.
    """

    name = "fgdpack"
    LAM_DEN = 20

    def score(self, state: ClusterState, pod: PodRequest, feasible: BoolArray) -> FloatArray:
        delta = self.frag_scores(state, pod, feasible)
        left = _idle(state) - pod.total_gpu_milli
        return self.LAM_DEN * delta - self.cache.t.W * left.astype(np.float64)


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
