"""``reclaim``: jobs of a queue take back resources lent to other queues.

For each queue (queue order) that is not overused, and each of its
Inqueue/Running jobs with pending tasks (job order): a pending task that fits
somewhere needs no eviction (zero evictions; it is placed directly). Otherwise,
if the queue may reclaim for it (``preemptive`` callbacks, e.g. capacity: the
queue stays within its deserved share), victims are chosen among
*preemptable* Bound/Running tasks of jobs in **other** queues whose
``reclaimable`` is true, filtered by the tiered ``reclaimable`` callbacks
(proportion/capacity: only from queues above their deserved share). Tasks are
only pipelined here; the statement is committed if it evicted something and the
job is pipelined, else discarded.
"""

from __future__ import annotations

from suanli.scheduler.core.actions._evict import evict_for, finish
from suanli.scheduler.core.actions.allocate import schedulable_jobs
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import TaskInfo
from suanli.scheduler.core.statement import Statement

__all__ = ["Reclaim"]


class Reclaim:
    name = "reclaim"

    def execute(self, ssn: Session) -> None:
        jobs = sorted(schedulable_jobs(ssn), key=lambda j: (ssn.queue_key(ssn.queues[j.queue]), ssn.job_key(j)))
        for job in jobs:
            queue = ssn.queues[job.queue]
            if ssn.overused(queue):
                continue
            stmt = Statement(ssn)

            def candidate(t: TaskInfo, qname: str = queue.name) -> bool:
                other = ssn.queues.get(ssn.jobs[t.job].queue)
                return (
                    t.preemptable
                    and not t.best_effort
                    and other is not None
                    and other.name != qname
                    and other.reclaimable
                )

            ssn.evict_note = f"reclaimed by queue {queue.name} for job {job.uid}"
            for task in ssn.pending_tasks(job):
                if task.best_effort:
                    continue
                best = ssn.best_node(task)
                if best is not None:
                    stmt.pipeline(task, best[0])  # fits without evictions: reserve it
                    continue
                if not ssn.preemptive(queue, task):
                    break
                if not evict_for(ssn, stmt, task, candidate, ssn.reclaimable, "reclaim"):
                    break
            finish(ssn, stmt, job)
            ssn.evict_note = ""
