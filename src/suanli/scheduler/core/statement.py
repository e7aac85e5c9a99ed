"""Statement: an operation log of allocate / pipeline / evict, committed or discarded whole.

Every operation is applied to the session at once (so later placements in the
same gang see it); :meth:`Statement.discard` undoes them in reverse order and
:meth:`Statement.commit` turns them into decisions (binds, pipelined tasks,
evictions). Gangs are all-or-nothing through this pair.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from suanli.scheduler.core.snapshot import TaskInfo, TaskStatus

if TYPE_CHECKING:
    from suanli.scheduler.core.session import Session

__all__ = ["Statement"]


class Statement:
    """Operations recorded against one session."""

    def __init__(self, ssn: Session) -> None:
        self.ssn = ssn
        self.ops: list[tuple[str, TaskInfo, int, str]] = []

    def allocate(self, task: TaskInfo, node: int) -> None:
        """Reserve ``node``'s idle resources for ``task`` (status Allocated)."""
        self.ssn.place(task, node, TaskStatus.ALLOCATED)
        self.ops.append(("allocate", task, node, ""))

    def pipeline(self, task: TaskInfo, node: int) -> None:
        """Reserve resources that ``node`` will free (status Pipelined)."""
        self.ssn.place(task, node, TaskStatus.PIPELINED)
        self.ops.append(("pipeline", task, node, ""))

    def evict(self, task: TaskInfo, reason: str) -> None:
        """Mark a running ``task`` Releasing; its resources become future-idle."""
        node = self.ssn.task_node[task.index]
        self.ssn.release(task)
        self.ops.append(("evict", task, node, reason))

    def merge(self, other: Statement) -> None:
        """Take over ``other``'s operations (already applied to the session), leaving it empty."""
        self.ops.extend(other.ops)
        other.ops.clear()

    def discard(self) -> None:
        """Undo every operation, newest first."""
        for kind, task, node, _ in reversed(self.ops):
            if kind == "evict":
                self.ssn.unrelease(task, node)
            else:
                self.ssn.unplace(task)
        self.ops.clear()

    def commit(self, *, bind: bool = True) -> None:
        """Turn the operations into decisions. With ``bind=False`` allocations are kept as
        reservations (reported as pipelined), as Volcano does for a pipelined gang."""
        for kind, task, node, reason in self.ops:
            if kind == "evict":
                self.ssn.record_eviction(task, node, reason)
            elif kind == "allocate" and bind:
                self.ssn.record_bind(task, node)
            else:
                self.ssn.record_pipelined(task, node)
        self.ops.clear()
