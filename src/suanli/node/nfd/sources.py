"""Host feature sources, readable without root.

Each source takes a filesystem ``root`` (default ``"/"``) so tests can point it
at a fake tree, never raises on missing or unreadable files, and returns a
partial :class:`Features`:

========================  ======================================================
source                    features
========================  ======================================================
:func:`cpu_features`      ``cpu.cpuid`` (flags, NFD/cpuid names such as
                          ``AVX512F``), ``cpu.model`` (``vendor_id``, ``family``,
                          ``id``, ``hypervisor``, ``model_name``), ``cpu.topology``
                          (``hardware_multithreading``, ``socket_count``, and the
                          Suanli extras ``core_count``, ``cpu_count``)
:func:`kernel_features`   ``kernel.version`` (``full major minor revision``),
                          ``kernel.loadedmodule``, ``kernel.enabledmodule``,
                          ``kernel.selinux``
:func:`memory_features`   ``memory.numa`` (``is_numa``, ``node_count``)
:func:`pci_features`      ``pci.device`` instances
:func:`usb_features`      ``usb.device`` instances
:func:`system_features`   ``system.osrelease``
:func:`local_features`    ``local.label`` from ``features.d`` files
========================  ======================================================

:func:`discover_host` merges them all.
"""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

from suanli.node.nfd.features import Features

__all__ = [
    "DEFAULT_FEATURES_DIR",
    "cpu_features",
    "discover_host",
    "kernel_features",
    "local_features",
    "memory_features",
    "pci_features",
    "system_features",
    "usb_features",
]

#: Where nfd-worker's local source reads feature files, relative to the root.
DEFAULT_FEATURES_DIR = "etc/kubernetes/node-feature-discovery/features.d"

