"""Entry point: ``schedule(snapshot, config) -> Decisions`` (pure, deterministic)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from suanli.scheduler.core import registry
from suanli.scheduler.core.config import DEFAULT_CONFIG, SchedulerConfig
from suanli.scheduler.core.decisions import Bind, Decisions, Eviction, Pipelined, Unschedulable
from suanli.scheduler.core.resources import FloatArray, format_amount
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import STATUS_CODE, JobInfo, Snapshot, TaskInfo, TaskStatus

__all__ = ["decisions_of", "pending_message", "placements", "podgroup_conditions", "podgroup_phase", "run_session",
           "schedule"]

_ALLOCATED = frozenset({TaskStatus.ALLOCATED, TaskStatus.BOUND, TaskStatus.RUNNING})
_ALLOCATED_CODES = np.array(sorted(STATUS_CODE[s] for s in _ALLOCATED), dtype=np.int8)


def run_session(snapshot: Snapshot, config: SchedulerConfig | None = None) -> Session:
    """Open a session, run the configured actions in order, close it; return the session."""
    cfg = config or DEFAULT_CONFIG
    ssn = Session(snapshot, cfg)
    for name in cfg.actions:
        registry.action(name).execute(ssn)
    ssn.close()
    return ssn


def schedule(snapshot: Snapshot, config: SchedulerConfig | None = None) -> Decisions:
    """Run one cycle over ``snapshot`` and return what to change (nothing is mutated)."""
    return decisions_of(run_session(snapshot, config))


def _tally(ssn: Session, job: JobInfo) -> tuple[int, int, int, int, int, int]:
    """``(scheduled, completed, running, succeeded, failed, pending)`` task counts of ``job``.

    ``scheduled`` is Volcano's ``ScheduledTaskNum`` plus its releasing-scheduled tasks: tasks
    Bound, Running, Releasing, Succeeded or Failed, and tasks bound this cycle; ``completed``
    counts Succeeded and Failed."""
    status, binds = ssn.status, ssn.binds
    scheduled = running = succeeded = failed = pending = 0
    for i in job.tasks:
        s = status[i]
        if s is TaskStatus.PENDING:
            pending += 1
            scheduled += i in binds
        elif s is TaskStatus.RUNNING:
            running += 1
            scheduled += 1
        elif s is TaskStatus.SUCCEEDED:
            succeeded += 1
            scheduled += 1
        elif s is TaskStatus.FAILED:
            failed += 1
            scheduled += 1
        elif s is TaskStatus.BOUND or s is TaskStatus.RELEASING:
            scheduled += 1
        else:
            scheduled += i in binds
    return scheduled, succeeded + failed, running, succeeded, failed, pending


def podgroup_phase(job: JobInfo, phase: str, scheduled: int, completed: int) -> str:
    """Volcano's ``getPodGroupPhase`` (without its ``Unknown`` phase): ``minMember`` scheduled
    tasks make the group Running (Completed when every scheduled task has completed), whatever
    its phase was; otherwise an Inqueue group stays Inqueue and any other becomes Pending.

    Example: minMember 2, one task Running and one bound this cycle → ``"Running"``; a Running
    group down to one scheduled task → ``"Pending"`` (it must be admitted again)."""
    if scheduled >= job.min_member:
        return "Completed" if scheduled == completed else "Running"
    return "Inqueue" if phase == "Inqueue" else "Pending"


def _job_status(ssn: Session, job: JobInfo, bound_jobs: set[str]) -> dict[str, Any]:
    scheduled, completed, running, succeeded, failed, pending = _tally(ssn, job)
    phase = podgroup_phase(job, ssn.job_phase[job.uid], scheduled, completed)
    conditions = podgroup_conditions(ssn, job, phase, pending, bound_jobs)
    return {
        "phase": phase,
        "running": running,
        "succeeded": succeeded,
        "failed": failed,
        "conditions": conditions,
    }


_BUCKET = {"Running": "running", "Pending": "pending", "Inqueue": "inqueue", "Completed": "completed"}


def _queue_counts(ssn: Session, pg_status: dict[str, dict[str, Any]]) -> dict[str, dict[str, int]]:
    """PodGroups per queue by the phase written this cycle (running / pending / inqueue /
    completed), as Volcano's queue controller counts a queue's PodGroups. Only real PodGroups
    count: synthetic jobs are not listed by ``kubectl get podgroup``."""
    counts = {q: {"running": 0, "pending": 0, "inqueue": 0, "completed": 0} for q in ssn.queues}
    jobs = ssn.jobs
    for uid, st in pg_status.items():
        bucket = _BUCKET.get(str(st["phase"]))
        queue = counts.get(jobs[uid].queue)
        if bucket and queue is not None:
            queue[bucket] += 1
    return counts


def _queue_allocated(ssn: Session) -> dict[str, FloatArray]:
    """Requests of Allocated/Bound/Running tasks per existing queue: the snapshot's totals
    corrected by the tasks whose status changed this session (all vectorised)."""
    table = ssn.table
    total = table.sum_by_status(_ALLOCATED)
    if ssn.touched:
        idx = np.array(sorted(ssn.touched), dtype=np.int64)
        before = np.isin(table.codes[idx], _ALLOCATED_CODES)
        after = np.array([ssn.status[i] in _ALLOCATED for i in idx.tolist()], dtype=np.bool_)
        total += table.sum_by_queue(rows=idx[after & ~before]) - table.sum_by_queue(rows=idx[before & ~after])
    return {name: total[k] for k, name in enumerate(table.queue_names)}


def placements(ssn: Session) -> tuple[tuple[Bind, ...], tuple[Pipelined, ...], tuple[Eviction, ...]]:
    """A closed session's binds, pipelined tasks (not also bound) and evictions, in task order."""
    names = ssn.snapshot.nodes.names
    tasks = ssn.tasks
    binds = tuple(
        Bind(tasks[i].namespace, tasks[i].name, tasks[i].uid, names[n], dict(ssn.task_annotations.get(i, {})))
        for i, n in sorted(ssn.binds.items())
    )
    pipelined = tuple(
        Pipelined(tasks[i].namespace, tasks[i].name, tasks[i].uid, names[n])
        for i, n in sorted(ssn.pipelined.items())
        if i not in ssn.binds
    )
    evictions = tuple(Eviction(t.namespace, t.name, t.uid, names[n], r, note) for t, n, r, note in ssn.evictions)
    return binds, pipelined, evictions


