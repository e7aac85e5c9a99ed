"""Hardware profiles shipped as data (one YAML file per profile in this package).

A Node names a profile with the annotation ``suanli.io/hardware-profile: <name>``; it then
gets the profile's capacity, node info, raw NFD features and devices. See
:class:`HardwareProfile` for the fields and ``*.yaml`` beside this file for the data.
"""

from suanli.node.profiles.model import DeviceSpec, GpuShareSpec, HardwareProfile, load_profile, profile_names

__all__ = ["DeviceSpec", "GpuShareSpec", "HardwareProfile", "load_profile", "profile_names"]
