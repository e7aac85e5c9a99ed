"""StatefulSets and CronJobs through the real kubectl against a real `suanli up`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.e2e.conftest import K, wait_until


def statefulset(name: str, replicas: int, image: str = "nginx:1.27", **spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "main", "image": image}]}}, **spec}}


def pods_by_name(k: K, app: str) -> dict[str, Any]:
    items = k.json("pods", "-l", f"app={app}")["items"]
    return {p["metadata"]["name"]: p for p in items if not p["metadata"].get("deletionTimestamp")}


def sts_status(k: K, name: str) -> dict[str, Any]:
    return dict(k.json("statefulset", name).get("status") or {})


def test_statefulset_scales_up_in_order_and_down_in_reverse(k: K) -> None:
    k.apply(statefulset("web", 3))
    k("rollout", "status", "statefulset/web", "--timeout=60s")
    pods = pods_by_name(k, "web")
    assert sorted(pods) == ["web-0", "web-1", "web-2"]
    # OrderedReady: each pod was created only after its predecessor was Ready
    started = [pods[f"web-{i}"]["metadata"]["creationTimestamp"] for i in range(3)]
    assert started == sorted(started)
    for name, p in pods.items():
        assert p["spec"]["hostname"] == name and p["spec"]["subdomain"] == "web"
        assert p["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == name
    st = sts_status(k, "web")
    assert (st["replicas"], st["readyReplicas"], st["currentReplicas"], st["updatedReplicas"]) == (3, 3, 3, 3)
    assert st["currentRevision"] == st["updateRevision"]
    events = k("get", "events", "--field-selector", "involvedObject.name=web,reason=SuccessfulCreate",
               "-o", "jsonpath={.items[*].message}")
    assert "create Pod web-0 in StatefulSet web successful" in events

    k("scale", "statefulset/web", "--replicas=1")
    wait_until(lambda: sorted(pods_by_name(k, "web")) == ["web-0"], timeout=60, what="scale down to web-0")
    deletes = json.loads(k("get", "events", "--field-selector", "involvedObject.name=web,reason=SuccessfulDelete",
                           "-o", "json"))["items"]
    order = [e["message"].split()[2] for e in sorted(deletes, key=lambda e: int(e["metadata"]["resourceVersion"]))]
    assert set(order) == {"web-1", "web-2"} and order[0] == "web-2"
    wait_until(lambda: sts_status(k, "web").get("replicas") == 1, what="status.replicas 1")


def test_statefulset_rolling_update_honours_partition(k: K) -> None:
    k.apply(statefulset("db", 3, podManagementPolicy="Parallel"))
    k("rollout", "status", "statefulset/db", "--timeout=60s")
    old = sts_status(k, "db")["updateRevision"]
    k("patch", "statefulset", "db", "-p", json.dumps({"spec": {"updateStrategy": {
        "type": "RollingUpdate", "rollingUpdate": {"partition": 2}}}}))
    k("set", "image", "statefulset/db", "main=nginx:1.28")
    out = k("rollout", "status", "statefulset/db", "--timeout=60s")
    assert "partitioned roll out complete" in out
    pods = pods_by_name(k, "db")
    images = {n: p["spec"]["containers"][0]["image"] for n, p in pods.items()}
    assert images == {"db-0": "nginx:1.27", "db-1": "nginx:1.27", "db-2": "nginx:1.28"}
    st = sts_status(k, "db")
    assert st["currentRevision"] == old != st["updateRevision"] and st["updatedReplicas"] == 1
    revisions = k("get", "controllerrevisions", "-o", "jsonpath={.items[*].revision}").split()
    assert sorted(revisions) == ["1", "2"]

    k("patch", "statefulset", "db", "-p", json.dumps({"spec": {"updateStrategy": {"rollingUpdate": {
        "partition": 0}}}}))
    k("rollout", "status", "statefulset/db", "--timeout=60s")
    images = {n: p["spec"]["containers"][0]["image"] for n, p in pods_by_name(k, "db").items()}
    assert set(images.values()) == {"nginx:1.28"}
    st = sts_status(k, "db")
    assert st["currentRevision"] == st["updateRevision"] and st["currentReplicas"] == 3


def test_statefulset_creates_claims_from_templates(k: K) -> None:
    k.apply(statefulset("data", 2, podManagementPolicy="Parallel", volumeClaimTemplates=[
        {"metadata": {"name": "www"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                               "resources": {"requests": {"storage": "1Gi"}}}}]))
    wait_until(lambda: sorted(k("get", "pvc", "-o", "jsonpath={.items[*].metadata.name}").split())
               == ["www-data-0", "www-data-1"], what="claims www-data-0/1")
    wait_until(lambda: len(pods_by_name(k, "data")) == 2, what="two pods")
    vols = pods_by_name(k, "data")["data-1"]["spec"]["volumes"]
    assert {"name": "www", "persistentVolumeClaim": {"claimName": "www-data-1"}} in vols


def advance(clock_file: Path, seconds: float) -> None:
    current = float(clock_file.read_text() or 0)
    clock_file.write_text(str(current + seconds))


def test_cronjob_fires_on_a_fake_clock(k: K, clock_file: Path) -> None:
    # the simulated pod succeeds after 15 s: long enough that the Job is still active when the test
    # reads the CronJob's status on a loaded machine, short enough for the history check below
    pod = {"metadata": {"annotations": {"suanli.io/sim-duration": "15s"}},
           "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox:1.36"}]}}
    k.apply({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick"},
             "spec": {"schedule": "*/5 * * * *", "timeZone": "Asia/Shanghai", "successfulJobsHistoryLimit": 1,
                      "jobTemplate": {"spec": {"template": pod}}}})
    assert k("get", "jobs", "-o", "name") == ""
    offset = float(clock_file.read_text() or 0)
    now = time.time() + offset
    to_next = 300 - now % 300 + 2  # just past the next */5 activation
    advance(clock_file, to_next)
    jobs = wait_until(lambda: k.json("jobs")["items"], timeout=30, what="a job from the cronjob")
    assert len(jobs) == 1
    activation = int((now + to_next) // 300 * 300)
    job = jobs[0]
    assert job["metadata"]["name"] == f"tick-{activation // 60}"
    stamp = job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
    assert stamp.endswith("+08:00")
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    status = wait_until(lambda: (k.json("cronjob", "tick").get("status") or {}).get("lastScheduleTime"),
                        what="lastScheduleTime")
    assert status == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(activation))
    active = wait_until(lambda: (k.json("cronjob", "tick").get("status") or {}).get("active"), what="active jobs")
    assert [a["name"] for a in active] == [job["metadata"]["name"]]
    # the job's pod runs on a simulated node and succeeds; later activations are trimmed to one
    advance(clock_file, 300)
    wait_until(lambda: len(k.json("jobs")["items"]) >= 2 or None, timeout=30, what="the second activation")
    wait_until(lambda: len(k.json("jobs")["items"]) == 1 and (k.json("cronjob", "tick").get("status") or {})
               .get("lastSuccessfulTime"), timeout=120, what="history trimmed to one successful job")


def test_statefulset_rollout_history_and_undo(k: K) -> None:
    k.apply(statefulset("hist", 1))
    k("rollout", "status", "statefulset/hist", "--timeout=60s")
    k("set", "image", "statefulset/hist", "main=nginx:1.28")
    k("rollout", "status", "statefulset/hist", "--timeout=60s")
    history = k("rollout", "history", "statefulset/hist")
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]
    k("rollout", "undo", "statefulset/hist")
    k("rollout", "status", "statefulset/hist", "--timeout=60s")
    assert pods_by_name(k, "hist")["hist-0"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    revisions = sorted(int(r) for r in k("get", "controllerrevisions", "-o",
                                         "jsonpath={.items[*].revision}").split())
    assert revisions == [2, 3]  # the rollback renumbered revision 1 as 3


def test_finished_job_deleted_after_its_ttl(k: K) -> None:
    k.apply({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "short"},
             "spec": {"ttlSecondsAfterFinished": 1, "template": {
                 "metadata": {"annotations": {"suanli.io/sim-duration": "1s"}},
                 "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox:1.36"}]}}}})
    wait_until(lambda: k.exists("job", "short"), what="the job")
    wait_until(lambda: not k.exists("job", "short"), timeout=30, what="the finished job deleted by its TTL")
