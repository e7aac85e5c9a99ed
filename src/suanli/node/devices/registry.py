"""The :class:`~suanli.node.devices.api.DeviceRegistry` node agents use: plugins per hardware profile.

A node's plugins are those of the profile named by its ``suanli.io/hardware-profile``
annotation (one :class:`DeviceSpecPlugin` per device spec, plus a :class:`GpuSharePlugin`
when the profile shares GPUs). Nodes without a known profile have no devices.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence

from suanli.apimachinery.devices import format_allocation
from suanli.apimachinery.objects import Obj
from suanli.node.devices.api import ALLOCATION_ANNOTATION, PROFILE_ANNOTATION, Advertised, Allocation, DevicePlugin
from suanli.node.devices.plugins import DeviceSpecPlugin, GpuSharePlugin, pod_request
from suanli.node.profiles.model import HardwareProfile, load_profile

__all__ = ["OPERATOR_CLASSES", "ProfileDeviceRegistry", "plugins_for_profile", "registry_for_profiles"]

log = logging.getLogger(__name__)

ProfileLoader = Callable[[str], HardwareProfile]


OPERATOR_CLASSES = frozenset({"npu", "kae", "gpu"})


def plugins_for_profile(profile: HardwareProfile,
                        operator_classes: frozenset[str] = OPERATOR_CLASSES) -> list[DevicePlugin]:
    """One plugin per device spec of ``profile`` (+ gpushare when the profile shares GPUs).

    A device whose ``device_class`` is in ``operator_classes`` is advertised only while that
    operator's driver and device-plugin pods run on the node; other devices always are.
    """
    def gate(cls: str | None) -> str | None:
        return cls if cls in operator_classes else None

    out: list[DevicePlugin] = [DeviceSpecPlugin(d, gate(d.device_class)) for d in profile.devices]
    if profile.gpu_share is not None:
        out.append(GpuSharePlugin(profile.gpu_share, gate(profile.gpu_share.device_class)))
    return out


def _resources(plugin: DevicePlugin) -> tuple[str, ...]:
    names = getattr(plugin, "resource_names", None)
    return tuple(names) if names else (plugin.resource_name,)


class ProfileDeviceRegistry:
    """Dispatch to the plugins of a node's hardware profile.

    ``plugins`` maps profile name → plugins. A profile missing from the map is looked up
    with ``loader`` (if given) once and cached; an unknown profile means no devices.
    """

    def __init__(self, plugins: Mapping[str, Sequence[DevicePlugin]],
                 loader: ProfileLoader | None = None, operator_classes: frozenset[str] = OPERATOR_CLASSES) -> None:
        self._plugins: dict[str, list[DevicePlugin]] = {k: list(v) for k, v in plugins.items()}
        self._loader = loader
        self._classes = operator_classes

    def plugins_for(self, node: Obj) -> list[DevicePlugin]:
        name = str(((node.get("metadata") or {}).get("annotations") or {}).get(PROFILE_ANNOTATION) or "")
        if not name:
            return []
        found = self._plugins.get(name)
        if found is None:
            found = []
            if self._loader is not None:
                try:
                    found = plugins_for_profile(self._loader(name), self._classes)
                except KeyError as err:
                    log.warning("node %s: %s", (node.get("metadata") or {}).get("name"), err)
            self._plugins[name] = found
        return found

    def advertised(self, node: Obj, pods_on_node: list[Obj]) -> Advertised:
        """Union of every running plugin's capacity/allocatable on ``node``."""
        cap: dict[str, int] = {}
        alloc: dict[str, int] = {}
        for plugin in self.plugins_for(node):
            adv = plugin.advertised(node, pods_on_node)
            cap.update(adv.capacity)
            alloc.update(adv.allocatable)
        return Advertised(cap, alloc)

    def allocate(self, node: Obj, pod: Obj, pods_on_node: list[Obj]) -> Allocation | None:
        """Devices for every resource of this node's plugins that ``pod`` requests.

        Returns an empty :class:`Allocation` when the pod requests none of them and ``None``
        when any request cannot be met here (plugin not running, too few free healthy
        devices). Resources no plugin on the node serves are ignored (the scheduler's
        concern). The result's annotations include ``suanli.io/allocated-devices``. Raises
        :class:`~suanli.node.devices.api.DeviceGrantError` when a decision on the pod cannot be honoured.
        """
        devices: dict[str, list[str]] = {}
        env: dict[str, str] = {}
        annotations: dict[str, str] = {}
        for plugin in self.plugins_for(node):
            if not any(pod_request(pod, r) > 0 for r in _resources(plugin)):
                continue
            got = plugin.allocate(node, pod, pods_on_node)
            if got is None:
                return None
            devices.update(got.devices)
            for k, v in got.env.items():
                env[k] = f"{env[k]},{v}" if k in env else v
            annotations.update(got.annotations)
        if devices:
            annotations[ALLOCATION_ANNOTATION] = format_allocation(devices)
        return Allocation(devices=devices, env=env, annotations=annotations)

    def topology(self, node: Obj) -> dict[str, list[list[int]]]:
        """Interconnect groups of every whole-device resource of the node's profile (all devices listed)."""
        return {p.resource_name: p.topology() for p in self.plugins_for(node) if isinstance(p, DeviceSpecPlugin)}


def registry_for_profiles(profiles: Iterable[HardwareProfile] | None = None, *,
                          operator_classes: frozenset[str] = OPERATOR_CLASSES) -> ProfileDeviceRegistry:
    """A registry for ``profiles``; with ``None``, every shipped profile (loaded on first use).

    ``operator_classes``: device classes whose devices wait for their operator's pods
    (default ``npu``, ``kae``, ``gpu``); pass e.g. ``frozenset({"npu", "kae"})`` to advertise
    GPUs unconditionally when no GPU operator is deployed.
    """
    if profiles is None:
        return ProfileDeviceRegistry({}, loader=load_profile, operator_classes=operator_classes)
    return ProfileDeviceRegistry({p.name: plugins_for_profile(p, operator_classes) for p in profiles},
                                 operator_classes=operator_classes)
