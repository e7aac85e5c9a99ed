"""``gang``: all-or-nothing by ``minMember`` and per-task ``minTaskMember``.

* valid: at least ``minMember`` non-failed tasks exist, and per task name at
  least its ``minTaskMember`` → else ``("NotEnoughPods", …)``;
* ready: ready tasks (Allocated/Bound/Running/Succeeded) ≥ minMember and per
  task name ≥ its minimum;
* pipelined: ready + pipelined satisfies the same counts (permit, else reject);
* starving: ready + pipelined < minMember;
* job order: jobs not yet ready first;
* victims (preempt/reclaim): a victim's job must keep ≥ minMember ready tasks.

As upstream (``JobInfo.CheckTask{Valid,Ready,Pipelined}``), the per-task-name minimums are
skipped when ``minMember`` is below their sum (e.g. a Volcano Job whose later tasks wait on
``dependsOn``: ``minAvailable: 1`` over tasks of 1 + 2 replicas).
"""

from __future__ import annotations

from collections.abc import Sequence

from suanli.scheduler.core.framework import PERMIT, REJECT
from suanli.scheduler.core.plugins._base import BasePlugin
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import JobInfo, TaskInfo, TaskStatus

__all__ = ["GangPlugin"]


def _role_minimums(job: JobInfo) -> dict[str, int]:
    """``minTaskMember``, or nothing when ``minMember`` < its sum (upstream skips the role checks)."""
    mins = job.min_task_member
    return {} if job.min_member < sum(mins.values()) else dict(mins)


class GangPlugin(BasePlugin):
    name = "gang"

    def on_session_open(self, ssn: Session) -> None:
        def valid(job: JobInfo) -> tuple[str, str] | None:
            alive = [ssn.tasks[i] for i in job.tasks if ssn.status[i] is not TaskStatus.FAILED]
            if len(alive) < job.min_member:
                return (
                    "NotEnoughPods",
                    f"Not enough valid tasks for gang-scheduling, valid: {len(alive)}, min: {job.min_member}",
                )
            for role, need in _role_minimums(job).items():
                have = sum(1 for t in alive if t.role == role)
                if have < need:
                    return (
                        "NotEnoughPods",
                        f"Not enough valid {role} tasks for gang-scheduling, valid: {have}, min: {need}",
                    )
            return None

        def satisfied(job: JobInfo, with_pipelined: bool) -> bool:
            c = ssn.counts(job.uid)
            n = c.ready + (c.pipelined if with_pipelined else 0)
            if n < job.min_member:
                return False
            for role, need in _role_minimums(job).items():
                got = c.role_ready.get(role, 0) + (c.role_pipelined.get(role, 0) if with_pipelined else 0)
                if got < need:
                    return False
            return True

        def ready(job: JobInfo) -> bool:
            return satisfied(job, False)

        def pipelined(job: JobInfo) -> int:
            return PERMIT if satisfied(job, True) else REJECT

        def starving(job: JobInfo) -> bool:
            c = ssn.counts(job.uid)
            return c.ready + c.pipelined < job.min_member

        def job_order(job: JobInfo) -> int:
            return 1 if satisfied(job, False) else 0

        def victims(actor: TaskInfo, candidates: Sequence[TaskInfo]) -> list[TaskInfo]:
            left: dict[str, int] = {}
            out = []
            for t in candidates:
                job = ssn.jobs[t.job]
                n = left.get(job.uid)
                if n is None:
                    n = left[job.uid] = ssn.counts(job.uid).ready
                if n > job.min_member:
                    left[job.uid] = n - 1
                    out.append(t)
            return out

        ssn.add_job_valid_fn(self.name, valid)
        ssn.add_job_ready_fn(self.name, ready)
        ssn.add_job_pipelined_fn(self.name, pipelined)
        ssn.add_job_starving_fn(self.name, starving)
        ssn.add_job_order_fn(self.name, job_order)
        ssn.add_preemptable_fn(self.name, victims)
        ssn.add_reclaimable_fn(self.name, victims)
