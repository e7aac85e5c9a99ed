"""Hardware profiles: every shipped profile loads and is internally consistent."""

from __future__ import annotations

import pytest

from suanli.apimachinery.quantity import parse_quantity
from suanli.node.nfd import Features, default_labels
from suanli.node.profiles import HardwareProfile, load_profile, profile_names

NAMES = profile_names()
REQUIRED = [
    "ascend-910b", "kunpeng-920-kae", "nvidia-a100", "nvidia-h100", "nvidia-t4", "nvidia-v100", "gpushare-t4",
    "manycore-256", "openb-g2-8", "openb-t4-2", "openb-p100-2", "openb-v100m16-4", "openb-v100m32-8",
]


def features(p: HardwareProfile) -> Features:
    return Features.from_spec(p.features)


def pci_matching(p: HardwareProfile, vendor: str, device: str, cls: str) -> int:
    return sum(1 for d in features(p).instances.get("pci.device", [])
               if d.get("vendor") == vendor and d.get("class") == cls and (not device or d.get("device") == device))


def test_required_profiles_are_shipped() -> None:
    assert [n for n in REQUIRED if n not in NAMES] == []


def test_unknown_profile_error_names_known_ones() -> None:
    with pytest.raises(KeyError, match="ascend-910b"):
        load_profile("no-such-profile")


@pytest.mark.parametrize("name", NAMES)
def test_capacity_parses_and_matches_cpu_topology(name: str) -> None:
    p = load_profile(name)
    assert {"cpu", "memory", "pods", "ephemeral-storage"} <= p.capacity.keys()
    assert all(parse_quantity(v) > 0 for v in p.capacity.values())
    topo = features(p).attributes["cpu.topology"]
    assert topo["cpu_count"] == p.capacity["cpu"]


@pytest.mark.parametrize("name", NAMES)
def test_node_info_labels_and_features_agree(name: str) -> None:
    p = load_profile(name)
    f = features(p)
    assert p.node_info["containerRuntimeVersion"] == "suanli-sim://0.1"
    assert p.labels["kubernetes.io/arch"] == p.node_info["architecture"] in ("amd64", "arm64")
    assert p.labels["node.kubernetes.io/instance-type"]
    assert f.attributes["kernel.version"]["full"] == p.node_info["kernelVersion"]
    assert f.attributes["memory.numa"] == {"is_numa": "true" if p.numa_nodes > 1 else "false",
                                           "node_count": str(p.numa_nodes)}
    assert f.attributes["system.osrelease"]["ID"]
    assert f.flags["cpu.cpuid"] and f.flags["kernel.loadedmodule"]
    # every label of the profile is the hardware's, not one an operator or rule would set
    assert not [k for k in p.labels if k.startswith(("feature.node.kubernetes.io/", "nvidia.com/", "huawei.com/"))]


@pytest.mark.parametrize("name", NAMES)
def test_devices_match_pci_instances_and_modules(name: str) -> None:
    p = load_profile(name)
    f = features(p)
    for d in p.devices:
        assert d.count > 0 and d.env_var and d.device_class in ("npu", "kae", "gpu")
        assert pci_matching(p, d.pci_vendor, d.pci_device, d.pci_class) == d.count, d.resource_name
        if d.kernel_module:
            assert d.kernel_module in f.flags["kernel.loadedmodule"]
        grouped = [i for g in d.topology for i in g]
        assert len(grouped) == len(set(grouped)) and all(0 <= i < d.count for i in grouped)
    if p.gpu_share is not None:
        s = p.gpu_share
        assert pci_matching(p, s.pci_vendor, s.pci_device, s.pci_class) == s.cards
        assert s.resources() == {"volcano.sh/gpu-memory": s.cards * s.memory_mib, "volcano.sh/gpu-number": s.cards}


