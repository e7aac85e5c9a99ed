"""Helpers for the preempt/reclaim tables ported from Volcano's action unit tests (the
allocation-side tables use :mod:`tests.scheduler._upstream`).

Volcano's test harness enables only the extension points a test names (an unset
``enableXxx`` is *off* there, unlike in a real configuration where it defaults on),
and only the plugins whose builders the test registers take part. :func:`tiers`
reproduces that: each plugin gets exactly the switches listed, every other one off.
Upstream's pods carry ``volcano.sh/preemptable`` as a label or not at all (current
Volcano: a pod with neither is preemptable); the ported pods carry it as an explicit
annotation instead, so the tables do not depend on the default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from suanli.apimachinery.objects import Obj
from suanli.scheduler.core import SchedulerConfig
from suanli.scheduler.core.config import SWITCHES, PluginOption, Tier

from ._builders import build_pod, build_podgroup, build_queue

__all__ = ["cfg", "pg", "pod", "queue"]


def cfg(actions: Sequence[str], plugins: Mapping[str, Sequence[str]]) -> SchedulerConfig:
    """One tier of ``{plugin: [enabled switches]}``, every other switch off."""
    opts = tuple(PluginOption(name, {}, {s: s in on for s in SWITCHES}) for name, on in plugins.items())
    return SchedulerConfig(tuple(actions), (Tier(opts),), {})


def pod(
    name: str,
    node: str,
    cpu: str,
    mem: str,
    group: str,
    *,
    preemptable: bool | None = None,
    priority: int | None = None,
    never: bool = False,
    ns: str = "c1",
    extra: Mapping[str, str] | None = None,
) -> Obj:
    """Upstream's ``BuildPod`` (Running when placed on a node, else Pending); an empty
    ``cpu`` and ``mem`` make a best-effort pod."""
    req: dict[str, str] = {}
    if cpu:
        req["cpu"] = cpu
    if mem:
        req["memory"] = mem
    req.update(extra or {})
    spec = {"preemptionPolicy": "Never"} if never else None
    return build_pod(
        ns,
        name,
        node=node,
        phase="Running" if node else "Pending",
        req=req,
        group=group,
        preemptable=preemptable,
        priority=priority,
        spec=spec,
    )


def pg(
    name: str, queue_name: str, min_member: int, phase: str = "Inqueue", prio: str | None = None, ns: str = "c1"
) -> Obj:
    return build_podgroup(ns, name, queue_name, min_member, phase=phase, priority_class=prio)


def queue(
    name: str,
    weight: int = 1,
    capability: Mapping[str, str] | None = None,
    *,
    priority: int | None = None,
    deserved: Mapping[str, str] | None = None,
    state: str = "Open",
) -> Obj:
    q = build_queue(
        name,
        weight,
        dict(capability) if capability else None,
        deserved=dict(deserved) if deserved else None,
        state=state,
    )
    if priority is not None:
        q["spec"]["priority"] = priority
    return q
