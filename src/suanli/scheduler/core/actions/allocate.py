"""``allocate``: place pending tasks of Inqueue/Running jobs, gang by gang.

Loop (Volcano's allocate): take the best queue (queue order) that is not
overused, then its best job (job order); place the job's pending tasks in task
order through one :class:`Statement` — each task goes to its best node
(:meth:`Session.best_node`: fits + predicates, highest score, lowest index on
ties); a task that fits only once releasing tasks leave is pipelined. The first
task that fits nowhere stops the job. A task the queue may not take
(``allocatable`` false) is skipped. Once the job is ready and still has pending
tasks it goes back to its queue so others get a turn. Then: ready → commit
(binds); else pipelined → keep as reservations; else discard (nothing binds).
Best-effort tasks (no requests) are left to ``backfill``.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Any

from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import JobInfo, TaskStatus
from suanli.scheduler.core.statement import Statement

__all__ = ["Allocate", "schedulable_jobs"]


def schedulable_jobs(ssn: Session) -> list[JobInfo]:
    """Inqueue/Running jobs in existing queues that pass ``job_valid``; invalid ones get a message.

    When the configuration has no ``enqueue`` action, Pending jobs are treated as
    Inqueue (Volcano's allocate does the same). Only jobs with a pending task can
    qualify, so just :attr:`Session.active_jobs` are examined (in ``jobs`` order)."""
    if "enqueue" not in ssn.config.actions:
        for job in ssn.pending_phase_jobs:
            if ssn.job_phase[job.uid] == "Pending" and job.queue in ssn.queues:
                ssn.set_job_phase(job, "Inqueue")  # as Volcano: without the enqueue action jobs go straight in
    out = []
    status = ssn.status
    pending = TaskStatus.PENDING
    for job in ssn.active_jobs:
        if ssn.job_phase[job.uid] == "Pending" or job.queue not in ssn.queues:
            continue
        if not any(status[i] is pending for i in job.tasks):
            continue
        invalid = ssn.job_valid(job)
        if invalid is not None:
            ssn.job_messages[job.uid] = invalid[1]
            continue
        out.append(job)
    return out


class Allocate:
    name = "allocate"

    def execute(self, ssn: Session) -> None:
        counter = itertools.count()
        by_queue: dict[str, list[tuple[Any, int, JobInfo]]] = {}
        for job in schedulable_jobs(ssn):
            by_queue.setdefault(job.queue, []).append((ssn.job_key(job), next(counter), job))
        qheap: list[tuple[Any, int, str]] = []
        for qname, jobs in by_queue.items():
            heapq.heapify(jobs)
            qheap.append((ssn.queue_key(ssn.queues[qname]), next(counter), qname))
        heapq.heapify(qheap)
        while qheap:
            _, _, qname = heapq.heappop(qheap)
            queue = ssn.queues[qname]
            jobs = by_queue[qname]
            if ssn.overused(queue):
                for _, _, job in jobs:
                    ssn.job_messages.setdefault(job.uid, f"queue {qname} is overused")
                continue
            if not jobs:
                continue
            _, _, job = heapq.heappop(jobs)
            if self._allocate_job(ssn, job):
                heapq.heappush(jobs, (ssn.job_key(job), next(counter), job))
            if jobs:
                heapq.heappush(qheap, (ssn.queue_key(queue), next(counter), qname))

    def _allocate_job(self, ssn: Session, job: JobInfo) -> bool:
        """Place one job; True if it is ready with tasks left (push it back)."""
        queue = ssn.queues[job.queue]
        stmt = Statement(ssn)
        again = False
        tasks = [t for t in ssn.pending_tasks(job) if not t.best_effort]
        for i, task in enumerate(tasks):
            if not ssn.queue_allocatable(queue, task):
                ssn.task_messages[task.index] = f"queue {queue.name} resource quota insufficient"
                # the gang's other pods would otherwise report nodes that are in fact available
                ssn.job_messages.setdefault(job.uid, ssn.task_messages[task.index])
                continue
            best = ssn.best_node(task)
            if best is None:
                ssn.job_messages[job.uid] = ssn.explain(task)
                break
            node, now = best
            if now:
                stmt.allocate(task, node)
            else:
                stmt.pipeline(task, node)
            if i + 1 < len(tasks) and ssn.job_ready(job):
                again = True
                break
        if ssn.job_ready(job):
            stmt.commit()
        elif ssn.job_pipelined(job):
            stmt.commit(bind=False)
        else:
            stmt.discard()
        return again
