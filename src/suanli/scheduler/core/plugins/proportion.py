"""``proportion``: queues share the cluster by ``weight``, capped by ``capability``.

Deserved (water filling over the cluster's allocatable, ``pods`` excluded):
repeat — every queue not yet satisfied gets ``remaining x weight / Σ weights``
added, then is capped by its capability and by its request (allocated + pending);
a queue whose request is covered is satisfied; the handed-out amounts leave
``remaining`` — until nothing remains or nothing changes. Deserved is at least
the queue's ``guarantee``.

Worked example: 12 CPU, queues a (weight 1, asks 10) and b (weight 2, asks 2):
round 1 gives a 4, b 8→capped to 2 (satisfied); remaining 6 → round 2 gives a
+6 → 10. Deserved a = 10, b = 2.

The cap is the queue's *realCapability*: ``min(capability, max(total - Σ guarantees,
0) + guarantee)``, a cpu or memory capability ≤ 0 meaning unset.

Callbacks (as Volcano's proportion): queue order by ``spec.priority`` (higher
first), then share ``max_r allocated_r / deserved_r``; overused when ``deserved ≤
allocated`` on every dimension; allocatable — and preemptive (may reclaim) — when
the queue is Open and ``allocated + request ≤ deserved`` on the dimensions the task
requests; reclaimable victims, in the order offered, while their queue's allocation
(less the victims already chosen) exceeds its deserved share on some dimension;
enqueueable when the queue is Open and ``allocated + inqueue + minResources ≤
capability`` (upstream: realCapability; docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from suanli.scheduler.core.decisions import QUEUE_QUOTA_INSUFFICIENT, format_resource_names
from suanli.scheduler.core.framework import PERMIT, REJECT
from suanli.scheduler.core.plugins._base import BasePlugin
from suanli.scheduler.core.plugins._queues import QueueUsage, share
from suanli.scheduler.core.resources import CPU, MEMORY, PODS, FloatArray
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import JobInfo, QueueInfo, TaskInfo

__all__ = ["ProportionPlugin", "real_capabilities", "water_fill"]


def water_fill(
    total: FloatArray,
    weights: Sequence[float],
    requests: Sequence[FloatArray],
    capabilities: Sequence[FloatArray],
    guarantees: Sequence[FloatArray],
) -> list[FloatArray]:
    """Deserved vectors per queue (see module docstring)."""
    n = len(weights)
    deserved = [np.zeros_like(total) for _ in range(n)]
    meet = [False] * n
    remaining = total.copy()
    for _ in range(64):
        tw = sum(w for w, m in zip(weights, meet, strict=True) if not m)
        if tw <= 0:
            break
        before = remaining.copy()
        inc = np.zeros_like(total)
        dec = np.zeros_like(total)
        for i in range(n):
            if meet[i]:
                continue
            old = deserved[i].copy()
            d = old + remaining * (weights[i] / tw)
            d = np.minimum(d, capabilities[i])
            d = np.minimum(d, requests[i])
            if (requests[i] <= d + 1e-9).all():
                meet[i] = True
            d = np.maximum(d, guarantees[i])
            deserved[i] = d
            diff = d - old
            inc += np.maximum(diff, 0.0)
            dec += np.maximum(-diff, 0.0)
        remaining = np.maximum(remaining - inc + dec, 0.0)
        if not (remaining > 1e-9).any() or np.allclose(remaining, before):
            break
    return deserved


def real_capabilities(total: FloatArray, queues: Sequence[QueueInfo]) -> list[FloatArray]:
    """Each queue's realCapability: ``min(capability, max(total - Σ guarantees, 0) +
    guarantee)``, a cpu or memory capability ≤ 0 meaning unset (as Volcano)."""
    gsum = sum((q.guarantee for q in queues), np.zeros_like(total))
    out = []
    for q in queues:
        cap = q.capability.copy()
        for d in (CPU, MEMORY):
            if cap[d] <= 0:
                cap[d] = np.inf
        out.append(np.minimum(cap, np.maximum(total - gsum, 0.0) + q.guarantee))
    return out


class ProportionPlugin(BasePlugin):
    name = "proportion"

    def on_session_open(self, ssn: Session) -> None:
        self.ssn = ssn
        self.usage = QueueUsage(ssn)
        total = ssn.allocatable.sum(axis=0)
        total[PODS] = 0.0
        names = sorted(ssn.queues)
        qs = [ssn.queues[n] for n in names]
        req = [self.usage.request[n] for n in names]
        guar = [q.guarantee for q in qs]
        caps = real_capabilities(total, qs)
        self.deserved = dict(zip(names, water_fill(total, [q.weight for q in qs], req, caps, guar), strict=True))
        for n in names:
            self.deserved[n][PODS] = 0.0
            ssn.queue_deserved[n] = self.deserved[n]

        def queue_order(queue: QueueInfo) -> tuple[int, float]:
            return (-queue.priority, share(self.usage.allocated[queue.name], self.deserved[queue.name]))

        # plain-float comparisons below: the same IEEE operations as the array forms
        # (``(deserved <= allocated).all()`` …), without per-call numpy overhead
        def overused(queue: QueueInfo) -> bool:
            alloc = self.usage.allocated[queue.name].tolist()
            return all(d <= a for d, a in zip(self.deserved[queue.name].tolist(), alloc, strict=True))

        def allocatable(queue: QueueInfo, task: TaskInfo) -> bool:
            if queue.state != "Open":
                return False
            alloc = self.usage.allocated[queue.name].tolist()
            deserved = self.deserved[queue.name].tolist()
            for d, r in enumerate(task.request.tolist()):
                if r > 0 and d != PODS and not alloc[d] + r <= deserved[d] + 1e-9:
                    return False
            return True

        def reclaimable(actor: TaskInfo, candidates: Sequence[TaskInfo]) -> list[TaskInfo]:
            left: dict[str, FloatArray] = {}
            out = []
            for t in candidates:
                q = ssn.jobs[t.job].queue
                alloc = left.get(q)
                if alloc is None:
                    alloc = left[q] = self.usage.allocated[q].copy()
                if not (alloc <= self.deserved[q] + 1e-9).all():
                    alloc -= t.request
                    alloc[PODS] = 0.0
                    out.append(t)
            return out

        def enqueueable(job: JobInfo) -> int:
            queue = ssn.queues[job.queue]
            if queue.state != "Open":
                return REJECT
            if job.min_resources is None:
                return PERMIT
            need = job.min_resources.tolist()
            need[PODS] = 0.0
            alloc = self.usage.allocated[queue.name].tolist()
            inq = self.usage.inqueue[queue.name].tolist()
            # Deviation: upstream compares with realCapability (at most the cluster total); a
            # queue without capability admits any job here, as Volcano before realCapability.
            cap = queue.capability.tolist()
            short = [ssn.dims[d] for d, n in enumerate(need) if n > 0 and alloc[d] + inq[d] + n > cap[d]]
            if not short:
                return PERMIT
            ssn.job_messages[job.uid] = format_resource_names(*QUEUE_QUOTA_INSUFFICIENT, short)
            return REJECT

        def enqueued(job: JobInfo) -> bool:
            inq = self.usage.inqueue.get(job.queue)
            if job.min_resources is not None and inq is not None:
                np.add(inq, job.min_resources, out=inq)
                inq[PODS] = 0.0  # as adding the request with pods zeroed: inqueue's pods stay 0
            return True

        ssn.add_queue_order_fn(self.name, queue_order)
        ssn.add_overused_fn(self.name, overused)
        ssn.add_allocatable_fn(self.name, allocatable)
        ssn.add_preemptive_fn(self.name, allocatable)
        ssn.add_reclaimable_fn(self.name, reclaimable)
        ssn.add_job_enqueueable_fn(self.name, enqueueable)
        ssn.add_job_enqueued_fn(self.name, enqueued)
        ssn.add_event_handler(self)

    def allocate(self, task: TaskInfo, node: int) -> None:
        self.usage.add(task, 1.0)

    def deallocate(self, task: TaskInfo, node: int) -> None:
        self.usage.add(task, -1.0)
