"""Cluster and pod model for GPU-sharing placement (open-gpu-share semantics).

Units are integers throughout: CPU in milli-cores, memory in MiB, GPU in
milli-GPU (one whole GPU = ``MILLI`` = 1000).

Placement rules (the contract every policy relies on):

* a *sharing* pod (``num_gpu == 1`` and ``gpu_milli < 1000``) lands on ONE GPU
  whose free milli is ``>= gpu_milli``;
* a *whole-GPU* pod with ``num_gpu == k`` needs ``k`` fully free GPUs
  (free milli ``== 1000``);
* a CPU-only pod (``num_gpu == 0``) needs no GPU and ignores ``gpu_spec``;
* CPU and memory must fit; a non-empty ``gpu_spec`` must contain the node's
  GPU model.

Node GPU state is the array ``gpu_free[node, gpu]``; slots beyond a node's GPU
count hold ``ABSENT`` (-1) so that every comparison with a positive request is
false for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = [
    "ABSENT",
    "MAX_SPEC_CPU",
    "MAX_SPEC_GPU",
    "MILLI",
    "ClusterState",
    "IntArray",
    "NodeSpec",
    "Placement",
    "PodRequest",
    "affinity_tag",
    "eligible_gpus",
    "feasible_nodes",
    "lowest_full_gpus",
    "pod_shape_problem",
]

MILLI = 1000
ABSENT = -1
#: Normalisation constants of the upstream simulator (largest node: 128 cores, 8 GPUs).
MAX_SPEC_CPU = 128_000
MAX_SPEC_GPU = 8_000

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """One node's capacity. ``model`` is empty for a CPU-only node."""

    name: str
    cpu_milli: int
    memory_mib: int
    gpu: int = 0
    model: str = ""

    def __post_init__(self) -> None:
        if self.cpu_milli < 0 or self.memory_mib < 0 or self.gpu < 0:
            raise ValueError(f"node {self.name}: capacities must be non-negative")


@dataclass(frozen=True, slots=True)
class PodRequest:
    """One pod's request.

    ``gpu_milli`` is per GPU: ``0`` iff ``num_gpu == 0``; below 1000 only when
    ``num_gpu == 1`` (a sharing pod). ``gpu_spec`` is the set of allowed GPU
    models; empty means any.
    """

    name: str
    cpu_milli: int
    memory_mib: int
    num_gpu: int = 0
    gpu_milli: int = 0
    gpu_spec: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        problem = pod_shape_problem(self.cpu_milli, self.memory_mib, self.num_gpu, self.gpu_milli)
        if problem is not None:
            raise ValueError(f"pod {self.name}: {problem[1]}")

    @property
    def is_share(self) -> bool:
        """True for a GPU-sharing pod (one partial GPU)."""
        return self.num_gpu == 1 and self.gpu_milli < MILLI

    @property
    def total_gpu_milli(self) -> int:
        """Requested GPU in milli, e.g. 2 whole GPUs -> 2000, a 0.3 share -> 300."""
        return self.num_gpu * self.gpu_milli


def pod_shape_problem(cpu: int, mem: int, num_gpu: int, gpu_milli: int) -> tuple[str, str] | None:
    """Return ``(column, message)`` describing why a pod shape is invalid, or None."""
    if cpu < 0:
        return "cpu_milli", f"must be non-negative, got {cpu}"
    if mem < 0:
        return "memory_mib", f"must be non-negative, got {mem}"
    if num_gpu < 0:
        return "num_gpu", f"must be non-negative, got {num_gpu}"
    if not 0 <= gpu_milli <= MILLI:
        return "gpu_milli", f"must be between 0 and {MILLI}, got {gpu_milli}"
    if num_gpu == 0 and gpu_milli != 0:
        return "gpu_milli", f"must be 0 when num_gpu is 0, got {gpu_milli}"
    if num_gpu > 0 and gpu_milli == 0:
        return "gpu_milli", "must be positive when num_gpu is positive"
    if num_gpu > 1 and gpu_milli != MILLI:
        return "gpu_milli", f"must be {MILLI} when num_gpu > 1 (sharing is single-GPU only), got {gpu_milli}"
    return None


