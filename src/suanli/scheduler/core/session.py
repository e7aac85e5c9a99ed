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

from suanli.scheduler.core._tasktable import TaskTable
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

__all__ = ["JobCounts", "Session"]

_CACHE_SIZE = 256
_ROW_BY_ROW = 4  # refresh at most this many changed nodes of a cached entry one by one


_R_ALLOCATED, _R_BOUND, _R_RUNNING, _R_SUCCEEDED = (
    TaskStatus.ALLOCATED,
    TaskStatus.BOUND,
    TaskStatus.RUNNING,
    TaskStatus.SUCCEEDED,
)
assert frozenset({_R_ALLOCATED, _R_BOUND, _R_RUNNING, _R_SUCCEEDED}) == READY_STATES


class JobCounts:
    """A job's tasks by state: ``ready`` (Allocated/Bound/Running/Succeeded), ``pipelined``
    and ``best_effort`` (pending tasks without requests, which Volcano's gang counts as
    ready); per task role too (``role_ready``/``role_pipelined``/``role_best_effort``) when
    the job has a ``minTaskMember`` (the only reader), else those stay empty."""

    __slots__ = ("best_effort", "pipelined", "ready", "role_best_effort", "role_pipelined", "role_ready", "roles")

    def __init__(self, roles: bool) -> None:
        self.ready = 0
        self.pipelined = 0
        self.best_effort = 0
        self.roles = roles
        self.role_ready: dict[str, int] = {}
        self.role_pipelined: dict[str, int] = {}
        self.role_best_effort: dict[str, int] = {}

    def add(self, role: str, status: TaskStatus, delta: int, best_effort: bool = False) -> None:
        # identity tests: Enum hashing (for ``in READY_STATES``) runs Python code
        if status is _R_RUNNING or status is _R_BOUND or status is _R_ALLOCATED or status is _R_SUCCEEDED:
            self.ready += delta
            if self.roles:
                self.role_ready[role] = self.role_ready.get(role, 0) + delta
        elif status is TaskStatus.PIPELINED:
            self.pipelined += delta
            if self.roles:
                self.role_pipelined[role] = self.role_pipelined.get(role, 0) + delta
        elif best_effort and status is TaskStatus.PENDING:
            self.best_effort += delta
            if self.roles:
                self.role_best_effort[role] = self.role_best_effort.get(role, 0) + delta


