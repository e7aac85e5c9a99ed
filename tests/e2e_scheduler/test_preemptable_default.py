"""``volcano.sh/preemptable`` through the API, as current Volcano reads it: a pod with neither the annotation
nor the label is a preemption victim; the label opts out like the annotation; the configuration switch
``configurations: [{name: suanli, arguments: {defaultPreemptable: false}}]`` restores the old default."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Kubectl, Server
from tests.e2e.conftest import K, manifest, wait_until
from tests.e2e_scheduler.conftest import (
    ASCEND,
    DEFAULT_TIERS,
    PREEMPTABLE,
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

PREEMPT_CONF = 'actions: "enqueue, allocate, preempt, backfill"\n' + DEFAULT_TIERS
OLD_DEFAULT = "configurations:\n- name: suanli\n  arguments:\n    defaultPreemptable: false\n"


def low_job(label: str | None) -> dict[str, Any]:
    """4 pods x 4 NPUs (all 16 NPUs of the pool), gang of 1; ``label`` sets the preemptable label only."""
    job = vcjob("low", 4, {"cpu": "1", ASCEND: 4}, min_available=1, priority_class="low")
    if label is not None:
        job["spec"]["tasks"][0]["template"]["metadata"]["labels"] = {PREEMPTABLE: label}
    return job


@pytest.mark.parametrize(
    ("label", "conf", "victims"),
    [(None, PREEMPT_CONF, 1), ("false", PREEMPT_CONF, 0), (None, PREEMPT_CONF + OLD_DEFAULT, 0)],
    ids=["pod-with-neither-key-is-a-victim", "label-false-is-never-a-victim",
         "default-preemptable-false-protects-pods-with-neither-key"],
)
def test_preemptable_default_label_and_switch(kc: Kubectl, hk: K, demo_server: Server, label: str | None,
                                              conf: str, victims: int) -> None:
    set_scheduler_config(kc, conf)
    kc("apply", "-f", "-", input=manifest(priority_class("low", 100), priority_class("high", 10000)))
    hk("apply", "-f", "-", input=manifest(low_job(label)))
    kept = wait_bound(hk, "low", 4, timeout=30)  # after the previous case's namespace is gone
    if label is not None:
        assert {p["metadata"]["labels"].get(PREEMPTABLE) for p in pods_of(hk, "low")} == {label}
    hk("apply", "-f", "-", input=manifest(vcjob("high", 1, {"cpu": "1", ASCEND: 1}, priority_class="high")))
    if victims:
        wait_bound(hk, "high", 1, timeout=30)
        events = hk("get", "events", "--field-selector", "reason=Preempted", "-o", "jsonpath={.items[*].message}")
        assert events.count("preempted by job") == victims, events
        assert len(bound(hk, "low")) == 4 - victims
    else:
        wait_until(lambda: "FailedScheduling" in describe_pod(hk, "high-task-0"), what="high explained")
        wait_cycles(demo_server, 3)
        assert bound(hk, "low") == kept and bound(hk, "high") == {}
        assert "Preempted" not in hk("get", "events", "-o", "jsonpath={.items[*].reason}")
