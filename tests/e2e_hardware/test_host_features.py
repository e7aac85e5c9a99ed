"""The host node carries NFD labels computed from the machine it runs on (expectations read from /proc here)."""

from __future__ import annotations

import platform
import re
from pathlib import Path

import pytest

from tests.conftest import Kubectl
from tests.e2e.conftest import wait_until
from tests.e2e_hardware.conftest import node_json

pytestmark = pytest.mark.e2e

PREFIX = "feature.node.kubernetes.io/"
#: /proc/cpuinfo vendor_id → NFD's cpu-model.vendor_id value (x86 only).
X86_VENDORS = {"GenuineIntel": "Intel", "AuthenticAMD": "AMD"}
#: NFD cpu-cpuid label → the /proc/cpuinfo flag that reports the same CPUID bit.
CPUID_FLAGS = [
    ("AVX512F", "avx512f"),
    ("AVX512BW", "avx512bw"),
    ("AVX512VNNI", "avx512_vnni"),
    ("AVX2", "avx2"),
    ("AVX", "avx"),
    ("AESNI", "aes"),
    ("FMA3", "fma"),
    ("AMXTILE", "amx_tile"),
]


def _cpuinfo_field(name: str) -> str | None:
    """First value of ``name`` in /proc/cpuinfo (None when the line is absent, e.g. on non-x86)."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return None


def _host_labels(kc: Kubectl, host: str) -> dict[str, str]:
    """The host's labels once NFD has labelled it (waits for the vendor label)."""

    def labelled() -> dict[str, str] | None:
        labels: dict[str, str] = node_json(kc, host)["metadata"].get("labels") or {}
        return labels if PREFIX + "cpu-model.vendor_id" in labels else None

    return wait_until(labelled, timeout=20, what="NFD labels on the host node")


def test_host_vendor_label_matches_proc_cpuinfo(kc: Kubectl, host_node: str) -> None:
    vendor = _cpuinfo_field("vendor_id")
    if vendor not in X86_VENDORS:
        pytest.skip(f"vendor mapping known only for x86 (/proc/cpuinfo vendor_id={vendor!r})")
    labels = _host_labels(kc, host_node)
    assert labels[PREFIX + "cpu-model.vendor_id"] == X86_VENDORS[vendor]
    assert labels[PREFIX + "cpu-model.family"] == _cpuinfo_field("cpu family")
    assert labels[PREFIX + "cpu-model.id"] == _cpuinfo_field("model")


@pytest.mark.parametrize(
    ("label", "flag"), CPUID_FLAGS, ids=[f"{label}-iff-cpuinfo-has-{flag}" for label, flag in CPUID_FLAGS]
)
def test_host_cpuid_label_present_exactly_when_cpuinfo_lists_flag(
    kc: Kubectl, host_node: str, label: str, flag: str
) -> None:
    flags = set((_cpuinfo_field("flags") or "").split())
    labels = _host_labels(kc, host_node)
    if flag in flags:
        assert labels.get(PREFIX + f"cpu-cpuid.{label}") == "true"
    else:
        assert PREFIX + f"cpu-cpuid.{label}" not in labels


def test_host_kernel_version_labels_match_platform_release(kc: Kubectl, host_node: str) -> None:
    release = platform.release()
    labels = _host_labels(kc, host_node)
    assert labels[PREFIX + "kernel-version.full"] == release
    major, minor = re.match(r"(\d+)\.(\d+)", release).groups()  # type: ignore[union-attr]
    assert labels[PREFIX + "kernel-version.major"] == major
    assert labels[PREFIX + "kernel-version.minor"] == minor


def test_host_cpuid_labels_are_listed_in_the_nfd_feature_labels_annotation(kc: Kubectl, host_node: str) -> None:
    labels = _host_labels(kc, host_node)
    annotation = node_json(kc, host_node)["metadata"]["annotations"]["nfd.node.kubernetes.io/feature-labels"]
    listed = set(annotation.split(","))
    own = {k.removeprefix(PREFIX) for k in labels if k.startswith(PREFIX + "cpu-cpuid.")}
    assert own and own <= listed
