"""``reclaim``: starving jobs take back resources their queue lent to other queues
(Volcano's reclaim).

Queues in queue order, skipping overused ones; in each, every starving
Inqueue/Running job with pending tasks (job order) gets one statement. While the
job is starving, its next pending task (task order) is skipped if it has
``preemptionPolicy: Never`` or the queue may not reclaim for it (the
``preemptive`` votes: proportion — the queue is Open and stays within its
deserved share; capacity — within its capability and below deserved on some
requested dimension); otherwise :func:`~._evict.reclaim_for` looks for a node,
with victims among the **Running**, ``volcano.sh/preemptable`` tasks of jobs in
*other*, reclaimable queues, filtered by the tiered ``reclaimable`` votes
(proportion/capacity: from queues above their deserved share; gang: the victim's
job keeps minMember ready; conformance: never critical pods). The statement is
committed (evictions + pipelined tasks) if the job is then pipelined, else undone.
"""

from __future__ import annotations

from suanli.scheduler.core.actions._evict import Occupants, by_node, never_preempts, reclaim_for
from suanli.scheduler.core.actions.allocate import schedulable_jobs
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import JobInfo, TaskInfo, TaskStatus
from suanli.scheduler.core.statement import Statement

__all__ = ["Reclaim"]


class Reclaim:
    name = "reclaim"

    def execute(self, ssn: Session) -> None:
        by_queue: dict[str, list[JobInfo]] = {}
        for job in schedulable_jobs(ssn):
            if ssn.job_starving(job):
                by_queue.setdefault(job.queue, []).append(job)
        if not by_queue:
            return
        occupants = by_node(ssn, (TaskStatus.RUNNING,))
        for qname in sorted(by_queue, key=lambda q: ssn.queue_key(ssn.queues[q])):
            queue = ssn.queues[qname]
            if ssn.overused(queue):
                continue
            for job in sorted(by_queue[qname], key=ssn.job_key):
                self._reclaim_job(ssn, job, occupants)

    @staticmethod
    def _reclaim_job(ssn: Session, job: JobInfo, occupants: Occupants) -> None:
        queue = ssn.queues[job.queue]

        def candidate(t: TaskInfo) -> bool:
            other = ssn.queues.get(ssn.jobs[t.job].queue)
            return t.preemptable and other is not None and other.name != queue.name and other.reclaimable

        stmt = Statement(ssn)
        ssn.evict_note = f"reclaimed by queue {queue.name} for job {job.uid}"
        hosts = occupants.hosts(q for q, other in ssn.queues.items() if q != queue.name and other.reclaimable)
        pending = ssn.pending_tasks(job)
        while pending and ssn.job_starving(job):
            task = pending.pop(0)
            if ssn.status[task.index] is not TaskStatus.PENDING or never_preempts(task):
                continue
            if not ssn.preemptive(queue, task):
                continue
            reclaim_for(ssn, stmt, task, candidate, occupants, hosts)
        if ssn.job_pipelined(job):
            stmt.commit(bind=False)
        else:
            stmt.discard()
        ssn.evict_note = ""
