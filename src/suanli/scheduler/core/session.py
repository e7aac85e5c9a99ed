"""Session: one scheduling cycle over an immutable snapshot.

Opening a session copies the snapshot's mutable state (node usage, task
status), instantiates the configured plugins and lets each register callbacks
(:mod:`~suanli.scheduler.core.framework`). Actions then place, pipeline and
evict tasks through :class:`~suanli.scheduler.core.statement.Statement`.

Tier combination (as Volcano): ordering keys are concatenated in tier/plugin
order (first plugin that decides wins); predicates AND; node scores add up;
victims intersect within a tier and the first tier with a non-empty vote decides
(a plugin returning no victims makes its tier abstain, as Volcano);
overused is OR; allocatable, preemptive, job-ready and job-starving are AND;
pipelined and enqueueable are tier votes (a reject wins, a permit ends the
vote); job-valid returns the first failure.

Placement search (:meth:`Session.best_node`) is vectorised: a task's feasible
nodes are ``fit & predicates`` as masks over all nodes, the best node is the
highest summed score with ties to the lowest node index. Results are cached
per *equivalence class* (same placement-relevant pod spec and queue) and only
the rows of nodes changed since (the session's node log) are recomputed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from suanli.scheduler.core.config import PluginOption, SchedulerConfig
from suanli.scheduler.core.decisions import summarise_reasons
from suanli.scheduler.core.framework import (
    PERMIT,
    REJECT,
    EventHandler,
    JobOrderFn,
    JobPredicate,
    JobValidFn,
    JobVote,
    NodeOrderFn,
    Plugin,
    PredicateFn,
    QueueFn,
    QueueOrderFn,
    QueueTaskFn,
    ReasonFn,
    Rows,
    TaskOrderFn,
    VictimFn,
)
from suanli.scheduler.core.resources import PODS, BoolArray, FloatArray, IntArray
from suanli.scheduler.core.snapshot import (
    OCCUPYING,
    READY_STATES,
    JobInfo,
    QueueInfo,
    Snapshot,
    TaskInfo,
    TaskStatus,
)

__all__ = ["Session"]

_CACHE_SIZE = 256


@dataclass(slots=True)
class _Entry:
    pos: int
    pred: BoolArray
    fit_future: BoolArray
    fit_idle: BoolArray | None
    score: FloatArray
    masked: FloatArray  # score where pred & fit_future, else -inf


class Session:
    """Mutable per-cycle state plus the plugins' callbacks."""

    def __init__(self, snapshot: Snapshot, config: SchedulerConfig) -> None:
        from suanli.scheduler.core import registry

        self.snapshot = snapshot
        self.config = config
        self.dims = snapshot.dims
        nodes = snapshot.nodes
        self.N, self.D = nodes.allocatable.shape if nodes.count else (0, len(snapshot.dims))
        self.allocatable: FloatArray = nodes.allocatable if nodes.count else np.zeros((0, self.D))
        self.used: FloatArray = np.array(nodes.used, dtype=np.float64).reshape(self.N, self.D)
        self.releasing: FloatArray = np.array(nodes.releasing, dtype=np.float64).reshape(self.N, self.D)
        self.pipelined_res: FloatArray = np.zeros((self.N, self.D))
        self._idle: FloatArray = self.allocatable - self.used
        self._fidle: FloatArray = self._idle + self.releasing
        self.tasks = snapshot.tasks
        self.jobs = snapshot.jobs
        self.queues = snapshot.queues
        self.status: list[TaskStatus] = [t.status for t in self.tasks]
        self.task_node: list[int] = [t.node for t in self.tasks]
        self.job_phase: dict[str, str] = {j.uid: j.phase for j in self.jobs.values()}
        self.ready_count: dict[str, int] = {}
        self.pipe_count: dict[str, int] = {}
        self.role_ready: dict[tuple[str, str], int] = {}
        self.role_pipe: dict[tuple[str, str], int] = {}
        for t in self.tasks:
            self._count(t, t.status, 1)
        self.node_log: list[int] = []
        self.binds: dict[int, int] = {}
        self.pipelined: dict[int, int] = {}
        self.evictions: list[tuple[TaskInfo, int, str, str]] = []
        self.task_annotations: dict[int, dict[str, str]] = {}
        self.job_messages: dict[str, str] = {}
        self.task_messages: dict[int, str] = {}
        self.queue_deserved: dict[str, FloatArray] = {}
        self.evict_note = ""
        self._cache: OrderedDict[tuple[Any, ...], _Entry] = OrderedDict()
        self._handlers: list[EventHandler] = []
        self._protect: list[Callable[[TaskInfo], bool]] = []
        ntiers = len(config.tiers)
        self._fns: dict[str, list[list[tuple[str, Any]]]] = {}
        self._flat: dict[str, tuple[Any, ...]] = {}
        self._n_future = sum(1 for t in self.tasks if t.status is TaskStatus.RELEASING)
        self._ntiers = ntiers
        self._options: dict[str, tuple[int, PluginOption]] = {}
        self._predicates: list[tuple[str, PredicateFn, ReasonFn | None]] = []
        self.plugins: list[Plugin] = []
        for ti, tier in enumerate(config.tiers):
            for opt in tier.plugins:
                self._options.setdefault(opt.name, (ti, opt))
                plugin = registry.plugin_factory(opt.name)(opt)
                self.plugins.append(plugin)
        for plugin in self.plugins:
            plugin.on_session_open(self)

    # ------------------------------------------------------------------ registration
    _SWITCH = {
        "job_order": "JobOrder",
        "queue_order": "QueueOrder",
        "task_order": "TaskOrder",
        "node_order": "NodeOrder",
        "preemptable": "Preemptable",
        "reclaimable": "Reclaimable",
        "overused": "Overused",
        "allocatable": "Allocatable",
        "job_ready": "JobReady",
        "job_pipelined": "JobPipelined",
        "job_starving": "JobStarving",
        "job_enqueueable": "JobEnqueued",
        "job_enqueued": "JobEnqueued",
        "preemptive": "Preemptive",
    }

    def option(self, name: str) -> PluginOption | None:
        """The configuration entry of plugin ``name``."""
        entry = self._options.get(name)
        return entry[1] if entry else None

    def _add(self, kind: str, name: str, fn: Any) -> None:
        tier, opt = self._options.get(name, (self._ntiers - 1, PluginOption(name)))
        switch = self._SWITCH.get(kind)
        if switch is not None and not opt.enabled(switch):
            return
        self._flat.pop(kind, None)
        lists = self._fns.setdefault(kind, [[] for _ in range(max(self._ntiers, 1))])
        lists[max(tier, 0)].append((name, fn))

    def add_job_order_fn(self, name: str, fn: JobOrderFn) -> None:
        self._add("job_order", name, fn)

    def add_queue_order_fn(self, name: str, fn: QueueOrderFn) -> None:
        self._add("queue_order", name, fn)

    def add_task_order_fn(self, name: str, fn: TaskOrderFn) -> None:
        self._add("task_order", name, fn)

    def add_predicate_fn(self, name: str, fn: PredicateFn, reasons: ReasonFn | None = None) -> None:
        opt = self.option(name)
        if opt is None or opt.enabled("Predicate"):
            self._predicates.append((name, fn, reasons))

    def add_node_order_fn(self, name: str, fn: NodeOrderFn) -> None:
        self._add("node_order", name, fn)

    def add_preemptable_fn(self, name: str, fn: VictimFn) -> None:
        self._add("preemptable", name, fn)

    def add_reclaimable_fn(self, name: str, fn: VictimFn) -> None:
        self._add("reclaimable", name, fn)

    def add_overused_fn(self, name: str, fn: QueueFn) -> None:
        self._add("overused", name, fn)

    def add_allocatable_fn(self, name: str, fn: QueueTaskFn) -> None:
        self._add("allocatable", name, fn)

    def add_preemptive_fn(self, name: str, fn: QueueTaskFn) -> None:
        self._add("preemptive", name, fn)

    def add_job_ready_fn(self, name: str, fn: JobPredicate) -> None:
        self._add("job_ready", name, fn)

    def add_job_pipelined_fn(self, name: str, fn: JobVote) -> None:
        self._add("job_pipelined", name, fn)

    def add_job_starving_fn(self, name: str, fn: JobPredicate) -> None:
        self._add("job_starving", name, fn)

    def add_job_valid_fn(self, name: str, fn: JobValidFn) -> None:
        self._add("job_valid", name, fn)

    def add_job_enqueueable_fn(self, name: str, fn: JobVote) -> None:
        self._add("job_enqueueable", name, fn)

    def add_job_enqueued_fn(self, name: str, fn: JobPredicate) -> None:
        self._add("job_enqueued", name, fn)

    def job_enqueued(self, job: JobInfo) -> None:
        """Tell plugins a job moved Pending → Inqueue."""
        for fn in self._all("job_enqueued"):
            fn(job)

    def add_protection_fn(self, name: str, fn: Callable[[TaskInfo], bool]) -> None:
        """Register a hard victim filter: tasks for which ``fn`` is true are never evicted,
        whatever the tiered votes say."""
        self._protect.append(fn)

    def protected(self, task: TaskInfo) -> bool:
        return any(fn(task) for fn in self._protect)

    def add_event_handler(self, handler: EventHandler) -> None:
        self._handlers.append(handler)

    def _all(self, kind: str) -> Iterable[Any]:
        flat = self._flat.get(kind)
        if flat is None:
            flat = tuple(fn for tier in self._fns.get(kind, ()) for _, fn in tier)
            self._flat[kind] = flat
        return flat

    # ------------------------------------------------------------------ ordering
    def job_key(self, job: JobInfo) -> tuple[Any, ...]:
        return (*(fn(job) for fn in self._all("job_order")), job.creation, job.uid)

    def queue_key(self, queue: QueueInfo) -> tuple[Any, ...]:
        return (*(fn(queue) for fn in self._all("queue_order")), queue.creation, queue.name)

    def task_key(self, task: TaskInfo) -> tuple[Any, ...]:
        return (*(fn(task) for fn in self._all("task_order")), task.creation, task.name, task.index)

    # ------------------------------------------------------------------ job / queue callbacks
    def job_ready(self, job: JobInfo) -> bool:
        return all(fn(job) for fn in self._all("job_ready"))

    def job_starving(self, job: JobInfo) -> bool:
        fns = list(self._all("job_starving"))
        return bool(fns) and all(fn(job) for fn in fns)

    def _vote(self, kind: str, job: JobInfo) -> bool:
        for tier in self._fns.get(kind, ()):
            permit = False
            for _, fn in tier:
                v = fn(job)
                if v == REJECT:
                    return False
                permit = permit or v == PERMIT
            if permit:
                return True
        return True

    def job_pipelined(self, job: JobInfo) -> bool:
        return self._vote("job_pipelined", job)

    def job_enqueueable(self, job: JobInfo) -> bool:
        return self._vote("job_enqueueable", job)

    def job_valid(self, job: JobInfo) -> tuple[str, str] | None:
        for fn in self._all("job_valid"):
            res: tuple[str, str] | None = fn(job)
            if res is not None:
                return res
        return None

    def overused(self, queue: QueueInfo) -> bool:
        return any(fn(queue) for fn in self._all("overused"))

    def queue_allocatable(self, queue: QueueInfo, task: TaskInfo) -> bool:
        return all(fn(queue, task) for fn in self._all("allocatable"))

    def preemptive(self, queue: QueueInfo, task: TaskInfo) -> bool:
        return all(fn(queue, task) for fn in self._all("preemptive"))

    def _victims(self, kind: str, actor: TaskInfo, candidates: Sequence[TaskInfo]) -> list[TaskInfo]:
        for tier in self._fns.get(kind, ()):
            chosen: set[int] | None = None
            for _, fn in tier:
                got = fn(actor, candidates)
                if got is None:
                    continue
                if not got:  # an empty vote leaves the decision to the next tier (as Volcano)
                    chosen = None
                    break
                ids = {t.index for t in got}
                chosen = ids if chosen is None else chosen & ids
            if chosen is not None:
                return [t for t in candidates if t.index in chosen]
        return []

    def preemptable(self, actor: TaskInfo, candidates: Sequence[TaskInfo]) -> list[TaskInfo]:
        return self._victims("preemptable", actor, candidates)

    def reclaimable(self, actor: TaskInfo, candidates: Sequence[TaskInfo]) -> list[TaskInfo]:
        return self._victims("reclaimable", actor, candidates)

    # ------------------------------------------------------------------ node state
    def idle(self) -> FloatArray:
        """``allocatable - used`` per node (used includes releasing tasks); a copy."""
        out: FloatArray = self._idle.copy()
        return out

    def future_idle(self) -> FloatArray:
        """Idle plus what releasing tasks will free, minus pipelined reservations; a copy."""
        out: FloatArray = self._fidle.copy()
        return out

    def fit(self, task: TaskInfo, rows: Rows, *, future: bool = True) -> BoolArray:
        """Mask: the task's request fits the (future) idle resources of ``rows``."""
        req = task.request
        nz = np.flatnonzero(req)
        src = self._fidle if future else self._idle
        free: FloatArray = src[:, nz] if rows is None else src[rows][:, nz]
        out: BoolArray = np.asarray((free >= req[nz]).all(axis=1), dtype=np.bool_)
        return out

    def predicate(self, task: TaskInfo, rows: Rows) -> BoolArray:
        """AND of every plugin predicate over ``rows``."""
        n = self.N if rows is None else len(rows)
        mask = np.ones(n, dtype=np.bool_)
        for _, fn, _ in self._predicates:
            mask &= fn(task, rows)
        return mask

    def node_scores(self, task: TaskInfo, rows: Rows) -> FloatArray:
        """Sum of every plugin's node scores over ``rows``."""
        n = self.N if rows is None else len(rows)
        total = np.zeros(n)
        for fn in self._all("node_order"):
            total += fn(task, rows)
        return total

    def _entry(self, task: TaskInfo) -> _Entry:
        job = self.jobs[task.job]
        key = (task.spec_key, job.queue)
        e = self._cache.get(key)
        pos = len(self.node_log)
        if e is None:
            e = _Entry(
                pos,
                self.predicate(task, None),
                self.fit(task, None),
                self.fit(task, None, future=False) if self._n_future else None,
                self.node_scores(task, None),
                np.empty(0),
            )
            e.masked = np.where(e.pred & e.fit_future, e.score, -np.inf)
            self._cache[key] = e
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
            return e
        self._cache.move_to_end(key)
        if e.pos < pos:
            changed = self.node_log[e.pos :]
            e.pos = pos
            if len(changed) > max(self.N // 8, 1):
                e.pred = self.predicate(task, None)
                e.fit_future = self.fit(task, None)
                e.fit_idle = self.fit(task, None, future=False) if self._n_future else None
                e.score = self.node_scores(task, None)
                e.masked = np.where(e.pred & e.fit_future, e.score, -np.inf)
            else:
                rows: IntArray = (
                    np.array(changed, dtype=np.int64)
                    if len(changed) == 1
                    else np.unique(np.array(changed, dtype=np.int64))
                )
                e.pred[rows] = self.predicate(task, rows)
                e.fit_future[rows] = self.fit(task, rows)
                if e.fit_idle is not None:
                    e.fit_idle[rows] = self.fit(task, rows, future=False)
                e.score[rows] = self.node_scores(task, rows)
                e.masked[rows] = np.where(e.pred[rows] & e.fit_future[rows], e.score[rows], -np.inf)
        if self._n_future and e.fit_idle is None:
            e.fit_idle = self.fit(task, None, future=False)
        return e

    def feasible(self, task: TaskInfo) -> BoolArray:
        """Nodes where the task fits future-idle resources and passes every predicate."""
        e = self._entry(task)
        out: BoolArray = e.pred & e.fit_future
        return out

    def best_node(self, task: TaskInfo) -> tuple[int, bool] | None:
        """``(node, fits_idle_now)`` of the best feasible node, or None.

        Nodes where the task fits idle resources now are preferred over nodes that
        only fit once releasing tasks leave; among them the highest score wins,
        ties to the lowest node index.
        """
        if self.N == 0:
            return None
        e = self._entry(task)
        if e.fit_idle is None:  # nothing releasing or pipelined: future idle == idle
            best = int(np.argmax(e.masked))
            return (best, True) if e.masked[best] > -np.inf else None
        ok = e.pred & e.fit_future
        if not ok.any():
            return None
        now = ok & e.fit_idle
        cand = now if now.any() else ok
        node = int(np.argmax(np.where(cand, e.score, -np.inf)))
        return node, bool(e.fit_idle[node])

    def explain(self, task: TaskInfo) -> str:
        """kube-scheduler-style summary of why ``task`` fits no node right now."""
        req = task.request
        free = self.future_idle()
        remaining = np.ones(self.N, dtype=np.bool_)
        counts: dict[str, int] = {}
        for d in np.flatnonzero(req):
            short = free[:, d] < req[d]
            if short.any():
                reason = "Too many pods" if d == PODS else f"Insufficient {self.dims[d]}"
                counts[reason] = counts.get(reason, 0) + int(short.sum())
                remaining &= ~short
        for name, fn, reasons in self._predicates:
            if not remaining.any():
                break
            mask = fn(task, None)
            failed = remaining & ~mask
            if failed.any():
                explained = np.zeros(self.N, dtype=np.bool_)
                for reason, rmask in reasons(task, None) if reasons else ():
                    hit = rmask & failed
                    if hit.any():
                        counts[reason] = counts.get(reason, 0) + int(hit.sum())
                        explained |= hit
                rest = failed & ~explained
                if rest.any():
                    counts[f"node(s) didn't pass the {name} predicate"] = int(rest.sum())
            remaining &= mask
        return summarise_reasons(self.N, int(remaining.sum()), counts)

    # ------------------------------------------------------------------ mutations
    def _count(self, task: TaskInfo, status: TaskStatus, delta: int) -> None:
        if status in READY_STATES:
            self.ready_count[task.job] = self.ready_count.get(task.job, 0) + delta
            k = (task.job, task.role)
            self.role_ready[k] = self.role_ready.get(k, 0) + delta
        elif status is TaskStatus.PIPELINED:
            self.pipe_count[task.job] = self.pipe_count.get(task.job, 0) + delta
            k = (task.job, task.role)
            self.role_pipe[k] = self.role_pipe.get(k, 0) + delta

    def _set_status(self, task: TaskInfo, status: TaskStatus) -> None:
        self._count(task, self.status[task.index], -1)
        self.status[task.index] = status
        self._count(task, status, 1)

    def place(self, task: TaskInfo, node: int, status: TaskStatus) -> None:
        """Put a pending task on ``node`` as Allocated or Pipelined (statement use only)."""
        if status is TaskStatus.PIPELINED:
            self.pipelined_res[node] += task.request
            self._fidle[node] -= task.request
            self._n_future += 1
        else:
            self.used[node] += task.request
            self._idle[node] -= task.request
            self._fidle[node] -= task.request
        self.task_node[task.index] = node
        self._set_status(task, status)
        self.node_log.append(node)
        for h in self._handlers:
            h.allocate(task, node)

    def unplace(self, task: TaskInfo) -> None:
        node = self.task_node[task.index]
        if self.status[task.index] is TaskStatus.PIPELINED:
            self.pipelined_res[node] -= task.request
            self._fidle[node] += task.request
            self._n_future -= 1
        else:
            self.used[node] -= task.request
            self._idle[node] += task.request
            self._fidle[node] += task.request
        self.task_node[task.index] = -1
        self._set_status(task, TaskStatus.PENDING)
        self.node_log.append(node)
        for h in self._handlers:
            h.deallocate(task, node)

    def release(self, task: TaskInfo) -> None:
        """Mark an occupying task Releasing (its resources become future idle)."""
        node = self.task_node[task.index]
        self.releasing[node] += task.request
        self._fidle[node] += task.request
        self._n_future += 1
        self._set_status(task, TaskStatus.RELEASING)
        self.node_log.append(node)
        for h in self._handlers:
            h.deallocate(task, node)

    def unrelease(self, task: TaskInfo, node: int) -> None:
        self.releasing[node] -= task.request
        self._fidle[node] -= task.request
        self._n_future -= 1
        self._set_status(task, task.status if task.status in OCCUPYING else TaskStatus.RUNNING)
        self.node_log.append(node)
        for h in self._handlers:
            h.allocate(task, node)

    def record_bind(self, task: TaskInfo, node: int) -> None:
        self.binds[task.index] = node

    def record_pipelined(self, task: TaskInfo, node: int) -> None:
        self.pipelined[task.index] = node

    def record_eviction(self, task: TaskInfo, node: int, reason: str) -> None:
        self.evictions.append((task, node, reason, self.evict_note))

    # ------------------------------------------------------------------ helpers for actions
    def pending_tasks(self, job: JobInfo) -> list[TaskInfo]:
        """The job's pending tasks in task order."""
        out = [self.tasks[i] for i in job.tasks if self.status[i] is TaskStatus.PENDING]
        if len(out) > 1:
            out.sort(key=self.task_key)
        return out

    def occupying_tasks(self) -> list[TaskInfo]:
        """Tasks that currently hold node resources (not releasing)."""
        running = (TaskStatus.BOUND, TaskStatus.RUNNING, TaskStatus.ALLOCATED)
        return [t for t in self.tasks if self.status[t.index] in running]

    def close(self) -> None:
        for plugin in self.plugins:
            plugin.on_session_close(self)
