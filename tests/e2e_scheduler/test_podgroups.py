"""PodGroups users can see and queues that count them: which pods get a PodGroup (Volcano's
``podgroup-<uid>`` for pods of the ``volcano`` scheduler, none for kube-scheduler's), that a pod
which never fits holds no queue room, that ``kubectl get queue`` counts what ``kubectl get
podgroup -A`` lists, and why a job is not admitted (PodGroup condition and Event)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from tests.conftest import Kubectl
from tests.e2e.conftest import K, manifest, wait_until
from tests.e2e_scheduler.conftest import (
    ASCEND,
    POOL_SIZE,
    describe_pod,
    pods_of,
    queue,
    scheduled_condition,
    vcjob,
    wait_bound,
)

pytestmark = pytest.mark.e2e

NEVER_FITS = f"0/{POOL_SIZE} nodes are available: {POOL_SIZE} Insufficient {ASCEND}."
GROUP_ANNOTATION = "scheduling.k8s.io/group-name"


def bare_pod(name: str, requests: dict[str, str], *, scheduler: str | None = None) -> dict[str, Any]:
    """A pod as a user writes it (no group annotation; ``schedulerName`` only when given)."""
    spec: dict[str, Any] = {"containers": [{"name": "main", "image": "busybox:1.36", "command": ["sleep", "3600"],
                                            "resources": {"requests": requests, "limits": requests}}]}
    if scheduler:
        spec["schedulerName"] = scheduler
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def podgroups(kc: Kubectl) -> list[dict[str, Any]]:
    """What ``kubectl get podgroup -A`` lists."""
    return list(json.loads(kc("get", "podgroup", "-A", "-o", "json"))["items"])


def counts_agree(kc: Kubectl, name: str) -> dict[str, int] | None:
    """The queue's ``inqueue``/``pending``/``running`` counts if they equal its listed PodGroups by phase."""
    phases = Counter(str((pg.get("status") or {}).get("phase") or "Pending") for pg in podgroups(kc)
                     if (pg.get("spec") or {}).get("queue", "default") == name)
    status = json.loads(kc("get", "queue", name, "-o", "json")).get("status") or {}
    got = {k: int(status.get(k) or 0) for k in ("inqueue", "pending", "running")}
    want = {"inqueue": phases["Inqueue"], "pending": phases["Pending"], "running": phases["Running"]}
    return got if got == want else None


def owned_by(pg: dict[str, Any], uid: str) -> bool:
    return any(r.get("uid") == uid for r in pg["metadata"].get("ownerReferences") or [])


def events_of(k: K, kind: str, name: str) -> list[dict[str, Any]]:
    items = k.json("events", "--field-selector", f"involvedObject.kind={kind},involvedObject.name={name}")["items"]
    return list(items)


def the_podgroup(k: K, job: str) -> dict[str, Any]:
    items = [pg for pg in k.json("podgroup")["items"] if pg["metadata"]["name"].startswith(f"{job}-")]
    assert len(items) == 1, [pg["metadata"]["name"] for pg in items]
    return dict(items[0])