def affinity_tag(pod: PodRequest) -> int:
    """GPU-affinity tag used by GPU Clustering: -1 CPU-only, 0 sharing, k for k whole GPUs."""
    if pod.num_gpu == 0:
        return -1
    return 0 if pod.is_share else pod.num_gpu


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a pod went: node index and the GPU indices it uses (empty for CPU-only)."""

    node: int
    gpus: tuple[int, ...]


class ClusterState:
    """Mutable, vectorised cluster state (one row per node).

    Arrays: ``cpu_free``, ``mem_free``, ``gpu_count``, ``model_id`` (-1 = none),
    ``gpu_free[N, G]`` (``ABSENT`` for missing GPUs), ``version[N]`` (bumped on
    every change of a node, so caches can refresh only dirty rows) and
    ``affinity[N, A]`` (number of GPU pods per affinity tag: column 0 sharing,
    column k = k whole GPUs).

    ``rank[N]`` orders nodes for tie-breaking: among equally scored nodes the
    one with the lowest rank wins. It defaults to the node index; the FGD
    experiment passes a seeded permutation, as the upstream simulator prefixes
    node names with a random permutation and breaks ties by the smallest name.
    """

    def __init__(self, nodes: Sequence[NodeSpec], rank: Sequence[int] | IntArray | None = None) -> None:
        self.names: list[str] = [n.name for n in nodes]
        self.models: list[str] = sorted({n.model for n in nodes if n.model})
        index = {m: i for i, m in enumerate(self.models)}
        n = len(nodes)
        width = max([1, *(nd.gpu for nd in nodes)])
        self.cpu_cap: IntArray = np.array([nd.cpu_milli for nd in nodes], dtype=np.int64).reshape(n)
        self.mem_cap: IntArray = np.array([nd.memory_mib for nd in nodes], dtype=np.int64).reshape(n)
        self.gpu_count: IntArray = np.array([nd.gpu for nd in nodes], dtype=np.int64).reshape(n)
        self.model_id: IntArray = np.array(
            [index[nd.model] if nd.model else -1 for nd in nodes], dtype=np.int64
        ).reshape(n)
        self.cpu_free: IntArray = self.cpu_cap.copy()
        self.mem_free: IntArray = self.mem_cap.copy()
        slots = np.arange(width, dtype=np.int64)[None, :]
        self.gpu_free: IntArray = np.where(slots < self.gpu_count[:, None], MILLI, ABSENT).astype(np.int64)
        self.version: IntArray = np.zeros(n, dtype=np.int64)
        self.affinity: IntArray = np.zeros((n, width + 1), dtype=np.int64)
        self._spec_masks: dict[frozenset[str], BoolArray] = {}
        self.rank: IntArray = (
            np.arange(n, dtype=np.int64) if rank is None else np.asarray(rank, dtype=np.int64).reshape(n)
        )
        if rank is not None and np.unique(self.rank).size != n:
            raise ValueError("rank must give every node a distinct value")

    @property
    def num_nodes(self) -> int:
        return len(self.names)

    @property
    def gpu_capacity_milli(self) -> int:
        """Total GPU capacity in milli (6,212 GPUs -> 6,212,000)."""
        return int(self.gpu_count.sum()) * MILLI

    def allocated_gpu_milli(self) -> int:
        """GPU milli currently allocated to pods."""
        return self.gpu_capacity_milli - int(np.maximum(self.gpu_free, 0).sum())

    def idle_gpu_milli(self) -> IntArray:
        """Per-node free GPU milli (absent slots count as 0)."""
        idle: IntArray = np.maximum(self.gpu_free, 0).sum(axis=1)
        return idle

    def copy(self) -> ClusterState:
        """Deep copy of the mutable arrays (static arrays are shared)."""
        other = object.__new__(ClusterState)
        other.names = self.names
        other.models = self.models
        other.cpu_cap = self.cpu_cap
        other.mem_cap = self.mem_cap
        other.gpu_count = self.gpu_count
        other.model_id = self.model_id
        other.cpu_free = self.cpu_free.copy()
        other.mem_free = self.mem_free.copy()
        other.gpu_free = self.gpu_free.copy()
        other.version = self.version.copy()
        other.affinity = self.affinity.copy()
        other._spec_masks = self._spec_masks
        other.rank = self.rank
        return other

    def spec_mask(self, spec: frozenset[str]) -> BoolArray:
        """Nodes whose GPU model is in ``spec`` (all nodes when ``spec`` is empty)."""
        mask = self._spec_masks.get(spec)
        if mask is None:
            if not spec:
                mask = np.ones(self.num_nodes, dtype=np.bool_)
            else:
                ids = [i for i, m in enumerate(self.models) if m in spec]
                mask = np.isin(self.model_id, np.array(ids, dtype=np.int64))
            self._spec_masks[spec] = mask
        return mask

    def bind(self, pod: PodRequest, placement: Placement) -> None:
        """Apply ``placement``; raises ValueError if it breaks a placement rule."""
        node, gpus = placement.node, placement.gpus
        if self.cpu_free[node] < pod.cpu_milli or self.mem_free[node] < pod.memory_mib:
            raise ValueError(f"pod {pod.name}: CPU/memory do not fit on node {self.names[node]}")
        if len(gpus) != pod.num_gpu or len(set(gpus)) != len(gpus):
            raise ValueError(f"pod {pod.name}: needs {pod.num_gpu} distinct GPUs, got {gpus}")
        if pod.num_gpu and not self.spec_mask(pod.gpu_spec)[node]:
            raise ValueError(f"pod {pod.name}: node {self.names[node]} model not in gpu_spec")
        for g in gpus:
            free = int(self.gpu_free[node, g])
            ok = free >= pod.gpu_milli if pod.is_share else free == MILLI
            if not ok:
                raise ValueError(f"pod {pod.name}: GPU {g} of node {self.names[node]} has {free} milli free")
        self.cpu_free[node] -= pod.cpu_milli
        self.mem_free[node] -= pod.memory_mib
        for g in gpus:
            self.gpu_free[node, g] -= pod.gpu_milli
        tag = affinity_tag(pod)
        if tag >= 0:
            self.affinity[node, min(tag, self.affinity.shape[1] - 1)] += 1
        self.version[node] += 1


def eligible_gpus(state: ClusterState, pod: PodRequest) -> BoolArray:
    """``[N, G]`` mask of GPUs that could host (one of) the pod's GPU requests."""
    if pod.num_gpu == 0:
        return np.zeros(state.gpu_free.shape, dtype=np.bool_)
    if pod.is_share:
        return state.gpu_free >= pod.gpu_milli
    full: BoolArray = state.gpu_free == MILLI
    return full


def feasible_nodes(state: ClusterState, pod: PodRequest) -> BoolArray:
    """``[N]`` mask of nodes where the pod fits (CPU, memory, model, GPUs)."""
    mask = (state.cpu_free >= pod.cpu_milli) & (state.mem_free >= pod.memory_mib)
    if pod.num_gpu == 0:
        return mask
    mask &= state.spec_mask(pod.gpu_spec)
    if pod.is_share:
        return mask & (state.gpu_free >= pod.gpu_milli).any(axis=1)
    enough: BoolArray = (state.gpu_free == MILLI).sum(axis=1) >= pod.num_gpu
    return mask & enough


def lowest_full_gpus(state: ClusterState, node: int, k: int) -> tuple[int, ...]:
    """The ``k`` lowest-index fully free GPUs of ``node`` (upstream exclusive-GPU rule)."""
    full = np.flatnonzero(state.gpu_free[node] == MILLI)
    return tuple(int(g) for g in full[:k])