# /proc/cpuinfo (x86) flag -> cpuid feature name as NFD reports it. Flags not
# listed here (e.g. ``constant_tsc``) are kernel-synthetic and not reported.
_X86_FLAGS = {
    "fpu": "FPU",
    "cmov": "CMOV",
    "cx8": "CX8",
    "cx16": "CX16",
    "mmx": "MMX",
    "sse": "SSE",
    "sse2": "SSE2",
    "pni": "SSE3",
    "ssse3": "SSSE3",
    "sse4_1": "SSE4",
    "sse4_2": "SSE42",
    "sse4a": "SSE4A",
    "ht": "HTT",
    "nx": "NX",
    "popcnt": "POPCNT",
    "abm": "LZCNT",
    "lahf_lm": "LAHF",
    "movbe": "MOVBE",
    "aes": "AESNI",
    "pclmulqdq": "CLMUL",
    "avx": "AVX",
    "avx2": "AVX2",
    "fma": "FMA3",
    "fma4": "FMA4",
    "f16c": "F16C",
    "bmi1": "BMI1",
    "bmi2": "BMI2",
    "adx": "ADX",
    "rdrand": "RDRAND",
    "rdseed": "RDSEED",
    "rdtscp": "RDTSCP",
    "rdpid": "RDPID",
    "sha_ni": "SHA",
    "erms": "ERMS",
    "fsrm": "FSRM",
    "rtm": "RTM",
    "hle": "HLE",
    "clflushopt": "CLFLUSHOPT",
    "clwb": "CLWB",
    "xsave": "XSAVE",
    "xsaveopt": "XSAVEOPT",
    "xsavec": "XSAVEC",
    "xsaves": "XSAVES",
    "avx512f": "AVX512F",
    "avx512dq": "AVX512DQ",
    "avx512cd": "AVX512CD",
    "avx512bw": "AVX512BW",
    "avx512vl": "AVX512VL",
    "avx512ifma": "AVX512IFMA",
    "avx512vbmi": "AVX512VBMI",
    "avx512_vbmi2": "AVX512VBMI2",
    "avx512_vnni": "AVX512VNNI",
    "avx512_bitalg": "AVX512BITALG",
    "avx512_vpopcntdq": "AVX512VPOPCNTDQ",
    "avx512_bf16": "AVX512BF16",
    "avx512_fp16": "AVX512FP16",
    "avx512_vp2intersect": "AVX512VP2INTERSECT",
    "avx_vnni": "AVXVNNI",
    "amx_bf16": "AMXBF16",
    "amx_tile": "AMXTILE",
    "amx_int8": "AMXINT8",
    "gfni": "GFNI",
    "vaes": "VAES",
    "vpclmulqdq": "VPCLMULQDQ",
    "movdiri": "MOVDIRI",
    "movdir64b": "MOVDIR64B",
    "serialize": "SERIALIZE",
    "tsxldtrk": "TSXLDTRK",
    "cldemote": "CLDEMOTE",
    "waitpkg": "WAITPKG",
    "hypervisor": "HYPERVISOR",
    "sgx": "SGX",
    "sgx_lc": "SGXLC",
    "ibpb": "IBPB",
    "ibrs": "IBRS",
    "stibp": "STIBP",
    "md_clear": "MD_CLEAR",
    "flush_l1d": "FLUSH_L1D",
    "arch_capabilities": "IA32_ARCH_CAP",
    "vmx": "VMX",
    "svm": "SVM",
    "x2apic": "X2APIC",
    "tsc_adjust": "TSC_ADJUST",
    "pku": "PKU",
    "ospke": "OSPKE",
    "umip": "UMIP",
    "enqcmd": "ENQCMD",
    "wbnoinvd": "WBNOINVD",
    "sev": "SEV",
    "sev_es": "SEV_ES",
    "sme": "SME",
    "tdx_guest": "TDX_GUEST",
}
_X86_VENDORS = {
    "GenuineIntel": "Intel",
    "AuthenticAMD": "AMD",
    "HygonGenuine": "Hygon",
    "CentaurHauls": "VIA",
}
# ARM "CPU implementer" codes (unverified naming; configurable via the raw value).
_ARM_IMPLEMENTERS = {
    0x41: "ARM",
    0x42: "Broadcom",
    0x43: "Cavium",
    0x46: "Fujitsu",
    0x48: "HiSilicon",
    0x4E: "NVIDIA",
    0x50: "APM",
    0x51: "Qualcomm",
    0x61: "Apple",
    0xC0: "Ampere",
}


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _read_strip(path: Path) -> str | None:
    text = _read(path)
    return None if text is None else text.strip()


def _listdir(path: Path) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def _hex(text: str) -> str:
    return text.strip().lower().removeprefix("0x")


# --------------------------------------------------------------------------- cpu


def _cpuinfo_blocks(text: str) -> list[dict[str, str]]:
    blocks: list[dict[str, str]] = []
    cur: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if cur:
                blocks.append(cur)
                cur = {}
            continue
        key, sep, value = line.partition(":")
        if sep:
            cur[key.strip()] = value.strip()
    if cur:
        blocks.append(cur)
    return blocks


