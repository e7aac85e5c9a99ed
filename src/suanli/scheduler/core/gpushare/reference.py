"""Plain per-node reference implementation (slow, obvious) to test the vectorised code against.

Covers feasibility, the fragmentation ``F`` of a node, and the FGD and
BestFit scores. Integer arithmetic, identical definitions.
"""

from __future__ import annotations

from suanli.scheduler.core.gpushare.frag import TypicalPods
from suanli.scheduler.core.gpushare.model import MAX_SPEC_CPU, MAX_SPEC_GPU, MILLI, ClusterState, PodRequest

__all__ = ["ref_bestfit_score", "ref_feasible", "ref_fgd_score", "ref_node_frag"]


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
        after = list(gpus)
        left = pod.num_gpu
        for g, f in enumerate(after):
            if left and f == MILLI:
                after[g] = 0
                left -= 1
        return before - ref_node_frag(typical, new_cpu, after, model), -1
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


def ref_bestfit_score(state: ClusterState, pod: PodRequest, n: int) -> int:
    """``-((cpu_free - c) + 16 * (idle - g))``: BestFit's leftover, negated."""
    idle = sum(_gpus(state, n))
    ratio = MAX_SPEC_CPU // MAX_SPEC_GPU
    return -((int(state.cpu_free[n]) - pod.cpu_milli) + ratio * (idle - pod.total_gpu_milli))
