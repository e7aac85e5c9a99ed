"""The upstream NodeFeatureRule for Ascend NPUs and KAE engines labels exactly the matching demo nodes.

Rules are cluster-wide, so this module runs on its own demo server.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Kubectl, Server
from tests.e2e.conftest import wait_until
from tests.e2e_hardware.conftest import ASCEND_NODES, DEMO_NODES, EXAMPLES, fresh_demo_server, get_json

pytestmark = pytest.mark.e2e

RULES = EXAMPLES / "nfd-rules-ascend-kae.yaml"
NPU = "huawei.com/npu.present"
KAE = "openfuyao.com/kae.present"
ACCELERATOR = "feature.node.kubernetes.io/accelerator"
PCI_ASCEND = "feature.node.kubernetes.io/pci-1200_19e5.present"


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from fresh_demo_server(tmp_path_factory)


def labels_by_node(kc: Kubectl) -> dict[str, dict[str, str]]:
    return {n["metadata"]["name"]: dict(n["metadata"].get("labels") or {}) for n in get_json(kc, "nodes")["items"]}


def selected(kc: Kubectl, selector: str) -> set[str]:
    """Node names `kubectl get nodes -l <selector>` prints."""
    return {line.removeprefix("node/") for line in kc("get", "nodes", "-l", selector, "-o", "name").split()}


def wait_rule_labels(kc: Kubectl) -> None:
    wait_until(
        lambda: selected(kc, f"{NPU}=true") == set(ASCEND_NODES) and selected(kc, f"{KAE}=true"),
        timeout=20,
        what="rule labels on Ascend and KAE nodes",
    )


def wait_no_rule_labels(kc: Kubectl) -> None:
    wait_until(lambda: not selected(kc, NPU) and not selected(kc, KAE), timeout=20, what="rule labels to be removed")


@pytest.fixture
def rule_applied(kc: Kubectl) -> Iterator[None]:
    kc("apply", "-f", str(RULES))
    wait_rule_labels(kc)
    yield
    kc("delete", "-f", str(RULES), "--ignore-not-found")
    wait_no_rule_labels(kc)


def test_ascend_nodes_carry_nfd_default_pci_presence_label_without_any_rule(kc: Kubectl) -> None:
    assert wait_until(
        lambda: selected(kc, f"{PCI_ASCEND}=true") >= set(ASCEND_NODES), timeout=20, what="default PCI labels"
    )
    for node in ("demo-a100-0", "demo-gpushare-0", "demo-manycore-0"):
        assert PCI_ASCEND not in labels_by_node(kc)[node]


@pytest.mark.usefixtures("rule_applied")
def test_npu_rule_labels_the_ascend_nodes_and_nobody_else(kc: Kubectl) -> None:
    assert selected(kc, f"{NPU}=true") == set(ASCEND_NODES)
    assert selected(kc, f"{ACCELERATOR}=huawei-Ascend910") == set(ASCEND_NODES)


@pytest.mark.usefixtures("rule_applied")
def test_kae_rule_labels_the_kae_node_and_nobody_else(kc: Kubectl) -> None:
    assert selected(kc, f"{KAE}=true") == {"demo-kae-0"}
    assert selected(kc, "openfuyao.com/kae.hpre.present=true") == {"demo-kae-0"}
    # Non-accelerator nodes (and the host) are untouched by every rule of the file.
    for node, labels in labels_by_node(kc).items():
        if node not in (*ASCEND_NODES, "demo-kae-0"):
            assert not {NPU, KAE, ACCELERATOR} & labels.keys(), node


def test_deleting_the_rule_removes_the_labels_it_made_and_only_those(kc: Kubectl, host_node: str) -> None:
    kc("delete", "-f", str(RULES), "--ignore-not-found")
    wait_no_rule_labels(kc)
    kc("label", "node", "demo-ascend-0", "team=npu-lab", "--overwrite")
    try:
        before = labels_by_node(kc)
        assert {*DEMO_NODES, host_node} <= before.keys()
        kc("apply", "-f", str(RULES))
        wait_rule_labels(kc)
        assert labels_by_node(kc)["demo-ascend-0"]["team"] == "npu-lab"
        kc("delete", "nodefeaturerule", "ascend-npu-kae")
        wait_until(
            lambda: labels_by_node(kc) == before,
            timeout=20,
            what="node labels to return to what they were before the rule",
        )
    finally:
        kc("label", "node", "demo-ascend-0", "team-")
