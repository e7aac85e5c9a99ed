"""``drf``: dominant resource fairness between jobs.

A job's share is ``max_r allocated_r / total_r`` over the cluster's allocatable
resources (``pods`` excluded; dimensions with zero total ignored). Jobs with the
lower share go first. Preemption: a victim qualifies when the preemptor job's
share after gaining the preemptor (``ls``) is below, or within 1e-6 of, the
victim job's share after losing the victim (``rs``).

Worked example: total ``cpu=10, memory=100``; a job holding ``cpu=2, memory=50``
has share ``max(0.2, 0.5) = 0.5``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from suanli.scheduler.core.plugins._base import BasePlugin
from suanli.scheduler.core.resources import PODS, FloatArray
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import JobInfo, TaskInfo, TaskStatus

__all__ = ["DrfPlugin", "dominant_share"]

SHARE_DELTA = 1e-6


def dominant_share(allocated: FloatArray, total: FloatArray) -> float:
    """``max_r allocated_r / total_r`` over dims with a positive total."""
    pos = total > 0
    if not pos.any():
        return 0.0
    return float((allocated[pos] / total[pos]).max())


class DrfPlugin(BasePlugin):
    """Job shares are materialised lazily: a job's allocation is summed from its tasks'
    snapshot states the first time the cycle looks at it (job order, victims or a
    placement event), so a cycle costs nothing for jobs it never touches."""

    name = "drf"

    def on_session_open(self, ssn: Session) -> None:
        self.ssn = ssn
        self.total = ssn.allocatable.sum(axis=0)
        self.total[PODS] = 0.0
        self._dims: list[tuple[int, float]] = [(d, t) for d, t in enumerate(self.total.tolist()) if t > 0]
        self.alloc: dict[str, FloatArray] = {}
        self.share: dict[str, float] = {}

        def job_order(job: JobInfo) -> float:
            got = self.share.get(job.uid)
            return self._open(job.uid) if got is None else got

        def victims(actor: TaskInfo, candidates: Sequence[TaskInfo]) -> list[TaskInfo]:
            ls = dominant_share(self._alloc(actor.job) + actor.request, self.total)
            out = []
            for t in candidates:
                rs = dominant_share(self._alloc(t.job) - t.request, self.total)
                if ls < rs or abs(ls - rs) <= SHARE_DELTA:
                    out.append(t)
            return out

        ssn.add_job_order_fn(self.name, job_order)
        ssn.add_preemptable_fn(self.name, victims)
        ssn.add_event_handler(self)

    def _share_of(self, a: FloatArray) -> float:
        """:func:`dominant_share` with plain floats (same operations, no per-call numpy)."""
        if not self._dims:
            return 0.0
        v: list[float] = a.tolist()
        return max(v[d] / t for d, t in self._dims)

    def _open(self, uid: str) -> float:
        """Job ``uid``'s share from its tasks' snapshot states (0 without held tasks)."""
        tasks = self.ssn.tasks
        if any(tasks[i].status in _HELD for i in self.ssn.jobs[uid].tasks):
            share = self.share[uid] = self._share_of(self._alloc(uid))
        else:
            share = self.share[uid] = 0.0
        return share

    def _alloc(self, uid: str) -> FloatArray:
        """Job ``uid``'s allocation, materialised from its tasks' snapshot states on first use
        and kept current by the allocate/deallocate events after that."""
        a = self.alloc.get(uid)
        if a is None:
            tasks = self.ssn.tasks
            a = self.alloc[uid] = np.zeros(self.ssn.D)
            for i in self.ssn.jobs[uid].tasks:
                if tasks[i].status in _HELD:
                    a += tasks[i].request
        return a

    def allocate(self, task: TaskInfo, node: int) -> None:
        a = self._alloc(task.job)
        a += task.request
        self.share[task.job] = self._share_of(a)

    def deallocate(self, task: TaskInfo, node: int) -> None:
        a = self._alloc(task.job)
        a -= task.request
        self.share[task.job] = self._share_of(a)


_HELD = frozenset({TaskStatus.ALLOCATED, TaskStatus.BOUND, TaskStatus.RUNNING})
