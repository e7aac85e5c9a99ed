"""``priority``: PriorityClass values order jobs and tasks (higher first); a preemptor may
evict only lower-priority work — a task of another job when that job's priority is
lower than the preemptor's job, a task of the same job when its own priority is lower.
A job is starving while it has tasks that are neither ready nor pipelined (upstream's
``jobStarvingFn``; with gang in the same tier, gang's stricter minimum decides)."""

from __future__ import annotations

from collections.abc import Sequence

from suanli.scheduler.core.plugins._base import BasePlugin
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import JobInfo, TaskInfo

__all__ = ["PriorityPlugin"]


class PriorityPlugin(BasePlugin):
    name = "priority"

    def on_session_open(self, ssn: Session) -> None:
        def job_order(job: JobInfo) -> int:
            return -job.priority

        def task_order(task: TaskInfo) -> int:
            return -task.priority

        def victims(actor: TaskInfo, candidates: Sequence[TaskInfo]) -> list[TaskInfo]:
            mine = ssn.jobs[actor.job]
            out = []
            for t in candidates:
                if t.job != actor.job:
                    if ssn.jobs[t.job].priority < mine.priority:
                        out.append(t)
                elif t.priority < actor.priority:
                    out.append(t)
            return out

        def starving(job: JobInfo) -> bool:
            c = ssn.counts(job.uid)
            return c.ready + c.pipelined < len(job.tasks)

        ssn.add_job_order_fn(self.name, job_order)
        ssn.add_job_starving_fn(self.name, starving)
        ssn.add_task_order_fn(self.name, task_order)
        ssn.add_preemptable_fn(self.name, victims)
