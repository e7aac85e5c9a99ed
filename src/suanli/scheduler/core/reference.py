"""Plain per-node reference implementation of the core's filters, scores and node choice.

Used by tests to check the vectorised fast path: every function here looks at
one node at a time with ordinary Python, with no caching. :class:`ReferenceSession`
is a :class:`Session` whose :meth:`best_node` loops over nodes using these
functions for the ``predicates``, ``nodeorder``, ``binpack`` and ``nodegroup``
plugins (other plugins' callbacks are called one node at a time), so running
the same actions on it must give the same decisions as the fast session.
:func:`reference_decisions` renders a session's outcome task by task and job by job,
to check the vectorised :func:`~suanli.scheduler.core.scheduler.decisions_of`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from suanli.apimachinery.nodeaffinity import requirement_matches
from suanli.apimachinery.objects import Obj
from suanli.scheduler.core.config import SchedulerConfig
from suanli.scheduler.core.decisions import Decisions, Unschedulable
from suanli.scheduler.core.plugins._match import first_untolerated, tolerates
from suanli.scheduler.core.plugins.predicates import UNSCHEDULABLE_TAINT, host_ports, ports_conflict
from suanli.scheduler.core.resources import CPU, MEMORY, PODS, BoolArray, FloatArray, format_amount
from suanli.scheduler.core.scheduler import pending_message, placements, podgroup_conditions
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import JobInfo, Snapshot, TaskInfo, TaskStatus

__all__ = [
    "ReferenceSession",
    "balanced",
    "binpack",
    "expression_matches",
    "fits",
    "least_requested",
    "most_requested",
    "node_affinity_ok",
    "reference_decisions",
    "reference_schedule",
]


def fits(free: Sequence[float], req: Sequence[float]) -> bool:
    """Every requested amount is available."""
    return all(r <= f for f, r in zip(free, req, strict=True) if r > 0)


def expression_matches(labels: Mapping[str, str], name: str, expr: Mapping[str, Any], field: bool) -> bool:
    key = str(expr.get("key", ""))
    value: str | None = (name if key == "metadata.name" else None) if field else labels.get(key)
    return requirement_matches(expr, value)


def node_affinity_ok(labels: Mapping[str, str], name: str, spec: Obj) -> bool:
    """nodeSelector and required node affinity for one node."""
    for k, v in (spec.get("nodeSelector") or {}).items():
        if labels.get(k) != str(v):
            return False
    req = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    if not req:
        return True
    for term in req.get("nodeSelectorTerms") or []:
        exprs, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
        if not exprs and not fields:
            continue
        if all(expression_matches(labels, name, e, False) for e in exprs) and all(
            expression_matches(labels, name, f, True) for f in fields
        ):
            return True
    return False


def least_requested(alloc: Sequence[float], used_after: Sequence[float]) -> float:
    total = 0
    for d in (CPU, MEMORY):
        a, u = alloc[d], used_after[d]
        total += math.floor((a - u) * 100.0 / a) if a > 0 and u <= a else 0
    return float(math.floor(total / 2))


def most_requested(alloc: Sequence[float], used_after: Sequence[float]) -> float:
    total = 0
    for d in (CPU, MEMORY):
        a, u = alloc[d], used_after[d]
        total += math.floor(u * 100.0 / a) if a > 0 and u <= a else 0
    return float(math.floor(total / 2))


def balanced(alloc: Sequence[float], used_after: Sequence[float]) -> float:
    fr = [min(used_after[d] / alloc[d], 1.0) if alloc[d] > 0 else 1.0 for d in (CPU, MEMORY)]
    return float(math.floor((1.0 - abs(fr[0] - fr[1]) / 2.0) * 100.0 + 1e-9))


def binpack(
    alloc: Sequence[float], used: Sequence[float], req: Sequence[float], weights: Mapping[int, float], weight: float
) -> float:
    num, den = 0.0, 0.0
    for d, w in weights.items():
        if d == PODS or req[d] <= 0 or w <= 0:
            continue
        den += w
        if alloc[d] <= 0:
            continue
        after = used[d] + req[d]
        if after > alloc[d]:
            return 0.0
        num += w * after / alloc[d]
    return 0.0 if den == 0 else weight * 100.0 * num / den


class ReferenceSession(Session):
    """A session whose node choice is computed node by node (see module docstring)."""

    def _ref_predicate(self, task: TaskInfo, i: int) -> bool:
        nodes = self.snapshot.nodes
        spec = task.pod.get("spec") or {}
        for name, fn, _ in self._predicates:
            if name == "predicates":
                tol = list(spec.get("tolerations") or [])
                if nodes.unschedulable[i] and not any(tolerates(t, UNSCHEDULABLE_TAINT) for t in tol):
                    return False
                if not node_affinity_ok(nodes.labels[i], nodes.names[i], spec):
                    return False
                if nodes.taints[i] and first_untolerated(nodes.taints[i], tol) is not None:
                    return False
                plugin: Any = next(p for p in self.plugins if p.name == "predicates")
                want = host_ports(task.pod)
                if want and ports_conflict(want, plugin.ports[i]):
                    return False
            elif not bool(fn(task, np.array([i]))[0]):
                return False
        return True

    def _ref_score(self, task: TaskInfo, i: int) -> float:
        alloc = self.allocatable[i].tolist()
        used = self.used[i].tolist()
        after = [u + r for u, r in zip(used, task.request.tolist(), strict=True)]
        total = 0.0
        for name, fn in ((n, f) for tier in self._fns.get("node_order", ()) for n, f in tier):
            plugin: Any = next(p for p in self.plugins if p.name == name)
            if name == "nodeorder":
                s = plugin.w_least * least_requested(alloc, after) + plugin.w_bal * balanced(alloc, after)
                s += plugin.w_most * most_requested(alloc, after)
                pref = plugin.preferred(task) if plugin.w_aff else None
                s += plugin.w_aff * float(pref[i]) if pref is not None else 0.0
                total += s
            elif name == "binpack":
                total += binpack(alloc, used, task.request.tolist(), plugin.weights, plugin.weight)
            else:
                total += float(fn(task, np.array([i]))[0])
        return total

    def feasible(self, task: TaskInfo) -> BoolArray:
        free = self.future_idle()
        return np.array(
            [fits(free[i].tolist(), task.request.tolist()) and self._ref_predicate(task, i) for i in range(self.N)],
            dtype=np.bool_,
        )

    def best_node(self, task: TaskInfo) -> tuple[int, bool] | None:
        free_now = self.idle()
        free_future = self.future_idle()
        req = task.request.tolist()
        best: tuple[bool, float, int] | None = None
        for i in range(self.N):
            if not fits(free_future[i].tolist(), req) or not self._ref_predicate(task, i):
                continue
            now = fits(free_now[i].tolist(), req)
            score = self._ref_score(task, i)
            key = (now, score, -i)
            if best is None or key > best:
                best = key
        if best is None:
            return None
        return -best[2], best[0]

    def scores(self, task: TaskInfo) -> FloatArray:
        return np.array([self._ref_score(task, i) for i in range(self.N)])


def reference_schedule(snapshot: Snapshot, config: SchedulerConfig) -> Session:
    """Run the configured actions on a :class:`ReferenceSession`."""
    from suanli.scheduler.core import registry

    ssn = ReferenceSession(snapshot, config)
    for name in config.actions:
        registry.action(name).execute(ssn)
    ssn.close()
    return ssn


# ------------------------------------------------------------------------------ decisions

_REF_ALLOCATED = (TaskStatus.ALLOCATED, TaskStatus.BOUND, TaskStatus.RUNNING)


def _ref_job_status(ssn: Session, job: JobInfo, bound_jobs: set[str]) -> dict[str, Any]:
    statuses = [ssn.status[i] for i in job.tasks]
    done = (TaskStatus.BOUND, TaskStatus.RUNNING, TaskStatus.RELEASING, TaskStatus.SUCCEEDED, TaskStatus.FAILED)
    scheduled = sum(1 for i in job.tasks if ssn.status[i] in done or i in ssn.binds)
    completed = sum(1 for st in statuses if st in (TaskStatus.SUCCEEDED, TaskStatus.FAILED))
    phase = ssn.job_phase[job.uid]
    if scheduled >= job.min_member:
        phase = "Completed" if scheduled == completed else "Running"
    elif phase != "Inqueue":
        phase = "Pending"
    pending = [i for i in job.tasks if ssn.status[i] is TaskStatus.PENDING]
    conditions = podgroup_conditions(ssn, job, phase, len(pending), bound_jobs)
    return {
        "phase": phase,
        "running": sum(1 for st in statuses if st is TaskStatus.RUNNING),
        "succeeded": sum(1 for st in statuses if st is TaskStatus.SUCCEEDED),
        "failed": sum(1 for st in statuses if st is TaskStatus.FAILED),
        "conditions": conditions,
    }


def reference_decisions(ssn: Session) -> Decisions:
    """:func:`~suanli.scheduler.core.scheduler.decisions_of` computed the plain way: every
    task and every job visited one by one (no task table, no skipped jobs)."""
    tasks = ssn.tasks
    binds, pipelined, evictions = placements(ssn)
    unsched = [Unschedulable(t.namespace, t.name, t.uid, pending_message(ssn, t, ssn.explain))
               for t in tasks if ssn.status[t.index] is TaskStatus.PENDING]
    bound_jobs = {ssn.tasks[i].job for i in ssn.binds}
    pg_status = {uid: _ref_job_status(ssn, j, bound_jobs) for uid, j in ssn.jobs.items() if not j.synthetic}
    allocated = {q: np.zeros(ssn.D) for q in ssn.queues}
    for t in tasks:
        qname = ssn.jobs[t.job].queue
        if qname in allocated and ssn.status[t.index] in _REF_ALLOCATED:
            allocated[qname] += t.request
    counts = {q: {"running": 0, "pending": 0, "inqueue": 0, "completed": 0} for q in ssn.queues}
    buckets = {"Running": "running", "Pending": "pending", "Inqueue": "inqueue", "Completed": "completed"}
    for j in ssn.jobs.values():
        if j.queue in counts and not j.synthetic:
            bucket = buckets.get(_ref_job_status(ssn, j, bound_jobs)["phase"])
            if bucket:
                counts[j.queue][bucket] += 1
    q_status: dict[str, dict[str, Any]] = {}
    for name, q in ssn.queues.items():
        st: dict[str, Any] = {"state": q.state, **counts[name], "allocated": format_amount(ssn.dims, allocated[name])}
        if name in ssn.queue_deserved:
            st["deserved"] = format_amount(ssn.dims, ssn.queue_deserved[name])
        q_status[name] = st
    return Decisions(binds, evictions, pipelined, tuple(unsched), pg_status, q_status)
