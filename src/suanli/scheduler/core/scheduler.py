"""Entry point: ``schedule(snapshot, config) -> Decisions`` (pure, deterministic)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from suanli.scheduler.core import registry
from suanli.scheduler.core.config import DEFAULT_CONFIG, SchedulerConfig
from suanli.scheduler.core.decisions import Bind, Decisions, Eviction, Pipelined, Unschedulable
from suanli.scheduler.core.resources import FloatArray, format_amount
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import STATUS_CODE, JobInfo, Snapshot, TaskInfo, TaskStatus

__all__ = ["decisions_of", "pending_message", "placements", "podgroup_conditions", "run_session", "schedule"]

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
    """``(allocated, bound, running, succeeded, failed, pending)`` task counts of ``job``:
    allocated counts Allocated/Bound/Running/Succeeded, bound counts Bound/Running/Succeeded
    and tasks bound this cycle."""
    status, binds = ssn.status, ssn.binds
    allocated = bound = running = succeeded = failed = pending = 0
    for i in job.tasks:
        s = status[i]
        if s is TaskStatus.PENDING:
            pending += 1
            bound += i in binds
            continue
        if s in _ALLOCATED:
            allocated += 1
        if s is TaskStatus.RUNNING:
            running += 1
            bound += 1
        elif s is TaskStatus.SUCCEEDED:
            succeeded += 1
            allocated += 1
            bound += 1
        elif s is TaskStatus.FAILED:
            failed += 1
            bound += i in binds
        elif s is TaskStatus.BOUND:
            bound += 1
        else:
            bound += i in binds
    return allocated, bound, running, succeeded, failed, pending


def _phase(job: JobInfo, phase: str, allocated: int, bound: int) -> str:
    """A gang that is not Pending becomes Running once ``minMember`` tasks are bound and allocated."""
    if phase != "Pending" and bound >= job.min_member and allocated >= job.min_member and job.min_member > 0:
        return "Running"
    return phase


def _job_status(ssn: Session, job: JobInfo, bound_jobs: set[str]) -> dict[str, Any]:
    allocated, bound, running, succeeded, failed, pending = _tally(ssn, job)
    phase = _phase(job, ssn.job_phase[job.uid], allocated, bound)
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
    """PodGroups per queue by final phase (running / pending / inqueue / completed): only real
    PodGroups count (synthetic jobs are not listed by ``kubectl get podgroup``), as Volcano's
    queue controller counts the PodGroups of a queue.

    A job's final phase is its session phase except that a non-Pending gang may become
    Running (:func:`_phase`); only jobs whose phase is neither Pending nor Running can
    change, so the rest are counted in bulk (the snapshot's per-queue phase counts,
    corrected by :attr:`Session.phase_changed`) without looking at their tasks."""
    counts = {q: {"running": 0, "pending": 0, "inqueue": 0, "completed": 0} for q in ssn.queues}
    if not counts:
        return counts
    phases, jobs = ssn.job_phase, ssn.jobs
    tally: Counter[tuple[str, str]] = Counter(ssn.columns.phase_counts)
    examine = [u for u in ssn.columns.other_phase if u not in ssn.phase_changed and not jobs[u].synthetic]
    for uid, was in ssn.phase_changed.items():
        if jobs[uid].synthetic:
            continue
        queue, now = jobs[uid].queue, phases[uid]
        tally[(queue, was)] -= 1
        tally[(queue, now)] += 1
        if now != "Running" and now != "Pending":
            examine.append(uid)
    for uid in examine:
        job = jobs[uid]
        st = pg_status.get(uid)
        if st is not None:
            final = str(st["phase"])
        else:
            allocated, bound, *_ = _tally(ssn, job)
            final = _phase(job, phases[uid], allocated, bound)
        if final != phases[uid]:
            tally[(job.queue, phases[uid])] -= 1
            tally[(job.queue, final)] += 1
    for (queue, phase), n in tally.items():
        bucket = _BUCKET.get(phase)
        if bucket and queue in counts:
            counts[queue][bucket] += n
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
