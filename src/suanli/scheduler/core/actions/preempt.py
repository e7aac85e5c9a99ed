"""``preempt``: starving jobs evict lower-priority work in their own queue.

For each queue (queue order) and each starving Inqueue/Running job in it (job
order, skipping jobs already pipelined): its pending tasks (task order) are
first placed without evictions if they fit anywhere; otherwise victims are
chosen among *preemptable* (``volcano.sh/preemptable``) Bound/Running tasks of
**other jobs in the same queue** that the tiered ``preemptable`` callbacks
allow (priority: lower priority only; gang: keep the victim's gang at
minMember; conformance: never critical pods). Then, within each job, pending
tasks may preempt lower-priority running tasks of the same job. Tasks are only
ever *pipelined* here (bound by a later allocate); the job's statement is
committed (evictions + pipelined tasks) if it made evictions and the job is
pipelined, otherwise discarded.
"""

from __future__ import annotations

from suanli.scheduler.core.actions._evict import evict_for, finish
from suanli.scheduler.core.actions.allocate import schedulable_jobs
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import JobInfo, TaskInfo
from suanli.scheduler.core.statement import Statement

__all__ = ["Preempt"]


class Preempt:
    name = "preempt"

    def execute(self, ssn: Session) -> None:
        jobs = sorted(schedulable_jobs(ssn), key=lambda j: (ssn.queue_key(ssn.queues[j.queue]), ssn.job_key(j)))
        for job in jobs:
            if not ssn.job_starving(job) or (ssn.counts(job.uid).pipelined and ssn.job_pipelined(job)):
                continue
            self._preempt_job(ssn, job, same_job=False)
        for job in jobs:
            self._preempt_job(ssn, job, same_job=True)

    def _preempt_job(self, ssn: Session, job: JobInfo, *, same_job: bool) -> None:
        stmt = Statement(ssn)
        if not ssn.pending_tasks(job):
            return

        def candidate(t: TaskInfo) -> bool:
            if not t.preemptable or t.best_effort:
                return False
            if same_job:
                return t.job == job.uid
            return t.job != job.uid and ssn.jobs[t.job].queue == job.queue

        ssn.evict_note = f"preempted by job {job.uid}"
        for task in ssn.pending_tasks(job):
            if task.best_effort:
                continue
            best = ssn.best_node(task)
            if best is not None:
                stmt.pipeline(task, best[0])  # fits without evictions: reserve it
                continue
            if same_job:

                def lower(t: TaskInfo, task: TaskInfo = task) -> bool:
                    return candidate(t) and t.priority < task.priority

                ok = evict_for(ssn, stmt, task, lower, ssn.preemptable, "preempt")
            else:
                ok = evict_for(ssn, stmt, task, candidate, ssn.preemptable, "preempt")
            if not ok:
                break
        finish(ssn, stmt, job)
        ssn.evict_note = ""
