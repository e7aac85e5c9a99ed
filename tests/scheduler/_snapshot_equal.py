"""Field-by-field snapshot comparison (arrays with numpy, everything else with ==, order included)."""

from __future__ import annotations

import enum
from typing import Any

import numpy as np

__all__ = ["snapshot_diff"]

_TASK_FIELDS = ("uid", "namespace", "name", "job", "role", "request", "priority", "status", "node", "pod",
                "best_effort", "preemptable", "critical", "creation", "spec_key", "index")
_JOB_FIELDS = ("uid", "namespace", "name", "queue", "min_member", "min_task_member", "min_resources", "priority",
               "phase", "creation", "tasks", "synthetic", "podgroup")
_QUEUE_FIELDS = ("name", "weight", "capability", "deserved", "guarantee", "parent", "state", "reclaimable",
                 "affinity", "creation", "obj")
_COLUMN_FIELDS = ("requests", "queue_of", "codes", "status", "node", "pending", "job_phase", "active_jobs",
                  "pending_phase", "inqueue", "podgroup_jobs")
_NODE_FIELDS = ("names", "allocatable", "used", "releasing", "unschedulable", "labels", "annotations", "taints",
                "host_ports", "objs")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b))
    if isinstance(a, enum.Enum) and isinstance(b, enum.Enum):
        return bool(a.value == b.value)
    return bool(a == b) and type(a) is type(b)


def _fields(kind: str, a: Any, b: Any, names: tuple[str, ...], out: list[str]) -> None:
    for f in names:
        if not _same(getattr(a, f), getattr(b, f)):
            out.append(f"{kind}.{f}: {getattr(a, f)!r} != {getattr(b, f)!r}")


def snapshot_diff(a: Any, b: Any) -> list[str]:
    """Differences between two snapshots (empty when equal), readable in an assertion message."""
    out: list[str] = []
    for f in ("dims", "dim_index", "node_index", "priority_classes"):
        va, vb = getattr(a, f), getattr(b, f)
        if va != vb or list(va) != list(vb):
            out.append(f"{f}: {va!r} != {vb!r}")
    _fields("nodes", a.nodes, b.nodes, _NODE_FIELDS, out)
    if len(a.tasks) != len(b.tasks):
        out.append(f"tasks: {[t.key for t in a.tasks]} != {[t.key for t in b.tasks]}")
    else:
        for ta, tb in zip(a.tasks, b.tasks, strict=True):
            _fields(f"task[{ta.index}]", ta, tb, _TASK_FIELDS, out)
    if list(a.jobs) != list(b.jobs):
        out.append(f"jobs: {list(a.jobs)} != {list(b.jobs)}")
    else:
        for k in a.jobs:
            _fields(f"job[{k}]", a.jobs[k], b.jobs[k], _JOB_FIELDS, out)
    if list(a.queues) != list(b.queues):
        out.append(f"queues: {list(a.queues)} != {list(b.queues)}")
    else:
        for k in a.queues:
            _fields(f"queue[{k}]", a.queues[k], b.queues[k], _QUEUE_FIELDS, out)
    if a.columns is None or b.columns is None:
        out.append("columns: a snapshot was built without its task columns")
    else:
        _fields("columns", a.columns, b.columns, _COLUMN_FIELDS, out)
        if list(a.columns.job_phase.items()) != list(b.columns.job_phase.items()):
            out.append("columns.job_phase: order differs")
    return out
