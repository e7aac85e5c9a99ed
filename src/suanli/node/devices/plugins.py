"""Simulated device plugins derived from a hardware profile (kubelet device-plugin semantics).

:class:`DeviceSpecPlugin` serves one :class:`~suanli.node.profiles.DeviceSpec` (e.g. eight
``huawei.com/Ascend910``); :class:`GpuSharePlugin` serves Volcano's gpushare resources
``volcano.sh/gpu-memory`` / ``volcano.sh/gpu-number`` for a
:class:`~suanli.node.profiles.GpuShareSpec`.

**Running.** A plugin constructed with a ``device_class`` (an operator-managed class: ``npu``, ``kae``,
``gpu``) runs on a node only while that node has a *Running*, non-terminating pod labelled
``suanli.io/device-class=<class>`` + ``suanli.io/operator-component=driver`` **and** one
with ``…=device-plugin``. A plugin without a device class always runs. A plugin that is
not running advertises nothing and grants nothing.

**Health.** Node annotation ``suanli.io/unhealthy-devices`` lists unhealthy devices,
comma-separated, either as a bare ID (``3``: that ID of every plugin on the node) or
qualified ``<resource>=<id>`` (``huawei.com/Ascend910=3``). gpushare cards use Volcano's
``volcano.sh/gpu-unhealthy-ids`` (card indices). ``capacity`` counts all devices,
``allocatable`` the healthy ones.

**In use.** Devices held by other pods on the node are read from their
``suanli.io/allocated-devices`` annotation (gpushare: ``volcano.sh/gpu-index``); pods that
have finished (``Succeeded``/``Failed``) hold nothing.

**The decision is the scheduler's.** A pod that arrives with a decision (its own
``suanli.io/allocated-devices`` entry for the resource; gpushare: ``volcano.sh/gpu-index``)
gets exactly those devices after :func:`~suanli.apimachinery.devices.check_grant` (right
count, distinct, existing, healthy, not held by another pod); a decision that fails the check
raises :class:`~suanli.node.devices.api.DeviceGrantError` (the agent fails the pod with that
message) — the agent never re-picks. A pod without one (bound by something other than the
``deviceshare`` plugin) gets what the same pure rule picks
(:func:`~suanli.apimachinery.devices.pick_devices`; gpushare: binpack
:func:`~suanli.apimachinery.devices.pick_card_by_memory` /
:func:`~suanli.apimachinery.devices.pick_idle_cards`). Device IDs in annotations are the
indices ``"0" … "count-1"``; the environment gets the spec's device IDs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from suanli.apimachinery.devices import (
    check_grant,
    parse_allocation,
    parse_unhealthy,
    pick_card_by_memory,
    pick_devices,
    pick_idle_cards,
)
from suanli.apimachinery.objects import Obj
from suanli.apimachinery.quantity import to_int
from suanli.node.devices.api import (
    ALLOCATION_ANNOTATION,
    COMPONENT_LABEL,
    DEVICE_CLASS_LABEL,
    UNHEALTHY_ANNOTATION,
    Advertised,
    Allocation,
    DeviceGrantError,
)
from suanli.node.profiles.model import DeviceSpec, GpuShareSpec
from suanli.wire import GPU_INDEX_ANNOTATION, GPU_MEMORY, GPU_NUMBER, GPU_UNHEALTHY_ANNOTATION

__all__ = [
    "GPU_INDEX_ANNOTATION",
    "GPU_MEMORY",
    "GPU_NUMBER",
    "GPU_UNHEALTHY_ANNOTATION",
    "REQUIRED_COMPONENTS",
    "DeviceSpecPlugin",
    "GpuSharePlugin",
    "operator_running",
    "pod_request",
]

GPUSHARE_ENV = "NVIDIA_VISIBLE_DEVICES"
REQUIRED_COMPONENTS = ("driver", "device-plugin")
_DONE = ("Succeeded", "Failed")


def _node_name(node: Obj) -> str:
    return str((node.get("metadata") or {}).get("name") or "")


def _annotations(obj: Obj) -> dict[str, Any]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def _uid(pod: Obj) -> str:
    m = pod.get("metadata") or {}
    return str(m.get("uid") or f"{m.get('namespace')}/{m.get('name')}")


def _holding(pods: Iterable[Obj], node: Obj, pod: Obj | None) -> list[Obj]:
    """Pods on ``node`` (other than ``pod``) that may hold devices."""
    name, me = _node_name(node), _uid(pod) if pod is not None else None
    return [p for p in pods
            if str((p.get("spec") or {}).get("nodeName") or "") == name and _uid(p) != me
            and (p.get("status") or {}).get("phase") not in _DONE]


def operator_running(device_class: str | None, node: Obj, pods_on_node: Iterable[Obj]) -> bool:
    """True when the operator components a device class needs run on ``node`` (always for ``None``)."""
    if device_class is None:
        return True
    name = _node_name(node)
    seen: set[str] = set()
    for p in pods_on_node:
        m = p.get("metadata") or {}
        labels = m.get("labels") or {}
        if (labels.get(DEVICE_CLASS_LABEL) == device_class and not m.get("deletionTimestamp")
                and str((p.get("spec") or {}).get("nodeName") or "") == name
                and (p.get("status") or {}).get("phase") == "Running"):
            seen.add(str(labels.get(COMPONENT_LABEL) or ""))
    return all(c in seen for c in REQUIRED_COMPONENTS)


def pod_request(pod: Obj, resource: str) -> int:
    """Effective integer request of ``resource``: max(sum over containers, any init container).

    Extended resources are set in ``limits`` (``requests`` default to them); either is read.
    """
    spec = pod.get("spec") or {}

    def one(c: Obj) -> int:
        res = c.get("resources") or {}
        value = (res.get("limits") or {}).get(resource, (res.get("requests") or {}).get(resource))
        return to_int(value) if value is not None else 0

    main = sum(one(c) for c in spec.get("containers") or [])
    init = max((one(c) for c in spec.get("initContainers") or []), default=0)
    return max(main, init)


class DeviceSpecPlugin:
    """One whole-device extended resource (``huawei.com/Ascend910``, ``nvidia.com/gpu``, …)."""

    def __init__(self, spec: DeviceSpec, device_class: str | None = None) -> None:
        """``device_class`` gates advertisement on operator pods (``None``: always running)."""
        self.spec = spec
        self.device_class = device_class
        self.resource_name = spec.resource_name
        self.resource_names: tuple[str, ...] = (spec.resource_name,)
        self._ids = spec.device_ids()
        grouped = [[i for i in g if 0 <= i < spec.count] for g in spec.topology]
        seen = {i for g in grouped for i in g}
        rest = [i for i in range(spec.count) if i not in seen]
        self._groups = [g for g in [*grouped, rest] if g]

    def topology(self) -> list[list[int]]:
        """Interconnect groups of device indices covering every device (published on the node)."""
        return [list(g) for g in self._groups]

    def healthy(self, node: Obj) -> list[int]:
        """Healthy device indices (node annotation ``suanli.io/unhealthy-devices``)."""
        bad = parse_unhealthy(_annotations(node).get(UNHEALTHY_ANNOTATION), self.resource_name)
        return [i for i in range(self.spec.count) if i not in bad]

    def advertised(self, node: Obj, pods_on_node: list[Obj]) -> Advertised:
        if not operator_running(self.device_class, node, pods_on_node):
            return Advertised()
        return Advertised({self.resource_name: self.spec.count}, {self.resource_name: len(self.healthy(node))})

    def in_use(self, node: Obj, pod: Obj | None, pods_on_node: list[Obj]) -> set[int]:
        used: set[int] = set()
        for p in _holding(pods_on_node, node, pod):
            held = parse_allocation(_annotations(p).get(ALLOCATION_ANNOTATION)) or {}
            used.update(held.get(self.resource_name, ()))
        return used

    def allocate(self, node: Obj, pod: Obj, pods_on_node: list[Obj]) -> Allocation | None:
        n = pod_request(pod, self.resource_name)
        if n <= 0:
            return Allocation()
        if not operator_running(self.device_class, node, pods_on_node):
            return None
        used = self.in_use(node, pod, pods_on_node)
        usable = set(self.healthy(node))
        raw = _annotations(pod).get(ALLOCATION_ANNOTATION)
        decided = parse_allocation(raw)
        if decided is None:
            raise DeviceGrantError(f"pod annotation {ALLOCATION_ANNOTATION} is malformed: {raw!r}")
        if self.resource_name in decided:
            ids = decided[self.resource_name]
            why = check_grant(ids, n, usable, used)
            if why is not None:
                raise DeviceGrantError(f"pod annotation {ALLOCATION_ANNOTATION} grants {self.resource_name} "
                                       f"{[str(i) for i in ids]} on node {_node_name(node)}: {why}")
            chosen = sorted(ids)
        else:
            pick = pick_devices(usable - used, self._groups, n)
            if pick is None:
                return None
            chosen = list(pick.ids)
        env = {self.spec.env_var: ",".join(self._ids[i] for i in chosen)} if self.spec.env_var else {}
        return Allocation(devices={self.resource_name: [str(i) for i in chosen]}, env=env)


class GpuSharePlugin:
    """Volcano gpushare: ``cards`` GPUs of ``memory_mib`` each, shared by memory or taken whole.

    Advertises ``volcano.sh/gpu-memory`` = cards * MiB and ``volcano.sh/gpu-number`` = cards
    (allocatable: healthy cards only). A ``gpu-number: N`` pod gets N fully idle cards; a
    ``gpu-memory: M`` pod gets the fullest card with ≥ M idle MiB. Cards the pod already
    carries in ``volcano.sh/gpu-index`` (the scheduler's decision) are honoured after a check,
    or the pod is refused (:class:`~suanli.node.devices.api.DeviceGrantError`). Chosen cards go
    to ``volcano.sh/gpu-index`` and ``NVIDIA_VISIBLE_DEVICES``.
    """

    def __init__(self, spec: GpuShareSpec, device_class: str | None = None) -> None:
        """``device_class`` gates advertisement on operator pods (``None``: always running)."""
        self.spec = spec
        self.device_class = device_class
        self.env_var = spec.env_var or GPUSHARE_ENV
        self.resource_name = GPU_MEMORY
        self.resource_names: tuple[str, ...] = (GPU_MEMORY, GPU_NUMBER)

    def healthy(self, node: Obj) -> list[int]:
        bad: set[int] = set()
        for item in str(_annotations(node).get(GPU_UNHEALTHY_ANNOTATION) or "").split(","):
            if item.strip().isdigit():
                bad.add(int(item))
        return [c for c in range(self.spec.cards) if c not in bad]

    def advertised(self, node: Obj, pods_on_node: list[Obj]) -> Advertised:
        if not operator_running(self.device_class, node, pods_on_node):
            return Advertised()
        cards, mib = self.spec.cards, self.spec.memory_mib
        healthy = len(self.healthy(node))
        return Advertised({GPU_MEMORY: cards * mib, GPU_NUMBER: cards},
                          {GPU_MEMORY: healthy * mib, GPU_NUMBER: healthy})

    def usage(self, node: Obj, pod: Obj | None, pods_on_node: list[Obj]) -> tuple[dict[int, int], set[int]]:
        """Idle MiB per healthy card and the cards held whole, from the other pods' annotations."""
        idle = dict.fromkeys(self.healthy(node), self.spec.memory_mib)
        exclusive: set[int] = set()
        for p in _holding(pods_on_node, node, pod):
            cards = _indices(_annotations(p).get(GPU_INDEX_ANNOTATION))
            if pod_request(p, GPU_NUMBER) > 0:
                exclusive.update(cards)
                for c in cards:
                    if c in idle:
                        idle[c] = 0
            else:
                mem = pod_request(p, GPU_MEMORY)
                for c in cards:
                    if c in idle:
                        idle[c] = max(0, idle[c] - mem)
        return idle, exclusive

    def allocate(self, node: Obj, pod: Obj, pods_on_node: list[Obj]) -> Allocation | None:
        number, mem = pod_request(pod, GPU_NUMBER), pod_request(pod, GPU_MEMORY)
        if number <= 0 and mem <= 0:
            return Allocation()
        if not operator_running(self.device_class, node, pods_on_node):
            return None
        idle, exclusive = self.usage(node, pod, pods_on_node)
        free = [-1 if c in exclusive or c not in idle else idle[c] for c in range(self.spec.cards)]
        raw = _annotations(pod).get(GPU_INDEX_ANNOTATION)
        if raw:
            cards = _indices(raw)
            why = _check_cards(cards, free, self.spec.memory_mib, number, mem)
            if why is not None:
                raise DeviceGrantError(f"pod annotation {GPU_INDEX_ANNOTATION}={raw!r} on node {_node_name(node)}: "
                                       f"{why}")
        elif number > 0:
            got = pick_idle_cards(free, self.spec.memory_mib, number)
            if got is None:
                return None
            cards = got
        else:
            card = pick_card_by_memory(free, mem)
            if card is None:
                return None
            cards = [card]
        index = ",".join(str(c) for c in cards)
        return Allocation(env={self.env_var: index}, annotations={GPU_INDEX_ANNOTATION: index})


def _check_cards(cards: list[int], free: list[int], card_mib: int, number: int, mem: int) -> str | None:
    """Why a decided card list cannot be honoured (gpushare), or ``None``."""
    want = number if number > 0 else 1
    if len(cards) != want or len(set(cards)) != len(cards):
        return f"{len(cards)} distinct card(s) needed {want}"
    for c in cards:
        if not 0 <= c < len(free) or free[c] < 0:
            return f"card {c} does not exist, is unhealthy or is held whole by another pod"
        if number > 0 and free[c] < card_mib:
            return f"card {c} is not idle"
        if number <= 0 and free[c] < mem:
            return f"card {c} has {free[c]} MiB free, {mem} MiB requested"
    return None


def _indices(raw: Any) -> list[int]:
    return [int(x) for x in str(raw or "").split(",") if x.strip().isdigit()]
