"""``manycore``: business-type scoring and NUMA preference for many-core servers.

Suanli's own specification (no parity with any openFuyao implementation is
claimed). Only pods annotated ``business.workload/type`` are scored; all other
pods get 0 on every node.

Usage after placement, each clipped to [0, 1]: ``u_cpu = (used_cpu + req_cpu) /
alloc_cpu``, ``u_mem`` likewise for memory, ``u_io`` = node annotation
``suanli.io/disk-io-usage`` (a number in [0, 1]; absent or invalid → 0). A node
with zero allocatable CPU or memory has usage 1 in that dimension.

Weights ``(io, mem, cpu)``: ``io-intensive`` (0.6, 0.2, 0.2), ``memory-sensitive``
(0.2, 0.6, 0.2), ``compute-intensive`` (0.2, 0.2, 0.6), any other value
(1/3, 1/3, 1/3). ``base = 100 x Σ w_r x (1 - u_r)``.

NUMA: a node declares ``z`` NUMA nodes with label or annotation
``suanli.io/numa-nodes`` (integer ≥ 1), each holding ``alloc_cpu / z`` of its
CPU. On such a node the score is ``0.8 x base + 0.2 x (100 if req_cpu ≤
alloc_cpu / z else 0)``; on other nodes it is ``base``. (Per-NUMA usage is not
tracked; the check is against one zone's capacity.)

Worked example: compute-intensive pod asking 2 CPU on a 16-CPU, 64 GiB node
with 6 CPU and 32 GiB used and disk-IO 0.5: ``u = (0.5, 0.5, 0.5)`` → base 50;
with 2 NUMA nodes (8 CPU each) → ``0.8 x 50 + 20 = 60``. The final score is
multiplied by ``manycore.weight`` (default 1).
"""

from __future__ import annotations

import numpy as np

from suanli.scheduler.core.framework import Rows, rows_of
from suanli.scheduler.core.plugins._base import BasePlugin, float_arg
from suanli.scheduler.core.resources import CPU, MEMORY, FloatArray
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import TaskInfo
from suanli.wire import DISK_IO_ANNOTATION
from suanli.wire import NUMA_NODES_ANNOTATION as NUMA_KEY

__all__ = ["DISK_IO_ANNOTATION", "NUMA_KEY", "WEIGHTS", "WORKLOAD_TYPE", "ManyCorePlugin", "manycore_score"]

WORKLOAD_TYPE = "business.workload/type"
#: (io, memory, cpu) weights per business type.
WEIGHTS: dict[str, tuple[float, float, float]] = {
    "io-intensive": (0.6, 0.2, 0.2),
    "memory-sensitive": (0.2, 0.6, 0.2),
    "compute-intensive": (0.2, 0.2, 0.6),
}
_AVERAGE = (1 / 3, 1 / 3, 1 / 3)


def manycore_score(
    kind: str, alloc: FloatArray, used: FloatArray, request: FloatArray, io: FloatArray, numa: FloatArray
) -> FloatArray:
    """Vectorised score over rows (``numa`` = NUMA node count, 0 when unknown)."""
    w_io, w_mem, w_cpu = WEIGHTS.get(kind, _AVERAGE)

    def usage(d: int) -> FloatArray:
        a = alloc[:, d]
        u = np.where(a > 0, (used[:, d] + request[d]) / np.where(a > 0, a, 1.0), 1.0)
        out: FloatArray = np.clip(u, 0.0, 1.0)
        return out

    base = 100.0 * (w_io * (1.0 - np.clip(io, 0.0, 1.0)) + w_mem * (1.0 - usage(MEMORY)) + w_cpu * (1.0 - usage(CPU)))
    zone = np.where(numa > 0, alloc[:, CPU] / np.maximum(numa, 1.0), 0.0)
    fits = (numa > 0) & (request[CPU] <= zone)
    out: FloatArray = np.where(numa > 0, 0.8 * base + np.where(fits, 20.0, 0.0), base)
    return out


def _number(text: str | None, default: float) -> float:
    try:
        return float(text) if text is not None else default
    except ValueError:
        return default


class ManyCorePlugin(BasePlugin):
    name = "manycore"

    def on_session_open(self, ssn: Session) -> None:
        nodes = ssn.snapshot.nodes
        self.weight = float_arg(self.args, "manycore.weight", 1.0)
        self.io = np.array([_number(a.get(DISK_IO_ANNOTATION), 0.0) for a in nodes.annotations])
        numa = []
        for lab, ann in zip(nodes.labels, nodes.annotations, strict=True):
            z = _number(lab.get(NUMA_KEY) or ann.get(NUMA_KEY), 0.0)
            numa.append(z if z >= 1 else 0.0)
        self.numa = np.array(numa)

        def score(task: TaskInfo, rows: Rows) -> FloatArray:
            kind = task.annotations.get(WORKLOAD_TYPE)
            n = ssn.N if rows is None else len(rows)
            if kind is None:
                return np.zeros(n)
            s = manycore_score(
                kind,
                rows_of(ssn.allocatable, rows),
                rows_of(ssn.used, rows),
                task.request,
                rows_of(self.io, rows),
                rows_of(self.numa, rows),
            )
            out: FloatArray = self.weight * s
            return out

        ssn.add_node_order_fn(self.name, score)
