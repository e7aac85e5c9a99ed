"""Queue deletion rules and upstream Events, through `suanli up --demo` and the real kubectl:
`kubectl delete queue` refused for default/root/parents (current Volcano deletes Open queues),
and the Events `kubectl get events` shows for Deployments, ReplicaSets, Jobs, pods and cordoned nodes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Kubectl
from tests.e2e.conftest import K, manifest, wait_until
from tests.e2e_volcano.conftest import events_of

pytestmark = pytest.mark.e2e


def queue(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "scheduling.volcano.sh/v1beta1", "kind": "Queue", "metadata": {"name": name},
            "spec": {"reclaimable": True, **spec}}


DENIED = 'admission webhook "validatequeue.volcano.sh" denied the request: '


def test_default_queue_cannot_be_deleted(kc: Kubectl) -> None:
    proc = kc.run("delete", "queue", "default", check=False)
    assert proc.returncode != 0
    assert f"Error from server (BadRequest): {DENIED}`default` queue can not be deleted" in proc.stderr
    assert kc("get", "queue", "default", "-o", "name").strip() == "queue.scheduling.volcano.sh/default"


def test_parent_queue_is_kept_while_it_has_children_and_open_queues_delete(kc: Kubectl) -> None:
    kc("apply", "-f", "-", input=manifest(queue("e2e-parent"), queue("e2e-child", parent="e2e-parent")))
    proc = kc.run("delete", "queue", "e2e-parent", check=False)
    assert proc.returncode != 0
    assert (f"{DENIED}queue e2e-parent can not be deleted because it has 1 child queues: e2e-child"
            in proc.stderr)
    state = json.loads(kc("get", "queue", "e2e-child", "-o", "json")).get("status", {}).get("state")
    assert state in (None, "Open")
    kc("delete", "queue", "e2e-child")  # an Open queue deletes, as in current Volcano
    kc("delete", "queue", "e2e-parent")
    left = kc("get", "queues", "-o", "name").split()
    assert "queue.scheduling.volcano.sh/e2e-parent" not in left and "queue.scheduling.volcano.sh/e2e-child" not in left


def test_deployment_replicaset_and_pod_events(hk: K) -> None:
    hk("create", "deployment", "web", "--image=nginx:1.27", "--replicas=2")

    def rs_name() -> str:
        items = hk.json("replicasets", "-l", "app=web")["items"]
        return str(items[0]["metadata"]["name"]) if items else ""

    rs = wait_until(rs_name, what="the ReplicaSet")
    wait_until(lambda: ("Normal", "ScalingReplicaSet", f"Scaled up replica set {rs} from 0 to 2")
               in events_of(hk, "Deployment", "web"), what="ScalingReplicaSet")

    def pods() -> list[dict[str, Any]]:
        items = hk.json("pods", "-l", "app=web")["items"]
        running = [p for p in items if p["status"].get("phase") == "Running"
                   and not p["metadata"].get("deletionTimestamp")]
        return running if len(running) == 2 else []

    names = sorted(p["metadata"]["name"] for p in wait_until(pods, timeout=30, what="two running pods"))
    created = [e for e in events_of(hk, "ReplicaSet", rs) if e[1] == "SuccessfulCreate"]
    assert sorted(created) == [("Normal", "SuccessfulCreate", f"Created pod: {n}") for n in names]

    hk("scale", "deployment", "web", "--replicas=1")
    wait_until(lambda: ("Normal", "ScalingReplicaSet", f"Scaled down replica set {rs} from 2 to 1")
               in events_of(hk, "Deployment", "web"), what="scaled down")
    deleted = wait_until(lambda: [e for e in events_of(hk, "ReplicaSet", rs) if e[1] == "SuccessfulDelete"],
                         what="SuccessfulDelete")
    victim = deleted[0][2].removeprefix("Deleted pod: ")
    assert victim in names
    wait_until(lambda: ("Normal", "Killing", "Stopping container nginx") in events_of(hk, "Pod", victim),
               what="Killing on the deleted pod")


def test_job_events(hk: K) -> None:
    hk.apply({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"}, "spec": {"template": {
        "metadata": {"annotations": {"suanli.io/sim-duration": "1s", "suanli.io/sim-exit-code": "0"}},
        "spec": {"restartPolicy": "Never", "nodeSelector": {"kubernetes.io/hostname": "demo-manycore-0"},
                 "containers": [{"name": "main", "image": "busybox:1.36", "command": ["true"]}]}}}})
    wait_until(lambda: ("Normal", "Completed", "Job completed") in events_of(hk, "Job", "once"), timeout=60,
               what="Job completed")
    pods = hk.json("pods", "-l", "job-name=once")["items"]
    assert ("Normal", "SuccessfulCreate", f"Created pod: {pods[0]['metadata']['name']}") in events_of(hk, "Job", "once")


def test_cordon_is_announced_on_the_node(kc: Kubectl) -> None:
    node = "demo-manycore-0"
    k = K(kc, "default")
    kc("cordon", node)
    try:
        wait_until(lambda: ("Normal", "NodeNotSchedulable", f"Node {node} status is now: NodeNotSchedulable")
                   in events_of(k, "Node", node), what="NodeNotSchedulable")
    finally:
        kc("uncordon", node)
    wait_until(lambda: ("Normal", "NodeSchedulable", f"Node {node} status is now: NodeSchedulable")
               in events_of(k, "Node", node), what="NodeSchedulable")


def queue_state(kc: Kubectl, name: str) -> str:
    return str(json.loads(kc("get", "queue", name, "-o", "json")).get("status", {}).get("state") or "")


def queue_command(kc: Kubectl, name: str, action: str) -> None:
    """A Command as `vcctl queue operate -n <name> -a open|close` creates it."""
    q = json.loads(kc("get", "queue", name, "-o", "json"))
    ref = {"apiVersion": "scheduling.volcano.sh/v1beta1", "kind": "Queue", "name": name,
           "uid": q["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
    body = {"apiVersion": "bus.volcano.sh/v1alpha1", "kind": "Command",
            "metadata": {"generateName": f"{name}-{action.lower()}-", "namespace": "default",
                         "ownerReferences": [ref]}, "target": ref, "action": action}
    kc("create", "-f", "-", input=manifest(body))


def test_queue_close_and_open_commands(kc: Kubectl, hk: K) -> None:
    kc("apply", "-f", "-", input=manifest(queue("e2e-ops")))
    wait_until(lambda: queue_state(kc, "e2e-ops") == "Open", what="a new queue reported Open")
    queue_command(kc, "e2e-ops", "CloseQueue")
    wait_until(lambda: queue_state(kc, "e2e-ops") == "Closed", what="Closed")
    refused = hk.run("apply", "-f", "-", input=manifest({
        "apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job", "metadata": {"name": "late"},
        "spec": {"queue": "e2e-ops", "tasks": [{"name": "t", "replicas": 1, "template": {"spec": {
            "containers": [{"name": "c", "image": "busybox:1.36"}]}}}]}}))
    assert refused.returncode != 0 and "queue is Closed" in refused.stderr
    assert ("Normal", "CloseQueue", "Close queue succeed") in events_of(K(kc, "default"), "Queue", "e2e-ops")
    queue_command(kc, "e2e-ops", "OpenQueue")
    wait_until(lambda: queue_state(kc, "e2e-ops") == "Open", what="Open again")
    assert kc("get", "commands", "-A", "-o", "name").strip() == ""