def cpu_features(root: str = "/") -> Features:
    """CPU model, flags and topology from ``/proc/cpuinfo``."""
    base = Path(root)
    text = _read(base / "proc/cpuinfo") or ""
    blocks = _cpuinfo_blocks(text)
    procs = [b for b in blocks if "processor" in b] or blocks
    first = procs[0] if procs else {}
    model: dict[str, str] = {}
    cpuid: set[str] = set()
    hyper = False
    if "flags" in first or "vendor_id" in first:  # x86
        raw_flags = set(first.get("flags", "").split())
        cpuid = {_X86_FLAGS[f] for f in raw_flags if f in _X86_FLAGS}
        hyper = "hypervisor" in raw_flags
        vendor = first.get("vendor_id", "")
        model["vendor_id"] = _X86_VENDORS.get(vendor, vendor)
        model["family"] = first.get("cpu family", "")
        model["id"] = first.get("model", "")
    elif "Features" in first or "CPU implementer" in first:  # aarch64
        cpuid = {f.upper() for f in first.get("Features", "").split()}
        impl = first.get("CPU implementer", "")
        try:
            model["vendor_id"] = _ARM_IMPLEMENTERS.get(int(impl, 16), impl)
        except ValueError:
            model["vendor_id"] = impl
        model["implementer"] = _hex(impl)
        model["family"] = first.get("CPU architecture", "")
        try:
            model["id"] = str(int(first.get("CPU part", ""), 16))
        except ValueError:
            model["id"] = first.get("CPU part", "")
    name = first.get("model name") or _read_strip(base / "proc/device-tree/model") or ""
    if name:
        model["model_name"] = name.rstrip("\x00")
    hv_type = _read_strip(base / "sys/hypervisor/type")
    model["hypervisor"] = hv_type or ("unknown" if hyper else "none")
    model = {k: v for k, v in model.items() if v}
    return Features(
        flags={"cpu.cpuid": cpuid},
        attributes={"cpu.model": model, "cpu.topology": _topology(procs)},
    )


def _topology(procs: list[dict[str, str]]) -> dict[str, str]:
    cpu_count = len(procs) or (os.cpu_count() or 1)
    sockets: dict[str, tuple[int, int]] = {}
    for p in procs:
        try:
            sockets[p.get("physical id", "0")] = (int(p.get("cpu cores", "0")), int(p.get("siblings", "0")))
        except ValueError:
            continue
    cores = sum(c for c, _ in sockets.values()) or cpu_count
    smt = any(s > c > 0 for c, s in sockets.values())
    return {
        "hardware_multithreading": "true" if smt else "false",
        "socket_count": str(max(len(sockets), 1)),
        "core_count": str(cores),
        "cpu_count": str(cpu_count),
    }


# --------------------------------------------------------------------------- kernel

_KVER_RE = re.compile(r"([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?")


def kernel_features(root: str = "/") -> Features:
    """Kernel version, loaded/enabled modules and SELinux state.

    Loaded modules come from ``/proc/modules`` (first field); when it is missing
    or unreadable they fall back to ``/sys/module/*`` entries that have an
    ``initstate`` file (loadable modules), or every entry if none has one.
    """
    base = Path(root)
    full = _read_strip(base / "proc/sys/kernel/osrelease")
    if full is None:
        full = platform.release() if root == "/" else ""
    version = {"full": full}
    m = _KVER_RE.match(full)
    if m:
        version["major"] = m.group(1)
        if m.group(2) is not None:
            version["minor"] = m.group(2)
        if m.group(3) is not None:
            version["revision"] = m.group(3)
    sys_modules = [d for d in _listdir(base / "sys/module") if (base / "sys/module" / d).is_dir()]
    modules_text = _read(base / "proc/modules")
    if modules_text is not None:
        loaded = {line.split()[0] for line in modules_text.splitlines() if line.split()}
    else:
        with_state = {d for d in sys_modules if (base / "sys/module" / d / "initstate").exists()}
        loaded = with_state or set(sys_modules)
    selinux = "true" if (base / "sys/fs/selinux/enforce").exists() else "false"
    return Features(
        flags={"kernel.loadedmodule": loaded, "kernel.enabledmodule": loaded | set(sys_modules)},
        attributes={
            "kernel.version": {k: v for k, v in version.items() if v},
            "kernel.selinux": {"enabled": selinux},
        },
    )


# --------------------------------------------------------------------------- memory


def memory_features(root: str = "/") -> Features:
    """NUMA node count (entries of ``/sys/bus/node/devices``)."""
    base = Path(root)
    nodes = [n for n in _listdir(base / "sys/bus/node/devices") if n.startswith("node")]
    if not nodes:
        nodes = [n for n in _listdir(base / "sys/devices/system/node") if re.fullmatch(r"node[0-9]+", n)]
    count = len(nodes)
    return Features(
        attributes={
            "memory.numa": {"is_numa": "true" if count > 1 else "false", "node_count": str(max(count, 1))}
        }
    )


