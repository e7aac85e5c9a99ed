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

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from suanli.scheduler.core.resources import BoolArray, FloatArray, IntArray
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import QueueInfo, TaskInfo, TaskStatus
from suanli.scheduler.core.statement import Statement
from suanli.scheduler.core.victims import victim_order

__all__ = ["PREEMPTEE_STATES", "Occupants", "by_node", "never_preempts", "preempt_for", "reclaim_for"]


def never_preempts(task: TaskInfo) -> bool:
    """``spec.preemptionPolicy: Never``: the task may not evict anything."""
    return (task.pod.get("spec") or {}).get("preemptionPolicy") == "Never"


#: the states a preempt victim may be in (Volcano's ``PreemptableStatus``)
PREEMPTEE_STATES = (TaskStatus.BOUND, TaskStatus.RUNNING)


@dataclass(slots=True)
class Occupants:
    """Possible victims indexed once per action: ``tasks[node]`` lists the tasks in the
    action's victim states on each node (task order); ``bound[node]`` sums the requests of
    those that are preemptable and not protected, ``by_queue[queue][node]`` counts them per
    queue. No task enters these states during a session (allocate places tasks as
    Allocated) and evictions only lower the true figures, so they stay upper bounds of what
    evictions can free on a node; users re-check each task's current status."""

    states: tuple[TaskStatus, ...]
    tasks: dict[int, list[TaskInfo]]
    bound: FloatArray
    by_queue: dict[str, IntArray]

    def hosts(self, queues: Iterable[str]) -> BoolArray:
        """Nodes holding a possible victim of one of ``queues``."""
        out = np.zeros(len(self.bound), dtype=np.bool_)
        for q in queues:
            counts = self.by_queue.get(q)
            if counts is not None:
                out |= counts > 0
        return out


def by_node(ssn: Session, states: tuple[TaskStatus, ...]) -> Occupants:
    """Index the tasks in ``states`` by node (see :class:`Occupants`)."""
    tasks: dict[int, list[TaskInfo]] = {}
    bound = np.zeros((ssn.N, ssn.D))
    by_queue: dict[str, IntArray] = {}
    status, nodes = ssn.status, ssn.task_node
    for t in ssn.tasks:
        if status[t.index] in states:
            node = nodes[t.index]
            tasks.setdefault(node, []).append(t)
            if t.preemptable and not ssn.protected(t) and 0 <= node < ssn.N:
                bound[node] += t.request
                q = ssn.jobs[t.job].queue
                counts = by_queue.get(q)
                if counts is None:
                    counts = by_queue[q] = np.zeros(ssn.N, dtype=np.int64)
                counts[node] += 1
    return Occupants(states, tasks, bound, by_queue)


def _reachable(ssn: Session, task: TaskInfo, occ: Occupants, fit0: BoolArray, hosts: BoolArray) -> IntArray:
    """Nodes passing the incurable predicates where the task fits future-idle resources, or
    fits them plus everything evictable there and ``hosts`` a possible victim (a superset of
    the nodes ``ValidateVictims`` accepts for the action's candidates)."""
    need = np.flatnonzero(task.request)
    free = ssn.future_idle()[:, need] + occ.bound[:, need]
    reach = (free >= task.request[need]).all(axis=1) & hosts
    out: IntArray = np.flatnonzero(ssn.predicate_unresolvable(task, None) & (fit0 | reach))
    return out


def _fits(ssn: Session, task: TaskInfo, node: int) -> bool:
    return bool(ssn.fit(task, np.array([node]))[0])


def _validate(free: FloatArray, need: IntArray, task: TaskInfo, victims: Sequence[TaskInfo]) -> bool:
    """``free`` (a node's future-idle resources) plus every victim's request cover the task."""
    total = free[need].copy()
    for v in victims:
        total += v.request[need]
    return bool((total >= task.request[need]).all())


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
    for v in victim_order(ssn, victims, task):
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
    occupants: Occupants,
    hosts: BoolArray,
) -> bool:
    """Pipeline ``task`` on the best node where evicting some of the ``candidate`` tasks the
    ``preemptable`` vote allows makes it fit (see module docstring); True if pipelined.
    ``occupants`` indexes the Bound/Running tasks when the action started; ``hosts`` marks
    the nodes that may hold a candidate (elsewhere the task must fit as it is)."""
    fidle, need = ssn.future_idle(), np.flatnonzero(task.request)  # restored by every failed node
    fit0: BoolArray = np.asarray((fidle[:, need] >= task.request[need]).all(axis=1))  # ValidateVictims, no victims
    nodes = _reachable(ssn, task, occupants, fit0, hosts)
    if not len(nodes):
        return False
    scores = ssn.node_scores(task, nodes)
    order = nodes[np.lexsort((nodes, -scores))]
    states = occupants.states
    for node in order.tolist():

        def fits(node: int = node) -> bool:
            return (
                ssn.queue_allocatable(queue, task)
                and _fits(ssn, task, node)
                and bool(ssn.predicate(task, np.array([node]))[0])
            )

        preemptees = [
            t
            for t in occupants.tasks.get(node, ())
            if ssn.status[t.index] in states and candidate(t) and not ssn.protected(t)
        ]
        victims = ssn.preemptable(task, preemptees)
        if not (fit0[node] if not victims else _validate(fidle[node], need, task, victims)):
            continue
        if _try_node(ssn, stmt, task, node, victims, fits, "preempt"):
            return True
    return False


def reclaim_for(
    ssn: Session,
    stmt: Statement,
    task: TaskInfo,
    candidate: Callable[[TaskInfo], bool],
    occupants: Occupants,
    hosts: BoolArray,
) -> bool:
    """Pipeline ``task`` on the first node (index order) where evicting some of the
    ``candidate`` Running tasks the ``reclaimable`` vote allows frees enough resources.
    ``occupants`` indexes the Running tasks when the action started; ``hosts`` marks the
    nodes that may hold a candidate."""
    fidle, need = ssn.future_idle(), np.flatnonzero(task.request)  # restored by every failed node
    states = occupants.states
    none = np.zeros(ssn.N, dtype=np.bool_)  # a node without reclaimees is never used
    for node in _reachable(ssn, task, occupants, none, hosts).tolist():
        reclaimees = [
            t
            for t in occupants.tasks.get(node, ())
            if ssn.status[t.index] in states and candidate(t) and not ssn.protected(t)
        ]
        if not reclaimees:
            continue
        victims = ssn.reclaimable(task, reclaimees)
        if not _validate(fidle[node], need, task, victims):
            continue

        def fits(node: int = node) -> bool:
            return _fits(ssn, task, node)

        if _try_node(ssn, stmt, task, node, victims, fits, "reclaim"):
            return True
    return False
