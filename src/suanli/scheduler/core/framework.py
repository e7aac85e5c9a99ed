"""Extension-point protocols of the scheduling core (one small Protocol each).

A :class:`Plugin` registers callbacks on the :class:`~suanli.scheduler.core.session.Session`
in ``on_session_open``; an :class:`Action` runs one step of the cycle. Callbacks:

* ordering (``JobOrderFn``, ``QueueOrderFn``, ``TaskOrderFn``) return a **sort key**,
  smaller first. Volcano's comparators are induced by such keys, and "the first
  plugin that decides wins" is exactly lexicographic order of the key tuple in
  tier/plugin order, which lets the core sort with heaps instead of pairwise calls.
* ``PredicateFn(task, rows)`` → boolean mask over ``rows`` (all nodes when
  ``rows`` is None); ``ReasonFn(task, rows)`` → ``[(reason, mask), …]`` explaining
  the nodes the predicate rejects (used for unschedulable messages only).
* ``NodeOrderFn(task, rows)`` → float scores over ``rows`` (summed over plugins).
* ``VictimFn(actor, candidates)`` → the candidates it allows to be evicted, or None
  to abstain (intersected within a tier; an empty answer makes the tier abstain;
  the first tier with a non-empty vote decides).
* ``QueueFn(queue)``/``QueueTaskFn(queue, task)`` → bool (overused: any; allocatable
  and preemptive: all). ``JobPredicate(job)`` → bool (ready: all; starving: the first tier
  with a callback decides, all of its callbacks agreeing).
  ``JobVote(job)`` → +1 permit / 0 abstain / -1 reject (pipelined, enqueueable).
  ``JobValidFn(job)`` → None if valid, else ``(reason, message)``.
* ``EventHandler``: ``allocate(task, node)``/``deallocate(task, node)`` fire on every
  statement operation and its undo, so plugins keep shares and device state current.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from suanli.scheduler.core.resources import BoolArray, FloatArray, IntArray
from suanli.scheduler.core.snapshot import JobInfo, QueueInfo, TaskInfo

if TYPE_CHECKING:
    from suanli.scheduler.core.config import PluginOption
    from suanli.scheduler.core.session import Session

__all__ = [
    "ABSTAIN",
    "PERMIT",
    "REJECT",
    "Action",
    "EventHandler",
    "JobOrderFn",
    "JobPredicate",
    "JobValidFn",
    "JobVote",
    "NodeOrderFn",
    "Plugin",
    "PluginFactory",
    "PredicateFn",
    "QueueFn",
    "QueueOrderFn",
    "QueueTaskFn",
    "ReasonFn",
    "Rows",
    "TaskOrderFn",
    "VictimFn",
    "rows_of",
]

PERMIT, ABSTAIN, REJECT = 1, 0, -1

Rows = IntArray | None


def rows_of(arr: np.ndarray[Any, Any], rows: Rows) -> np.ndarray[Any, Any]:
    """``arr`` restricted to ``rows`` (the whole array when ``rows`` is None)."""
    return arr if rows is None else arr[rows]


class Plugin(Protocol):
    name: str

    def on_session_open(self, ssn: Session) -> None: ...

    def on_session_close(self, ssn: Session) -> None: ...


PluginFactory = Callable[["PluginOption"], Plugin]


class Action(Protocol):
    name: str

    def execute(self, ssn: Session) -> None: ...


class JobOrderFn(Protocol):
    def __call__(self, job: JobInfo) -> Any: ...


class QueueOrderFn(Protocol):
    def __call__(self, queue: QueueInfo) -> Any: ...


class TaskOrderFn(Protocol):
    def __call__(self, task: TaskInfo) -> Any: ...


class PredicateFn(Protocol):
    def __call__(self, task: TaskInfo, rows: Rows) -> BoolArray: ...


class ReasonFn(Protocol):
    def __call__(self, task: TaskInfo, rows: Rows) -> Sequence[tuple[str, BoolArray]]: ...


class NodeOrderFn(Protocol):
    def __call__(self, task: TaskInfo, rows: Rows) -> FloatArray: ...


class VictimFn(Protocol):
    def __call__(self, actor: TaskInfo, candidates: Sequence[TaskInfo]) -> Sequence[TaskInfo] | None: ...


class QueueFn(Protocol):
    def __call__(self, queue: QueueInfo) -> bool: ...


class QueueTaskFn(Protocol):
    def __call__(self, queue: QueueInfo, task: TaskInfo) -> bool: ...


class JobPredicate(Protocol):
    def __call__(self, job: JobInfo) -> bool: ...


class JobVote(Protocol):
    def __call__(self, job: JobInfo) -> int: ...


class JobValidFn(Protocol):
    def __call__(self, job: JobInfo) -> tuple[str, str] | None: ...


class EventHandler(Protocol):
    def allocate(self, task: TaskInfo, node: int) -> None: ...

    def deallocate(self, task: TaskInfo, node: int) -> None: ...