# --------------------------------------------------------------------------- pci / usb

_PCI_ATTRS = ("class", "vendor", "device", "subsystem_vendor", "subsystem_device", "sriov_totalvfs")


def pci_features(root: str = "/") -> Features:
    """One ``pci.device`` instance per ``/sys/bus/pci/devices`` entry.

    Hex values lose their ``0x``; ``class`` keeps its first 4 digits
    (``0x030200`` -> ``0302``); ``sriov_totalvfs`` only where the file exists.
    """
    base = Path(root) / "sys/bus/pci/devices"
    devices: list[dict[str, str]] = []
    for bdf in _listdir(base):
        attrs: dict[str, str] = {}
        for attr in _PCI_ATTRS:
            value = _read_strip(base / bdf / attr)
            if value is None:
                continue
            if attr == "sriov_totalvfs":
                attrs[attr] = value
            elif attr == "class":
                attrs[attr] = _hex(value)[:4]
            else:
                attrs[attr] = _hex(value)
        if "vendor" in attrs and "class" in attrs:
            devices.append(attrs)
    return Features(instances={"pci.device": devices})


def usb_features(root: str = "/") -> Features:
    """One ``usb.device`` instance per USB device (``class vendor device serial``)."""
    base = Path(root) / "sys/bus/usb/devices"
    devices: list[dict[str, str]] = []
    for name in _listdir(base):
        vendor = _read_strip(base / name / "idVendor")
        if vendor is None:
            continue
        cls = _read_strip(base / name / "bDeviceClass") or "00"
        if cls == "00":
            cls = _read_strip(base / name / f"{name}:1.0" / "bInterfaceClass") or cls
        dev = {
            "class": _hex(cls),
            "vendor": _hex(vendor),
            "device": _hex(_read_strip(base / name / "idProduct") or ""),
        }
        serial = _read_strip(base / name / "serial")
        if serial:
            dev["serial"] = serial
        devices.append(dev)
    return Features(instances={"usb.device": devices})


# --------------------------------------------------------------------------- system / local


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1]
        return re.sub(r"\\(.)", r"\1", inner) if value[0] == '"' else inner
    return value


def system_features(root: str = "/") -> Features:
    """``/etc/os-release`` (or ``/usr/lib/os-release``) keys plus ``VERSION_ID.major/.minor``."""
    base = Path(root)
    text = _read(base / "etc/os-release")
    if text is None:
        text = _read(base / "usr/lib/os-release") or ""
    attrs: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if sep:
            attrs[key.strip()] = _unquote(value)
    vid = attrs.get("VERSION_ID")
    if vid:
        parts = vid.split(".")
        attrs["VERSION_ID.major"] = parts[0]
        if len(parts) > 1:
            attrs["VERSION_ID.minor"] = parts[1]
    return Features(attributes={"system.osrelease": attrs})


def local_features(root: str = "/", features_dir: str = DEFAULT_FEATURES_DIR) -> Features:
    """``local.label`` from every file of ``features_dir`` (relative to ``root``).

    Lines are ``key=value`` (a bare ``key`` means ``true``); blank lines and
    ``#`` lines (including ``# +expiry-time=...`` directives) are ignored.
    Files are read in name order; later values win.
    """
    base = Path(root) / features_dir
    labels: dict[str, str] = {}
    for name in _listdir(base):
        if name.startswith("."):
            continue
        path = base / name
        if not path.is_file():
            continue
        for line in (_read(path) or "").splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, sep, value = line.partition("=")
            labels[key.strip()] = value.strip() if sep else "true"
    return Features(attributes={"local.label": labels})


def discover_host(root: str = "/") -> Features:
    """All sources merged: the features nfd-worker would publish for this host."""
    out = Features()
    for source in (
        cpu_features,
        kernel_features,
        memory_features,
        pci_features,
        usb_features,
        system_features,
        local_features,
    ):
        out.merge(source(root))
    return out
