"""``capacity``: explicit per-dimension ``deserved`` / ``guarantee`` / ``capability`` per queue.

Let ``alloc(q)`` be what q's tasks hold (with ``enableHierarchy``, a queue also
holds what its descendants hold, via ``spec.parent``), and only dimensions
named in ``deserved`` constrain deserved (others count as unlimited; ``pods`` is
ignored). ``realCapability(q) = min(capability(q), total - Σ guarantee of other
queues)``.

* allocatable (borrowing): ``alloc(q) + request ≤ realCapability(q)`` on the
  requested dimensions — for q and, with hierarchy, every ancestor. A queue may
  thus exceed its deserved share while others are idle.
* preemptive (may reclaim): the queue is Open, ``alloc(q) + request ≤
  realCapability(q)`` on the requested dimensions, and ``alloc(q) + request ≤
  deserved(q)`` on **at least one** of them (an unnamed dimension counts as 0).
* reclaimable victims, walked in victim order: a candidate sharing no requested
  dimension with the reclaimer is skipped; its queue must keep ``guarantee ≤
  alloc - victim``; it is a victim if its queue has no deserved amount for
  anything it holds (an immediate victim), or the queue's allocation (less the
  victims already chosen) exceeds deserved on a dimension it holds (cpu/memory
  count when their deserved is set and non-zero, other resources when named).
  E.g. a GPU reclaimer takes the GPU holder of a queue that deserves only
  cpu/memory, and never a memory-only pod.
* queue order: share ``max_r alloc_r / deserved_r`` over deserved dimensions.
* enqueueable: ``alloc + inqueue + minResources ≤ realCapability``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from suanli.scheduler.core.decisions import QUEUE_QUOTA_INSUFFICIENT, format_resource_names
from suanli.scheduler.core.framework import PERMIT, REJECT
from suanli.scheduler.core.plugins._base import BasePlugin
from suanli.scheduler.core.plugins._queues import QueueUsage
from suanli.scheduler.core.resources import PODS, BoolArray, FloatArray
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import JobInfo, QueueInfo, TaskInfo
from suanli.scheduler.core.victims import victim_order

__all__ = ["CapacityPlugin"]

EPS = 1e-9
#: Volcano's ``minResource``: smaller cpu (milli) / memory (bytes) amounts count as none
MIN_RESOURCE = 0.1


class CapacityPlugin(BasePlugin):
    name = "capacity"

    def on_session_open(self, ssn: Session) -> None:
        self.ssn = ssn
        self.hierarchy = self.option.enabled("Hierarchy")
        self.usage = QueueUsage(ssn)
        D = ssn.D
        total = ssn.allocatable.sum(axis=0)
        self.deserved: dict[str, FloatArray] = {}
        for name, q in ssn.queues.items():
            raw = ((q.obj or {}).get("spec") or {}).get("deserved") or {}
            d = np.full(D, np.inf)
            for k in raw:
                i = ssn.snapshot.dim_index.get(k)
                if i is not None and q.deserved is not None:
                    d[i] = q.deserved[i]
            d[PODS] = np.inf
            self.deserved[name] = d
            ssn.queue_deserved[name] = np.where(np.isfinite(d), d, 0.0)
        guarantees = {n: q.guarantee for n, q in ssn.queues.items()}
        gsum = sum(guarantees.values(), np.zeros(D))
        self.real_cap = {n: np.minimum(q.capability, total - (gsum - guarantees[n])) for n, q in ssn.queues.items()}
        self.parents = {n: q.parent for n, q in ssn.queues.items()} if self.hierarchy else {}
        self.sub_alloc = {n: v.copy() for n, v in self.usage.allocated.items()}
        if self.hierarchy:
            for n, v in self.usage.allocated.items():
                for a in self._ancestors(n):
                    self.sub_alloc[a] += v

        def asked(req: FloatArray) -> BoolArray:
            m: BoolArray = req > 0
            m[PODS] = False
            return m

        def queue_order(queue: QueueInfo) -> float:
            d = self.deserved[queue.name]
            a = self.sub_alloc[queue.name]
            fin = np.isfinite(d)
            out = 0.0
            for ai, di in zip(a[fin].tolist(), d[fin].tolist(), strict=True):
                out = max(out, ai / di if di > 0 else (1.0 if ai > 0 else 0.0))
            return out

        def allocatable(queue: QueueInfo, task: TaskInfo) -> bool:
            m = asked(task.request)
            for name in (queue.name, *self._ancestors(queue.name)):
                if not (self.sub_alloc[name][m] + task.request[m] <= self.real_cap[name][m] + EPS).all():
                    return False
            return True

        def preemptive(queue: QueueInfo, task: TaskInfo) -> bool:
            if queue.state != "Open":
                return False
            m = asked(task.request)
            future = self.sub_alloc[queue.name][m] + task.request[m]
            if not (future <= self.real_cap[queue.name][m] + EPS).all():
                return False
            # below deserved on at least one requested dimension (an unnamed one counts as 0)
            return bool((future <= ssn.queue_deserved[queue.name][m] + EPS).any())

        def reclaimable(actor: TaskInfo, candidates: Sequence[TaskInfo]) -> list[TaskInfo]:
            want = asked(actor.request)
            left: dict[str, FloatArray] = {}
            out = []
            for t in victim_order(ssn, candidates):
                holds = asked(t.request)
                if not (holds & want).any():
                    continue  # shares no requested dimension with the reclaimer
                q = ssn.jobs[t.job].queue
                alloc = left.get(q)
                if alloc is None:
                    alloc = left[q] = self.sub_alloc[q].copy()
                after = alloc - t.request
                after[PODS] = 0.0
                if not (ssn.queues[q].guarantee <= after + EPS).all():
                    continue  # would take the queue below its guarantee
                if not self._victim(q, holds, alloc):
                    continue
                left[q] = after
                out.append(t)
            return out

        def enqueueable(job: JobInfo) -> int:
            if job.min_resources is None:
                return PERMIT
            m = asked(job.min_resources)
            q = job.queue
            after = self.sub_alloc[q] + self.usage.inqueue[q] + job.min_resources
            short = m & (after > self.real_cap[q] + EPS)
            if not short.any():
                return PERMIT
            ssn.job_messages[job.uid] = format_resource_names(*QUEUE_QUOTA_INSUFFICIENT,
                                                              [ssn.dims[d] for d in np.flatnonzero(short)])
            return REJECT

        def enqueued(job: JobInfo) -> bool:
            if job.min_resources is not None:
                need = job.min_resources.copy()
                need[PODS] = 0.0
                self.usage.inqueue[job.queue] += need
            return True

        ssn.add_queue_order_fn(self.name, queue_order)
        ssn.add_allocatable_fn(self.name, allocatable)
        ssn.add_preemptive_fn(self.name, preemptive)
        ssn.add_reclaimable_fn(self.name, reclaimable)
        ssn.add_job_enqueueable_fn(self.name, enqueueable)
        ssn.add_job_enqueued_fn(self.name, enqueued)
        ssn.add_event_handler(self)

    def _victim(self, q: str, holds: BoolArray, alloc: FloatArray) -> bool:
        """Volcano's eligibility of a reclaimee of queue ``q`` holding ``holds``: it holds nothing
        ``q`` has a deserved amount for (an immediate victim), or ``q``'s allocation exceeds
        deserved on a dimension the reclaimee holds (cpu/memory only when their deserved is
        set and non-zero; another resource when it is named in deserved)."""
        des = self.deserved[q]
        named = np.isfinite(des)
        positive = named & (des >= MIN_RESOURCE)
        if not (holds & positive).any():
            return True
        relevant = holds & named
        relevant[:PODS] = holds[:PODS] & positive[:PODS]
        return bool((alloc[relevant] > des[relevant]).any())

    def _ancestors(self, name: str) -> list[str]:
        out: list[str] = []
        seen = {name}
        p = self.parents.get(name)
        while p and p in self.sub_alloc and p not in seen:
            out.append(p)
            seen.add(p)
            p = self.parents.get(p)
        return out

    def _add(self, task: TaskInfo, sign: float) -> None:
        q = self.ssn.jobs[task.job].queue
        if q not in self.sub_alloc:
            return
        delta = sign * task.request
        for name in (q, *self._ancestors(q)):
            self.sub_alloc[name] += delta
            self.sub_alloc[name][PODS] = 0.0

    def allocate(self, task: TaskInfo, node: int) -> None:
        self._add(task, 1.0)

    def deallocate(self, task: TaskInfo, node: int) -> None:
        self._add(task, -1.0)
