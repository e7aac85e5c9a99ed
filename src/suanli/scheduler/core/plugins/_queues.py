"""Queue accounting shared by ``proportion`` and ``capacity``: allocated, requested and
inqueue resources per queue, kept current by statement events."""

from __future__ import annotations

import numpy as np

from suanli.scheduler.core.resources import PODS, FloatArray
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import OCCUPYING, READY_STATES, JobInfo, TaskInfo, TaskStatus

__all__ = ["QueueUsage", "inqueue_shortfall", "share"]

_LIVE = frozenset(TaskStatus) - {TaskStatus.SUCCEEDED, TaskStatus.FAILED}


def share(allocated: FloatArray, deserved: FloatArray) -> float:
    """``max_r allocated_r / deserved_r``; a dimension with zero deserved counts 1 if used, else 0."""
    out = 0.0
    for a, d in zip(allocated.tolist(), deserved.tolist(), strict=True):
        if d > 0 and np.isfinite(d):
            out = max(out, a / d)
        elif d == 0 and a > 0:
            out = max(out, 1.0)
    return out


def inqueue_shortfall(ssn: Session) -> list[tuple[JobInfo, FloatArray]]:
    """Inqueue jobs with ``minResources`` and what they still lack: ``max(minResources -
    held, 0)`` where held sums their Allocated/Bound/Running/Succeeded/Pipelined tasks
    (``jobs`` order). Only Inqueue jobs are visited."""
    out = []
    status = ssn.status
    for job in ssn.inqueue_jobs():
        if job.min_resources is None:
            continue
        got = np.zeros(ssn.D)
        for i in job.tasks:
            st = status[i]
            if st in READY_STATES or st is TaskStatus.PIPELINED:
                got += ssn.tasks[i].request
        out.append((job, np.maximum(job.min_resources - got, 0.0)))
    return out


class QueueUsage:
    """``allocated[q]`` (occupying tasks), ``request[q]`` (all live tasks), ``inqueue[q]``
    (minResources of Inqueue jobs beyond what they already hold); ``pods`` is zeroed.

    Built when plugins open (statuses are the snapshot's then), with one vectorised
    pass over the session's :class:`~suanli.scheduler.core._tasktable.TaskTable`."""

    def __init__(self, ssn: Session) -> None:
        self.ssn = ssn
        D = ssn.D
        table = ssn.table
        allocated = table.sum_by_status(OCCUPYING)
        request = table.sum_by_status(_LIVE)
        self.allocated: dict[str, FloatArray] = {q: allocated[k] for k, q in enumerate(table.queue_names)}
        self.request: dict[str, FloatArray] = {q: request[k] for k, q in enumerate(table.queue_names)}
        self.inqueue: dict[str, FloatArray] = {q: np.zeros(D) for q in table.queue_names}
        for job, need in inqueue_shortfall(ssn):
            if job.queue in self.inqueue:
                self.inqueue[job.queue] += need
        for arrs in (self.allocated, self.request, self.inqueue):
            for v in arrs.values():
                v[PODS] = 0.0

    def queue_of(self, task: TaskInfo) -> str:
        return self.ssn.jobs[task.job].queue

    def add(self, task: TaskInfo, sign: float) -> None:
        """Add (``sign`` +1) or remove (-1) ``task``'s request to its queue's ``allocated``."""
        q = self.queue_of(task)
        a = self.allocated.get(q)
        if a is not None:
            (np.add if sign > 0 else np.subtract)(a, task.request, out=a)
            a[PODS] = 0.0
