"""The seeds' ``capacity`` queues (examples/volcano/queue-capacity.yaml): a queue borrows idle GPUs beyond its
deserved share while the other is idle, and gives them back under ``reclaim`` when the other asks for its own."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Kubectl
from tests.e2e.conftest import K, manifest, wait_until
from tests.e2e_hardware.conftest import EXAMPLES
from tests.e2e_scheduler.conftest import bound, describe_pod, set_scheduler_config, vcjob, wait_bound

pytestmark = pytest.mark.e2e

GPU = "nvidia.com/gpu"
CAPACITY_CONF = """\
actions: "enqueue, allocate, reclaim, backfill"
tiers:
- plugins:
  - name: priority
  - name: gang
  - name: conformance
- plugins:
  - name: drf
  - name: predicates
  - name: capacity
  - name: nodeorder
"""


def queue_status(kc: Kubectl, name: str) -> dict[str, Any]:
    return dict(json.loads(kc("get", "queue", name, "-o", "json")).get("status") or {})


def test_borrowed_gpus_are_reclaimed_back_to_deserved(kc: Kubectl, hk: K) -> None:
    set_scheduler_config(kc, CAPACITY_CONF)
    kc("apply", "-f", str(EXAMPLES / "volcano" / "queue-capacity.yaml"))
    # team-a: the sample job (2 A100s) plus 6 more borrowed GPUs -> all 8 GPUs, deserved is 4
    hk("apply", "-f", str(EXAMPLES / "volcano" / "vcjob-gpu-capacity.yaml"))
    sample = wait_bound(hk, "tf-a100", 4)
    assert [n for p, n in sample.items() if "worker" in p] == ["demo-a100-0", "demo-a100-0"]
    hk("apply", "-f", "-", input=manifest(vcjob("borrow", 6, {"cpu": "1", GPU: 1}, queue="team-a",
                                                min_available=1, preemptable=True)))
    assert set(wait_bound(hk, "borrow", 6).values()) == {"demo-a100-0"}
    wait_until(lambda: (queue_status(kc, "team-a").get("allocated") or {}).get(GPU) == "8",
               what="team-a to hold all 8 GPUs")

    # team-b asks for its deserved 4 GPUs: 4 borrowed pods are reclaimed, nothing else
    hk("apply", "-f", "-", input=manifest(vcjob("mine", 4, {"cpu": "1", GPU: 1}, queue="team-b")))
    assert set(wait_bound(hk, "mine", 4, timeout=30).values()) == {"demo-a100-0"}
    wait_bound(hk, "borrow", 2, timeout=15)  # team-a back at its deserved 4 GPUs
    assert set(bound(hk, "tf-a100")) == set(sample), "the sample job's pods must not be reclaimed"
    reclaimed = hk("get", "events", "--field-selector", "reason=Reclaimed", "-o", "jsonpath={.items[*].message}")
    assert reclaimed.count("reclaimed by queue team-b") == 4, reclaimed
    wait_until(lambda: (queue_status(kc, "team-b").get("allocated") or {}).get(GPU) == "4",
               what="team-b status allocated 4 GPUs")
    a = queue_status(kc, "team-a")
    assert a["deserved"][GPU] == "4" and a["allocated"][GPU] == "4"


def test_reclaim_victims_are_decided_by_the_first_tier_with_a_vote(kc: Kubectl, hk: K) -> None:
    """team-b asks for 5 GPUs, one more than its deserved 4, while team-a sits at its own deserved 4. As
    Volcano: capacity lets team-b reclaim (within deserved on cpu: "partly"), and the victims are decided
    by the first tier that votes — gang in tier 1 permits any task beyond its job's minMember — so capacity
    (tier 2, which would refuse: team-a is not above deserved) is not asked: one a-own pod is reclaimed."""
    set_scheduler_config(kc, CAPACITY_CONF)
    kc("apply", "-f", str(EXAMPLES / "volcano" / "queue-capacity.yaml"))
    hk("apply", "-f", "-", input=manifest(vcjob("a-own", 4, {"cpu": "1", GPU: 1}, queue="team-a",
                                                min_available=1, preemptable=True)))
    wait_bound(hk, "a-own", 4, timeout=30)
    hk("apply", "-f", "-", input=manifest(vcjob("b-greedy", 5, {"cpu": "1", GPU: 1}, queue="team-b")))
    assert set(wait_bound(hk, "b-greedy", 5, timeout=30).values()) == {"demo-a100-0"}
    wait_bound(hk, "a-own", 3, timeout=15)


def test_queue_within_deserved_does_not_reclaim_beyond_it(kc: Kubectl, hk: K) -> None:
    """Asking for more than team-b's deserved 4 GPUs while team-a sits at its own deserved share reclaims
    nothing: a queue reclaims only while below deserved on some requested dimension (upstream's "can not
    reclaim when allocated + req > deserved"). The pods ask for GPUs alone: with cpu in the request too,
    team-b would still be below its deserved cpu and, as in Volcano, reclaim (the tier-1 gang/conformance
    votes decide the victims before capacity's)."""
    set_scheduler_config(kc, CAPACITY_CONF)
    kc("apply", "-f", str(EXAMPLES / "volcano" / "queue-capacity.yaml"))
    hk("apply", "-f", "-", input=manifest(vcjob("a-own", 4, {"cpu": "1", GPU: 1}, queue="team-a",
                                                min_available=1, preemptable=True)))
    wait_bound(hk, "a-own", 4, timeout=30)
    hk("apply", "-f", "-", input=manifest(vcjob("b-greedy", 5, {GPU: 1}, queue="team-b")))
    wait_until(lambda: "FailedScheduling" in describe_pod(hk, "b-greedy-task-0"), timeout=15,
               what="b-greedy explained")
    assert len(bound(hk, "a-own")) == 4 and bound(hk, "b-greedy") == {}
