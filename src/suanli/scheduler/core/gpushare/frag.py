"""GPU fragmentation with respect to a typical-pod distribution (FGD, ATC'23).

Definitions (integer arithmetic; ``w_t`` is the popularity count of typical
pod type ``t``, ``W = sum_t w_t``):

* ``idle(n)``: free GPU milli of node ``n``.
* A GPU type ``t`` (``gpu_milli m_t > 0``, ``num_gpu k_t``) *fits* node ``n``
  when the node's model is allowed by the type's ``gpu_spec``, at least
  ``k_t`` GPUs of ``n`` have ``>= m_t`` milli free and ``cpu_free(n) >= c_t``
  (memory is not part of the definition, as upstream).
* ``frag_t(n) = sum of free milli of n's GPUs with free < m_t`` if ``t`` fits,
  else ``idle(n)`` (a CPU-only type can use no GPU, so its share is
  ``idle(n)``).
* ``F(n) = sum_t w_t * frag_t(n)``; the fragment in milli is ``F(n) / W``.

Worked example: node with GPUs free ``[1000, 300]``, plenty of CPU, and two
types equally popular, A = 1 x 500m and B = 1 x 1000m (``w = 1, 1``): A fits
and strands the 300m GPU -> 300; B fits and strands 300 -> 300. ``F = 600``,
fragment = 300 milli. Placing a 300m pod on the 300m GPU makes ``F = 0``;
placing it on the full GPU gives free ``[700, 300]``: A strands 300, B does
not fit -> 1000, ``F = 1300``. FGD picks the first (largest decrease).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from suanli.scheduler.core.gpushare.model import MILLI, ClusterState, IntArray, PodRequest

__all__ = ["FragCache", "TypicalPods", "cluster_frag_rate", "node_frag"]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

ShapeKey = tuple[int, int, int, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class TypicalPods:
    """The typical-pod table: distinct shapes with integer popularity weights."""

    cpu: IntArray
    milli: IntArray
    num: IntArray
    weight: IntArray
    specs: tuple[frozenset[str], ...]

    @classmethod
    def from_pods(cls, pods: Iterable[PodRequest], threshold: float = 0.95) -> TypicalPods:
        """Most popular shapes ``(cpu, gpu_milli, num_gpu, gpu_spec)`` covering ``threshold``.

        Shapes are ranked by count (ties: larger shape key first) and taken until
        their cumulative count reaches ``threshold`` of all pods (upstream
        ``podPopularityThreshold: 95``, step 1, CPU-only pods included).
        """
        counts: Counter[ShapeKey] = Counter(
            (p.cpu_milli, p.gpu_milli, p.num_gpu, tuple(sorted(p.gpu_spec))) for p in pods
        )
        if not counts:
            raise ValueError("typical pods need at least one pod")
        total = sum(counts.values())
        ranked = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
        chosen: list[tuple[ShapeKey, int]] = []
        cum = 0
        for key, cnt in ranked:
            chosen.append((key, cnt))
            cum += cnt
            if cum >= threshold * total:
                break
        return cls(
            cpu=np.array([k[0] for k, _ in chosen], dtype=np.int64),
            milli=np.array([k[1] for k, _ in chosen], dtype=np.int64),
            num=np.array([k[2] for k, _ in chosen], dtype=np.int64),
            weight=np.array([c for _, c in chosen], dtype=np.int64),
            specs=tuple(frozenset(k[3]) for k, _ in chosen),
        )

    @property
    def total_weight(self) -> int:
        return int(self.weight.sum())

    @property
    def cpu_per_gpu_milli(self) -> float:
        """Milli-CPU the typical mix requests per milli-GPU (``inf`` if it requests no GPU).

        Example: 1 x (4000 CPU, 1 GPU) and 1 x (12000 CPU, CPU-only) -> 16000 / 1000 = 16.
        """
        gpu = int((self.weight * self.milli * self.num).sum())
        cpu = int((self.weight * self.cpu).sum())
        return cpu / gpu if gpu else float("inf")


class _Tables:
    """Typical-pod arrays specialised to a cluster's model list."""

    def __init__(self, typical: TypicalPods, models: list[str]) -> None:
        gpu = typical.milli > 0
        self.W = typical.total_weight
        self.cpu = typical.cpu[gpu]
        self.milli = typical.milli[gpu]
        self.num = typical.num[gpu]
        self.w = typical.weight[gpu]
        specs = [s for s, g in zip(typical.specs, gpu, strict=True) if g]
        self.uvals: IntArray = np.unique(self.milli) if self.milli.size else np.array([MILLI], dtype=np.int64)
        self.u_idx: IntArray = np.searchsorted(self.uvals, self.milli).astype(np.int64)
        # acc[t, model_id]; the extra last column serves model_id == -1 (no GPU).
        acc = np.ones((len(specs), len(models) + 1), dtype=np.bool_)
        for t, spec in enumerate(specs):
            if spec:
                acc[t, :] = [m in spec for m in models] + [False]
        self.accT: BoolArray = np.ascontiguousarray(acc.T)

    def components(self, gpu_free: IntArray) -> tuple[IntArray, IntArray, IntArray]:
        """``(idle[C], cnt_ge[C, U], sum_lt[C, U])`` for rows of ``gpu_free``."""
        f = gpu_free[:, :, None]
        present = f >= 0
        cnt_ge = (f >= self.uvals).sum(axis=1, dtype=np.int64)
        sum_lt = (f * (present & (f < self.uvals))).sum(axis=1, dtype=np.int64)
        idle = np.maximum(gpu_free, 0).sum(axis=1, dtype=np.int64)
        return idle, cnt_ge, sum_lt

    def frag(
        self, cpu_free: IntArray, idle: IntArray, cnt_ge: IntArray, sum_lt: IntArray, model_id: IntArray
    ) -> IntArray:
        """``F`` per candidate row (see module docstring)."""
        ok = self.accT[model_id] & (cnt_ge[:, self.u_idx] >= self.num) & (cpu_free[:, None] >= self.cpu)
        stranded = idle[:, None] - sum_lt[:, self.u_idx]
        saved: IntArray = (stranded * ok) @ self.w
        return idle * self.W - saved


