"""``gang``: all-or-nothing by ``minMember`` and per-task ``minTaskMember`` (Volcano's gang).

Counts (session :class:`~suanli.scheduler.core.session.JobCounts`): *ready* =
Allocated/Bound/Running/Succeeded, *pipelined*, and pending best-effort tasks (no
requests), which count as ready because nothing can keep them from running.
The per-task checks apply only when ``minMember ≥ Σ minTaskMember`` (otherwise
the job minimum alone decides, as upstream); a task name with minimum 0 is not checked.

* valid: per task name, live tasks (pending, pipelined or ready; not failed or
  releasing) ≥ its minimum → else ``("NotEnoughPodsOfTask", …)``; live tasks ≥
  minMember → else ``("NotEnoughPods", …)``;
* ready: ready + best-effort ≥ minMember, and per task name;
* pipelined: ready + pipelined + best-effort ≥ minMember, and per task name (permit, else reject);
* starving: ready + pipelined < minMember (task names ignored);
* job order: jobs not yet ready (job minimum only) first;
* victims (preempt/reclaim): a victim's job must keep ≥ minMember ready tasks.

The task name is the pod's ``volcano.sh/task-spec`` annotation or label
(:func:`~suanli.scheduler.core.snapshot.task_role`). Skipping the per-task minimums
below their sum is upstream's ``JobInfo.CheckTask{Valid,Ready,Pipelined}``: e.g. a
Volcano Job whose later tasks wait on ``dependsOn`` (``minAvailable: 1`` over tasks
of 1 + 2 replicas).
"""

from __future__ import annotations

from collections.abc import Sequence

from suanli.scheduler.core.framework import PERMIT, REJECT
from suanli.scheduler.core.plugins._base import BasePlugin
from suanli.scheduler.core.session import JobCounts, Session
from suanli.scheduler.core.snapshot import READY_STATES, JobInfo, TaskInfo, TaskStatus

__all__ = ["GangPlugin", "role_minimums"]

_FAILED, _RELEASING = TaskStatus.FAILED, TaskStatus.RELEASING
assert READY_STATES | {TaskStatus.PIPELINED, TaskStatus.PENDING} == set(TaskStatus) - {_FAILED, _RELEASING}


def role_minimums(job: JobInfo) -> dict[str, int]:
    """The per-task-name minimums that apply: none when ``minMember < Σ minTaskMember``,
    else the non-zero entries of ``minTaskMember``."""
    mins = job.min_task_member
    if not mins or job.min_member < sum(mins.values()):
        return {}
    return {role: need for role, need in mins.items() if need > 0}


def _roles_met(job: JobInfo, c: JobCounts, with_pipelined: bool) -> bool:
    for role, need in role_minimums(job).items():
        got = c.role_ready.get(role, 0) + c.role_best_effort.get(role, 0)
        if with_pipelined:
            got += c.role_pipelined.get(role, 0)
        if got < need:
            return False
    return True


class GangPlugin(BasePlugin):
    name = "gang"

    def on_session_open(self, ssn: Session) -> None:
        def valid(job: JobInfo) -> tuple[str, str] | None:
            status, tasks = ssn.status, ssn.tasks
            # live: pending, pipelined or ready (identity tests: Enum hashing runs Python code)
            alive = [tasks[i] for i in job.tasks if status[i] is not _FAILED and status[i] is not _RELEASING]
            for role, need in role_minimums(job).items():
                if sum(1 for t in alive if t.role == role) < need:
                    return ("NotEnoughPodsOfTask", "Not enough valid pods of each task for gang-scheduling")
            if len(alive) < job.min_member:
                return (
                    "NotEnoughPods",
                    f"Not enough valid tasks for gang-scheduling, valid: {len(alive)}, min: {job.min_member}",
                )
            return None

        def ready(job: JobInfo) -> bool:
            c = ssn.counts(job.uid)
            ok = c.ready + c.best_effort >= job.min_member
            return ok and (not job.min_task_member or _roles_met(job, c, False))

        def pipelined(job: JobInfo) -> int:
            c = ssn.counts(job.uid)
            ok = c.ready + c.pipelined + c.best_effort >= job.min_member
            ok = ok and (not job.min_task_member or _roles_met(job, c, True))
            return PERMIT if ok else REJECT

        def starving(job: JobInfo) -> bool:
            c = ssn.counts(job.uid)
            return c.ready + c.pipelined < job.min_member

        def job_order(job: JobInfo) -> int:
            c = ssn.counts(job.uid)
            return 1 if c.ready + c.best_effort >= job.min_member else 0

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
