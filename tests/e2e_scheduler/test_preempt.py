"""A higher-priority job preempts preemptable lower-priority pods in the same queue (``preempt`` action)."""

from __future__ import annotations

import pytest

from tests.conftest import Kubectl, Server
from tests.e2e.conftest import K, manifest, wait_until
from tests.e2e_scheduler.conftest import (
    ASCEND,
    DEFAULT_TIERS,
    bound,
    describe_pod,
    pods_of,
    priority_class,
    set_scheduler_config,
    vcjob,
    wait_bound,
    wait_cycles,
)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("npu_online")]

ASCEND_ONLY = {"huawei.com/npu.present": "true"}


def test_high_priority_job_evicts_preemptable_low_priority_pods(kc: Kubectl, hk: K) -> None:
    set_scheduler_config(kc, 'actions: "enqueue, allocate, preempt, backfill"\n' + DEFAULT_TIERS)
    kc("apply", "-f", "-", input=manifest(priority_class("low", 100), priority_class("high", 10000)))
    # low fills all 16 NPUs: 4 pods x 4 NPUs, gang of 1 so pods can go one by one
    hk("apply", "-f", "-", input=manifest(vcjob("low", 4, {"cpu": "1", ASCEND: 4}, min_available=1,
                                                priority_class="low", preemptable=True)))
    wait_bound(hk, "low", 4)
    # 2 x 1 NPU: within the overcommitted idle (16 x 1.2 - 16 = 3.2 NPUs), so the gang is enqueued;
    # a preemptor above that would stay Pending and, as in Volcano, not preempt at all
    hk("apply", "-f", "-", input=manifest(vcjob("high", 2, {"cpu": "1", ASCEND: 1}, priority_class="high")))
    high = wait_bound(hk, "high", 2, timeout=30)
    assert len(set(high.values())) == 1 and set(high.values()) <= {"demo-ascend-0", "demo-ascend-1"}
    # only as many victims as needed: one low pod (4 NPUs) makes room for both high pods
    events = wait_until(
        lambda: hk("get", "events", "--field-selector", "reason=Preempted", "-o", "jsonpath={.items[*].message}"),
        what="a Preempted event",
    )
    assert events.count("preempted by job") == 1, events
    survivors = bound(hk, "low")
    assert len(survivors) == 3 and set(survivors.values()) == {"demo-ascend-0", "demo-ascend-1"}
    assert "Preempted" in hk("get", "events", "-o", "jsonpath={.items[*].reason}")


def test_pods_annotated_not_preemptable_are_never_victims(kc: Kubectl, hk: K, demo_server: Server) -> None:
    set_scheduler_config(kc, 'actions: "enqueue, allocate, preempt, backfill"\n' + DEFAULT_TIERS)
    kc("apply", "-f", "-", input=manifest(priority_class("low", 100), priority_class("high", 10000)))
    hk("apply", "-f", "-", input=manifest(vcjob("keep", 4, {"cpu": "1", ASCEND: 4}, min_available=1,
                                                priority_class="low", preemptable=False)))
    kept = wait_bound(hk, "keep", 4, timeout=30)  # after the previous test's namespace is gone
    hk("apply", "-f", "-", input=manifest(vcjob("vip", 1, {"cpu": "1", ASCEND: 1}, priority_class="high")))
    wait_until(lambda: len(pods_of(hk, "vip")) == 1, what="the vip pod")
    wait_until(lambda: "FailedScheduling" in describe_pod(hk, "vip-task-0"), what="vip explained")
    wait_cycles(demo_server, 3)
    assert bound(hk, "keep") == kept and bound(hk, "vip") == {}
    assert "Preempted" not in hk("get", "events", "-o", "jsonpath={.items[*].reason}")
