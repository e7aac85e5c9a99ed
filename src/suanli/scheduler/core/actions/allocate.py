"""``allocate``: place pending tasks of Inqueue/Running jobs, gang by gang (Volcano's allocate).

Each job gets a *worksheet*: its pending tasks with requests, in task order
(best-effort tasks are left to ``backfill``). Loop: take the best queue (queue
order); if it is overused, drop it; else take its best job (job order) and work
through the job's worksheet with one :class:`Statement` — each task goes to its
best node (:meth:`Session.best_node`: fits + predicates, highest score, lowest
index on ties); a task that fits only once releasing tasks leave is pipelined; a
task the queue may not take (``allocatable`` false) is dropped. A task that fits
no node marks its task name (``volcano.sh/task-spec``) as failed — later tasks of
a failed name are skipped — and the job goes on only while it can still become
ready (:func:`need_continue`, Volcano's ``NeedContinueAllocating``); otherwise it
stops. The job stops as soon as it is ready. Then: ready → commit (binds) and,
with tasks left on its worksheet, the job goes back to its queue; else pipelined
→ keep as reservations; else discard (nothing binds). The queue goes back after
every job, so its order reflects what it got.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from typing import Any

from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import JobInfo, TaskInfo, TaskStatus
from suanli.scheduler.core.statement import Statement

__all__ = ["Allocate", "need_continue", "schedulable_jobs"]


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


def need_continue(ssn: Session, job: JobInfo, failed: set[str]) -> bool:
    """Whether ``job`` may go on placing tasks after tasks of the names in ``failed`` fit
    no node (Volcano's ``NeedContinueAllocating``): never when every task is needed
    (``minMember`` = number of tasks); when ``minMember < Σ minTaskMember``, while ready
    tasks plus the pending tasks of names that have not failed can still reach
    ``minMember``; else while every failed name with a minimum already has that many
    ready (or pending best-effort) tasks."""
    if job.min_member == len(job.tasks):
        return False
    mins = job.min_task_member
    c = ssn.counts(job.uid)
    if job.min_member < sum(mins.values()):
        status, tasks, pending = ssn.status, ssn.tasks, TaskStatus.PENDING
        left = sum(1 for i in job.tasks if status[i] is pending and tasks[i].role not in failed)
        return c.ready + left >= job.min_member
    for role in failed:
        need = mins.get(role, 0)
        if need and c.role_ready.get(role, 0) + c.role_best_effort.get(role, 0) < need:
            return False
    return True


class Allocate:
    name = "allocate"

    def execute(self, ssn: Session) -> None:
        counter = itertools.count()
        by_queue: dict[str, list[tuple[Any, int, JobInfo]]] = {}
        sheets: dict[str, deque[TaskInfo]] = {}
        for job in schedulable_jobs(ssn):
            sheet = deque(t for t in ssn.pending_tasks(job) if not t.best_effort)
            if not sheet:
                continue
            sheets[job.uid] = sheet
            by_queue.setdefault(job.queue, []).append((ssn.job_key(job), next(counter), job))
        qheap: list[tuple[Any, int, str]] = []
        for qname, jobs in by_queue.items():
            heapq.heapify(jobs)
            qheap.append((ssn.queue_key(ssn.queues[qname]), next(counter), qname))
        heapq.heapify(qheap)
        self._failed: dict[str, set[str]] = {}
        self._fail_at: dict[tuple[str, Any], int] = {}
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
            sheet = sheets[job.uid]
            if self._allocate_job(ssn, job, sheet) and sheet:
                heapq.heappush(jobs, (ssn.job_key(job), next(counter), job))
            if jobs:
                heapq.heappush(qheap, (ssn.queue_key(queue), next(counter), qname))

    def _best_node(self, ssn: Session, job: JobInfo, task: TaskInfo) -> tuple[int, bool] | None:
        """:meth:`Session.best_node`, except that a task of the same spec in the same job that
        found no node while no node has changed since finds none again without a search."""
        key = (job.uid, task.spec_key)
        if self._fail_at.get(key) == len(ssn.node_log):
            return None
        best = ssn.best_node(task)
        if best is None:
            self._fail_at[key] = len(ssn.node_log)
        return best

    def _allocate_job(self, ssn: Session, job: JobInfo, sheet: deque[TaskInfo]) -> bool:
        """Work through ``job``'s worksheet (consumed as tasks are tried); True if the job
        ended ready (its statement committed)."""
        queue = ssn.queues[job.queue]
        stmt = Statement(ssn)
        failed = self._failed.setdefault(job.uid, set())
        while sheet:
            task = sheet.popleft()
            if not ssn.queue_allocatable(queue, task):
                ssn.task_messages[task.index] = f"queue {queue.name} resource quota insufficient"
                # the gang's other pods would otherwise report nodes that are in fact available
                ssn.job_messages.setdefault(job.uid, ssn.task_messages[task.index])
                continue
            if task.role and task.role in failed:
                continue  # a task of this name already fits no node
            best = self._best_node(ssn, job, task)
            if best is None:
                if not failed:
                    ssn.job_messages[job.uid] = ssn.explain(task)
                failed.add(task.role)
                if need_continue(ssn, job, failed):
                    continue
                break
            node, now = best
            if now:
                stmt.allocate(task, node)
            else:
                stmt.pipeline(task, node)
            if ssn.job_ready(job):
                break
        if ssn.job_ready(job):
            stmt.commit()
            return True
        if ssn.job_pipelined(job):
            stmt.commit(bind=False)
        else:
            stmt.discard()
        return False
