"""``predicates``: Kubernetes filters as masks over all nodes.

Checks, in order (the first failing one explains a node): unschedulable nodes
(``spec.unschedulable`` unless the pod tolerates
``node.kubernetes.io/unschedulable``) → "node(s) were unschedulable";
``nodeSelector`` and required node affinity → "node(s) didn't match Pod's node
affinity/selector"; NoSchedule/NoExecute taints → "node(s) had untolerated
taint {key: value}"; host ports (same protocol and port on an overlapping host
IP, including ports of pods placed this cycle) → "node(s) didn't have free ports
for the requested pod ports". Resource fit, extended resources and the pod
count are checked by the core's fit mask ("Insufficient <resource>", "Too many
pods"). Static masks are computed once per pod spec and reused.

GPU sharing (Volcano ≤ 1.8's ``predicate.GPUSharingEnable``, moved to
``deviceshare`` upstream since): a ``volcano.sh/gpu-memory`` pod must fit one
card ("no enough gpu memory on single device"), a ``volcano.sh/gpu-number``
pod needs idle cards ("no enough idle gpu devices"); the card is chosen by
binpack and the bind sets ``volcano.sh/gpu-index``
(:mod:`~suanli.scheduler.core.plugins._gpucards`). **Deviation:** upstream's
default is off; here it is on unless the argument is ``false``, so the default
configuration never places a shared-GPU pod that no card can hold. It is skipped
when ``deviceshare`` is configured (that plugin then owns the card decision).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from suanli.apimachinery.objects import Obj
from suanli.scheduler.core.config import PluginOption
from suanli.scheduler.core.framework import Rows
from suanli.scheduler.core.plugins._gpucards import GPU_INDEX, GpuShareCards
from suanli.scheduler.core.plugins._match import LabelIndex, first_untolerated, terms_mask, tolerates
from suanli.scheduler.core.resources import BoolArray
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import OCCUPYING, TaskInfo

__all__ = ["PredicatesPlugin", "host_ports", "ports_conflict"]

UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
R_UNSCHEDULABLE = "node(s) were unschedulable"
R_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
R_PORTS = "node(s) didn't have free ports for the requested pod ports"


def host_ports(pod: Obj) -> list[tuple[str, str, int]]:
    """``(hostIP, protocol, hostPort)`` of every container port with a hostPort."""
    out = []
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("hostPort"):
                out.append((p.get("hostIP") or "0.0.0.0", p.get("protocol") or "TCP", int(p["hostPort"])))  # nosec B104  # Kubernetes hostIP wildcard semantics, binds nothing
    return out


def ports_conflict(
    want: list[tuple[str, str, int]], used: set[tuple[str, str, int]] | frozenset[tuple[str, str, int]]
) -> bool:
    """True if a wanted port clashes with a used one (``0.0.0.0`` overlaps every IP)."""
    for ip, proto, port in want:
        for uip, uproto, uport in used:
            if port == uport and proto == uproto and (ip == uip or "0.0.0.0" in (ip, uip)):  # nosec B104  # Kubernetes hostIP wildcard semantics, binds nothing
                return True
    return False


class PredicatesPlugin:
    name = "predicates"

    def __init__(self, option: PluginOption) -> None:
        self.option = option
        self._static: dict[Any, tuple[BoolArray, BoolArray, BoolArray, list[str | None]]] = {}
        self._combined: dict[Any, BoolArray] = {}
        self._wanted: dict[Any, list[tuple[str, str, int]]] = {}

    def on_session_open(self, ssn: Session) -> None:
        self.ssn = ssn
        self.index = LabelIndex(ssn.snapshot.nodes)
        self._ports: list[set[tuple[str, str, int]]] | None = None
        self.placed_ports: dict[int, list[tuple[str, str, int]]] = {}
        self.cards: GpuShareCards | None = None
        self.placed_cards: dict[int, list[int]] = {}
        sharing = str(self.option.arguments.get("predicate.GPUSharingEnable", "true")).lower() != "false"
        if sharing and ssn.config.plugin("deviceshare") is None:
            self.cards = GpuShareCards.open(ssn)
            if self.cards is not None:
                for t in ssn.tasks:
                    if t.status in OCCUPYING and t.node >= 0:
                        self.cards.take(t, t.node, from_annotations=True)
        ssn.add_predicate_fn(self.name, self.predicate, self.reasons,
                             static=lambda task: not self._want(task) and not self._shares_gpu(task))
        ssn.add_event_handler(self)

    def _shares_gpu(self, task: TaskInfo) -> bool:
        return self.cards is not None and self.cards.wants(task)

    def _want(self, task: TaskInfo) -> list[tuple[str, str, int]]:
        """The task's host ports, parsed once per pod spec (``spec_key`` covers them)."""
        key = task.spec_key[1]
        got = self._wanted.get(key)
        if got is None:
            got = self._wanted[key] = host_ports(task.pod)
        return got

    def on_session_close(self, ssn: Session) -> None:
        pass

    @property
    def ports(self) -> list[set[tuple[str, str, int]]]:
        """Host ports in use per node (snapshot's plus those placed this cycle); copied from
        the snapshot on first use, as most cycles place no pod with host ports."""
        if self._ports is None:
            self._ports = [set(p) for p in self.ssn.snapshot.nodes.host_ports]
        return self._ports

    def allocate(self, task: TaskInfo, node: int) -> None:
        want = self._want(task)
        if want:
            self.ports[node].update(want)
            self.placed_ports[task.index] = want
        if self.cards is not None and self.cards.wants(task):
            cards = self.placed_cards[task.index] = self.cards.take(task, node, from_annotations=False)
            if cards:
                self.ssn.task_annotations[task.index] = {GPU_INDEX: ",".join(str(c) for c in cards)}

    def deallocate(self, task: TaskInfo, node: int) -> None:
        for p in self.placed_ports.pop(task.index, ()):
            self.ports[node].discard(p)
        cards = self.placed_cards.pop(task.index, None)
        if cards is not None and self.cards is not None:
            self.cards.release(task, node, cards)
            self.ssn.task_annotations.pop(task.index, None)

    def _masks(self, task: TaskInfo) -> tuple[BoolArray, BoolArray, BoolArray, list[str | None]]:
        key = task.spec_key[1]
        got = self._static.get(key)
        if got is not None:
            return got
        nodes = self.ssn.snapshot.nodes
        spec = task.pod.get("spec") or {}
        tolerations = list(spec.get("tolerations") or [])
        tol_unsched = any(tolerates(t, UNSCHEDULABLE_TAINT) for t in tolerations)
        sched = ~nodes.unschedulable if not tol_unsched else np.ones(nodes.count, dtype=np.bool_)
        aff = np.ones(nodes.count, dtype=np.bool_)
        for k, v in (spec.get("nodeSelector") or {}).items():
            aff &= np.fromiter((x == str(v) for x in self.index.column(k)), dtype=np.bool_, count=nodes.count)
        required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        ) or {}
        if required:
            aff &= terms_mask(self.index, required.get("nodeSelectorTerms") or [])
        taint_reason: list[str | None] = [None] * nodes.count
        taint_ok = np.ones(nodes.count, dtype=np.bool_)
        taints = nodes.taints
        for i in itertools.compress(range(nodes.count), taints):  # only tainted nodes
            bad = first_untolerated(taints[i], tolerations)
            if bad is not None:
                taint_reason[i] = f"node(s) had untolerated taint {{{bad.get('key', '')}: {bad.get('value', '')}}}"
                taint_ok[i] = False
        out = (sched, aff, taint_ok, taint_reason)
        self._static[key] = out
        return out

    def _ports_ok(self, task: TaskInfo, rows: Rows) -> BoolArray | None:
        want = self._want(task)
        if not want:
            return None
        idx = range(self.ssn.N) if rows is None else rows.tolist()
        return np.array([not ports_conflict(want, self.ports[i]) for i in idx], dtype=np.bool_)

    def predicate(self, task: TaskInfo, rows: Rows) -> BoolArray:
        key = task.spec_key[1]
        combined = self._combined.get(key)
        if combined is None:
            sched, aff, taint_ok, _ = self._masks(task)
            combined = self._combined[key] = sched & aff & taint_ok
        mask: BoolArray = combined.copy() if rows is None else combined[rows]
        ports = self._ports_ok(task, rows)
        if ports is not None:
            mask &= ports
        if self._shares_gpu(task):
            assert self.cards is not None
            mask &= self.cards.fits(task, rows)
        return mask

    def reasons(self, task: TaskInfo, rows: Rows) -> list[tuple[str, BoolArray]]:
        sched, aff, taint_ok, taint_reason = self._masks(task)
        out: list[tuple[str, BoolArray]] = [(R_UNSCHEDULABLE, ~sched)]
        earlier = ~sched
        out.append((R_AFFINITY, ~aff & ~earlier))
        earlier = earlier | ~aff
        by_reason: dict[str, BoolArray] = {}
        for i in np.flatnonzero(~taint_ok & ~earlier).tolist():
            r = taint_reason[i] or ""
            by_reason.setdefault(r, np.zeros(self.ssn.N, dtype=np.bool_))[i] = True
        out.extend(by_reason.items())
        earlier = earlier | ~taint_ok
        ports = self._ports_ok(task, None)
        if ports is not None:
            out.append((R_PORTS, ~ports & ~earlier))
            earlier = earlier | ~ports
        if self._shares_gpu(task):
            assert self.cards is not None
            out.append((self.cards.reason(task), ~self.cards.fits(task, None) & ~earlier))
        return out