@dataclass(slots=True)
class _Entry:
    pos: int
    pred: BoolArray
    fit_future: BoolArray
    fit_idle: BoolArray | None
    score: FloatArray
    masked: FloatArray  # score where pred & fit_future, else -inf
    nz: list[tuple[int, float]]  # the request's non-zero dimensions
    static: bool  # every predicate promised the task's mask never changes this session


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
        cols = self.columns = snapshot.cols
        self.status: list[TaskStatus] = list(cols.status)
        self.task_node: list[int] = list(cols.node)
        #: each job's phase; change it only through :meth:`set_job_phase`
        self.job_phase: dict[str, str] = dict(cols.job_phase)
        #: jobs whose phase :meth:`set_job_phase` changed, with their phase at open
        self.phase_changed: dict[str, str] = {}
        #: indices of the tasks pending at open, ascending (only these can be pending later)
        self.pending_at_open: list[int] = cols.pending
        jobs = self.jobs
        #: jobs with a pending task at open, in ``jobs`` order (a superset of the jobs that have one later)
        self.active_jobs: list[JobInfo] = [jobs[uid] for uid in cols.active_jobs]
        self._counts: dict[str, JobCounts] = {}
        self._table: TaskTable | None = None
        self._pending_phase: list[JobInfo] | None = None
        #: indices of tasks whose status changed at some point in this session
        self.touched: set[int] = set()
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
        self._n_future = self.status.count(TaskStatus.RELEASING)
        self._ntiers = ntiers
        self._options: dict[str, tuple[int, PluginOption]] = {}
        self._predicates: list[tuple[str, PredicateFn, ReasonFn | None]] = []
        self._static: list[Callable[[TaskInfo], bool] | None] = []
        self._resolvable: list[bool] = []
        self._score_one: dict[int, Callable[[TaskInfo, int], float]] = {}
        self._ones: list[Callable[[TaskInfo, int], float]] | None = None
        self.plugins: list[Plugin] = []
        for ti, tier in enumerate(config.tiers):
            for opt in tier.plugins:
                self._options.setdefault(opt.name, (ti, opt))
                plugin = registry.plugin_factory(opt.name)(opt)
                self.plugins.append(plugin)
        for plugin in self.plugins:
            plugin.on_session_open(self)

    @property
    def table(self) -> TaskTable:
        """Columnar view of the snapshot's tasks (built on first use, once per session)."""
        if self._table is None:
            self._table = TaskTable(self.snapshot)
        return self._table

    @property
    def pending_phase_jobs(self) -> list[JobInfo]:
        """Jobs whose phase was ``Pending`` at open, in ``jobs`` order (phases only ever
        move from Pending to Inqueue in a session, so this covers every Pending job)."""
        if self._pending_phase is None:
            jobs = self.jobs
            self._pending_phase = [jobs[uid] for uid in self.columns.pending_phase]
        return self._pending_phase

    def set_job_phase(self, job: JobInfo, phase: str) -> None:
        """Move ``job`` to ``phase`` (e.g. Pending → Inqueue), remembering its phase at open."""
        uid = job.uid
        old = self.job_phase[uid]
        if old != phase:
            self.phase_changed.setdefault(uid, old)
            self.job_phase[uid] = phase

    def inqueue_jobs(self) -> list[JobInfo]:
        """Jobs whose phase is Inqueue now, in ``jobs`` order."""
        jobs = self.jobs
        if not self.phase_changed:
            return [jobs[uid] for uid in self.columns.inqueue]
        return [jobs[u] for u, p in self.job_phase.items() if p == "Inqueue"]

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

    def add_predicate_fn(
        self,
        name: str,
        fn: PredicateFn,
        reasons: ReasonFn | None = None,
        *,
        static: Callable[[TaskInfo], bool] | None = None,
        resolvable: bool = False,
    ) -> None:
        """Register a predicate. ``static(task)`` true promises that ``fn(task, …)`` does not
        change while the session places or evicts tasks, so cached masks need no refresh.
        ``resolvable`` marks failures that evicting pods can cure (Kubernetes' Unschedulable
        as opposed to UnschedulableAndUnresolvable): preempt and reclaim still consider
        such nodes and re-check the predicate after their evictions."""
        opt = self.option(name)
        if opt is None or opt.enabled("Predicate"):
            self._predicates.append((name, fn, reasons))
            self._static.append(static)
            self._resolvable.append(resolvable)

    def add_node_order_fn(
        self, name: str, fn: NodeOrderFn, *, one: Callable[[TaskInfo, int], float] | None = None
    ) -> None:
        """Register node scores. ``one(task, node)``, when given, must equal
        ``fn(task, np.array([node]))[0]`` bit for bit; it lets a cached entry refresh one
        node without numpy calls."""
        self._add("node_order", name, fn)
        if one is not None:
            self._score_one[id(fn)] = one

    def add_preemptable_fn(self, name: str, fn: VictimFn) -> None:
        self._add("preemptable", name, fn)

    def add_reclaimable_fn(self, name: str, fn: VictimFn) -> None:
        self._add("reclaimable", name, fn)

    def add_victim_queue_order_fn(self, name: str, fn: Callable[[QueueInfo, QueueInfo, QueueInfo], int]) -> None:
        """``fn(left, right, preemptor's queue)``: negative when ``left``'s tasks are evicted before ``right``'s,
        0 for no opinion (Volcano's ``VictimQueueOrderFn``; no switch gates it, as upstream)."""
        self._add("victim_queue_order", name, fn)

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
    def victim_queue_order(self, left: QueueInfo, right: QueueInfo, preemptor: QueueInfo) -> int:
        """The first non-zero opinion of the victim-queue-order callbacks, in tier order; 0 if none."""
        for fn in self._all("victim_queue_order"):
            c: int = fn(left, right, preemptor)
            if c:
                return c
        return 0

    def job_key(self, job: JobInfo) -> tuple[Any, ...]:
        key = [fn(job) for fn in self._all("job_order")]
        key.append(job.creation)
        key.append(job.uid)
        return tuple(key)

    def queue_key(self, queue: QueueInfo) -> tuple[Any, ...]:
        key = [fn(queue) for fn in self._all("queue_order")]
        key.append(queue.creation)
        key.append(queue.name)
        return tuple(key)

    def task_key(self, task: TaskInfo) -> tuple[Any, ...]:
        return (*(fn(task) for fn in self._all("task_order")), task.creation, task.name, task.index)

    # ------------------------------------------------------------------ job / queue callbacks
    def job_ready(self, job: JobInfo) -> bool:
        return all(fn(job) for fn in self._all("job_ready"))

    def job_starving(self, job: JobInfo) -> bool:
        """The first tier with a starving callback decides (all of its callbacks must agree);
        no callback at all → not starving (as Volcano's ``JobStarving``)."""
        for tier in self._fns.get("job_starving", ()):
            if tier:
                return all(fn(job) for _, fn in tier)
        return False

    def job_order_values(self, job: JobInfo) -> tuple[Any, ...]:
        """The plugins' job-order keys only (no creation-time/uid tie-break), as Volcano's
        ``JobOrderCompareFn`` used to order victims of different jobs."""
        return tuple(fn(job) for fn in self._all("job_order"))

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

    def predicate_unresolvable(self, task: TaskInfo, rows: Rows) -> BoolArray:
        """AND of the predicates whose failures evictions cannot cure (see ``resolvable``):
        the nodes preempt and reclaim may free room on."""
        n = self.N if rows is None else len(rows)
        mask = np.ones(n, dtype=np.bool_)
        for (_, fn, _), resolvable in zip(self._predicates, self._resolvable, strict=True):
            if not resolvable:
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
            req = task.request
            e = _Entry(
                pos,
                self.predicate(task, None),
                self.fit(task, None),
                self.fit(task, None, future=False) if self._n_future else None,
                self.node_scores(task, None),
                np.empty(0),
                [(d, v) for d, v in enumerate(req.tolist()) if v != 0],
                all(st is not None and st(task) for st in self._static),
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
            elif len(changed) == 1:
                self._refresh_row(e, task, changed[0])
            elif len(changed) <= _ROW_BY_ROW:
                for r in sorted(set(changed)):
                    self._refresh_row(e, task, r)
            else:
                rows: IntArray = np.unique(np.array(changed, dtype=np.int64))
                e.pred[rows] = self.predicate(task, rows)
                e.fit_future[rows] = self.fit(task, rows)
                if e.fit_idle is not None:
                    e.fit_idle[rows] = self.fit(task, rows, future=False)
                e.score[rows] = self.node_scores(task, rows)
                e.masked[rows] = np.where(e.pred[rows] & e.fit_future[rows], e.score[rows], -np.inf)
        if self._n_future and e.fit_idle is None:
            e.fit_idle = self.fit(task, None, future=False)
        return e

    def _refresh_row(self, e: _Entry, task: TaskInfo, r: int) -> None:
        """Recompute one node's row of a cached entry with scalar arithmetic (a few changed
        nodes per lookup is the common case; numpy calls on 1-element arrays cost more)."""
        rows: IntArray = np.array([r], dtype=np.int64)
        if e.static:
            ok = bool(e.pred[r])
        else:
            ok = bool(self.predicate(task, rows)[0])
            e.pred[r] = ok
        free = self._fidle[r].tolist()
        fits = all(free[d] >= v for d, v in e.nz)
        e.fit_future[r] = fits
        if e.fit_idle is not None:
            now = self._idle[r].tolist()
            e.fit_idle[r] = all(now[d] >= v for d, v in e.nz)
        ones = self._ones
        if ones is None:
            fns = tuple(self._all("node_order"))
            ones = self._ones = (
                [self._score_one[id(f)] for f in fns] if all(id(f) in self._score_one for f in fns) else []
            )
        if ones or not self._all("node_order"):
            score = 0.0
            for one in ones:
                score += one(task, r)
        else:
            score = float(self.node_scores(task, rows)[0])
        e.score[r] = score
        e.masked[r] = score if ok and fits else -np.inf

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
    def counts(self, job: str) -> JobCounts:
        """Ready/pipelined task counts of job ``job`` (uid) under the current statuses.

        Computed on first use from the job's tasks, then kept current by status changes,
        so a cycle pays only for the jobs it looks at."""
        c = self._counts.get(job)
        if c is None:
            info = self.jobs[job]
            c = self._counts[job] = JobCounts(bool(info.min_task_member))
            status, tasks = self.status, self.tasks
            for i in info.tasks:
                c.add(tasks[i].role, status[i], 1, tasks[i].best_effort)
        return c

    def _count(self, task: TaskInfo, status: TaskStatus, delta: int) -> None:
        c = self._counts.get(task.job)
        if c is not None:
            c.add(task.role, status, delta, task.best_effort)

    def _set_status(self, task: TaskInfo, status: TaskStatus) -> None:
        self.touched.add(task.index)
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
