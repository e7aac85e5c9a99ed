"""Victim search shared by ``preempt`` and ``reclaim`` (Volcano's ``normalPreempt`` and
``reclaimForTask``), and the victim order both use.

Candidate nodes are those passing every predicate that evictions cannot cure
(:meth:`Session.predicate_unresolvable`; e.g. a device predicate failing only
because the devices are taken is curable). On one node:

* the action's filter and the tiered victim vote (``preemptable`` /
  ``reclaimable`` callbacks) give the victims; the node is skipped unless its
  future-idle resources plus all victims' requests cover the task's request
  (``ValidateVictims``; with no victims at all this is just "the task fits");
* victims are evicted in :func:`victim_order` **only while the task does not yet
  fit** — for preempt "fits" is: the queue may allocate the task, its request
  fits the node's future-idle resources and every predicate passes on the
  node; for reclaim only the resource fit counts;
* if it then fits, the task is pipelined there and the node's evictions join
  the caller's statement; otherwise the node's evictions are undone and the next
  node is tried. So evictions are only ever committed on the node that wins.

Preempt visits nodes by score (highest first, ties to the lowest index);
reclaim visits them in index order (Volcano does not score them either).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import QueueInfo, TaskInfo, TaskStatus
from suanli.scheduler.core.statement import Statement
from suanli.scheduler.core.victims import victim_order

__all__ = ["PREEMPTEE_STATES", "by_node", "never_preempts", "preempt_for", "reclaim_for"]


def never_preempts(task: TaskInfo) -> bool:
    """``spec.preemptionPolicy: Never``: the task may not evict anything."""
    return (task.pod.get("spec") or {}).get("preemptionPolicy") == "Never"


#: the states a preempt victim may be in (Volcano's ``PreemptableStatus``)
PREEMPTEE_STATES = (TaskStatus.BOUND, TaskStatus.RUNNING)
_PREEMPTEES = PREEMPTEE_STATES


def by_node(ssn: Session, states: tuple[TaskStatus, ...]) -> dict[int, list[TaskInfo]]:
    """Tasks in ``states`` per node index, in task order of the snapshot. Computed once per
    action: no task enters these states during a session (allocate places tasks as
    Allocated), so callers only re-check each task's current status."""
    out: dict[int, list[TaskInfo]] = {}
    status, nodes = ssn.status, ssn.task_node
    for t in ssn.tasks:
        if status[t.index] in states:
            out.setdefault(nodes[t.index], []).append(t)
    return out


def _fits(ssn: Session, task: TaskInfo, node: int) -> bool:
    return bool(ssn.fit(task, np.array([node]))[0])


def _validate(ssn: Session, task: TaskInfo, node: int, victims: Sequence[TaskInfo]) -> bool:
    """The node's future-idle resources plus every victim's request cover the task."""
    free = ssn.future_idle()[node]
    for v in victims:
        free += v.request
    need = np.flatnonzero(task.request)
    return bool((free[need] >= task.request[need]).all())


def _try_node(
    ssn: Session,
    stmt: Statement,
    task: TaskInfo,
    node: int,
    victims: Sequence[TaskInfo],
    fits: Callable[[], bool],
    reason: str,
) -> bool:
    node_stmt = Statement(ssn)
    ok = fits()
    for v in victim_order(ssn, victims):
        if ok:
            break
        node_stmt.evict(v, reason)
        ok = fits()
    if not ok:
        node_stmt.discard()
        return False
    node_stmt.pipeline(task, node)
    stmt.merge(node_stmt)
    return True


def preempt_for(
    ssn: Session,
    stmt: Statement,
    task: TaskInfo,
    queue: QueueInfo,
    candidate: Callable[[TaskInfo], bool],
    occupants: Mapping[int, list[TaskInfo]],
) -> bool:
    """Pipeline ``task`` on the best node where evicting some of the ``candidate`` tasks the
    ``preemptable`` vote allows makes it fit (see module docstring); True if pipelined.
    ``occupants`` is :func:`by_node` of the Bound/Running tasks when the action started."""
    nodes = np.flatnonzero(ssn.predicate_unresolvable(task, None))
    if not len(nodes):
        return False
    scores = ssn.node_scores(task, nodes)
    order = nodes[np.lexsort((nodes, -scores))]

    for node in order.tolist():
        rows = np.array([node])

        def fits(node: int = node, rows: Any = rows) -> bool:
            return ssn.queue_allocatable(queue, task) and _fits(ssn, task, node) and bool(ssn.predicate(task, rows)[0])

        preemptees = [
            t for t in occupants.get(node, ()) if ssn.status[t.index] in _PREEMPTEES and candidate(t)
            and not ssn.protected(t)
        ]
        victims = ssn.preemptable(task, preemptees)
        if not _validate(ssn, task, node, victims):
            continue
        if _try_node(ssn, stmt, task, node, victims, fits, "preempt"):
            return True
    return False


def reclaim_for(
    ssn: Session,
    stmt: Statement,
    task: TaskInfo,
    candidate: Callable[[TaskInfo], bool],
    occupants: Mapping[int, list[TaskInfo]],
) -> bool:
    """Pipeline ``task`` on the first node (index order) where evicting some of the
    ``candidate`` Running tasks the ``reclaimable`` vote allows frees enough resources.
    ``occupants`` is :func:`by_node` of the Running tasks when the action started."""
    nodes = np.flatnonzero(ssn.predicate_unresolvable(task, None)).tolist()
    for node in nodes:
        reclaimees = [
            t for t in occupants.get(node, ())
            if ssn.status[t.index] is TaskStatus.RUNNING and candidate(t) and not ssn.protected(t)
        ]
        if not reclaimees:
            continue
        victims = ssn.reclaimable(task, reclaimees)
        if not _validate(ssn, task, node, victims):
            continue

        def fits(node: int = node) -> bool:
            return _fits(ssn, task, node)

        if _try_node(ssn, stmt, task, node, victims, fits, "reclaim"):
            return True
    return False
