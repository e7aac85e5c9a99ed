"""NFD's built-in node labels derived from raw features (what nfd-worker's
sources label by default), all under ``feature.node.kubernetes.io/``:

* ``pci-<class>_<vendor>.present=true`` for PCI devices whose class starts with
  a whitelisted prefix (default ``03``, ``0b40``, ``12``), plus
  ``pci-<class>_<vendor>.sriov.capable=true`` when ``sriov_totalvfs`` is present;
* ``usb-<class>_<vendor>_<device>.present=true`` for USB classes ``0e ef fe ff``;
* ``cpu-cpuid.<FLAG>=true`` (minus the upstream default blacklist of
  ubiquitous flags), ``cpu-model.{vendor_id,family,id}``,
  ``cpu-hardware_multithreading``;
* ``kernel-version.{full,major,minor,revision}``;
* ``system-os_release.{ID,VERSION_ID,VERSION_ID.major,VERSION_ID.minor}``;
* ``memory-numa=true`` on NUMA machines;
* ``local.label`` entries as-is (prefixed when unprefixed).

Labels whose value is not a valid label value are left out.
"""

from __future__ import annotations

from suanli.node.nfd.features import Features
from suanli.node.nfd.validation import FEATURE_NS, check_label, prefixed

__all__ = ["CPUID_BLACKLIST", "PCI_CLASS_WHITELIST", "USB_CLASS_WHITELIST", "default_labels"]

PCI_CLASS_WHITELIST: tuple[str, ...] = ("03", "0b40", "12")
USB_CLASS_WHITELIST: tuple[str, ...] = ("0e", "ef", "fe", "ff")
CPUID_BLACKLIST = frozenset(
    {
        "BMI1",
        "BMI2",
        "CLMUL",
        "CMOV",
        "CX16",
        "ERMS",
        "F16C",
        "HTT",
        "LZCNT",
        "MMX",
        "MMXEXT",
        "NX",
        "POPCNT",
        "RDRAND",
        "RDSEED",
        "RDTSCP",
        "SGX",
        "SGXLC",
        "SSE",
        "SSE2",
        "SSE3",
        "SSE4",
        "SSE42",
        "SSSE3",
        "TDX_GUEST",
    }
)


def default_labels(
    features: Features,
    *,
    pci_classes: tuple[str, ...] = PCI_CLASS_WHITELIST,
    usb_classes: tuple[str, ...] = USB_CLASS_WHITELIST,
    cpuid_blacklist: frozenset[str] = CPUID_BLACKLIST,
) -> dict[str, str]:
    """Built-in labels for ``features`` (keys fully prefixed).

    Example: an NVIDIA T4 (class ``0302``, vendor ``10de``) yields
    ``feature.node.kubernetes.io/pci-0302_10de.present=true``.
    """
    raw: dict[str, str] = {}
    for dev in features.instances.get("pci.device", []):
        cls, vendor = dev.get("class", ""), dev.get("vendor", "")
        if cls and vendor and cls.startswith(pci_classes):
            raw[f"pci-{cls}_{vendor}.present"] = "true"
            if "sriov_totalvfs" in dev:
                raw[f"pci-{cls}_{vendor}.sriov.capable"] = "true"
    for dev in features.instances.get("usb.device", []):
        cls = dev.get("class", "")
        if cls and cls.startswith(usb_classes):
            raw[f"usb-{cls}_{dev.get('vendor', '')}_{dev.get('device', '')}.present"] = "true"
    for flag in features.flags.get("cpu.cpuid", ()):
        if flag not in cpuid_blacklist:
            raw[f"cpu-cpuid.{flag}"] = "true"
    model = features.attributes.get("cpu.model", {})
    for key in ("vendor_id", "family", "id"):
        if key in model:
            raw[f"cpu-model.{key}"] = model[key]
    smt = features.attributes.get("cpu.topology", {}).get("hardware_multithreading")
    if smt is not None:
        raw["cpu-hardware_multithreading"] = smt
    kver = features.attributes.get("kernel.version", {})
    for key in ("full", "major", "minor", "revision"):
        if key in kver:
            raw[f"kernel-version.{key}"] = kver[key]
    osr = features.attributes.get("system.osrelease", {})
    for key in ("ID", "VERSION_ID", "VERSION_ID.major", "VERSION_ID.minor"):
        if key in osr:
            raw[f"system-os_release.{key}"] = osr[key]
    if features.attributes.get("memory.numa", {}).get("is_numa") == "true":
        raw["memory-numa"] = "true"
    out = {f"{FEATURE_NS}/{k}": v for k, v in raw.items()}
    for key, value in features.attributes.get("local.label", {}).items():
        out[prefixed(key)] = value
    return {k: v for k, v in out.items() if check_label(k, v) is None}
