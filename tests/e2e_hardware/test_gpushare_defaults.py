"""Under the default scheduler configuration, the demo pool's GPU-sharing T4 node (4 cards of 15360 MiB) is
handled card by card: a shared-GPU pod larger than any card stays Pending with a clear reason instead of being
placed and failing admission on the node; one that fits a card runs there with the card recorded.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import K, wait_until
from tests.e2e_hardware.conftest import wait_phase

pytestmark = pytest.mark.e2e

GPUSHARE_NODE = "demo-gpushare-0"


def gpu_pod(name: str, mib: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "main", "image": "cuda:12",
                                 "resources": {"limits": {"volcano.sh/gpu-memory": str(mib)}}}]},
    }


def scheduled_condition(k: K, name: str) -> dict[str, Any] | None:
    conds = k.json("pod", name)["status"].get("conditions") or []
    return next((c for c in conds if c.get("type") == "PodScheduled" and c.get("status") == "False"), None)


def test_shared_gpu_pod_larger_than_one_card_stays_pending_with_the_reason(hk: K) -> None:
    wait_until(lambda: hk.kubectl("get", "node", GPUSHARE_NODE, "-o",
                                  "jsonpath={.status.allocatable.volcano\\.sh/gpu-memory}") == "61440",
               timeout=20, what="the T4 node advertising 4 x 15360 MiB")
    hk.apply(gpu_pod("too-big", 20000))  # fits the node's 61440 MiB in total, but no single card
    cond = wait_until(lambda: scheduled_condition(hk, "too-big"), timeout=20, what="an Unschedulable condition")
    assert cond["reason"] == "Unschedulable"
    assert "1 no enough gpu memory on single device" in cond["message"], cond["message"]
    pod = hk.json("pod", "too-big")
    assert pod["status"]["phase"] == "Pending" and not pod["spec"].get("nodeName")
    # no admission failure anywhere: the pod never reached the node
    assert "UnexpectedAdmissionError" not in hk("get", "events", "-o", "jsonpath={.items[*].reason}")


def test_shared_gpu_pod_that_fits_one_card_runs_with_its_card_recorded(hk: K) -> None:
    hk.apply(gpu_pod("fits", 8000))
    wait_phase(hk, "fits", "Running", timeout=30)
    pod = hk.json("pod", "fits")
    assert pod["spec"]["nodeName"] == GPUSHARE_NODE
    card = pod["metadata"]["annotations"]["volcano.sh/gpu-index"]
    assert card in {"0", "1", "2", "3"}
