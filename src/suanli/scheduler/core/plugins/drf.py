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
from suanli.scheduler.core.snapshot import OCCUPYING, JobInfo, TaskInfo, TaskStatus

__all__ = ["DrfPlugin", "dominant_share"]

SHARE_DELTA = 1e-6


def dominant_share(allocated: FloatArray, total: FloatArray) -> float:
    """``max_r allocated_r / total_r`` over dims with a positive total."""
    pos = total > 0
    if not pos.any():
        return 0.0
    return float((allocated[pos] / total[pos]).max())


class DrfPlugin(BasePlugin):
    name = "drf"

    def on_session_open(self, ssn: Session) -> None:
        self.total = ssn.allocatable.sum(axis=0)
        self.total[PODS] = 0.0
        self.alloc: dict[str, FloatArray] = {uid: np.zeros(ssn.D) for uid in ssn.jobs}
        for t in ssn.tasks:
            if t.status in OCCUPYING and t.status is not TaskStatus.RELEASING:
                self.alloc[t.job] += t.request
        self.share = {uid: dominant_share(a, self.total) for uid, a in self.alloc.items()}

        def job_order(job: JobInfo) -> float:
            return self.share[job.uid]

        def victims(actor: TaskInfo, candidates: Sequence[TaskInfo]) -> list[TaskInfo]:
            ls = dominant_share(self.alloc[actor.job] + actor.request, self.total)
            out = []
            for t in candidates:
                rs = dominant_share(self.alloc[t.job] - t.request, self.total)
                if ls < rs or abs(ls - rs) <= SHARE_DELTA:
                    out.append(t)
            return out

        ssn.add_job_order_fn(self.name, job_order)
        ssn.add_preemptable_fn(self.name, victims)
        ssn.add_event_handler(self)

    def allocate(self, task: TaskInfo, node: int) -> None:
        a = self.alloc[task.job]
        a += task.request
        self.share[task.job] = dominant_share(a, self.total)

    def deallocate(self, task: TaskInfo, node: int) -> None:
        a = self.alloc[task.job]
        a -= task.request
        self.share[task.job] = dominant_share(a, self.total)
