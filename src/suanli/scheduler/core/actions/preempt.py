"""``preempt``: starving jobs evict lower-priority work of their own queue (Volcano's preempt).

Preemptors are the Inqueue/Running jobs with pending tasks that are *starving*
(:meth:`Session.job_starving`: gang — fewer than minMember tasks ready or
pipelined; priority — some task neither ready nor pipelined). Queues in queue
order; in each:

1. **between jobs** — each preemptor job (job order) gets one statement; while it
   is starving, its next pending task (task order, as pending when the action
   started) looks for a node via :func:`~._evict.preempt_for` with victims among
   the Bound/Running, ``volcano.sh/preemptable`` tasks of *other jobs in the same
   queue* (a best-effort preemptor may only evict best-effort tasks; a task with
   ``preemptionPolicy: Never`` evicts nothing), filtered by the tiered
   ``preemptable`` votes (priority: lower job priority; gang: the victim's job
   keeps minMember ready; conformance: never critical pods). The statement is
   committed (evictions + pipelined tasks) if the job is then pipelined, else
   undone;
2. **within jobs** — each preemptor job's still-pending tasks (task order) may
   evict preemptable tasks of the same job (priority: lower task priority), one
   statement per task, committed when the task is pipelined; the first task that
   finds no node ends the job's turn.

The queue-allocatable check is part of "fits", so a queue at its share evicts its
own lower-priority work even when nodes have room. Tasks are only ever pipelined
here; a later ``allocate`` binds them once the victims are gone.
"""

from __future__ import annotations

import numpy as np

from suanli.scheduler.core.actions._evict import PREEMPTEE_STATES, Occupants, by_node, never_preempts, preempt_for
from suanli.scheduler.core.actions.allocate import schedulable_jobs
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import JobInfo, TaskInfo, TaskStatus
from suanli.scheduler.core.statement import Statement

__all__ = ["Preempt"]

class Preempt:
    name = "preempt"
    occupants: Occupants

    def execute(self, ssn: Session) -> None:
        by_queue: dict[str, list[JobInfo]] = {}
        for job in schedulable_jobs(ssn):
            if ssn.job_starving(job):
                by_queue.setdefault(job.queue, []).append(job)
        if not by_queue:
            return
        self.occupants = by_node(ssn, PREEMPTEE_STATES)
        for qname in sorted(by_queue, key=lambda q: ssn.queue_key(ssn.queues[q])):
            jobs = sorted(by_queue[qname], key=ssn.job_key)
            tasks = {job.uid: ssn.pending_tasks(job) for job in jobs}
            for job in jobs:
                self._between_jobs(ssn, job, tasks[job.uid])
            for job in jobs:
                self._within_job(ssn, job)

    @staticmethod
    def _victim_ok(ssn: Session, preemptor: TaskInfo, t: TaskInfo) -> bool:
        if ssn.status[t.index] not in PREEMPTEE_STATES or not t.preemptable:
            return False
        return t.best_effort or not preemptor.best_effort  # best-effort preemptors evict best-effort only

    def _between_jobs(self, ssn: Session, job: JobInfo, tasks: list[TaskInfo]) -> None:
        queue = ssn.queues[job.queue]
        stmt = Statement(ssn)
        ssn.evict_note = f"preempted by job {job.uid}"
        hosts = self.occupants.hosts([job.queue])
        pending = list(tasks)
        while pending and ssn.job_starving(job):
            task = pending.pop(0)
            if ssn.status[task.index] is not TaskStatus.PENDING or never_preempts(task):
                continue

            def candidate(t: TaskInfo, task: TaskInfo = task) -> bool:
                return self._victim_ok(ssn, task, t) and t.job != job.uid and ssn.jobs[t.job].queue == job.queue

            preempt_for(ssn, stmt, task, queue, candidate, self.occupants, hosts)
        if ssn.job_pipelined(job):
            stmt.commit(bind=False)
        else:
            stmt.discard()
        ssn.evict_note = ""

    def _within_job(self, ssn: Session, job: JobInfo) -> None:
        queue = ssn.queues[job.queue]
        ssn.evict_note = f"preempted by job {job.uid}"
        hosts = np.zeros(ssn.N, dtype=np.bool_)  # nodes running one of the job's own tasks
        for i in job.tasks:
            if ssn.status[i] in PREEMPTEE_STATES and 0 <= ssn.task_node[i] < ssn.N:
                hosts[ssn.task_node[i]] = True
        for task in ssn.pending_tasks(job):
            stmt = Statement(ssn)

            def candidate(t: TaskInfo, task: TaskInfo = task) -> bool:
                return self._victim_ok(ssn, task, t) and t.job == job.uid

            if never_preempts(task) or not preempt_for(ssn, stmt, task, queue, candidate, self.occupants, hosts):
                stmt.discard()
                break
            stmt.commit(bind=False)
        ssn.evict_note = ""
