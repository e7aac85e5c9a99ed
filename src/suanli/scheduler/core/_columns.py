"""Incremental :class:`~suanli.scheduler.core.snapshot.TaskColumns` for the snapshot builder.

:class:`ColumnKeeper` is told which task positions got a new ``TaskInfo`` and which jobs were
replaced or added since the last snapshot, and patches its buffers accordingly; anything
broader (task order, job order or queue order changed) recomputes everything through
:func:`~suanli.scheduler.core.snapshot.task_columns`, the one-shot reference.

Contract: :meth:`ColumnKeeper.columns` equals ``task_columns(tasks, jobs, queues, dims)`` when

* every position whose ``TaskInfo`` was replaced or appended was passed to :meth:`task_changed`;
* every job replaced in place or appended to ``jobs`` went through :meth:`job_replaced`;
* :meth:`reset_tasks` / :meth:`reset_jobs` were called whenever the task list / jobs dict were
  rebuilt in another order, and :meth:`queues_changed` whenever the queues were refreshed.

Handed-out arrays and lists are fresh copies: buffers kept here are never shared.
"""

from __future__ import annotations

import numpy as np

from suanli.scheduler.core.resources import FloatArray, IntArray
from suanli.scheduler.core.snapshot import (
    STATUS_CODE,
    JobInfo,
    QueueInfo,
    TaskColumns,
    TaskInfo,
    TaskStatus,
    task_columns,
)

__all__ = ["ColumnKeeper"]

_PENDING = STATUS_CODE[TaskStatus.PENDING]
_CODE_BY_ID = {id(s): c for s, c in STATUS_CODE.items()}  # Enum hashing runs Python code; id() does not


class ColumnKeeper:
    """Task columns and job lists maintained across snapshots (module docstring)."""

    def __init__(self) -> None:
        self._tasks_full = True
        self._jobs_full = True
        self._changed: list[int] = []
        self._queue_moved: list[str] = []  # jobs whose queue changed: their tasks' queue_of
        self._qnames: list[str] = []
        self._qpos: dict[str, int] = {}
        self._req: FloatArray = np.zeros((0, 0))
        self._queue_of: IntArray = np.zeros(0, dtype=np.int64)
        self._codes = np.zeros(0, dtype=np.int8)
        self._status: list[TaskStatus] = []
        self._node: list[int] = []
        self._jpos: dict[str, int] = {}
        self._phase: dict[str, str] = {}
        self._by_phase: dict[str, set[str]] = {}  # every phase but Running
        self._podgroup_jobs: set[str] = set()

    # ------------------------------------------------------------------ notifications

    def task_changed(self, pos: int) -> None:
        self._changed.append(pos)

    def reset_tasks(self) -> None:
        self._tasks_full = True

    def reset_jobs(self) -> None:
        self._jobs_full = True

    def queues_changed(self, names: list[str]) -> None:
        if names != self._qnames:
            self._qnames = names
            self._qpos = {n: i for i, n in enumerate(names)}
            self._tasks_full = True

    def job_replaced(self, old: JobInfo | None, new: JobInfo) -> None:
        """``new`` replaces ``old`` at its place in ``jobs`` (``old`` None: appended at the end)."""
        if self._jobs_full:
            return
        uid = new.uid
        if old is None:
            self._jpos[uid] = len(self._jpos)
        elif old.queue == new.queue and old.phase == new.phase and old.synthetic == new.synthetic:
            return  # the common case (a member changed): nothing this class keeps moves
        else:
            self._remove(old)
            if old.queue != new.queue:
                self._queue_moved.append(uid)
        self._add(new)

    def _add(self, job: JobInfo) -> None:
        self._phase[job.uid] = job.phase
        if job.phase != "Running":
            self._by_phase.setdefault(job.phase, set()).add(job.uid)
        if not job.synthetic:
            self._podgroup_jobs.add(job.uid)

    def _remove(self, job: JobInfo) -> None:
        if job.phase != "Running":
            self._by_phase[job.phase].discard(job.uid)
        self._podgroup_jobs.discard(job.uid)

    # ------------------------------------------------------------------ output

    def columns(
        self, tasks: list[TaskInfo], jobs: dict[str, JobInfo], queues: dict[str, QueueInfo], dims: int
    ) -> TaskColumns:
        """The columns of this snapshot (fresh objects; see the module contract)."""
        self.queues_changed(list(queues))
        if self._req.shape[1] != dims:
            self._tasks_full = True
        if self._jobs_full:
            self._jobs_full = False
            self._jpos = {uid: i for i, uid in enumerate(jobs)}
            self._phase, self._by_phase, self._podgroup_jobs = {}, {}, set()
            for job in jobs.values():
                self._add(job)
        if self._tasks_full:
            out = task_columns(tasks, jobs, queues, dims)
            self._tasks_full = False
            self._req, self._queue_of, self._codes = out.requests.copy(), out.queue_of.copy(), out.codes.copy()
            self._status, self._node = list(out.status), list(out.node)
            pending = out.pending
        else:
            self._patch(tasks, jobs, dims)
            T = len(tasks)
            pending = np.flatnonzero(self._codes[:T] == _PENDING).tolist()
            out = TaskColumns(
                self._req[:T].copy(),
                self._queue_of[:T].copy(),
                self._codes[:T].copy(),
                list(self._status),
                list(self._node),
                pending,
                {},
                [],
                [],
                [],
                [],
            )
            for a in (out.requests, out.queue_of, out.codes):
                a.setflags(write=False)
        self._changed.clear()
        self._queue_moved.clear()
        key = self._jpos.__getitem__
        by_phase = self._by_phase
        out.job_phase = dict(self._phase)
        out.active_jobs = sorted({tasks[i].job for i in pending}, key=key)
        out.pending_phase = sorted(by_phase.get("Pending", ()), key=key)
        out.inqueue = sorted(by_phase.get("Inqueue", ()), key=key)
        out.podgroup_jobs = sorted(self._podgroup_jobs, key=key)
        return out

    def _patch(self, tasks: list[TaskInfo], jobs: dict[str, JobInfo], dims: int) -> None:
        T = len(tasks)
        if len(self._req) < T:
            cap = max(T, 2 * len(self._req), 1024)
            req = np.zeros((cap, dims))
            req[: len(self._req)] = self._req
            queue_of = np.zeros(cap, dtype=np.int64)
            queue_of[: len(self._queue_of)] = self._queue_of
            codes = np.zeros(cap, dtype=np.int8)
            codes[: len(self._codes)] = self._codes
            self._req, self._queue_of, self._codes = req, queue_of, codes
        grow = T - len(self._status)
        if grow > 0:
            self._status.extend([TaskStatus.PENDING] * grow)
            self._node.extend([-1] * grow)
        changed = set(self._changed)
        for uid in self._queue_moved:
            changed.update(jobs[uid].tasks)
        if not changed:
            return
        pos = sorted(changed)
        ts = [tasks[i] for i in pos]
        idx = np.array(pos, dtype=np.int64)
        qpos, code = self._qpos, _CODE_BY_ID
        self._req[idx] = np.array([t.request for t in ts], dtype=np.float64).reshape(len(ts), dims)
        self._queue_of[idx] = [qpos.get(jobs[t.job].queue, -1) for t in ts]
        self._codes[idx] = [code[id(t.status)] for t in ts]
        status, node = self._status, self._node
        for i, t in zip(pos, ts, strict=True):
            status[i] = t.status
            node[i] = t.node
