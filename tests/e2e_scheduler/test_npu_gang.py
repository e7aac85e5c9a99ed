"""A Volcano Job gang of NPU tasks on the demo pool runs all-or-nothing (examples/volcano/vcjob-npu-gang.yaml)."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import K, manifest, wait_until
from tests.e2e_hardware.conftest import EXAMPLES
from tests.e2e_scheduler.conftest import ASCEND, DEVICES_ANNOTATION, bound, pods_of, wait_bound

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("npu_online")]

SAMPLE = EXAMPLES / "volcano" / "vcjob-npu-gang.yaml"


def podgroup(k: K) -> dict[str, Any]:
    items = json.loads(k("get", "podgroups", "-o", "json"))["items"]
    assert len(items) == 1, items
    return dict(items[0])


def test_sample_gang_binds_every_pod_with_distinct_npus_per_node(hk: K) -> None:
    hk("apply", "-f", str(SAMPLE))
    placed = wait_bound(hk, "npu-train", 5)
    assert set(placed.values()) <= {"demo-ascend-0", "demo-ascend-1"}
    used: dict[str, list[str]] = defaultdict(list)
    for pod in pods_of(hk, "npu-train"):
        devices = json.loads(pod["metadata"]["annotations"][DEVICES_ANNOTATION])[ASCEND]
        want = pod["spec"]["containers"][0]["resources"]["requests"][ASCEND]
        assert len(devices) == int(want)
        used[pod["spec"]["nodeName"]] += devices
    for node, ids in used.items():
        assert len(ids) == len(set(ids)), f"NPU handed out twice on {node}: {sorted(ids)}"
        assert set(ids) <= {str(i) for i in range(8)}
    assert sum(len(ids) for ids in used.values()) == 9
    wait_until(lambda: hk("get", "vcjob", "npu-train", "-o", "jsonpath={.status.state.phase}") == "Running",
               what="job npu-train Running")
    assert wait_until(lambda: podgroup(hk)["status"].get("phase") == "Running", what="PodGroup Running")


def test_gang_larger_than_the_pool_binds_no_pod(hk: K) -> None:
    job = yaml.safe_load(SAMPLE.read_text())
    job["metadata"]["name"] = "npu-huge"
    job["spec"]["minAvailable"] = 9
    job["spec"]["tasks"][1]["replicas"] = 8  # 1 + 8 x 2 = 17 NPUs > the pool's 16
    hk("apply", "-f", "-", input=manifest(job))
    wait_until(lambda: len(pods_of(hk, "npu-huge")) == 9, what="the 9 pods of npu-huge")

    def explained() -> dict[str, Any] | None:
        pg = podgroup(hk)
        conds = pg.get("status", {}).get("conditions") or []
        return pg if any(c["type"] == "Unschedulable" and c["status"] == "True" for c in conds) else None

    pg = wait_until(explained, timeout=15, what="the PodGroup's Unschedulable condition")
    status = pg["status"]
    assert status["phase"] in ("Pending", "Inqueue")
    message = next(c["message"] for c in status["conditions"] if c["type"] == "Unschedulable")
    assert message.startswith("9/9 tasks in gang unschedulable: "), message
    assert "FailedScheduling" in hk("describe", "pod", "npu-huge-worker-0")
    # the scheduler has had several cycles: still nothing bound (all-or-nothing)
    assert bound(hk, "npu-huge") == {}
    assert hk("get", "vcjob", "npu-huge", "-o", "jsonpath={.status.state.phase}") == "Pending"