def node_frag(state: ClusterState, typical: TypicalPods) -> IntArray:
    """``F(n)`` for every node of ``state`` (weighted by ``typical.weight``)."""
    tables = _Tables(typical, state.models)
    idle, cnt_ge, sum_lt = tables.components(state.gpu_free)
    return tables.frag(state.cpu_free, idle, cnt_ge, sum_lt, state.model_id)


def cluster_frag_rate(state: ClusterState, typical: TypicalPods) -> float:
    """Fragmented idle GPU / idle GPU over the whole cluster (0 when nothing is idle)."""
    idle = int(state.idle_gpu_milli().sum())
    if idle == 0:
        return 0.0
    return float(node_frag(state, typical).sum()) / (typical.total_weight * idle)


class FragCache:
    """Per-node fragmentation components, refreshed only for nodes whose version changed.

    ``deltas(state, pod, feasible)`` returns, for every node, the best decrease
    of ``F`` achievable by placing ``pod`` there (``-inf`` where infeasible) and
    the GPU index achieving it (sharing pods; -1 otherwise). GPUs of one node
    with equal free milli are equivalent; the lowest index represents them.
    With ``transform``, every candidate's decrease in milli (``dF / W``) is
    first mapped through it (e.g. upstream's integer score) and the best GPU is
    the lowest index with the best transformed value; with ``tight_gpu``, the
    one among those with the least free milli (then the lowest index).
    """

    def __init__(self, typical: TypicalPods, state: ClusterState) -> None:
        self.t = _Tables(typical, state.models)
        n = state.num_nodes
        self.seen = np.full(n, -1, dtype=np.int64)
        self.idle = np.zeros(n, dtype=np.int64)
        self.cnt_ge = np.zeros((n, self.t.uvals.size), dtype=np.int64)
        self.sum_lt = np.zeros((n, self.t.uvals.size), dtype=np.int64)
        self.F = np.zeros(n, dtype=np.int64)
        g = state.gpu_free.shape[1]
        self._later_dup = np.tril(np.ones((g, g), dtype=np.bool_), k=-1)

    def refresh(self, state: ClusterState) -> None:
        dirty = np.flatnonzero(state.version != self.seen)
        if dirty.size == 0:
            return
        idle, cnt_ge, sum_lt = self.t.components(state.gpu_free[dirty])
        self.idle[dirty] = idle
        self.cnt_ge[dirty] = cnt_ge
        self.sum_lt[dirty] = sum_lt
        self.F[dirty] = self.t.frag(state.cpu_free[dirty], idle, cnt_ge, sum_lt, state.model_id[dirty])
        self.seen[dirty] = state.version[dirty]

    def deltas(
        self,
        state: ClusterState,
        pod: PodRequest,
        feasible: BoolArray,
        transform: Callable[[FloatArray], FloatArray] | None = None,
        *,
        tight_gpu: bool = False,
    ) -> tuple[FloatArray, IntArray]:
        self.refresh(state)
        n = state.num_nodes
        score = np.full(n, -np.inf)
        best_gpu = np.full(n, -1, dtype=np.int64)
        nodes = np.flatnonzero(feasible)
        if nodes.size == 0:
            return score, best_gpu
        cpu_new = state.cpu_free[nodes] - pod.cpu_milli
        model = state.model_id[nodes]
        if not pod.is_share:
            k = pod.num_gpu
            cnt = self.cnt_ge[nodes] - k if k else self.cnt_ge[nodes]
            idle = self.idle[nodes] - k * MILLI
            f_new = self.t.frag(cpu_new, idle, cnt, self.sum_lt[nodes], model)
            d = (self.F[nodes] - f_new).astype(np.float64)
            score[nodes] = d if transform is None else transform(d / self.t.W)
            return score, best_gpu
        m = pod.gpu_milli
        free = state.gpu_free[nodes]
        eq = free[:, :, None] == free[:, None, :]
        dup = (eq & self._later_dup[None, :, :]).any(axis=2)
        rows, cols = np.nonzero((free >= m) & ~dup)
        f = free[rows, cols][:, None]
        f2 = f - m
        u = self.t.uvals
        ridx = nodes[rows]
        cnt = self.cnt_ge[ridx] - (f >= u) + (f2 >= u)
        slt = self.sum_lt[ridx] - f * (f < u) + f2 * (f2 < u)
        f_new = self.t.frag(cpu_new[rows], self.idle[ridx] - m, cnt, slt, model[rows])
        table = np.full(free.shape, -np.inf)
        d = (self.F[ridx] - f_new).astype(np.float64)
        table[rows, cols] = d if transform is None else transform(d / self.t.W)
        if tight_gpu:
            top = table == table.max(axis=1)[:, None]
            g = np.where(top, free, np.iinfo(np.int64).max).argmin(axis=1)
        else:
            g = table.argmax(axis=1)
        score[nodes] = table[np.arange(nodes.size), g]
        best_gpu[nodes] = g
        return score, best_gpu
