"""`suanli up` starts a heterogeneous pool: simulated demo nodes with profile capacity plus the real host."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from suanli.apimachinery.quantity import parse_quantity
from suanli.node.profiles import load_profile
from tests.conftest import Kubectl
from tests.e2e.conftest import wait_until
from tests.e2e_hardware.conftest import DEMO_NODES, get_json, jsonpath, node_json, node_ready

pytestmark = pytest.mark.e2e

VENDOR_LABEL = "feature.node.kubernetes.io/cpu-model.vendor_id"
INSTANCE_LABEL = "node.kubernetes.io/instance-type"


def _table(output: str) -> tuple[list[str], dict[str, list[str]]]:
    """Header and rows (by first column) of kubectl's column output."""
    lines = output.strip().splitlines()
    return lines[0].split(), {line.split()[0]: line.split() for line in lines[1:]}


def _meminfo_total_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no MemTotal in /proc/meminfo")


def test_get_nodes_shows_every_demo_node_and_the_host_ready_with_label_columns(kc: Kubectl, host_node: str) -> None:
    def all_ready() -> tuple[list[str], dict[str, list[str]]] | None:
        header, rows = _table(kc("get", "nodes", "-L", f"{VENDOR_LABEL},{INSTANCE_LABEL}"))
        wanted = [*DEMO_NODES, host_node]
        if all(n in rows and rows[n][1] == "Ready" for n in wanted):
            return header, rows
        return None

    header, rows = wait_until(all_ready, timeout=20, what="demo nodes and host Ready in kubectl get nodes")
    assert header[:2] == ["NAME", "STATUS"]
    assert header[-2:] == ["CPU-MODEL.VENDOR_ID", "INSTANCE-TYPE"]
    vendor_col = header.index("CPU-MODEL.VENDOR_ID")
    assert rows["demo-ascend-0"][vendor_col] == "HiSilicon"
    assert rows["demo-a100-0"][vendor_col] == "AMD"
    # Two different hardware shapes are visible side by side in the same listing.
    assert rows["demo-ascend-0"][-1] != rows["demo-a100-0"][-1]


@pytest.mark.parametrize("node", list(DEMO_NODES), ids=[f"{n}-has-its-profile-capacity" for n in DEMO_NODES])
def test_demo_node_capacity_comes_from_its_hardware_profile(kc: Kubectl, node: str) -> None:
    profile = load_profile(DEMO_NODES[node])
    out = jsonpath(kc, "node", node, path="{.status.capacity.cpu} {.status.capacity.memory} {.status.capacity.pods}")
    assert out.split() == [profile.capacity["cpu"], profile.capacity["memory"], profile.capacity["pods"]]
    anns = node_json(kc, node)["metadata"]["annotations"]
    assert anns["suanli.io/hardware-profile"] == DEMO_NODES[node]
    assert anns["kwok.x-k8s.io/node"] == "fake"


def test_host_node_reports_real_cpu_count_and_memory(kc: Kubectl, host_node: str) -> None:
    node = node_json(kc, host_node)
    assert node_ready(node)
    capacity = node["status"]["capacity"]
    assert parse_quantity(capacity["cpu"]) == os.cpu_count()
    assert parse_quantity(capacity["memory"]) == _meminfo_total_bytes()
    allocatable = node["status"]["allocatable"]
    assert 0 < parse_quantity(allocatable["memory"]) <= parse_quantity(capacity["memory"])
    assert node["metadata"]["annotations"]["suanli.io/runtime"] == "process"
    assert "kwok.x-k8s.io/node" not in node["metadata"]["annotations"]


def test_every_node_has_a_nodefeature_object(kc: Kubectl, host_node: str) -> None:
    wanted = {*DEMO_NODES, host_node}

    def names() -> set[str] | None:
        out = kc("get", "nodefeatures", "-n", "node-feature-discovery", "-o", "name")
        got = {line.rsplit("/", 1)[-1] for line in out.split()}
        return got if wanted <= got else None

    wait_until(names, timeout=20, what="a NodeFeature per node")
    host_features = get_json(kc, "nodefeature", host_node, "-n", "node-feature-discovery")
    assert host_features["metadata"]["labels"]["nfd.node.kubernetes.io/node-name"] == host_node
    flags = host_features["spec"]["features"]["flags"]
    assert flags["cpu.cpuid"]["elements"], "host NodeFeature lists no CPUID flags"
    ascend = get_json(kc, "nodefeature", "demo-ascend-0", "-n", "node-feature-discovery")
    pci = ascend["spec"]["features"]["instances"]["pci.device"]["elements"]
    assert any(d["attributes"]["vendor"] == "19e5" and d["attributes"]["class"] == "1200" for d in pci)
