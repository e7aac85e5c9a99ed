"""``overcommit``: gate enqueue on an over-committed view of the cluster.

Argument ``overcommit-factor`` (default 1.2; values below 1 fall back to 1.2).
``idle = total_allocatable x factor - Σ node used``; ``inqueue`` is the sum of
``minResources`` of Inqueue jobs not yet covered by their allocations. A job is
enqueueable (permit) when ``inqueue + minResources ≤ idle`` on every resource it
asks for, otherwise rejected ("resource in cluster is overused"). Jobs without
``minResources`` are enqueued by the action without asking. Placement is not
affected.

Worked example: 2 nodes of 4 CPU → total 8000m, factor 1.2 → 9600m; with 6000m
used and 2000m inqueue, a job needing 2000m is enqueued (8000 ≤ 9600), one
needing 2000m more is not (10000 > 9600).
"""

from __future__ import annotations

import numpy as np

from suanli.scheduler.core.decisions import CLUSTER_OVERUSED, format_resource_names
from suanli.scheduler.core.framework import PERMIT, REJECT
from suanli.scheduler.core.plugins._base import BasePlugin, float_arg
from suanli.scheduler.core.plugins._queues import inqueue_shortfall
from suanli.scheduler.core.resources import PODS, FloatArray
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import JobInfo

__all__ = ["DEFAULT_FACTOR", "OvercommitPlugin"]

DEFAULT_FACTOR = 1.2


class OvercommitPlugin(BasePlugin):
    name = "overcommit"

    def on_session_open(self, ssn: Session) -> None:
        factor = float_arg(self.args, "overcommit-factor", DEFAULT_FACTOR)
        if factor < 1.0:
            factor = DEFAULT_FACTOR
        self.factor = factor
        total = ssn.allocatable.sum(axis=0) * factor
        self.idle: FloatArray = total - ssn.used.sum(axis=0)
        self.inqueue: FloatArray = np.zeros(ssn.D)
        for _, need in inqueue_shortfall(ssn):
            self.inqueue += need
        pods = float(self.inqueue[PODS])

        def enqueueable(job: JobInfo) -> int:
            need = self._min(job).tolist()
            inq, idle = self.inqueue.tolist(), self.idle.tolist()
            over = [ssn.dims[d] for d, n in enumerate(need) if n > 0 and inq[d] + n > idle[d]]
            if not over:
                return PERMIT
            ssn.job_messages[job.uid] = format_resource_names(*CLUSTER_OVERUSED, over)
            return REJECT

        def enqueued(job: JobInfo) -> bool:
            if job.min_resources is not None:
                np.add(self.inqueue, job.min_resources, out=self.inqueue)
                self.inqueue[PODS] = pods  # pods is never asked for; keep it as the shortfall left it
            return True

        ssn.add_job_enqueueable_fn(self.name, enqueueable)
        ssn.add_job_enqueued_fn(self.name, enqueued)

    @staticmethod
    def _min(job: JobInfo) -> FloatArray:
        if job.min_resources is None:
            return np.zeros(0)
        need = job.min_resources.copy()
        need[PODS] = 0.0
        return need
