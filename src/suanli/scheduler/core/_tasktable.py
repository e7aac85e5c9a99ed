"""Columnar view of a snapshot's tasks, for vectorised per-queue sums.

The columns come from the snapshot (:class:`~suanli.scheduler.core.snapshot.TaskColumns`:
``requests[T, D]``, each task's queue position, ``-1`` when its job names a queue that
does not exist, and its snapshot status code). Per-queue totals by status are one
``np.bincount`` per dimension over ``queue x status`` keys, computed once per session;
any sum over a set of states is then a small ``[Q, states, D]`` reduction.

Sums are exact: every request is an integer amount (milli-CPU, bytes, counts)
well below 2**53, so the order of additions cannot change a total.

Worked example: tasks ``[cpu=100 in q0 Running, cpu=200 in q0 Pending, cpu=50 in q1
Running]`` → ``sum_by_status({RUNNING})`` = ``[[100, …], [50, …]]``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from suanli.scheduler.core.resources import BoolArray, FloatArray, IntArray
from suanli.scheduler.core.snapshot import STATUS_CODE, Snapshot, TaskStatus

__all__ = ["TaskTable"]

_S = len(STATUS_CODE)


class TaskTable:
    """Per-task columns of ``snapshot`` (row = task index); read-only after construction."""

    def __init__(self, snapshot: Snapshot) -> None:
        cols = snapshot.cols
        self.D = len(snapshot.dims)
        self.queue_names: list[str] = list(snapshot.queues)
        self.requests: FloatArray = cols.requests
        self.queue_of: IntArray = cols.queue_of
        self.codes = cols.codes
        self._cube: FloatArray | None = None

    def status_mask(self, states: Iterable[TaskStatus]) -> BoolArray:
        """Tasks whose *snapshot* status is one of ``states``."""
        out: BoolArray = np.zeros(len(self.codes), dtype=np.bool_)
        for st in states:
            out |= self.codes == STATUS_CODE[st]
        return out

    def _by_status(self) -> FloatArray:
        """``[Q, S, D]``: requests summed per existing queue and snapshot status code."""
        if self._cube is None:
            Q, D = len(self.queue_names), self.D
            keep = self.queue_of >= 0
            key = self.queue_of[keep] * _S + self.codes[keep]
            r = self.requests[keep]
            cube = np.zeros((Q * _S, D))
            for d in range(D):
                cube[:, d] = np.bincount(key, weights=r[:, d], minlength=Q * _S)
            self._cube = cube.reshape(Q, _S, D)
        return self._cube

    def sum_by_status(self, states: Iterable[TaskStatus]) -> FloatArray:
        """``[Q, D]``: requests of the tasks whose snapshot status is one of ``states``,
        summed per existing queue (``queue_names`` order); equal to
        ``sum_by_queue(status_mask(states))``."""
        codes = sorted({STATUS_CODE[s] for s in states})
        out: FloatArray = self._by_status()[:, codes, :].sum(axis=1)
        return out

    def sum_by_queue(self, mask: BoolArray | None = None, rows: IntArray | None = None) -> FloatArray:
        """``[Q, D]``: requests of the selected tasks summed per existing queue
        (``queue_names`` order); select with a boolean ``mask`` or an index array ``rows``."""
        Q = len(self.queue_names)
        if rows is None:
            rows = np.flatnonzero(mask) if mask is not None else np.arange(len(self.queue_of))
        q = self.queue_of[rows]
        keep = q >= 0
        q = q[keep]
        r = self.requests[rows[keep]]
        out = np.zeros((Q, self.D))
        for d in range(self.D):
            out[:, d] = np.bincount(q, weights=r[:, d], minlength=Q)
        return out
