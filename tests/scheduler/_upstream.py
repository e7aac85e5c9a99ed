"""Harness for the tables ported from Volcano's unit tests (``uthelper.TestCommonStruct`` style).

A :class:`Case` holds one upstream row: its objects (built with the Volcano-style
helpers below, which mirror ``util.BuildPod``/``BuildPodGroup``/``BuildQueue…``
argument for argument), the configuration and the expected outcome (binds,
evictions, pipelined jobs, PodGroup phases). :func:`check_core` runs it through the
pure core **and** through the per-node reference session and asserts both; the
e2e tests replay a subset of the same cases over HTTP.

Configurations follow upstream's tests, where a switch left unset is *off*
(``isEnabled(nil)`` is false): :func:`conf` spells every switch explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from suanli.apimachinery.objects import Obj
from suanli.scheduler.core import Decisions, SchedulerConfig, parse_config, schedule
from suanli.scheduler.core.config import SWITCH_KEYS
from suanli.scheduler.core.reference import reference_decisions, reference_schedule

from ._builders import build_node, build_pod, build_podgroup, snap

__all__ = [
    "YAML_KEYS",
    "Case",
    "check_core",
    "conf",
    "node",
    "pg",
    "pod",
    "queue",
    "res",
]

#: each switch's YAML key as current Volcano spells it (``enabledAllocatable``, ``enableJobOrder``…)
YAML_KEYS = {canon: key for key, canon in reversed(list(SWITCH_KEYS.items()))}

TASK_SPEC = "volcano.sh/task-spec"
PREEMPTABLE = "volcano.sh/preemptable"


def res(cpu: str = "", mem: str = "", **scalars: str) -> dict[str, str]:
    """``api.BuildResourceList(cpu, mem, scalars…)``: empty strings are left out; scalar
    names use ``__`` for ``/`` and ``_`` for ``.`` (``nvidia_com__gpu`` → ``nvidia.com/gpu``)."""
    out = {}
    if cpu:
        out["cpu"] = cpu
    if mem:
        out["memory"] = mem
    for k, v in scalars.items():
        out[k.replace("__", "/").replace("_", ".")] = v
    return out


def node(name: str, alloc: dict[str, str], labels: dict[str, str] | None = None) -> Obj:
    """``util.BuildNode``; ``pods`` defaults to 110 unless given (upstream rows pass 10)."""
    return build_node(name, alloc, labels)


def pod(
    ns: str,
    name: str,
    node_name: str,
    phase: str,
    req: dict[str, str],
    group: str,
    labels: dict[str, str] | None = None,
    selector: dict[str, str] | None = None,
    *,
    annotations: dict[str, str] | None = None,
) -> Obj:
    """``util.BuildPod(ns, name, node, phase, req, group, labels, selector)``: the task name
    ``volcano.sh/task-spec`` and ``volcano.sh/preemptable`` travel as labels, as upstream."""
    spec = {"nodeSelector": dict(selector)} if selector else None
    return build_pod(ns, name, node_name, phase, req, group, labels=dict(labels or {}), annotations=annotations,
                     spec=spec)


def pg(
    name: str,
    ns: str,
    queue_name: str,
    min_member: int,
    min_task_member: dict[str, int] | None = None,
    phase: str = "",
    *,
    min_resources: dict[str, str] | None = None,
) -> Obj:
    """``util.BuildPodGroup(name, ns, queue, minMember, minTaskMember, phase)``."""
    return build_podgroup(ns, name, queue_name, min_member, min_task_member, phase, min_resources=min_resources)


def queue(
    name: str,
    *,
    weight: int = 1,
    capability: dict[str, str] | None = None,
    deserved: dict[str, str] | None = None,
    guarantee: dict[str, str] | None = None,
    parent: str | None = None,
    priority: int | None = None,
    state: str = "Open",
    affinity: dict[str, Any] | None = None,
) -> Obj:
    """``util.BuildQueue…`` variants in one: weight, capability, deserved, guarantee, parent,
    ``spec.priority``, state and node-group affinity."""
    spec: dict[str, Any] = {"weight": weight}
    for key, value in (("capability", capability), ("deserved", deserved), ("parent", parent),
                       ("priority", priority), ("affinity", affinity)):
        if value is not None:
            spec[key] = value
    if guarantee is not None:
        spec["guarantee"] = {"resource": guarantee}
    return {
        "apiVersion": "scheduling.volcano.sh/v1beta1",
        "kind": "Queue",
        "metadata": {"name": name},
        "spec": spec,
        "status": {"state": state},
    }


def conf(actions: str, *plugins: tuple[str, Sequence[str]] | tuple[str, Sequence[str], Mapping[str, Any]]) -> str:
    """One tier of ``(plugin, [switches on], {arguments})``; every other switch is off."""
    lines = [f'actions: "{actions}"', "tiers:", "- plugins:"]
    for entry in plugins:
        name, on = entry[0], set(entry[1])
        lines.append(f"  - name: {name}")
        for sw, key in YAML_KEYS.items():
            lines.append(f"    {key}: {'true' if sw in on else 'false'}")
        if len(entry) > 2:
            args = entry[2]  # type: ignore[misc]
            lines.append("    arguments:")
            for k, v in args.items():
                lines.append(f"      {k}: {str(v).lower() if isinstance(v, bool) else v}")
    return "\n".join(lines) + "\n"


@dataclass
class Case:
    """One upstream row: objects, configuration and expectations (``None`` = not checked)."""

    nodes: list[Obj]
    pods: list[Obj] = field(default_factory=list)
    podgroups: list[Obj] = field(default_factory=list)
    queues: list[Obj] = field(default_factory=list)
    conf: str = ""
    binds: dict[str, str] | None = field(default_factory=dict)
    evicted: list[str] | None = field(default_factory=list)
    pipelined: dict[str, list[str]] | None = None
    phases: dict[str, str] = field(default_factory=dict)
    pcs: list[Obj] = field(default_factory=list)

    def config(self) -> SchedulerConfig:
        return parse_config(self.conf)


def _pipelined_jobs(d: Decisions, pods: list[Obj]) -> dict[str, set[str]]:
    group = {f"{p['metadata']['namespace']}/{p['metadata']['name']}":
             f"{p['metadata']['namespace']}/{p['metadata']['annotations'].get('scheduling.k8s.io/group-name')}"
             for p in pods}
    out: dict[str, set[str]] = {}
    for p in d.pipelined:
        out.setdefault(group[f"{p.namespace}/{p.name}"], set()).add(p.node)
    return out


def assert_outcome(case: Case, d: Decisions, where: str) -> None:
    """The upstream expectations against one run's decisions."""
    if case.binds is not None:
        got = {f"{b.namespace}/{b.name}": b.node for b in d.binds}
        assert got == case.binds, f"{where}: binds"
    if case.evicted is not None:
        assert sorted(f"{e.namespace}/{e.name}" for e in d.evictions) == sorted(case.evicted), f"{where}: evictions"
    if case.pipelined is not None:
        got_p = _pipelined_jobs(d, case.pods)
        for job, nodes in case.pipelined.items():
            assert job in got_p, f"{where}: {job} has no pipelined task"
            assert got_p[job] <= set(nodes), f"{where}: {job} pipelined to {got_p[job]}"
        if not case.pipelined:
            assert not got_p, f"{where}: unexpected pipelined {got_p}"
    for job, phase in case.phases.items():
        assert d.podgroup_status[job]["phase"] == phase, f"{where}: {job} phase"


def check_core(case: Case) -> Decisions:
    """Run ``case`` through the core and the reference session; both must meet it."""
    cfg = case.config()
    d = schedule(snap(case.nodes, case.pods, case.podgroups, case.queues, case.pcs), cfg)
    assert_outcome(case, d, "core")
    ref = reference_decisions(reference_schedule(snap(case.nodes, case.pods, case.podgroups, case.queues, case.pcs),
                                                 cfg))
    assert_outcome(case, ref, "reference")
    return d
