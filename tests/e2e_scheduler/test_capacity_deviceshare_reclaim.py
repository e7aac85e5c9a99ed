"""Volcano's capacity-plugin user guide (docs/user-guide/how_to_use_capacity_plugin.md) with whole GPUs and
``deviceshare`` added to its scheduler configuration: queue1's Deployment borrows every GPU of the demo
A100 node while queue2 is idle; when queue2's gang of 6 arrives (its deserved GPUs), queue2 reclaims them.

The guide's configuration (plus ``deviceshare``), queues (deserved cpu/memory, here with ``nvidia.com/gpu``)
and demo-1 Deployment (each pod also asks for one GPU; its pods carry ``volcano.sh/preemptable: "true"``
explicitly) are used as printed. queue2's workload is a Volcano Job of 6 with ``minAvailable: 6`` instead of
the guide's demo-2 Deployment: a Deployment's pods share one PodGroup with ``minMember: 1``, and Volcano's
reclaim stops as soon as a job is no longer starving (one pod running), so it would take back one GPU only.
Before the fix the ``deviceshare`` predicate (no free device IDs on the node) hid the node from reclaim
altogether: queue1 kept all 8 GPUs and queue2's pods stayed Pending with "Insufficient nvidia.com/gpu".
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Kubectl
from tests.e2e.conftest import K, manifest, wait_until
from tests.e2e_scheduler.conftest import PREEMPTABLE, bound, set_scheduler_config, vcjob, wait_bound

pytestmark = pytest.mark.e2e

GPU = "nvidia.com/gpu"
A100 = "demo-a100-0"
#: the guide's configuration with deviceshare added to the second tier
GUIDE_CONF_WITH_DEVICESHARE = """\
actions: "enqueue, allocate, backfill, reclaim"
tiers:
- plugins:
  - name: priority
  - name: gang
    enablePreemptable: false
  - name: conformance
- plugins:
  - name: drf
    enablePreemptable: false
  - name: predicates
  - name: capacity
  - name: deviceshare
  - name: nodeorder
  - name: binpack
"""


def guide_queue(name: str, cpu: int, memory: str, gpus: int) -> dict[str, Any]:
    return {"apiVersion": "scheduling.volcano.sh/v1beta1", "kind": "Queue", "metadata": {"name": name},
            "spec": {"reclaimable": True, "deserved": {"cpu": cpu, "memory": memory, GPU: gpus}}}


def guide_deployment(name: str, queue: str) -> dict[str, Any]:
    annotations = {"scheduling.volcano.sh/queue-name": queue, PREEMPTABLE: "true"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "replicas": 8,
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": annotations},
                "spec": {
                    "schedulerName": "volcano",
                    "containers": [{"name": "nginx", "image": "nginx:1.14.2",
                                    "resources": {"requests": {"cpu": 1, "memory": "4Gi", GPU: 1},
                                                  "limits": {GPU: 1}},
                                    "ports": [{"containerPort": 80}]}],
                },
            },
        },
    }


def running_on_a100(k: K, app: str) -> list[str]:
    pods = json.loads(k("get", "pods", "-l", f"app={app}", "-o", "json"))["items"]
    return [p["metadata"]["name"] for p in pods
            if p["spec"].get("nodeName") == A100 and not p["metadata"].get("deletionTimestamp")
            and p["status"].get("phase") == "Running"]


def test_queue2_reclaims_its_deserved_gpus_with_deviceshare_enabled(kc: Kubectl, hk: K) -> None:
    set_scheduler_config(kc, GUIDE_CONF_WITH_DEVICESHARE)
    kc("apply", "-f", "-", input=manifest(guide_queue("queue1", 2, "8Gi", 2), guide_queue("queue2", 6, "24Gi", 6)))
    hk("apply", "-f", "-", input=manifest(guide_deployment("demo-1", "queue1")))
    wait_until(lambda: len(running_on_a100(hk, "demo-1")) == 8, timeout=30, what="demo-1 on all 8 GPUs")

    hk("apply", "-f", "-", input=manifest(vcjob("demo-2", 6, {"cpu": 1, "memory": "4Gi", GPU: 1}, queue="queue2")))
    assert set(wait_bound(hk, "demo-2", 6, timeout=60).values()) == {A100}
    # queue1 is back at its deserved 2 GPUs; its recreated pods wait (it may not reclaim above deserved)
    wait_until(lambda: len(running_on_a100(hk, "demo-1")) == 2, timeout=30, what="demo-1 on 2 GPUs")
    reclaimed = hk("get", "events", "--field-selector", "reason=Reclaimed", "-o", "jsonpath={.items[*].message}")
    assert reclaimed.count("reclaimed by queue queue2") == 6, reclaimed
    # every GPU is held by exactly one pod (the scheduler's device choice after the evictions)
    pods = json.loads(hk("get", "pods", "-o", "json"))["items"]
    held = [json.loads(p["metadata"].get("annotations", {}).get("suanli.io/allocated-devices", "{}")).get(GPU, [])
            for p in pods if p["spec"].get("nodeName") == A100 and not p["metadata"].get("deletionTimestamp")]
    assert sorted(int(i) for h in held for i in h) == list(range(8)), held
    assert len(bound(hk, "demo-2")) == 6
