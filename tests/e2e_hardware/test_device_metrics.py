"""Per-device series on the node's /metrics carry the namespace/pod/container of the pod holding the device."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import K, wait_until
from tests.e2e_hardware.conftest import ASCEND_NODES, ASCEND_RESOURCE, wait_phase

pytestmark = pytest.mark.e2e


def _chip_series(text: str, name: str) -> dict[str, tuple[str, float]]:
    """``id -> (pod_name, value)`` of the npu-exporter series ``name``."""
    out: dict[str, tuple[str, float]] = {}
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        head, _, value = line.rpartition(" ")
        labels = dict(part.split("=", 1) for part in head[len(name) + 1:-1].split(","))
        out[labels["id"].strip('"')] = (labels["pod_name"].strip('"'), float(value))
    return out


@pytest.mark.usefixtures("npus_online")
def test_npu_exporter_series_follow_the_pods_chips_and_annotations(hk: K) -> None:
    node = ASCEND_NODES[0]
    hk.apply({"apiVersion": "v1", "kind": "Pod",
              "metadata": {"name": "npu-user", "annotations": {"suanli.io/sim-npu-util": "55",
                                                               "suanli.io/sim-npu-hbm": "4Gi"}},
              "spec": {"nodeName": node, "containers": [{"name": "main", "image": "ascend/mindspore:2.3",
                                                         "resources": {"limits": {ASCEND_RESOURCE: "2"}}}]}})
    wait_phase(hk, "npu-user", "Running", timeout=30)
    held = json.loads(hk.json("pod", "npu-user")["metadata"]["annotations"]["suanli.io/allocated-devices"])
    chips = sorted(held[ASCEND_RESOURCE])
    path = f"/api/v1/nodes/{node}/proxy/metrics"

    def reported() -> dict[str, tuple[str, float]] | None:
        util = _chip_series(hk.kubectl("get", "--raw", path), "npu_chip_info_utilization")
        return util if sorted(i for i, (pod, _) in util.items() if pod == "npu-user") == chips else None

    util = wait_until(reported, timeout=45, interval=1.0, what="npu_chip_info_utilization for the pod's chips")
    text = hk.kubectl("get", "--raw", path)
    hbm = _chip_series(text, "npu_chip_info_hbm_used_memory")
    assert len(util) == 8  # every chip of the node has a series
    for chip, (pod, value) in util.items():
        if chip in chips:
            assert (pod, value, hbm[chip][1]) == ("npu-user", 55.0, 4096.0)
        else:
            assert value == 0.0 or pod not in ("", "npu-user")  # other tests' pods may hold other chips
    assert f'namespace="{hk.ns}"' in text and 'container_name="main"' in text
    assert "machine_npu_nums 8" in text
