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
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from suanli.apimachinery.objects import Obj
from suanli.apimachinery.quantity import to_int
from suanli.node.devices.allocation import pick_cards_by_memory, pick_idle_cards, pick_topology
from suanli.node.devices.api import (
    ALLOCATION_ANNOTATION,
    COMPONENT_LABEL,
    DEVICE_CLASS_LABEL,
    UNHEALTHY_ANNOTATION,
    Advertised,
    Allocation,
)
from suanli.node.profiles.model import DeviceSpec, GpuShareSpec

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

GPU_MEMORY = "volcano.sh/gpu-memory"
GPU_NUMBER = "volcano.sh/gpu-number"
GPU_INDEX_ANNOTATION = "volcano.sh/gpu-index"
GPU_UNHEALTHY_ANNOTATION = "volcano.sh/gpu-unhealthy-ids"
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


def _unhealthy(node: Obj, resource: str) -> set[str]:
    out: set[str] = set()
    for item in str(_annotations(node).get(UNHEALTHY_ANNOTATION) or "").split(","):
        item = item.strip()
        if not item:
            continue
        res, eq, dev = item.rpartition("=")
        if not eq:
            out.add(item)
        elif res == resource:
            out.add(dev)
    return out


class DeviceSpecPlugin:
    """One whole-device extended resource (``huawei.com/Ascend910``, ``nvidia.com/gpu``, …)."""

    def __init__(self, spec: DeviceSpec, device_class: str | None = None) -> None:
        """``device_class`` gates advertisement on operator pods (``None``: always running)."""
        self.spec = spec
        self.device_class = device_class
        self.resource_name = spec.resource_name
        self.resource_names: tuple[str, ...] = (spec.resource_name,)
        self._ids = spec.device_ids()
        self._groups = [[self._ids[i] for i in g if 0 <= i < len(self._ids)] for g in spec.topology]

    def healthy(self, node: Obj) -> list[str]:
        bad = _unhealthy(node, self.resource_name)
        return [d for d in self._ids if d not in bad]

    def advertised(self, node: Obj, pods_on_node: list[Obj]) -> Advertised:
        if not operator_running(self.device_class, node, pods_on_node):
            return Advertised()
        return Advertised({self.resource_name: len(self._ids)}, {self.resource_name: len(self.healthy(node))})

    def in_use(self, node: Obj, pod: Obj | None, pods_on_node: list[Obj]) -> set[str]:
        used: set[str] = set()
        for p in _holding(pods_on_node, node, pod):
            raw = _annotations(p).get(ALLOCATION_ANNOTATION)
            if not raw:
                continue
            try:
                held = json.loads(raw).get(self.resource_name) or []
            except (ValueError, AttributeError):
                continue
            used.update(str(d) for d in held)
        return used

    def allocate(self, node: Obj, pod: Obj, pods_on_node: list[Obj]) -> Allocation | None:
        n = pod_request(pod, self.resource_name)
        if n <= 0:
            return Allocation()
        if not operator_running(self.device_class, node, pods_on_node):
            return None
        used = self.in_use(node, pod, pods_on_node)
        free = [d for d in self.healthy(node) if d not in used]
        chosen = pick_topology(free, self._groups, n)
        if chosen is None:
            return None
        env = {self.spec.env_var: ",".join(chosen)} if self.spec.env_var else {}
        return Allocation(devices={self.resource_name: chosen}, env=env)


class GpuSharePlugin:
    """Volcano gpushare: ``cards`` GPUs of ``memory_mib`` each, shared by memory or taken whole.

    Advertises ``volcano.sh/gpu-memory`` = cards * MiB and ``volcano.sh/gpu-number`` = cards
    (allocatable: healthy cards only). A ``gpu-number: N`` pod gets N fully idle cards; a
    ``gpu-memory: M`` pod gets the fullest card with ≥ M idle MiB. A card index the pod
    already carries in ``volcano.sh/gpu-index`` (e.g. chosen by a scheduler) is honoured
    when it still fits. Chosen cards go to ``volcano.sh/gpu-index`` and
    ``NVIDIA_VISIBLE_DEVICES``.
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
        preset = _indices(_annotations(pod).get(GPU_INDEX_ANNOTATION))
        if number > 0:
            wanted = preset if len(preset) == number and all(
                idle.get(c, -1) >= self.spec.memory_mib and c not in exclusive for c in preset) else None
            cards = wanted or pick_idle_cards(idle, self.spec.memory_mib, exclusive, number)
            resource = GPU_NUMBER
        else:
            ok = len(preset) == 1 and preset[0] not in exclusive and idle.get(preset[0], -1) >= mem
            card = preset[0] if ok else pick_cards_by_memory(idle, exclusive, mem)
            cards = [card] if card is not None else None
            resource = GPU_MEMORY
        if cards is None:
            return None
        index = ",".join(str(c) for c in cards)
        return Allocation(devices={resource: [str(c) for c in cards]}, env={self.env_var: index},
                          annotations={GPU_INDEX_ANNOTATION: index})


def _indices(raw: Any) -> list[int]:
    return [int(x) for x in str(raw or "").split(",") if x.strip().isdigit()]
