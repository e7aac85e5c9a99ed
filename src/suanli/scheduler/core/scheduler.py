"""Entry point: ``schedule(snapshot, config) -> Decisions`` (pure, deterministic)."""

from __future__ import annotations

from typing import Any

import numpy as np

from suanli.scheduler.core import registry
from suanli.scheduler.core.config import DEFAULT_CONFIG, SchedulerConfig
from suanli.scheduler.core.decisions import Bind, Decisions, Eviction, Pipelined, Unschedulable
from suanli.scheduler.core.resources import format_amount
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import JobInfo, Snapshot, TaskStatus

__all__ = ["run_session", "schedule"]

_ALLOCATED = frozenset({TaskStatus.ALLOCATED, TaskStatus.BOUND, TaskStatus.RUNNING})


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


def _job_status(ssn: Session, job: JobInfo, bound_jobs: set[str]) -> dict[str, Any]:
    statuses = [ssn.status[i] for i in job.tasks]
    allocated = sum(1 for s in statuses if s in _ALLOCATED or s is TaskStatus.SUCCEEDED)
    bound = sum(
        1
        for i in job.tasks
        if ssn.status[i] in (TaskStatus.BOUND, TaskStatus.RUNNING, TaskStatus.SUCCEEDED) or i in ssn.binds
    )
    phase = ssn.job_phase[job.uid]
    if phase != "Pending" and bound >= job.min_member and allocated >= job.min_member and job.min_member > 0:
        phase = "Running"
    pending = [i for i in job.tasks if ssn.status[i] is TaskStatus.PENDING]
    conditions: list[dict[str, str]] = []
    if (pending and phase != "Running") or (pending and job.uid in ssn.job_messages):
        msg = ssn.job_messages.get(job.uid, "")
        conditions.append(
            {
                "type": "Unschedulable",
                "status": "True",
                "reason": "NotEnoughResources" if phase != "Pending" else "NotEnqueued",
                "message": f"{len(pending)}/{len(job.tasks)} tasks in gang unschedulable: {msg}".rstrip(": "),
            }
        )
    elif job.uid in bound_jobs:
        conditions.append(
            {"type": "Scheduled", "status": "True", "reason": "tasks in gang are ready to be scheduled", "message": ""}
        )
    return {
        "phase": phase,
        "running": sum(1 for s in statuses if s is TaskStatus.RUNNING),
        "succeeded": sum(1 for s in statuses if s is TaskStatus.SUCCEEDED),
        "failed": sum(1 for s in statuses if s is TaskStatus.FAILED),
        "conditions": conditions,
    }


def decisions_of(ssn: Session) -> Decisions:
    """Render a closed session's outcome as :class:`Decisions`."""
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
    unsched: list[Unschedulable] = []
    explained: dict[tuple[Any, ...], str] = {}
    for t in tasks:
        if ssn.status[t.index] is not TaskStatus.PENDING:
            continue
        job = ssn.jobs[t.job]
        msg = ssn.task_messages.get(t.index)
        if msg is None and ssn.job_phase[job.uid] == "Pending":
            # a pod that fits no node at all says why per node (e.g. "Insufficient <resource>"),
            # which tells the user more than the enqueue verdict alone
            key = (t.spec_key, job.queue)
            per_node = explained.get(key)
            if per_node is None:
                per_node = explained[key] = ssn.explain(t)
            if per_node.startswith("0/"):
                msg = per_node
            else:
                msg = f"pod group is not ready: {ssn.job_messages.get(job.uid, 'waiting to be enqueued')}"
        if msg is None:
            key = (t.spec_key, job.queue)
            msg = explained.get(key)
            if msg is None:
                msg = ssn.explain(t)
                explained[key] = msg
            if not msg.startswith("0/") and job.uid in ssn.job_messages:
                msg = f"pod group {job.name} is not ready: {ssn.job_messages[job.uid]}"
        unsched.append(Unschedulable(t.namespace, t.name, t.uid, msg))

    bound_jobs = {ssn.tasks[i].job for i in ssn.binds}
    pg_status = {uid: _job_status(ssn, j, bound_jobs) for uid, j in ssn.jobs.items() if not j.synthetic}
    q_status: dict[str, dict[str, Any]] = {}
    allocated = {q: np.zeros(ssn.D) for q in ssn.queues}
    for t in tasks:
        qname = ssn.jobs[t.job].queue
        if qname in allocated and ssn.status[t.index] in _ALLOCATED:
            allocated[qname] += t.request
    counts = {q: {"running": 0, "pending": 0, "inqueue": 0, "completed": 0} for q in ssn.queues}
    for uid, j in ssn.jobs.items():
        if j.queue not in counts:
            continue
        phase = pg_status[uid]["phase"] if uid in pg_status else _job_status(ssn, j, bound_jobs)["phase"]
        bucket = {"Running": "running", "Pending": "pending", "Inqueue": "inqueue", "Completed": "completed"}.get(phase)
        if bucket:
            counts[j.queue][bucket] += 1
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
