"""Plain per-node reference implementation (slow, obvious) to test the vectorised code against.

Covers feasibility, the fragmentation ``F`` of a node, FGD's exact decrease
of ``F`` and its upstream integer score, and the BestFit and DotProduct
scores, written per node as the upstream Go code computes them.
"""

from __future__ import annotations

import math

from suanli.scheduler.core.gpushare.frag import TypicalPods
from suanli.scheduler.core.gpushare.model import MAX_SPEC_CPU, MAX_SPEC_GPU, MILLI, ClusterState, PodRequest

__all__ = [
    "ref_bestfit_score",
    "ref_dotproduct_score",
    "ref_feasible",
    "ref_fgd_score",
    "ref_fgd_upstream_score",
    "ref_node_frag",
]


def _gpus(state: ClusterState, n: int) -> list[int]:
    return [int(state.gpu_free[n, g]) for g in range(int(state.gpu_count[n]))]


def _model(state: ClusterState, n: int) -> str:
    m = int(state.model_id[n])
    return state.models[m] if m >= 0 else ""


def ref_feasible(state: ClusterState, pod: PodRequest, n: int) -> bool:
    """True iff ``pod`` fits node ``n`` under the placement rules."""
    if state.cpu_free[n] < pod.cpu_milli or state.mem_free[n] < pod.memory_mib:
        return False
    if pod.num_gpu == 0:
        return True
    if pod.gpu_spec and _model(state, n) not in pod.gpu_spec:
        return False
    gpus = _gpus(state, n)
    if pod.is_share:
        return any(f >= pod.gpu_milli for f in gpus)
    return sum(1 for f in gpus if f == MILLI) >= pod.num_gpu


def ref_node_frag(typical: TypicalPods, cpu_free: int, gpus: list[int], model: str) -> int:
    """``F`` of one node state (see :mod:`suanli.scheduler.core.gpushare.frag`)."""
    idle = sum(gpus)
    total = 0
    for t in range(len(typical.weight)):
        w = int(typical.weight[t])
        m, k, c = int(typical.milli[t]), int(typical.num[t]), int(typical.cpu[t])
        spec = typical.specs[t]
        fits = m > 0 and (not spec or model in spec) and sum(1 for f in gpus if f >= m) >= k and cpu_free >= c
        total += w * (sum(f for f in gpus if f < m) if fits else idle)
    return total


def ref_fgd_score(state: ClusterState, pod: PodRequest, typical: TypicalPods, n: int) -> tuple[int, int]:
    """``(best decrease of F, gpu)`` for feasible node ``n``; gpu is -1 unless sharing."""
    gpus = _gpus(state, n)
    cpu, model = int(state.cpu_free[n]), _model(state, n)
    before = ref_node_frag(typical, cpu, gpus, model)
    new_cpu = cpu - pod.cpu_milli
    if pod.num_gpu == 0:
        return before - ref_node_frag(typical, new_cpu, gpus, model), -1
    if not pod.is_share:
        return before - ref_node_frag(typical, new_cpu, _take_full(gpus, pod.num_gpu), model), -1
    best: tuple[int, int] | None = None
    for g, f in enumerate(gpus):
        if f >= pod.gpu_milli:
            after = list(gpus)
            after[g] -= pod.gpu_milli
            d = before - ref_node_frag(typical, new_cpu, after, model)
            if best is None or d > best[0]:
                best = (d, g)
    assert best is not None, "node must be feasible"
    return best


def ref_fgd_upstream_score(state: ClusterState, pod: PodRequest, typical: TypicalPods, n: int) -> tuple[int, int]:
    """Upstream ``FGDScore``: ``(int(100 * sigmoid(dF_milli / 1000)), gpu)`` for feasible node ``n``.

    For a sharing pod every GPU with room is tried; the first one with the
    highest integer score wins (upstream's ``fragScore > score``).
    """
    gpus = _gpus(state, n)
    cpu, model = int(state.cpu_free[n]), _model(state, n)
    w = typical.total_weight
    before = ref_node_frag(typical, cpu, gpus, model)

    def score(after_gpus: list[int]) -> int:
        delta = (before - ref_node_frag(typical, cpu - pod.cpu_milli, after_gpus, model)) / w
        return int(1.0 / (1.0 + math.exp(-delta / 1000.0)) * 100.0)

    if not pod.is_share:
        return score(_take_full(gpus, pod.num_gpu)), -1
    best: tuple[int, int] | None = None
    for g, f in enumerate(gpus):
        if f >= pod.gpu_milli:
            after = list(gpus)
            after[g] -= pod.gpu_milli
            s = score(after)
            if best is None or s > best[0]:
                best = (s, g)
    assert best is not None, "node must be feasible"
    return best


def _take_full(gpus: list[int], k: int) -> list[int]:
    after = list(gpus)
    for g, f in enumerate(after):
        if k and f == MILLI:
            after[g] = 0
            k -= 1
    return after


def ref_bestfit_score(state: ClusterState, pod: PodRequest, n: int) -> int:
    """Upstream ``BestFitScore``: ``int((1 - (0.5*(cpu_free-c)/128000 + 0.5*(idle-g)/8000)) * 100)``."""
    idle = sum(_gpus(state, n))
    s = 0.0
    s += (int(state.cpu_free[n]) - pod.cpu_milli) / MAX_SPEC_CPU * 0.5
    s += (idle - pod.total_gpu_milli) / MAX_SPEC_GPU * 0.5
    return int((1.0 - s) * 100.0)


def ref_dotproduct_score(state: ClusterState, pod: PodRequest, n: int) -> int:
    """Upstream ``DotProductScore`` (merge, max): ``int(100 * (1 - dot / 2))``."""
    node = [int(state.cpu_free[n]) / MAX_SPEC_CPU, sum(_gpus(state, n)) / MAX_SPEC_GPU]
    req = [pod.cpu_milli / MAX_SPEC_CPU, pod.total_gpu_milli / MAX_SPEC_GPU]
    dot = 0.0
    for a, b in zip(node, req, strict=True):
        dot += a * b
    return int(100.0 * (1.0 - dot / 2.0))
