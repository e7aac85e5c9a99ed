"""``enqueue``: move Pending PodGroups to Inqueue when the plugins let them.

Queues in queue order, jobs in job order. A job in a Closed queue, or whose
queue does not exist, stays Pending. A job with no ``minResources`` is
enqueued unconditionally; otherwise the enqueueable vote decides (overcommit,
proportion, capacity). A refused job keeps ``Pending`` and gets the job message
used for its pods' unschedulable reason.
"""

from __future__ import annotations

from suanli.scheduler.core.session import Session

__all__ = ["Enqueue"]


class Enqueue:
    name = "enqueue"

    def execute(self, ssn: Session) -> None:
        pending = [j for j in ssn.pending_phase_jobs if ssn.job_phase[j.uid] == "Pending"]
        # every key is computed before any job moves, so one queue key per queue suffices
        qkeys = {q: ssn.queue_key(ssn.queues[q]) for q in {j.queue for j in pending} if q in ssn.queues}
        pending.sort(key=lambda j: (qkeys.get(j.queue, ()), ssn.job_key(j)))
        for job in pending:
            queue = ssn.queues.get(job.queue)
            if queue is None:
                ssn.job_messages[job.uid] = f"queue {job.queue} not found"
                continue
            if queue.state != "Open":
                ssn.job_messages[job.uid] = f"queue {queue.name} is {queue.state}"
                continue
            if job.min_resources is None or ssn.job_enqueueable(job):
                ssn.set_job_phase(job, "Inqueue")
                ssn.job_enqueued(job)
            else:
                ssn.job_messages.setdefault(job.uid, "resource in cluster is overused")
