"""``backfill``: place best-effort tasks (no resource requests) of Inqueue/Running jobs,
queue by queue (queue order), job by job (job order).

Each goes to its best node (predicates incl. the pod count, then scores). As in
Volcano, where a placement is dispatched only once the job is ready, a job's
best-effort placements are committed (bound) only if the job is then ready
(gang satisfied), otherwise discarded.
"""

from __future__ import annotations

from suanli.scheduler.core.actions.allocate import schedulable_jobs
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.statement import Statement

__all__ = ["Backfill"]


class Backfill:
    name = "backfill"

    def execute(self, ssn: Session) -> None:
        # as Volcano's pickUpPendingTasks: queues in queue order, then their jobs in job order
        jobs = schedulable_jobs(ssn)
        qkeys = {name: ssn.queue_key(ssn.queues[name]) for name in {j.queue for j in jobs}}
        for job in sorted(jobs, key=lambda j: (qkeys[j.queue], ssn.job_key(j))):
            stmt = Statement(ssn)
            for task in ssn.pending_tasks(job):
                if not task.best_effort:
                    continue
                best = ssn.best_node(task)
                if best is None or not best[1]:
                    ssn.task_messages[task.index] = ssn.explain(task)
                    continue
                stmt.allocate(task, best[0])
            if not stmt.ops:
                continue
            if ssn.job_ready(job):
                stmt.commit()
            else:
                stmt.discard()
