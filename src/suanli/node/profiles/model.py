"""The hardware profile model and its YAML loader."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from suanli.apimachinery.objects import deep_copy
from suanli.wire import GPU_MEMORY as GPUSHARE_MEMORY
from suanli.wire import GPU_NUMBER as GPUSHARE_NUMBER

__all__ = [
    "GPUSHARE_MEMORY",
    "GPUSHARE_NUMBER",
    "DeviceSpec",
    "GpuShareSpec",
    "HardwareProfile",
    "load_profile",
    "profile_names",
]


@dataclass(frozen=True)
class DeviceSpec:
    """A set of identical devices exposed as one extended resource.

    ``device_class`` names the operator that must run on the node before the devices are
    advertised (``npu``, ``kae``, ``gpu``); ``None`` means always advertised.
    ``topology`` groups device indices that share a fast interconnect (HCCS, NVLink).
    ``pci_vendor``/``pci_device``/``pci_class`` identify the devices' PCI functions in the
    profile's ``pci.device`` features (empty: not a PCI device or undisclosed);
    ``kernel_module`` is the driver module that must be loaded for them (KAE).
    """

    resource_name: str
    count: int
    env_var: str
    device_class: str | None = None
    model: str = ""
    memory_mib: int = 0
    id_prefix: str = ""
    topology: tuple[tuple[int, ...], ...] = ()
    pci_vendor: str = ""
    pci_device: str = ""
    pci_class: str = ""
    kernel_module: str = ""

    def device_ids(self) -> list[str]:
        return [f"{self.id_prefix}{i}" for i in range(self.count)]


@dataclass(frozen=True)
class GpuShareSpec:
    """Volcano GPU sharing: ``volcano.sh/gpu-number`` cards of ``memory_mib`` each.

    ``undisclosed_model`` marks a model whose specification is not public (the Alibaba
    trace's G1/G2/G3): ``memory_mib`` is then a plausible guess. Example: 4 cards of
    15360 MiB advertise ``volcano.sh/gpu-number=4`` and ``volcano.sh/gpu-memory=61440``.
    """

    cards: int
    memory_mib: int
    model: str = ""
    env_var: str = "NVIDIA_VISIBLE_DEVICES"
    device_class: str | None = "gpu"
    pci_vendor: str = ""
    pci_device: str = ""
    pci_class: str = ""
    undisclosed_model: bool = False

    def resources(self) -> dict[str, int]:
        """Extended-resource quantities of the whole node."""
        return {GPUSHARE_MEMORY: self.cards * self.memory_mib, GPUSHARE_NUMBER: self.cards}


@dataclass(frozen=True)
class HardwareProfile:
    name: str
    description: str
    capacity: dict[str, str]
    labels: dict[str, str] = field(default_factory=dict)
    node_info: dict[str, str] = field(default_factory=dict)
    features: dict[str, Any] = field(default_factory=dict)  # NodeFeature spec.features shape
    devices: tuple[DeviceSpec, ...] = ()
    gpu_share: GpuShareSpec | None = None
    numa_nodes: int = 1


def _pci(d: dict[str, Any]) -> dict[str, str]:
    pci = d.get("pci") or {}
    return {"pci_vendor": str(pci.get("vendor", "")), "pci_device": str(pci.get("device", "")),
            "pci_class": str(pci.get("class", ""))}


def _device(d: dict[str, Any]) -> DeviceSpec:
    return DeviceSpec(
        resource_name=str(d["resourceName"]), count=int(d["count"]), env_var=str(d.get("envVar", "")),
        device_class=d.get("deviceClass"), model=str(d.get("model", "")), memory_mib=int(d.get("memoryMiB", 0)),
        id_prefix=str(d.get("idPrefix", "")),
        topology=tuple(tuple(int(i) for i in g) for g in d.get("topology") or ()),
        kernel_module=str(d.get("kernelModule", "")), **_pci(d))


def _gpu_share(share: dict[str, Any]) -> GpuShareSpec:
    return GpuShareSpec(
        int(share["cards"]), int(share["memoryMiB"]), str(share.get("model", "")),
        env_var=str(share.get("envVar", "NVIDIA_VISIBLE_DEVICES")), device_class=share.get("deviceClass", "gpu"),
        undisclosed_model=bool(share.get("undisclosedModel", False)), **_pci(share))


def _parse(name: str, doc: dict[str, Any]) -> HardwareProfile:
    share = doc.get("gpuShare")
    return HardwareProfile(
        name=name, description=str(doc.get("description", "")),
        capacity={str(k): str(v) for k, v in (doc.get("capacity") or {}).items()},
        labels={str(k): str(v) for k, v in (doc.get("labels") or {}).items()},
        node_info={str(k): str(v) for k, v in (doc.get("nodeInfo") or {}).items()},
        features=deep_copy(dict(doc.get("features") or {})),  # un-share YAML aliases
        devices=tuple(_device(d) for d in doc.get("devices") or ()),
        gpu_share=_gpu_share(share) if share else None,
        numa_nodes=int(doc.get("numaNodes", 1)),
    )


@cache
def _all() -> dict[str, HardwareProfile]:
    out: dict[str, HardwareProfile] = {}
    for entry in resources.files(__package__).iterdir():
        if entry.name.endswith(".yaml"):
            doc = yaml.safe_load(entry.read_text())
            for name, body in (doc or {}).items():
                if not str(name).startswith("_"):  # "_shared" etc. hold YAML anchors only
                    out[str(name)] = _parse(str(name), body)
    return out


def profile_names() -> list[str]:
    return sorted(_all())


def load_profile(name: str) -> HardwareProfile:
    """The profile called ``name``; raises KeyError naming the known profiles otherwise."""
    try:
        return _all()[name]
    except KeyError:
        raise KeyError(f"unknown hardware profile {name!r}; known: {', '.join(profile_names())}") from None
