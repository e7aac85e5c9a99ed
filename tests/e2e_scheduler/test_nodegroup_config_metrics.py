"""Queue node-group affinity (examples/volcano/queue-nodegroup.yaml), configuration reload from the ConfigMap,
and the scheduler's Prometheus metrics."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Kubectl, Server
from tests.e2e.conftest import K, manifest, wait_until
from tests.e2e_hardware.conftest import EXAMPLES
from tests.e2e_scheduler.conftest import (
    NODEGROUP_LABEL,
    cycles,
    describe_pod,
    metric_value,
    metrics_text,
    set_scheduler_config,
    vcjob,
    wait_bound,
    wait_cycles,
)

pytestmark = pytest.mark.e2e

GROUPS = {"demo-ascend-0": "npu-pool", "demo-ascend-1": "npu-pool", "demo-manycore-0": "cpu-pool",
          "demo-a100-0": "cpu-pool", "demo-kae-0": "maintenance"}
#: the four big arm64 demo nodes (Ascend x2, KAE, many-core): room for every placement below
ARM = {"kubernetes.io/arch": "arm64"}
NODEGROUP_CONF = """\
actions: "enqueue, allocate, backfill"
tiers:
- plugins:
  - name: priority
  - name: gang
  - name: conformance
- plugins:
  - name: drf
  - name: predicates
  - name: proportion
  - name: nodegroup
"""


def conf_with(scorer: str) -> str:
    return f"""\
actions: "enqueue, allocate, backfill"
tiers:
- plugins:
  - name: priority
  - name: gang
- plugins:
  - name: predicates
  - name: {scorer}
"""


@pytest.fixture
def labelled(kc: Kubectl) -> None:
    for node, group in GROUPS.items():
        kc("label", "node", node, f"{NODEGROUP_LABEL}={group}", "--overwrite")


def test_queue_nodegroup_affinity_places_jobs_on_the_preferred_required_group(
    kc: Kubectl, hk: K, labelled: None
) -> None:
    set_scheduler_config(kc, NODEGROUP_CONF)
    kc("apply", "-f", str(EXAMPLES / "volcano" / "queue-nodegroup.yaml"))
    hk("apply", "-f", "-", input=manifest(vcjob("infer", 4, {"cpu": "1"}, queue="inference", min_available=1)))
    placed = wait_bound(hk, "infer", 4)
    # required: npu-pool or cpu-pool; preferred npu-pool; preferred anti-affinity cpu-pool; never maintenance
    assert {GROUPS[n] for n in placed.values()} == {"npu-pool"}, placed


def test_required_groups_filter_and_anti_affinity_avoids_a_group(kc: Kubectl, hk: K, labelled: None) -> None:
    set_scheduler_config(kc, NODEGROUP_CONF)
    kc("apply", "-f", str(EXAMPLES / "volcano" / "queue-nodegroup.yaml"))
    # fits only on the KAE node (maintenance, required anti-affinity) or a100 (cpu-pool): must go to a100
    hk("apply", "-f", "-", input=manifest(vcjob("big", 1, {"cpu": "200"}, queue="inference",
                                                node_selector={"kubernetes.io/arch": "amd64"})))
    assert wait_bound(hk, "big", 1) == {"big-task-0": "demo-a100-0"}
    # a pod that would fit only on the maintenance group stays pending with a node-group explanation
    hk("apply", "-f", "-", input=manifest(vcjob("kae-only", 1, {"cpu": "1"}, queue="inference",
                                                node_selector={"kubernetes.io/hostname": "demo-kae-0"})))
    def explained() -> str | None:
        out = describe_pod(hk, "kae-only-task-0")
        return out if "FailedScheduling" in out else None

    out = wait_until(explained, timeout=15, what="kae-only explained")
    assert "0/7 nodes are available" in out
    assert hk("get", "pod", "kae-only-task-0", "-o", "jsonpath={.spec.nodeName}") == ""


def test_config_reload_switches_scoring_and_rejects_an_invalid_config(
    kc: Kubectl, hk: K, demo_server: Server
) -> None:
    kc("label", "node", "--all", f"{NODEGROUP_LABEL}-")
    # binpack: pods pile onto one node; nodeorder (least allocated): they spread
    before = cycles(demo_server)
    set_scheduler_config(kc, conf_with("binpack"))
    wait_cycles(demo_server, 1, since=before)  # a ConfigMap change triggers a cycle, which reads it
    hk("apply", "-f", "-", input=manifest(vcjob("packed", 3, {"cpu": "32"}, min_available=3, node_selector=ARM)))
    packed = wait_bound(hk, "packed", 3)
    assert len(set(packed.values())) == 1, packed
    before = cycles(demo_server)
    set_scheduler_config(kc, conf_with("nodeorder"))
    wait_cycles(demo_server, 1, since=before)
    hk("apply", "-f", "-", input=manifest(vcjob("spread", 3, {"cpu": "32"}, min_available=3, node_selector=ARM)))
    spread = wait_bound(hk, "spread", 3)
    assert len(set(spread.values())) == 3, spread

    set_scheduler_config(kc, 'actions: "enqueue, allocate, no-such-action"\n')
    events = wait_until(
        lambda: kc("get", "events", "-n", "volcano-system", "--field-selector", "type=Warning", "-o",
                   "jsonpath={.items[*].reason}"),
        timeout=15, what="a Warning event on the invalid ConfigMap")
    assert "InvalidConfiguration" in events
    # the previous (nodeorder) configuration stays in force (the cycle that read it sent the Warning)
    hk("apply", "-f", "-", input=manifest(vcjob("still", 3, {"cpu": "32"}, min_available=3, node_selector=ARM)))
    assert len(set(wait_bound(hk, "still", 3).values())) > 1


def test_metrics_expose_cycles_attempts_and_queue_gauges(hk: K, demo_server: Server) -> None:
    hk("apply", "-f", "-", input=manifest(vcjob("m", 2, {"cpu": "1"})))
    wait_bound(hk, "m", 2)
    def with_gauges() -> str | None:
        text = metrics_text(demo_server)
        return text if "suanli_queue_allocated{" in text else None

    text = wait_until(with_gauges, what="queue gauges")
    assert (metric_value(text, "suanli_scheduler_cycle_duration_seconds_count") or 0) > 0
    assert "# TYPE suanli_scheduler_cycle_duration_seconds histogram" in text
    assert (metric_value(text, "suanli_scheduler_schedule_attempts_total", 'result="scheduled"') or 0) >= 2
    assert metric_value(text, "suanli_queue_allocated", 'queue="default",resource="cpu"') is not None
    assert metric_value(text, "suanli_queue_pending_podgroups", 'queue="default"') is not None
    status = json.loads(hk.kubectl("get", "queue", "default", "-o", "json"))["status"]
    assert status["state"] == "Open" and "allocated" in status
