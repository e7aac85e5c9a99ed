"""Shared victim search for ``preempt`` and ``reclaim``.

For a task that fits no node's future-idle resources: visit nodes that pass
the predicates (ignoring resources) in score order (ties: lowest index); on
each, ask the tiered victim callbacks which of the filtered occupants may go;
if evicting all of them would make the task fit, evict them in reverse task
order (least important first) only until it fits, skipping victims that hold
none of the resources the task still lacks (a GPU request evicts the GPU
holder, not a CPU-only pod), then pipeline the task there. If the task already
fits somewhere, it is pipelined/allocated by the caller with **zero** evictions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import TaskInfo, TaskStatus
from suanli.scheduler.core.statement import Statement

__all__ = ["evict_for", "finish"]

_EVICTABLE = (TaskStatus.BOUND, TaskStatus.RUNNING)


def evict_for(
    ssn: Session,
    stmt: Statement,
    task: TaskInfo,
    candidate: Callable[[TaskInfo], bool],
    victims_of: Callable[[TaskInfo, Sequence[TaskInfo]], list[TaskInfo]],
    reason: str,
) -> bool:
    """Free room for ``task`` by evicting victims on one node; True if it was pipelined."""
    mask = ssn.predicate(task, None)
    if not mask.any():
        return False
    scores = ssn.node_scores(task, None)
    nodes = np.flatnonzero(mask)
    order = nodes[np.lexsort((nodes, -scores[nodes]))]
    req = task.request
    need = np.flatnonzero(req)
    on_node: dict[int, list[TaskInfo]] = {}
    for t in ssn.tasks:
        if ssn.status[t.index] in _EVICTABLE:
            on_node.setdefault(ssn.task_node[t.index], []).append(t)
    for node in order.tolist():
        occupants = [
            t
            for t in on_node.get(node, ())
            if ssn.status[t.index] in _EVICTABLE and candidate(t) and not ssn.protected(t)
        ]
        if not occupants:
            continue
        victims = victims_of(task, occupants)
        if not victims:
            continue
        free = ssn.future_idle()[node]
        total = free + sum((v.request for v in victims), np.zeros(ssn.D))
        if not (total[need] >= req[need]).all():
            continue
        for v in sorted(victims, key=ssn.task_key, reverse=True):
            lacking = ssn.future_idle()[node][need] < req[need]
            if not lacking.any():
                break
            if not (v.request[need][lacking] > 0).any():
                continue  # frees nothing the task still lacks (a CPU-only pod for a GPU request)
            stmt.evict(v, reason)
        stmt.pipeline(task, node)
        return True
    return False


def finish(ssn: Session, stmt: Statement, job: object) -> None:
    """Commit a preempt/reclaim statement (never binding) if it evicted something and the
    job is pipelined; discard it otherwise (reservations without evictions are left to
    allocate)."""
    from suanli.scheduler.core.snapshot import JobInfo

    assert isinstance(job, JobInfo)
    if any(op[0] == "evict" for op in stmt.ops) and ssn.job_pipelined(job):
        stmt.commit(bind=False)
    else:
        stmt.discard()
