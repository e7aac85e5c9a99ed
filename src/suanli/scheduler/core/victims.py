"""Volcano's victim order (``BuildVictimsPriorityQueue``), shared by the eviction actions
and the plugins that walk candidates in that order (capacity's reclaimable vote)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import TaskInfo

__all__ = ["victim_order"]


def _reverse(a: Any, b: Any) -> int:
    """Comparator for descending order: ``a`` first when it sorts after ``b``."""
    return -1 if a > b else (1 if a < b else 0)


def victim_order(ssn: Session, victims: Sequence[TaskInfo], preemptor: TaskInfo | None = None) -> list[TaskInfo]:
    """Victims least important first (Volcano's ``BuildVictimsPriorityQueue``): tasks of one
    job in reverse task order; of different queues by the plugins' victim queue order
    relative to the ``preemptor``'s queue (:meth:`Session.victim_queue_order`; capacity
    with hierarchy: queues sharing a deeper ancestor with it first), else in reverse queue
    order; of different jobs in one queue in reverse job order (the plugins' keys only),
    ties in reverse task order. E.g. with ``priority``, the lowest-priority job of the
    lowest queue goes first."""
    pq = ssn.queues.get(ssn.jobs[preemptor.job].queue) if preemptor is not None else None

    def cmp(lv: TaskInfo, rv: TaskInfo) -> int:
        if lv.job != rv.job:
            lj, rj = ssn.jobs[lv.job], ssn.jobs[rv.job]
            if lj.queue != rj.queue:
                lq, rq = ssn.queues[lj.queue], ssn.queues[rj.queue]
                c = ssn.victim_queue_order(lq, rq, pq) if pq is not None else 0
                return c or _reverse(ssn.queue_key(lq), ssn.queue_key(rq))
            c = _reverse(ssn.job_order_values(lj), ssn.job_order_values(rj))
            if c:
                return c
        return _reverse(ssn.task_key(lv), ssn.task_key(rv))

    return sorted(victims, key=functools.cmp_to_key(cmp))
