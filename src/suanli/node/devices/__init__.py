"""Device plugins: which extended resources a node advertises, and device allocation.

Node agents construct :func:`registry_for_profiles` once and call the
:class:`~suanli.node.devices.api.DeviceRegistry` contract for every node.
"""

from suanli.node.devices.api import (
    ALLOCATION_ANNOTATION,
    COMPONENT_LABEL,
    DEVICE_CLASS_LABEL,
    PROFILE_ANNOTATION,
    TOPOLOGY_ANNOTATION,
    UNHEALTHY_ANNOTATION,
    Advertised,
    Allocation,
    DeviceGrantError,
    DevicePlugin,
    DeviceRegistry,
)
from suanli.node.devices.plugins import (
    GPU_INDEX_ANNOTATION,
    GPU_MEMORY,
    GPU_NUMBER,
    GPU_UNHEALTHY_ANNOTATION,
    DeviceSpecPlugin,
    GpuSharePlugin,
    operator_running,
)
from suanli.node.devices.registry import ProfileDeviceRegistry, plugins_for_profile, registry_for_profiles

__all__ = [
    "ALLOCATION_ANNOTATION",
    "COMPONENT_LABEL",
    "DEVICE_CLASS_LABEL",
    "GPU_INDEX_ANNOTATION",
    "GPU_MEMORY",
    "GPU_NUMBER",
    "GPU_UNHEALTHY_ANNOTATION",
    "PROFILE_ANNOTATION",
    "TOPOLOGY_ANNOTATION",
    "UNHEALTHY_ANNOTATION",
    "Advertised",
    "Allocation",
    "DeviceGrantError",
    "DevicePlugin",
    "DeviceRegistry",
    "DeviceSpecPlugin",
    "GpuSharePlugin",
    "ProfileDeviceRegistry",
    "operator_running",
    "plugins_for_profile",
    "registry_for_profiles",
]
