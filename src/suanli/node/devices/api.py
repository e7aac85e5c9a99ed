"""Contracts between node agents and device plugins (kubelet device-plugin semantics).

A node agent asks its :class:`DeviceRegistry` two things:

* what to advertise: :meth:`DeviceRegistry.advertised` gives, for one node, every extended
  resource with its ``capacity`` (all devices) and ``allocatable`` (healthy devices) — only
  for plugins that are *running* on that node; a plugin that is not running advertises
  nothing, so the resource disappears from the node;
* what a bound pod gets: :meth:`DeviceRegistry.allocate` picks device IDs for the pod's
  extended-resource requests on that node and returns them with the environment the
  runtime must set (e.g. ``ASCEND_VISIBLE_DEVICES=0,1``).

The agent records the allocation on the pod in the annotation
:data:`ALLOCATION_ANNOTATION` (JSON: ``{"huawei.com/Ascend910": ["0", "1"]}``) and passes
the environment to its runtime. Allocation is deterministic for the same inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from suanli.apimachinery.objects import Obj

__all__ = [
    "ALLOCATION_ANNOTATION",
    "COMPONENT_LABEL",
    "DEVICE_CLASS_LABEL",
    "PROFILE_ANNOTATION",
    "UNHEALTHY_ANNOTATION",
    "Advertised",
    "Allocation",
    "DevicePlugin",
    "DeviceRegistry",
]

ALLOCATION_ANNOTATION = "suanli.io/allocated-devices"
PROFILE_ANNOTATION = "suanli.io/hardware-profile"
UNHEALTHY_ANNOTATION = "suanli.io/unhealthy-devices"  # node annotation: comma-separated device IDs
# Labels on device-operator component pods (DaemonSet pods): which device class and component.
DEVICE_CLASS_LABEL = "suanli.io/device-class"  # npu | kae | gpu
COMPONENT_LABEL = "suanli.io/operator-component"  # driver | device-plugin | ...


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
        """Devices for ``pod`` (which requests this resource), or ``None`` if they cannot be granted."""
        ...


class DeviceRegistry(Protocol):
    """All device plugins; what node agents call."""

    def advertised(self, node: Obj, pods_on_node: list[Obj]) -> Advertised: ...

    def allocate(self, node: Obj, pod: Obj, pods_on_node: list[Obj]) -> Allocation | None:
        """Allocation for every extended resource the pod requests (empty Allocation if none);
        ``None`` if any request cannot be satisfied on this node."""
        ...