@pytest.mark.parametrize(
    ("name", "resource", "count", "env", "device_class", "pci_label"),
    [
        ("ascend-910b", "huawei.com/Ascend910", 8, "ASCEND_VISIBLE_DEVICES", "npu", "pci-1200_19e5.present"),
        ("kunpeng-920-kae", "openfuyao.com/kae.hpre", 4, "KAE_HPRE_VISIBLE_DEVICES", "kae", "pci-1200_19e5.present"),
        ("nvidia-a100", "nvidia.com/gpu", 8, "NVIDIA_VISIBLE_DEVICES", "gpu", "pci-0302_10de.present"),
        ("nvidia-h100", "nvidia.com/gpu", 8, "NVIDIA_VISIBLE_DEVICES", "gpu", "pci-0302_10de.present"),
        ("nvidia-t4", "nvidia.com/gpu", 4, "NVIDIA_VISIBLE_DEVICES", "gpu", "pci-0302_10de.present"),
        ("nvidia-v100", "nvidia.com/gpu", 8, "NVIDIA_VISIBLE_DEVICES", "gpu", "pci-0302_10de.present"),
    ],
    ids=["ascend-8-npus", "kae-4-hpre", "a100-8-gpus", "h100-8-gpus", "t4-4-gpus", "v100-8-gpus"],
)
def test_accelerator_profiles(name: str, resource: str, count: int, env: str, device_class: str,
                              pci_label: str) -> None:
    p = load_profile(name)
    (d,) = [d for d in p.devices if d.resource_name == resource]
    assert (d.count, d.env_var, d.device_class) == (count, env, device_class)
    assert default_labels(features(p))[f"feature.node.kubernetes.io/{pci_label}"] == "true"


def test_ascend_topology_is_two_hccs_groups_of_four() -> None:
    (d,) = load_profile("ascend-910b").devices
    assert d.topology == ((0, 1, 2, 3), (4, 5, 6, 7))
    assert d.device_ids() == [str(i) for i in range(8)]


def test_kae_profile_has_all_three_engines() -> None:
    p = load_profile("kunpeng-920-kae")
    assert {(d.resource_name, d.pci_device, d.kernel_module) for d in p.devices} == {
        ("openfuyao.com/kae.hpre", "a258", "hisi_hpre"),
        ("openfuyao.com/kae.sec", "a255", "hisi_sec2"),
        ("openfuyao.com/kae.zip", "a250", "hisi_zip"),
    }


def test_gpushare_t4_advertises_volcano_resources() -> None:
    p = load_profile("gpushare-t4")
    assert p.devices == ()
    assert p.gpu_share is not None
    assert p.gpu_share.resources() == {"volcano.sh/gpu-memory": 61440, "volcano.sh/gpu-number": 4}


def test_manycore_has_256_cores_on_8_numa_nodes() -> None:
    p = load_profile("manycore-256")
    assert (p.capacity["cpu"], p.numa_nodes) == ("256", 8)
    assert features(p).attributes["memory.numa"]["node_count"] == "8"


# (model, GPUs per node, cpu, memory MiB) of every GPU node group in the openb trace (traces/README.md)
TRACE_SHAPES = [
    ("G2", 8, 96, 393216), ("T4", 2, 104, 524288), ("P100", 2, 16, 122880), ("G3", 8, 128, 786432),
    ("V100M16", 4, 32, 131072), ("V100M32", 8, 96, 786432), ("V100M16", 1, 8, 32768), ("T4", 4, 96, 393216),
    ("V100M32", 4, 48, 376832), ("V100M16", 8, 64, 262144), ("P100", 1, 8, 61440), ("A10", 1, 128, 1048576),
]


@pytest.mark.parametrize(("model", "gpus", "cpu", "memory_mib"), TRACE_SHAPES,
                         ids=[f"{m}x{g}" for m, g, _, _ in TRACE_SHAPES])
def test_openb_trace_shape_has_a_profile(model: str, gpus: int, cpu: int, memory_mib: int) -> None:
    p = load_profile(f"openb-{model.lower()}-{gpus}")
    assert p.gpu_share is not None
    assert (p.gpu_share.model, p.gpu_share.cards) == (model, gpus)
    assert parse_quantity(p.capacity["cpu"]) == cpu
    assert parse_quantity(p.capacity["memory"]) == memory_mib * 2**20
    assert p.gpu_share.undisclosed_model == (model in ("G1", "G2", "G3"))
    assert p.gpu_share.memory_mib > 0
