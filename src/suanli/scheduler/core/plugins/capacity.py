"""``capacity``: explicit per-dimension ``deserved`` / ``guarantee`` / ``capability`` per queue
(Volcano's capacity plugin).

Per queue: *allocated* (what its occupying tasks hold; with ``enableHierarchy`` a queue
also holds what its descendants hold), *inqueue* (``minResources`` of Inqueue jobs beyond
what they hold), *deserved* (``spec.deserved``; cpu and memory always count as named,
0 when unset, other dimensions only when listed), *guarantee* and *realCapability*:

* flat: ``min(capability, max(total - Σ guarantees, 0) + guarantee)``; a cpu or memory
  capability ≤ 0 means unset; deserved is cut to realCapability and raised to guarantee;
* hierarchy (``enableHierarchy``): every queue hangs under ``spec.parent`` or, without
  one, under ``root`` — the implicit root queue, unlimited unless a ``root`` Queue sets
  a capability. A child's unset capability dimensions (cpu/memory ≤ 0, missing
  scalars) are its parent's; its realCapability is ``min(capability, max(parent's
  realCapability - Σ siblings' guarantees, 0) + guarantee)``; deserved is raised to
  guarantee; root's deserved/guarantee are its children's sums. Only **leaf** queues
  take jobs (allocate and enqueue refuse inner queues).

Callbacks (a queue that is not Open allocates, enqueues and reclaims nothing):

* allocatable: ``allocated + request ≤ realCapability`` on the requested dimensions,
  for the queue and (hierarchy) every ancestor;
* enqueueable: ``allocated + inqueue + minResources ≤ realCapability`` on the
  dimensions of ``minResources``, for the queue and every ancestor (else the job's
  message names the short resources, upstream's queue-quota wording); an enqueued
  job's ``minResources`` join the inqueue of its queue and ancestors;
* preemptive (may reclaim): ``allocated + request ≤ realCapability`` on the requested
  dimensions, and ``≤ deserved`` on at least one requested dimension (dimensions where
  both are 0 do not count);
* reclaimable victims, walked in victim order (:func:`~suanli.scheduler.core.victims.victim_order`),
  each lowering its queue's allocated: a victim must share a requested dimension with
  the reclaimer, leave its queue at or above guarantee, and either hold nothing its
  queue deserves (an *immediate* victim: no deserved amount ≥ Volcano's
  ``minResource`` on what it holds) or come from a queue whose allocated exceeds
  deserved on a dimension the victim holds and the queue's deserved names (cpu/memory
  when their deserved is non-zero, another resource when named). E.g. a GPU reclaimer
  takes the GPU holder of a queue that deserves only cpu/memory, never a memory-only pod;
* queue order: ``spec.priority`` (higher first), then share ``max allocated/deserved``
  over the deserved dimensions (a queue without deserved has share 1), queues with
  deserved first on equal shares; with hierarchy leaves come before inner queues
  and leaves compare the shares along their paths from the root;
* victim queue order (hierarchy): victims first from queues sharing a deeper ancestor
  with the reclaimer's queue (a sibling's before a cousin's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from suanli.scheduler.core.decisions import QUEUE_QUOTA_INSUFFICIENT, format_resource_names
from suanli.scheduler.core.framework import PERMIT, REJECT
from suanli.scheduler.core.plugins._base import BasePlugin
from suanli.scheduler.core.plugins._queues import QueueUsage
from suanli.scheduler.core.resources import CPU, MEMORY, PODS, BoolArray, FloatArray
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import ROOT_QUEUE, JobInfo, QueueInfo, TaskInfo
from suanli.scheduler.core.victims import victim_order

__all__ = ["CapacityPlugin"]

EPS = 1e-9
#: Volcano's ``minResource``: smaller cpu (milli) / memory (bytes) amounts count as none
MIN_RESOURCE = 0.1


@dataclass(slots=True)
class _Attr:
    name: str
    deserved: FloatArray
    named: BoolArray  # dimensions deserved names (cpu, memory and listed scalars)
    guarantee: FloatArray
    capability: FloatArray  # inf where unset
    real_cap: FloatArray = field(default_factory=lambda: np.zeros(0))
    ancestors: list[str] = field(default_factory=list)  # root first
    children: list[str] = field(default_factory=list)
    state: str = "Open"
    priority: int = 0


def _asked(req: FloatArray) -> BoolArray:
    m: BoolArray = req > 0
    m[PODS] = False
    return m


class CapacityPlugin(BasePlugin):
    name = "capacity"

    def on_session_open(self, ssn: Session) -> None:
        self.ssn = ssn
        self.hierarchy = self.option.enabled("Hierarchy")
        self.usage = QueueUsage(ssn)
        self.attrs: dict[str, _Attr] = {n: self._attr(ssn, q) for n, q in ssn.queues.items()}
        total = ssn.allocatable.sum(axis=0)
        if self.hierarchy:
            self._build_hierarchy()
        else:
            gsum = sum((a.guarantee for a in self.attrs.values()), np.zeros(ssn.D))
            for a in self.attrs.values():
                a.real_cap = np.minimum(a.capability, np.maximum(total - gsum, 0.0) + a.guarantee)
                a.deserved = np.maximum(np.minimum(a.deserved, a.real_cap), a.guarantee)
        self._scalar: BoolArray = np.ones(ssn.D, dtype=np.bool_)
        self._scalar[[CPU, MEMORY, PODS]] = False
        zeros = np.zeros(ssn.D)
        self.alloc: dict[str, FloatArray] = {n: self.usage.allocated.get(n, zeros).copy() for n in self.attrs}
        self.inqueue: dict[str, FloatArray] = {n: self.usage.inqueue.get(n, zeros).copy() for n in self.attrs}
        for n, a in self.attrs.items():
            for anc in a.ancestors:
                self.alloc[anc] += self.usage.allocated.get(n, zeros)
                self.inqueue[anc] += self.usage.inqueue.get(n, zeros)
        for n in ssn.queues:
            ssn.queue_deserved[n] = self.attrs[n].deserved.copy()

        ssn.add_queue_order_fn(self.name, self._queue_order)
        ssn.add_allocatable_fn(self.name, self._allocatable)
        ssn.add_preemptive_fn(self.name, self._preemptive)
        ssn.add_reclaimable_fn(self.name, self._reclaimable)
        if self.hierarchy:
            ssn.add_victim_queue_order_fn(self.name, self._victim_queue_order)
        ssn.add_job_enqueueable_fn(self.name, self._enqueueable)
        ssn.add_job_enqueued_fn(self.name, self._enqueued)
        ssn.add_event_handler(self)

    # ------------------------------------------------------------------ attributes
    @staticmethod
    def _attr(ssn: Session, q: QueueInfo | None, name: str = ROOT_QUEUE) -> _Attr:
        D = ssn.D
        spec: dict[str, Any] = ((q.obj or {}).get("spec") or {}) if q is not None else {}
        named = np.zeros(D, dtype=np.bool_)
        named[CPU] = named[MEMORY] = True
        deserved = np.zeros(D)
        if q is not None and q.deserved is not None:
            deserved = q.deserved.copy()
            for k in spec.get("deserved") or {}:
                i = ssn.snapshot.dim_index.get(k)
                if i is not None:
                    named[i] = True
        named[PODS] = False
        deserved[PODS] = 0.0
        cap = q.capability.copy() if q is not None else np.full(D, np.inf)
        for d in (CPU, MEMORY):
            if cap[d] <= 0:
                cap[d] = np.inf
        cap[PODS] = np.inf
        guarantee = q.guarantee.copy() if q is not None else np.zeros(D)
        guarantee[PODS] = 0.0
        return _Attr(
            q.name if q is not None else name, deserved, named, guarantee, cap,
            state=q.state if q is not None else "Open", priority=q.priority if q is not None else 0,
        )

    def _build_hierarchy(self) -> None:
        ssn, attrs = self.ssn, self.attrs
        if ROOT_QUEUE not in attrs:
            attrs[ROOT_QUEUE] = self._attr(ssn, None)
        parent: dict[str, str] = {}
        for n in attrs:
            if n == ROOT_QUEUE:
                continue
            q = ssn.queues.get(n)
            p = (q.parent if q is not None else None) or ROOT_QUEUE
            parent[n] = p if p in attrs and p != n else ROOT_QUEUE
        for n in attrs:
            chain: list[str] = []
            up = parent.get(n)
            while up is not None and up not in chain and up != n:
                chain.append(up)
                up = parent.get(up)
            if chain and chain[-1] != ROOT_QUEUE:  # a cycle: hang it under root
                chain = [ROOT_QUEUE]
                parent[n] = ROOT_QUEUE
            attrs[n].ancestors = chain[::-1]
        for n, p in parent.items():
            attrs[p].children.append(n)
        root = attrs[ROOT_QUEUE]
        root.real_cap = root.capability.copy()
        self._settle(root)

    def _settle(self, attr: _Attr) -> None:
        """Volcano's ``checkHierarchicalQueue``: children's deserved ≥ guarantee, unset
        capability from the parent, realCapability from the parent's; root sums its children."""
        kids = [self.attrs[c] for c in attr.children]
        tg = np.zeros(self.ssn.D)
        td = np.zeros(self.ssn.D)
        for k in kids:
            k.deserved = np.maximum(k.deserved, k.guarantee)
            k.capability = np.where(np.isinf(k.capability), attr.capability, k.capability)
            tg += k.guarantee
            td += k.deserved
        if attr.name == ROOT_QUEUE:
            attr.guarantee, attr.deserved = tg, td
            attr.named = attr.named | np.any([k.named for k in kids], axis=0) if kids else attr.named
        for k in kids:
            k.real_cap = np.minimum(k.capability, np.maximum(attr.real_cap - tg, 0.0) + k.guarantee)
        for k in kids:
            self._settle(k)

    def _leaf(self, name: str) -> bool:
        return not self.hierarchy or not self.attrs[name].children

    def _chain(self, name: str) -> list[str]:
        """The queue and its ancestors, leaf first."""
        return [name, *reversed(self.attrs[name].ancestors)]

    # ------------------------------------------------------------------ callbacks
    def _share(self, name: str) -> tuple[float, int]:
        """``(share, 0 if the queue has a deserved else 1)``."""
        a = self.attrs[name]
        dims = a.deserved > 0
        if not dims.any():
            return (1.0, 1)
        alloc = self.alloc[name]
        return (float(np.max(alloc[dims] / a.deserved[dims])), 0)

    def _queue_order(self, queue: QueueInfo) -> tuple[Any, ...]:
        a = self.attrs[queue.name]
        if not self.hierarchy:
            return (-a.priority, self._share(queue.name))
        if a.children:
            return (-a.priority, 1, (self._share(queue.name),))
        return (-a.priority, 0, tuple(self._share(n) for n in [*a.ancestors[1:], queue.name]))

    def _victim_queue_order(self, left: QueueInfo, right: QueueInfo, preemptor: QueueInfo) -> int:
        """Victims first from the queue whose deepest common ancestor with the preemptor's
        queue is deeper (siblings before cousins); 0 on equal depth (upstream ``getQueueLevel``)."""
        p = self.attrs[preemptor.name].ancestors
        lv = self._common_depth(self.attrs[left.name].ancestors, p)
        rv = self._common_depth(self.attrs[right.name].ancestors, p)
        return 0 if lv == rv else (-1 if lv > rv else 1)

    @staticmethod
    def _common_depth(a: list[str], b: list[str]) -> int:
        """Index of the deepest shared entry of two root-first ancestor paths (0 when only root)."""
        level = 0
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            if x != y:
                break
            level = i
        return level

    def _allocatable(self, queue: QueueInfo, task: TaskInfo) -> bool:
        if queue.state != "Open" or not self._leaf(queue.name):
            return False
        m = _asked(task.request)
        return all(
            bool((self.alloc[n][m] + task.request[m] <= self.attrs[n].real_cap[m] + EPS).all())
            for n in self._chain(queue.name)
        )

    def _preemptive(self, queue: QueueInfo, task: TaskInfo) -> bool:
        a = self.attrs[queue.name]
        if queue.state != "Open":
            return False
        m = _asked(task.request)
        future = self.alloc[queue.name] + task.request
        if not (future[m] <= a.real_cap[m] + EPS).all():
            return False
        m &= ~((future <= EPS) & (a.deserved <= EPS))
        return bool((future[m] <= a.deserved[m] + EPS).any())

    def _reclaimable(self, actor: TaskInfo, candidates: Sequence[TaskInfo]) -> list[TaskInfo]:
        want = _asked(actor.request)
        left: dict[str, FloatArray] = {}
        out = []
        for t in victim_order(self.ssn, candidates, actor):
            held = _asked(t.request)
            if not (held & want).any():
                continue  # frees nothing the reclaimer asks for
            q = self.ssn.jobs[t.job].queue
            a = self.attrs.get(q)
            if a is None:
                continue
            alloc = left.setdefault(q, self.alloc[q].copy())
            after = alloc - t.request
            after[PODS] = 0.0
            if not (a.guarantee <= after + EPS).all():
                continue  # would leave its queue below guarantee
            if (held & a.named & (a.deserved >= MIN_RESOURCE)).any():  # not immediate: must exceed where it holds
                dims = held & a.named & ((a.deserved >= MIN_RESOURCE) | self._scalar)
                if not (alloc[dims] > a.deserved[dims] + EPS).any():
                    continue
            left[q] = after
            out.append(t)
        return out

    def _enqueueable(self, job: JobInfo) -> int:
        q = job.queue
        queue = self.ssn.queues[q]
        if not self._leaf(q) or queue.state != "Open":
            return REJECT
        if job.min_resources is None:
            return PERMIT
        m = _asked(job.min_resources)
        for n in self._chain(q):
            after = self.alloc[n] + self.inqueue[n] + job.min_resources
            short = m & (after > self.attrs[n].real_cap + EPS)
            if short.any():
                self.ssn.job_messages[job.uid] = format_resource_names(
                    *QUEUE_QUOTA_INSUFFICIENT, [self.ssn.dims[d] for d in np.flatnonzero(short)]
                )
                return REJECT
        return PERMIT

    def _enqueued(self, job: JobInfo) -> bool:
        if job.min_resources is not None:
            need = job.min_resources.copy()
            need[PODS] = 0.0
            for n in self._chain(job.queue):
                self.inqueue[n] += need
        return True

    # ------------------------------------------------------------------ events
    def _add(self, task: TaskInfo, sign: float) -> None:
        q = self.ssn.jobs[task.job].queue
        if q not in self.alloc:
            return
        delta = sign * task.request
        for n in self._chain(q):
            self.alloc[n] += delta
            self.alloc[n][PODS] = 0.0

    def allocate(self, task: TaskInfo, node: int) -> None:
        self._add(task, 1.0)

    def deallocate(self, task: TaskInfo, node: int) -> None:
        self._add(task, -1.0)
