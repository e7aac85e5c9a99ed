"""Contracts between node agents and device plugins (kubelet device-plugin semantics).

A node agent asks its :class:`DeviceRegistry` two things:

* what to advertise: :meth:`DeviceRegistry.advertised` gives, for one node, every extended
  resource with its ``capacity`` (all devices) and ``allocatable`` (healthy devices) — only
  for plugins that are *running* on that node; a plugin that is not running advertises
  nothing, so the resource disappears from the node;
* what a bound pod gets: :meth:`DeviceRegistry.allocate` grants the devices the scheduler
  decided (pod annotation :data:`ALLOCATION_ANNOTATION`, gpushare ``volcano.sh/gpu-index``)
  after checking them — or picks them with the same pure rule when no decision was made —
  and returns them with the environment the runtime must set (e.g.
  ``ASCEND_VISIBLE_DEVICES=0,1``); a decision that cannot be honoured raises
  :class:`DeviceGrantError`;
* what to publish on the node: :meth:`DeviceRegistry.topology` (node annotation
  :data:`TOPOLOGY_ANNOTATION`, read by the scheduler).

The agent records the allocation on the pod in the annotation
:data:`ALLOCATION_ANNOTATION` (JSON: ``{"huawei.com/Ascend910":["0","1"]}``) and passes
the environment to its runtime. Allocation is deterministic for the same inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from suanli.apimachinery.devices import ALLOCATED_DEVICES, DEVICE_TOPOLOGY, UNHEALTHY_DEVICES
from suanli.apimachinery.objects import Obj
from suanli.wire import COMPONENT_LABEL, DEVICE_CLASS_LABEL, PROFILE_ANNOTATION

__all__ = [
    "ALLOCATION_ANNOTATION",
    "COMPONENT_LABEL",
    "DEVICE_CLASS_LABEL",
    "PROFILE_ANNOTATION",
    "TOPOLOGY_ANNOTATION",
    "UNHEALTHY_ANNOTATION",
    "Advertised",
    "Allocation",
    "DeviceGrantError",
    "DevicePlugin",
    "DeviceRegistry",
]

ALLOCATION_ANNOTATION = ALLOCATED_DEVICES
TOPOLOGY_ANNOTATION = DEVICE_TOPOLOGY  # node annotation: interconnect groups per resource
UNHEALTHY_ANNOTATION = UNHEALTHY_DEVICES  # node annotation: comma-separated device IDs
# Labels on device-operator component pods (DaemonSet pods): which device class and component.


class DeviceGrantError(ValueError):
    """The scheduler's device decision on a pod cannot be honoured on this node (the message says why)."""


@dataclass(frozen=True)
class Advertised:
    """Extended-resource quantities for node ``status.capacity`` / ``status.allocatable``."""

    capacity: dict[str, int] = field(default_factory=dict)
    allocatable: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Allocation:
    """Devices granted to one pod on one node, and the environment its containers get."""

    devices: dict[str, list[str]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


class DevicePlugin(Protocol):
    """One device type (e.g. ``huawei.com/Ascend910``) on the nodes that have it."""

    resource_name: str

    def advertised(self, node: Obj, pods_on_node: list[Obj]) -> Advertised:
        """Capacity/allocatable for ``node``; empty when the plugin is not running there."""
        ...

    def allocate(self, node: Obj, pod: Obj, pods_on_node: list[Obj]) -> Allocation | None:
        """Devices for ``pod`` (which requests this resource), or ``None`` if they cannot be granted;
        raises :class:`DeviceGrantError` when the pod's decided devices cannot be honoured."""
        ...


class DeviceRegistry(Protocol):
    """All device plugins; what node agents call."""

    def advertised(self, node: Obj, pods_on_node: list[Obj]) -> Advertised: ...

    def allocate(self, node: Obj, pod: Obj, pods_on_node: list[Obj]) -> Allocation | None:
        """Allocation for every extended resource the pod requests (empty Allocation if none);
        ``None`` if any request cannot be satisfied on this node; :class:`DeviceGrantError` if
        the pod's decided devices cannot be honoured."""
        ...

    def topology(self, node: Obj) -> dict[str, list[list[int]]]:
        """Interconnect groups of device indices per whole-device resource of ``node`` (every
        device in one group); ``{}`` for a node without such devices."""
        ...