def unschedulable(pg: dict[str, Any]) -> dict[str, Any] | None:
    for cond in (pg.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Unschedulable" and cond.get("status") == "True":
            return dict(cond)
    return None


def test_a_plain_pod_that_never_fits_gets_no_podgroup_and_blocks_no_job(kc: Kubectl, hk: K, npu_online: None) -> None:
    hk.apply(bare_pod("too-big", {ASCEND: "17"}))
    pod = wait_until(lambda: (p := hk.json("pod", "too-big")) and scheduled_condition(p) and p, what="too-big tried")
    assert scheduled_condition(pod) == {**scheduled_condition(pod), "status": "False", "reason": "Unschedulable",
                                        "message": NEVER_FITS}
    assert GROUP_ANNOTATION not in (pod["metadata"].get("annotations") or {})
    assert not [pg for pg in podgroups(kc) if owned_by(pg, pod["metadata"]["uid"])]

    # the whole pool's 16 NPUs go to a job: the pending pod reserves nothing in the default queue
    hk.apply(vcjob("all-npus", 2, {"cpu": "1", ASCEND: 8}))
    assert set(wait_bound(hk, "all-npus", 2, timeout=30).values()) == {"demo-ascend-0", "demo-ascend-1"}
    assert wait_until(lambda: counts_agree(kc, "default"), what="default queue counts = its PodGroups by phase")
    assert "too-big" not in hk("get", "podgroup", "-o", "name")
    hk("delete", "vcjob", "all-npus", "--wait=true")
    wait_until(lambda: not pods_of(hk, "all-npus"), timeout=30, what="all-npus pods gone")


def test_a_volcano_pod_gets_a_listed_podgroup_that_its_queue_counts(kc: Kubectl, hk: K) -> None:
    hk.apply(bare_pod("vc-pod", {"cpu": "100m"}, scheduler="volcano"))
    pod = wait_until(lambda: (p := hk.json("pod", "vc-pod")) and p["spec"].get("nodeName") and p,
                     what="vc-pod bound")
    uid = pod["metadata"]["uid"]
    assert pod["metadata"]["annotations"][GROUP_ANNOTATION] == f"podgroup-{uid}"
    listed = [pg for pg in podgroups(kc) if pg["metadata"]["name"] == f"podgroup-{uid}"]
    assert len(listed) == 1 and owned_by(listed[0], uid)
    assert listed[0]["spec"]["minMember"] == 1 and listed[0]["spec"]["queue"] == "default"
    wait_until(lambda: hk.json("podgroup", f"podgroup-{uid}")["status"].get("phase") == "Running",
               what="the pod's PodGroup Running")
    assert wait_until(lambda: (c := counts_agree(kc, "default")) and c["running"] >= 1 and c,
                      what="default queue counts its PodGroups")

    # kube-scheduler's pods are scheduled too, without a PodGroup
    hk.apply(bare_pod("plain", {"cpu": "100m"}))
    plain = wait_until(lambda: (p := hk.json("pod", "plain")) and p["spec"].get("nodeName") and p,
                       what="plain pod bound")
    assert not [pg for pg in podgroups(kc) if owned_by(pg, plain["metadata"]["uid"])]
    assert wait_until(lambda: counts_agree(kc, "default"), what="counts still agree")


@pytest.mark.parametrize(
    ("capability", "tasks", "requests", "verdict"),
    [
        ({"cpu": "2"}, 2, {"cpu": "2"}, "queue resource quota insufficient: insufficient cpu"),
        (None, 3, {"cpu": "1", ASCEND: 8}, f"resource in cluster is overused: overused {ASCEND}"),
    ],
    ids=["queue-capability-used-up", "cluster-too-small"],
)
def test_a_job_that_is_never_admitted_says_why_on_its_podgroup(
    kc: Kubectl, hk: K, npu_online: None, capability: dict[str, str] | None, tasks: int,
    requests: dict[str, Any], verdict: str
) -> None:
    qname = f"capped-{hk.ns[-6:]}"
    if capability is not None:
        kc("apply", "-f", "-", input=manifest(queue(qname, capability=capability)))
    job = vcjob("waits", tasks, requests, queue=qname if capability is not None else "default")
    hk.apply(job)
    pg = wait_until(lambda: (g := the_podgroup(hk, "waits")) and unschedulable(g) and g,
                    timeout=20, what="the PodGroup's Unschedulable condition")
    cond = unschedulable(pg)
    assert cond is not None
    assert (cond["reason"], cond["message"]) == ("NotEnoughResources", f"0/0 tasks in gang unschedulable: {verdict}")
    assert cond.get("lastTransitionTime")
    assert pg["status"]["phase"] == "Pending" and pods_of(hk, "waits") == []
    name = pg["metadata"]["name"]
    described = wait_until(lambda: (out := hk("describe", "podgroup", name)) and "Unschedulable" in out
                           and verdict in out.split("Events:")[-1] and out, what="describe podgroup to show the Event")
    assert "Warning" in described.split("Events:")[-1]
    warnings = [e for e in events_of(hk, "PodGroup", name) if e["reason"] == "Unschedulable"]
    assert [e["type"] for e in warnings] == ["Warning"], warnings
    assert wait_until(lambda: counts_agree(kc, qname if capability is not None else "default"),
                      what="the queue counts the pending PodGroup")
    hk("delete", "vcjob", "waits", "--wait=true")
    if capability is not None:
        kc("delete", "queue", qname, "--wait=false")


def test_an_admitted_job_once_refused_gets_a_scheduled_event(kc: Kubectl, hk: K) -> None:
    qname = f"grow-{hk.ns[-6:]}"
    kc("apply", "-f", "-", input=manifest(queue(qname, capability={"cpu": "1"})))
    hk.apply(vcjob("grows", 2, {"cpu": "1"}, queue=qname))
    wait_until(lambda: unschedulable(the_podgroup(hk, "grows")), what="refused for the queue's capability")
    kc("patch", "queue", qname, "--type=merge", "-p", json.dumps({"spec": {"capability": {"cpu": "4"}}}))
    wait_bound(hk, "grows", 2, timeout=30)
    name = the_podgroup(hk, "grows")["metadata"]["name"]

    def told() -> list[tuple[str, str, str]] | None:
        got = [(e["type"], e["reason"], e["message"]) for e in events_of(hk, "PodGroup", name)]
        return got if ("Normal", "Scheduled", "pod group is ready") in got else None

    reasons = wait_until(told, what="the PodGroup's Scheduled event")
    assert ("Warning", "Unschedulable", "0/0 tasks in gang unschedulable: queue resource quota insufficient: "
            "insufficient cpu") in reasons
    hk("delete", "vcjob", "grows", "--wait=true")
    kc("delete", "queue", qname, "--wait=false")


@pytest.mark.parametrize(
    ("npus", "scheduler"),
    [("17", None), ("17", "volcano"), ("9", "volcano"), ("30", "volcano")],
    ids=["plain-pod-beyond-the-pool", "volcano-pod-beyond-the-pool", "volcano-pod-beyond-any-node",
         "volcano-pod-beyond-overcommit"],
)
def test_a_pod_that_can_never_fit_is_blamed_on_the_resource(
    hk: K, npu_online: None, npus: str, scheduler: str | None
) -> None:
    hk.apply(bare_pod("never", {ASCEND: npus}, scheduler=scheduler))
    out = wait_until(lambda: (d := describe_pod(hk, "never")) and "FailedScheduling" in d and d,
                     what="describe pod to explain")
    assert NEVER_FITS in out, out
    cond = scheduled_condition(hk.json("pod", "never"))
    assert cond is not None and cond["message"] == NEVER_FITS
