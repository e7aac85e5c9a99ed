"""What one scheduling cycle decided (pure data; the adapter applies it)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CLUSTER_OVERUSED",
    "QUEUE_QUOTA_INSUFFICIENT",
    "Bind",
    "Decisions",
    "Eviction",
    "Pipelined",
    "Unschedulable",
    "format_resource_names",
    "summarise_reasons",
]


@dataclass(frozen=True, slots=True)
class Bind:
    """Bind pod ``namespace/name`` (``uid``) to ``node`` and set ``annotations`` on it first."""

    namespace: str
    name: str
    uid: str
    node: str
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Eviction:
    """Evict pod ``namespace/name`` from ``node``; ``reason`` is ``"preempt"`` or ``"reclaim"``
    and ``message`` names the beneficiary."""

    namespace: str
    name: str
    uid: str
    node: str
    reason: str
    message: str = ""


@dataclass(frozen=True, slots=True)
class Pipelined:
    """Pod reserved on ``node`` but not bound this cycle (waiting for resources to be freed)."""

    namespace: str
    name: str
    uid: str
    node: str


@dataclass(frozen=True, slots=True)
class Unschedulable:
    """A pending pod that got no node: ``message`` is the kube-scheduler-style summary
    (for ``PodScheduled=False``, reason ``Unschedulable``)."""

    namespace: str
    name: str
    uid: str
    message: str


@dataclass(frozen=True, slots=True)
class Decisions:
    """Everything a cycle decided.

    ``podgroup_status`` maps ``"<ns>/<name>"`` of real PodGroups to their new
    ``status`` (phase, running/succeeded/failed counts, conditions);
    ``queue_status`` maps a queue name to its new ``status`` (state, running /
    pending / inqueue / completed PodGroup counts, ``allocated`` resources and,
    when proportion or capacity computed one, ``deserved``).
    """

    binds: tuple[Bind, ...] = ()
    evictions: tuple[Eviction, ...] = ()
    pipelined: tuple[Pipelined, ...] = ()
    unschedulable: tuple[Unschedulable, ...] = ()
    podgroup_status: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    queue_status: Mapping[str, dict[str, Any]] = field(default_factory=dict)


def summarise_reasons(total: int, available: int, counts: Mapping[str, int]) -> str:
    """kube-scheduler's summary: ``"<available>/<total> nodes are available: <n> <reason>, …."``

    Entries are ``"<count> <reason>"`` sorted as strings, as upstream's
    ``sortReasonsHistogram``. Example: ``summarise_reasons(5, 0, {"Insufficient cpu": 3,
    "node(s) were unschedulable": 2})`` →
    ``"0/5 nodes are available: 2 node(s) were unschedulable, 3 Insufficient cpu."``
    """
    parts = sorted(f"{c} {r}" for r, c in counts.items() if c > 0)
    if not parts:
        return f"{available}/{total} nodes are available."
    return f"{available}/{total} nodes are available: {', '.join(parts)}."


def format_resource_names(prefix: str, verb: str, names: Iterable[str]) -> str:
    """Volcano's enqueue verdict: ``prefix`` followed by ``"<verb> <resource>"`` per resource that
    does not fit, or ``prefix`` alone when none is named.

    Example: ``format_resource_names("queue resource quota insufficient", "insufficient",
    ["cpu", "huawei.com/Ascend910"])`` → ``"queue resource quota insufficient: insufficient cpu,
    insufficient huawei.com/Ascend910"``.
    """
    parts = [f"{verb} {n}" for n in names]
    return f"{prefix}: {', '.join(parts)}" if parts else prefix


#: Enqueue verdicts, as the overcommit and proportion/capacity plugins word them upstream.
CLUSTER_OVERUSED = ("resource in cluster is overused", "overused")
QUEUE_QUOTA_INSUFFICIENT = ("queue resource quota insufficient", "insufficient")