def pending_message(ssn: Session, task: TaskInfo, explain: Callable[[TaskInfo], str]) -> str:
    """Why ``task`` is still pending.

    A task that fits no node at all is explained per node (``explain(task)``, e.g. "0/7 nodes
    are available: 7 Insufficient huawei.com/Ascend910."), whatever its queue or pod group
    says: the resource is what the user must change. Otherwise its own message (e.g. the queue
    quota refused it), else its pod group's verdict (not enqueued, or not ready), else the
    per-node summary."""
    job = ssn.jobs[task.job]
    per_node = explain(task)
    if per_node.startswith("0/"):
        return per_node
    msg = ssn.task_messages.get(task.index)
    if msg is not None:
        return msg
    if ssn.job_phase[job.uid] == "Pending":
        return f"pod group is not ready: {ssn.job_messages.get(job.uid, 'waiting to be enqueued')}"
    if job.uid in ssn.job_messages:
        return f"pod group {job.name} is not ready: {ssn.job_messages[job.uid]}"
    return per_node


#: PodGroup condition reason for a gang that cannot run (Volcano's ``NotEnoughResources``).
NOT_ENOUGH_RESOURCES = "NotEnoughResources"


def podgroup_conditions(ssn: Session, job: JobInfo, phase: str, pending: int,
                        bound_jobs: set[str]) -> list[dict[str, str]]:
    """The PodGroup conditions for ``job`` with ``pending`` tasks left.

    ``Unschedulable`` (reason ``NotEnoughResources``, message ``"<pending>/<tasks> tasks in gang
    unschedulable: <why>"``) while the group is not admitted (phase Pending with the enqueue
    verdict, also before it has pods: a Volcano Job creates them only once admitted) or tasks
    wait and the group is not Running or has a message; else ``Scheduled`` once this cycle bound
    some; else none."""
    msg = ssn.job_messages.get(job.uid)
    if (phase == "Pending" and msg is not None) or (pending and (phase != "Running" or msg is not None)):
        return [{
            "type": "Unschedulable",
            "status": "True",
            "reason": NOT_ENOUGH_RESOURCES,
            "message": f"{pending}/{len(job.tasks)} tasks in gang unschedulable: {msg or ''}".rstrip(": "),
        }]
    if job.uid in bound_jobs:
        return [{"type": "Scheduled", "status": "True", "reason": "tasks in gang are ready to be scheduled",
                 "message": ""}]
    return []


def decisions_of(ssn: Session) -> Decisions:
    """Render a closed session's outcome as :class:`Decisions`."""
    binds, pipelined, evictions = placements(ssn)
    explained: dict[tuple[Any, ...], str] = {}

    def explain(t: TaskInfo) -> str:  # tasks of one spec in one queue share their explanation
        key = (t.spec_key, ssn.jobs[t.job].queue)
        msg = explained.get(key)
        if msg is None:
            msg = explained[key] = ssn.explain(t)
        return msg

    unsched = [
        Unschedulable(ssn.tasks[i].namespace, ssn.tasks[i].name, ssn.tasks[i].uid,
                      pending_message(ssn, ssn.tasks[i], explain))
        for i in ssn.pending_at_open
        if ssn.status[i] is TaskStatus.PENDING
    ]

    bound_jobs = {ssn.tasks[i].job for i in ssn.binds}
    jobs = ssn.jobs
    pg_status = {uid: _job_status(ssn, jobs[uid], bound_jobs) for uid in ssn.columns.podgroup_jobs}
    q_status: dict[str, dict[str, Any]] = {}
    allocated = _queue_allocated(ssn)
    counts = _queue_counts(ssn, pg_status)
    for name, q in ssn.queues.items():
        st: dict[str, Any] = {"state": q.state, **counts[name], "allocated": format_amount(ssn.dims, allocated[name])}
        if name in ssn.queue_deserved:
            st["deserved"] = format_amount(ssn.dims, ssn.queue_deserved[name])
        q_status[name] = st
    return Decisions(
        binds=binds,
        evictions=evictions,
        pipelined=pipelined,
        unschedulable=tuple(unsched),
        podgroup_status=pg_status,
        queue_status=q_status,
    )
