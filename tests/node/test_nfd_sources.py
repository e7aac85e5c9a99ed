"""Host feature sources against fake /proc, /sys and /etc trees."""

from __future__ import annotations

from pathlib import Path

import pytest

from suanli.node.nfd.sources import (
    DEFAULT_FEATURES_DIR,
    cpu_features,
    discover_host,
    kernel_features,
    local_features,
    memory_features,
    pci_features,
    system_features,
    usb_features,
)

X86_CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 143
model name\t: Intel(R) Xeon(R) Platinum 8480+
physical id\t: 0
siblings\t: 4
cpu cores\t: 2
flags\t\t: fpu sse sse2 pni sse4_1 sse4_2 avx avx2 avx512f avx512_vnni amx_tile constant_tsc hypervisor

processor\t: 1
vendor_id\t: GenuineIntel
physical id\t: 0
siblings\t: 4
cpu cores\t: 2
"""

ARM_CPUINFO = """processor\t: 0
BogoMIPS\t: 200.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics
CPU implementer\t: 0x48
CPU architecture: 8
CPU variant\t: 0x1
CPU part\t: 0xd01
"""


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_x86_cpu_flags_model_and_topology(tmp_path: Path) -> None:
    write(tmp_path, "proc/cpuinfo", X86_CPUINFO)
    f = cpu_features(str(tmp_path))
    assert f.flags["cpu.cpuid"] == {
        "FPU",
        "SSE",
        "SSE2",
        "SSE3",
        "SSE4",
        "SSE42",
        "AVX",
        "AVX2",
        "AVX512F",
        "AVX512VNNI",
        "AMXTILE",
        "HYPERVISOR",
    }
    assert f.attributes["cpu.model"] == {
        "vendor_id": "Intel",
        "family": "6",
        "id": "143",
        "model_name": "Intel(R) Xeon(R) Platinum 8480+",
        "hypervisor": "unknown",
    }
    assert f.attributes["cpu.topology"] == {
        "hardware_multithreading": "true",
        "socket_count": "1",
        "core_count": "2",
        "cpu_count": "2",
    }


def test_aarch64_kunpeng_cpu(tmp_path: Path) -> None:
    write(tmp_path, "proc/cpuinfo", ARM_CPUINFO)
    write(tmp_path, "sys/hypervisor/type", "xen\n")
    f = cpu_features(str(tmp_path))
    assert {"ASIMD", "AES", "ATOMICS"} <= f.flags["cpu.cpuid"]
    model = f.attributes["cpu.model"]
    assert (model["vendor_id"], model["implementer"], model["family"], model["id"], model["hypervisor"]) == (
        "HiSilicon",
        "48",
        "8",
        "3329",
        "xen",
    )


def test_missing_cpuinfo_yields_empty_flags(tmp_path: Path) -> None:
    f = cpu_features(str(tmp_path))
    assert f.flags["cpu.cpuid"] == set() and f.attributes["cpu.model"] == {"hypervisor": "none"}


@pytest.mark.parametrize(
    ("release", "expected"),
    [
        ("5.15.0-91-generic", {"full": "5.15.0-91-generic", "major": "5", "minor": "15", "revision": "0"}),
        ("6.1", {"full": "6.1", "major": "6", "minor": "1"}),
    ],
    ids=["distro-release", "no-revision"],
)
def test_kernel_version(tmp_path: Path, release: str, expected: dict[str, str]) -> None:
    write(tmp_path, "proc/sys/kernel/osrelease", release + "\n")
    assert kernel_features(str(tmp_path)).attributes["kernel.version"] == expected


def test_loaded_modules_from_proc_modules(tmp_path: Path) -> None:
    write(tmp_path, "proc/modules", "hisi_hpre 69632 0 - Live 0x0\nuacce 28672 2 hisi_hpre, Live 0x0\n")
    (tmp_path / "sys/module/builtin_thing").mkdir(parents=True)
    f = kernel_features(str(tmp_path))
    assert f.flags["kernel.loadedmodule"] == {"hisi_hpre", "uacce"}
    assert f.flags["kernel.enabledmodule"] == {"hisi_hpre", "uacce", "builtin_thing"}


def test_loaded_modules_fall_back_to_sys_module_initstate(tmp_path: Path) -> None:
    write(tmp_path, "sys/module/hisi_zip/initstate", "live\n")
    write(tmp_path, "sys/module/hisi_sec2/initstate", "live\n")
    (tmp_path / "sys/module/kernel").mkdir(parents=True)  # built-in: no initstate
    assert kernel_features(str(tmp_path)).flags["kernel.loadedmodule"] == {"hisi_zip", "hisi_sec2"}


def test_loaded_modules_fall_back_to_all_sys_module_dirs(tmp_path: Path) -> None:
    for name in ("acpi", "block"):
        (tmp_path / "sys/module" / name).mkdir(parents=True)
    assert kernel_features(str(tmp_path)).flags["kernel.loadedmodule"] == {"acpi", "block"}


@pytest.mark.parametrize(("count", "is_numa"), [(1, "false"), (4, "true")], ids=["single-node", "four-nodes"])
def test_numa_node_count(tmp_path: Path, count: int, is_numa: str) -> None:
    for i in range(count):
        (tmp_path / f"sys/bus/node/devices/node{i}").mkdir(parents=True)
    assert memory_features(str(tmp_path)).attributes["memory.numa"] == {
        "is_numa": is_numa,
        "node_count": str(count),
    }


def test_pci_devices_strip_hex_prefix_and_truncate_class(tmp_path: Path) -> None:
    dev = "sys/bus/pci/devices/0000:81:00.0"
    for attr, value in {
        "vendor": "0x19e5",
        "device": "0xd802",
        "class": "0x120000",
        "subsystem_vendor": "0x19e5",
        "subsystem_device": "0x3000",
    }.items():
        write(tmp_path, f"{dev}/{attr}", value + "\n")
    nic = "sys/bus/pci/devices/0000:3b:00.0"
    for attr, value in {
        "vendor": "0x8086",
        "device": "0x1572",
        "class": "0x020000",
        "sriov_totalvfs": "64",
    }.items():
        write(tmp_path, f"{nic}/{attr}", value + "\n")
    assert pci_features(str(tmp_path)).instances["pci.device"] == [
        {"vendor": "8086", "device": "1572", "class": "0200", "sriov_totalvfs": "64"},
        {
            "vendor": "19e5",
            "device": "d802",
            "class": "1200",
            "subsystem_vendor": "19e5",
            "subsystem_device": "3000",
        },
    ]


def test_os_release_with_version_split(tmp_path: Path) -> None:
    write(
        tmp_path,
        "etc/os-release",
        'NAME="openEuler"\nID=openEuler\n# comment\nVERSION_ID="22.03"\n'
        'PRETTY_NAME="openEuler 22.03 (LTS-SP3)"\n',
    )
    attrs = system_features(str(tmp_path)).attributes["system.osrelease"]
    assert attrs["ID"] == "openEuler" and attrs["VERSION_ID"] == "22.03"
    assert (attrs["VERSION_ID.major"], attrs["VERSION_ID.minor"]) == ("22", "03")
    assert attrs["PRETTY_NAME"] == "openEuler 22.03 (LTS-SP3)"


def test_os_release_falls_back_to_usr_lib(tmp_path: Path) -> None:
    write(tmp_path, "usr/lib/os-release", "ID=debian\nVERSION_ID=12\n")
    attrs = system_features(str(tmp_path)).attributes["system.osrelease"]
    assert attrs == {"ID": "debian", "VERSION_ID": "12", "VERSION_ID.major": "12"}


def test_local_feature_files(tmp_path: Path) -> None:
    write(
        tmp_path,
        f"{DEFAULT_FEATURES_DIR}/a",
        "# +expiry-time=2030-01-01T00:00:00Z\nrack=r12\nexample.com/gpu-tier=gold\nflagonly\n\n",
    )
    write(tmp_path, f"{DEFAULT_FEATURES_DIR}/b", "rack=r13\n")
    assert local_features(str(tmp_path)).attributes["local.label"] == {
        "rack": "r13",
        "example.com/gpu-tier": "gold",
        "flagonly": "true",
    }


def test_discover_host_on_empty_tree_has_every_feature_and_no_error(tmp_path: Path) -> None:
    f = discover_host(str(tmp_path))
    assert {
        "cpu.cpuid",
        "cpu.model",
        "kernel.version",
        "kernel.loadedmodule",
        "memory.numa",
        "pci.device",
        "system.osrelease",
        "local.label",
    } <= f.names()


def test_discover_host_on_this_machine() -> None:
    f = discover_host()
    assert f.attributes["kernel.version"]["full"]
    assert f.attributes["memory.numa"]["node_count"].isdigit()
    assert int(f.attributes["cpu.topology"]["cpu_count"]) >= 1


def test_usb_devices_use_interface_class_when_device_class_is_zero(tmp_path: Path) -> None:
    dev = "sys/bus/usb/devices/1-1"
    for attr, value in {
        "idVendor": "0x046d",
        "idProduct": "c52b",
        "bDeviceClass": "00",
        "serial": "ABC",
    }.items():
        write(tmp_path, f"{dev}/{attr}", value + "\n")
    write(tmp_path, f"{dev}/1-1:1.0/bInterfaceClass", "03\n")
    write(tmp_path, "sys/bus/usb/devices/1-1:1.0/bInterfaceClass", "03\n")  # interface entry: no idVendor
    assert usb_features(str(tmp_path)).instances["usb.device"] == [
        {"class": "03", "vendor": "046d", "device": "c52b", "serial": "ABC"}
    ]
