"""Feature model, NodeFeature round trip and NFD's built-in labels."""

from __future__ import annotations

import pytest

from suanli.node.nfd import NODE_NAME_LABEL, Features, default_labels, node_feature_object, parse_node_feature

FNS = "feature.node.kubernetes.io"


def sample() -> Features:
    return Features(
        flags={"cpu.cpuid": {"AVX2", "SSE4", "AVX512F"}},
        attributes={
            "cpu.model": {"vendor_id": "Intel", "family": "6", "id": "143", "model_name": "Xeon Gold"},
            "cpu.topology": {"hardware_multithreading": "true"},
            "kernel.version": {"full": "5.15.0-91-generic", "major": "5", "minor": "15", "revision": "0"},
            "system.osrelease": {
                "ID": "ubuntu",
                "VERSION_ID": "22.04",
                "VERSION_ID.major": "22",
                "VERSION_ID.minor": "04",
                "PRETTY_NAME": "Ubuntu 22.04",
            },
            "memory.numa": {"is_numa": "true", "node_count": "2"},
            "local.label": {"rack": "r1", "example.com/tier": "gold"},
        },
        instances={
            "pci.device": [
                {"class": "0302", "vendor": "10de", "device": "20b5"},
                {"class": "1200", "vendor": "19e5", "device": "d802"},
                {"class": "0b40", "vendor": "8086", "device": "0001", "sriov_totalvfs": "8"},
                {"class": "1000", "vendor": "19e5", "device": "a258"},
                {"class": "0200", "vendor": "8086", "device": "1572", "sriov_totalvfs": "64"},
            ]
        },
    )


def test_node_feature_object_round_trip() -> None:
    obj = node_feature_object("node-1", sample(), {"x": "y"})
    assert obj["apiVersion"] == "nfd.k8s-sigs.io/v1alpha1" and obj["kind"] == "NodeFeature"
    assert obj["metadata"]["labels"] == {NODE_NAME_LABEL: "node-1"}
    spec = obj["spec"]["features"]
    assert spec["flags"]["cpu.cpuid"] == {"elements": {"AVX2": {}, "AVX512F": {}, "SSE4": {}}}
    assert spec["attributes"]["memory.numa"] == {"elements": {"is_numa": "true", "node_count": "2"}}
    assert spec["instances"]["pci.device"]["elements"][0] == {
        "attributes": {"class": "0302", "device": "20b5", "vendor": "10de"}
    }
    features, labels = parse_node_feature(obj)
    assert features == sample() and labels == {"x": "y"}


def test_from_spec_lowercases_names_and_tolerates_garbage() -> None:
    f = Features.from_spec(
        {
            "flags": {"CPU.CPUID": {"elements": {"AVX": {}}}, "bad": 3},
            "attributes": {"a.b": {"elements": {"n": 5, "t": True}}},
            "instances": "x",
        }
    )
    assert f.flags == {"cpu.cpuid": {"AVX"}, "bad": set()}
    assert f.attributes == {"a.b": {"n": "5", "t": "true"}} and f.instances == {}


def test_merge_unions_flags_and_overrides_attributes() -> None:
    a = Features(flags={"x.f": {"A"}}, attributes={"x.a": {"k": "1", "j": "1"}})
    a.merge(Features(flags={"x.f": {"B"}}, attributes={"x.a": {"k": "2"}}))
    assert a.flags == {"x.f": {"A", "B"}} and a.attributes == {"x.a": {"k": "2", "j": "1"}}


def test_default_labels() -> None:
    assert default_labels(sample()) == {
        f"{FNS}/pci-0302_10de.present": "true",
        f"{FNS}/pci-1200_19e5.present": "true",
        f"{FNS}/pci-0b40_8086.present": "true",
        f"{FNS}/pci-0b40_8086.sriov.capable": "true",
        f"{FNS}/cpu-cpuid.AVX2": "true",
        f"{FNS}/cpu-cpuid.AVX512F": "true",
        f"{FNS}/cpu-model.vendor_id": "Intel",
        f"{FNS}/cpu-model.family": "6",
        f"{FNS}/cpu-model.id": "143",
        f"{FNS}/cpu-hardware_multithreading": "true",
        f"{FNS}/kernel-version.full": "5.15.0-91-generic",
        f"{FNS}/kernel-version.major": "5",
        f"{FNS}/kernel-version.minor": "15",
        f"{FNS}/kernel-version.revision": "0",
        f"{FNS}/system-os_release.ID": "ubuntu",
        f"{FNS}/system-os_release.VERSION_ID": "22.04",
        f"{FNS}/system-os_release.VERSION_ID.major": "22",
        f"{FNS}/system-os_release.VERSION_ID.minor": "04",
        f"{FNS}/memory-numa": "true",
        f"{FNS}/rack": "r1",
        "example.com/tier": "gold",
    }


@pytest.mark.parametrize(
    ("pci_class", "labelled"),
    [("0300", True), ("0302", True), ("0b40", True), ("1200", True), ("1000", False), ("0200", False)],
    ids=[
        "vga",
        "3d-controller",
        "coprocessor",
        "processing-accelerator",
        "crypto-not-whitelisted",
        "nic-not-whitelisted",
    ],
)
def test_pci_presence_whitelist(pci_class: str, labelled: bool) -> None:
    labels = default_labels(Features(instances={"pci.device": [{"class": pci_class, "vendor": "abcd"}]}))
    assert (f"{FNS}/pci-{pci_class}_abcd.present" in labels) is labelled


def test_invalid_default_label_values_are_left_out() -> None:
    labels = default_labels(Features(attributes={"kernel.version": {"full": "5.15.0+custom", "major": "5"}}))
    assert labels == {f"{FNS}/kernel-version.major": "5"}
