"""Queue accounting shared by ``proportion`` and ``capacity``: allocated, requested and
inqueue resources per queue, kept current by statement events."""

from __future__ import annotations

import numpy as np

from suanli.scheduler.core.resources import PODS, FloatArray
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import READY_STATES, TaskInfo, TaskStatus

__all__ = ["QueueUsage", "share"]


def share(allocated: FloatArray, deserved: FloatArray) -> float:
    """``max_r allocated_r / deserved_r``; a dimension with zero deserved counts 1 if used, else 0."""
    out = 0.0
    for a, d in zip(allocated.tolist(), deserved.tolist(), strict=True):
        if d > 0 and np.isfinite(d):
            out = max(out, a / d)
        elif d == 0 and a > 0:
            out = max(out, 1.0)
    return out


class QueueUsage:
    """``allocated[q]`` (occupying tasks), ``request[q]`` (all live tasks), ``inqueue[q]``
    (minResources of Inqueue jobs beyond what they already hold); ``pods`` is zeroed."""

    def __init__(self, ssn: Session) -> None:
        self.ssn = ssn
        D = ssn.D
        self.allocated: dict[str, FloatArray] = {q: np.zeros(D) for q in ssn.queues}
        self.request: dict[str, FloatArray] = {q: np.zeros(D) for q in ssn.queues}
        self.inqueue: dict[str, FloatArray] = {q: np.zeros(D) for q in ssn.queues}
        for job in ssn.jobs.values():
            if job.queue not in self.allocated:
                continue
            got = np.zeros(D)
            for i in job.tasks:
                t, st = ssn.tasks[i], ssn.status[i]
                if st in (TaskStatus.ALLOCATED, TaskStatus.BOUND, TaskStatus.RUNNING, TaskStatus.RELEASING):
                    self.allocated[job.queue] += t.request
                if st in READY_STATES or st is TaskStatus.PIPELINED:
                    got += t.request
                if st not in (TaskStatus.SUCCEEDED, TaskStatus.FAILED):
                    self.request[job.queue] += t.request
            if ssn.job_phase[job.uid] == "Inqueue" and job.min_resources is not None:
                self.inqueue[job.queue] += np.maximum(job.min_resources - got, 0.0)
        for arrs in (self.allocated, self.request, self.inqueue):
            for v in arrs.values():
                v[PODS] = 0.0

    def queue_of(self, task: TaskInfo) -> str:
        return self.ssn.jobs[task.job].queue

    def add(self, task: TaskInfo, sign: float) -> None:
        q = self.queue_of(task)
        if q in self.allocated:
            self.allocated[q] += sign * task.request
            self.allocated[q][PODS] = 0.0
