"""Volcano Job features through `suanli up --demo` and the real kubectl: the svc/ssh/env plugins,
dependsOn, bus Commands (what `vcctl job suspend/resume` create), policy timeouts, admission
warnings and PodGroupPending."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

import pytest

from tests.conftest import Kubectl
from tests.e2e.conftest import K, manifest, wait_until
from tests.e2e_hardware.conftest import EXAMPLES
from tests.e2e_volcano.conftest import events_of

pytestmark = pytest.mark.e2e

BUSYBOX = {"name": "main", "image": "busybox:1.36", "command": ["sleep", "3600"],
           "resources": {"requests": {"cpu": "100m"}}}


def vcjob(name: str, tasks: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job", "metadata": {"name": name},
            "spec": {"schedulerName": "volcano", "queue": "default", "tasks": tasks, **spec}}


def task(name: str, replicas: int, **pod: Any) -> dict[str, Any]:
    return {"name": name, "replicas": replicas,
            "template": {"spec": {"restartPolicy": "Never", "containers": [dict(BUSYBOX)], **pod}}}


def job_pods(k: K, job: str) -> dict[str, dict[str, Any]]:
    items = k.json("pods", "-l", f"volcano.sh/job-name={job}")["items"]
    return {p["metadata"]["name"]: p for p in items if not p["metadata"].get("deletionTimestamp")}


def phase(k: K, job: str) -> str:
    return str(((k.json("vcjob", job).get("status") or {}).get("state") or {}).get("phase") or "")


def test_svc_ssh_and_env_plugins(hk: K) -> None:
    hk.apply(vcjob("mpi", [task("mpimaster", 1), task("mpiworker", 2)], minAvailable=3,
                   plugins={"svc": ["--disable-network-policy"], "ssh": [], "env": []}))
    pods = wait_until(lambda: (p := job_pods(hk, "mpi")) and len(p) == 3 and p, what="3 pods")

    svc = hk.json("service", "mpi")
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["selector"] == {"volcano.sh/job-name": "mpi", "volcano.sh/job-namespace": hk.ns}
    assert svc["metadata"]["ownerReferences"][0]["kind"] == "Job"

    cm = hk.json("configmap", "mpi-svc")["data"]
    assert cm == {
        "mpimaster.host": "mpi-mpimaster-0.mpi", "VC_MPIMASTER_HOSTS": "mpi-mpimaster-0.mpi", "VC_MPIMASTER_NUM": "1",
        "mpiworker.host": "mpi-mpiworker-0.mpi\nmpi-mpiworker-1.mpi",
        "VC_MPIWORKER_HOSTS": "mpi-mpiworker-0.mpi,mpi-mpiworker-1.mpi", "VC_MPIWORKER_NUM": "2",
    }
    secret = hk.json("secret", "mpi-ssh")["data"]
    assert sorted(secret) == ["authorized_keys", "config", "id_rsa", "id_rsa.pub"]
    assert base64.b64decode(secret["id_rsa"]).startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert b"Host mpi-mpiworker-1\n  HostName mpi-mpiworker-1.mpi\n  Port 22\n" in base64.b64decode(secret["config"])

    w1 = pods["mpi-mpiworker-1"]["spec"]
    assert (w1["hostname"], w1["subdomain"]) == ("mpi-mpiworker-1", "mpi")
    c = w1["containers"][0]
    env = {e["name"]: e for e in c["env"]}
    assert env["VK_TASK_INDEX"]["value"] == env["VC_TASK_INDEX"]["value"] == "1"
    assert env["VC_MPIWORKER_HOSTS"]["valueFrom"] == {"configMapKeyRef": {"name": "mpi-svc",
                                                                          "key": "VC_MPIWORKER_HOSTS"}}
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert mounts["mpi-svc"]["mountPath"] == "/etc/volcano"
    assert (mounts["mpi-ssh"]["mountPath"], mounts["mpi-ssh"]["subPath"]) == ("/root/.ssh", ".ssh")
    volumes = {v["name"]: v for v in w1["volumes"]}
    assert volumes["mpi-ssh"]["secret"]["defaultMode"] == 0o600
    status = hk.json("vcjob", "mpi")["status"]
    assert status["controlledResources"] == {"plugin-svc": "svc", "plugin-ssh": "ssh", "plugin-env": "env"}


def test_dependent_task_starts_after_its_dependency_runs(hk: K, kc: Kubectl) -> None:
    label = f"e2e-{hk.ns}"
    hk.apply(vcjob("dag", [task("master", 1, nodeSelector={label: "go"}),
                           {**task("worker", 2), "dependsOn": {"name": ["master"]}}], minAvailable=1))
    wait_until(lambda: "dag-master-0" in job_pods(hk, "dag"), what="the master pod")
    # the master cannot be placed yet: the workers must not exist, however often the controller syncs
    hk("label", "vcjob", "dag", "poke=1")
    hk("label", "vcjob", "dag", "poke=2", "--overwrite")
    wait_until(lambda: hk.json("vcjob", "dag").get("status", {}).get("pending") == 1, what="master pending")
    assert sorted(job_pods(hk, "dag")) == ["dag-master-0"]
    kc("label", "node", "demo-manycore-0", f"{label}=go")
    try:
        pods = wait_until(lambda: (p := job_pods(hk, "dag")) and len(p) == 3 and p, timeout=30,
                          what="workers created once the master runs")
        master = pods["dag-master-0"]
        assert master["status"]["phase"] == "Running"
        started = master["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]
        assert all(pods[w]["metadata"]["creationTimestamp"] >= started for w in ("dag-worker-0", "dag-worker-1"))
    finally:
        kc("label", "node", "demo-manycore-0", f"{label}-")


def command(k: K, job: str, action: str) -> str:
    """Create a bus Command exactly as `vcctl job suspend/resume` does; return its name."""
    j = k.json("vcjob", job)
    ref = {"apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job", "name": job, "uid": j["metadata"]["uid"],
           "controller": True, "blockOwnerDeletion": True}
    body = {"apiVersion": "bus.volcano.sh/v1alpha1", "kind": "Command",
            "metadata": {"generateName": f"{job}-{action.lower()}-", "ownerReferences": [ref]},
            "target": ref, "action": action}
    out = k("create", "-f", "-", "-o", "name", input=manifest(body))
    return out.strip().split("/")[-1]


def test_suspend_and_resume_commands(hk: K) -> None:
    hk.apply(vcjob("sus", [task("t", 2)]))
    wait_until(lambda: phase(hk, "sus") == "Running", timeout=30, what="Running")
    name = command(hk, "sus", "AbortJob")
    wait_until(lambda: phase(hk, "sus") == "Aborted", timeout=30, what="Aborted (suspended)")
    assert not hk.exists("command", name)  # executed once, then deleted
    assert job_pods(hk, "sus") == {}
    events = events_of(hk, "Job", "sus")
    assert ("Normal", "CommandIssued", "Start to execute command AbortJob, and clean it up to make sure executed "
            "not more than once.") in events
    assert ("Normal", "ExecuteAction", "Start to execute action AbortJob ") in events

    command(hk, "sus", "ResumeJob")
    wait_until(lambda: phase(hk, "sus") == "Running", timeout=30, what="Running again after resume")
    status = hk.json("vcjob", "sus")["status"]
    assert (status["version"], status["retryCount"]) == (1, 1)
    assert hk("get", "commands", "-o", "name").strip() == ""


def test_pod_pending_timeout_aborts_the_job(hk: K) -> None:
    hk.apply(vcjob("late", [task("t", 1, nodeSelector={"e2e-nowhere": "true"})],
                   policies=[{"event": "PodPending", "action": "AbortJob", "timeout": "3s"}]))
    wait_until(lambda: phase(hk, "late") == "Aborted", timeout=40, what="Aborted after the timeout")
    items = json.loads(hk("get", "events", "--field-selector", "involvedObject.kind=Job,involvedObject.name=late",
                          "-o", "json"))["items"]
    announced = [e for e in items
                 if e["reason"] == "ExecuteAction" and e["message"] == "Execute action AbortJob after 3s"]
    assert len(announced) == 1
    conditions = hk.json("vcjob", "late")["status"]["conditions"]
    aborting = next(c["lastTransitionTime"] for c in conditions if c["status"] == "Aborting")
    waited = stamp(aborting) - stamp(announced[0]["firstTimestamp"])
    assert waited >= 2  # 3s, at the API's one-second resolution


def stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_admission_warns_about_what_is_ignored_and_refuses_unknown_plugins(hk: K) -> None:
    proc = hk.run("apply", "-f", "-", input=manifest(vcjob(
        "warned", [task("t", 1)], plugins={"pytorch": ["--master=master"], "ssh": ["--no-root"]},
        volumes=[{"mountPath": "/data"}])))
    assert proc.returncode == 0, proc.stderr
    assert "Warning: spec.plugins[pytorch]: the pytorch plugin is not supported by Suanli and is ignored" in proc.stderr
    assert ("Warning: spec.plugins[ssh]: flag provided but not defined: -no-root (this and later arguments are "
            "ignored)") in proc.stderr
    assert "Warning: spec.volumes: volumes are not supported by Suanli" in proc.stderr
    assert "Warning: spec.plugins[svc]: no NetworkPolicy is created" in proc.stderr  # pytorch added svc
    assert sorted(hk.json("vcjob", "warned")["spec"]["plugins"]) == ["pytorch", "ssh", "svc"]

    bad = hk.run("apply", "-f", "-", input=manifest(vcjob("bad", [task("t", 1)], plugins={"horovod": []})))
    assert bad.returncode != 0
    assert "spec.plugins[horovod]" in bad.stderr and "unable to find job plugin: horovod" in bad.stderr

    cycle = hk.run("apply", "-f", "-", input=manifest(vcjob(
        "cyc", [{**task("a", 1), "dependsOn": {"name": ["b"]}}, {**task("b", 1), "dependsOn": {"name": ["a"]}}])))
    assert cycle.returncode != 0
    assert "doesn't form a directed acyclic graph(DAG)" in cycle.stderr


def test_unschedulable_job_gets_a_podgroup_pending_warning(hk: K) -> None:
    hk.apply(vcjob("huge", [task("t", 1, nodeSelector={"e2e-nowhere": "true"})]))

    def warned() -> list[tuple[str, str, str]]:
        return [e for e in events_of(hk, "Job", "huge") if e[1] == "PodGroupPending"]

    found = wait_until(warned, timeout=30, what="PodGroupPending on the vcjob")
    pg = hk.json("podgroups")["items"][0]
    cond = next(c for c in pg["status"]["conditions"] if c["status"] == "True")
    assert found[0] == ("Warning", "PodGroupPending",
                        f"PodGroup {hk.ns}:huge {cond['type'].lower()}, reason: {cond['message']}")
    described = hk("describe", "vcjob", "huge")
    assert "PodGroupPending" in described




def test_mpi_example_gets_its_hosts_and_keys(hk: K) -> None:
    hk("apply", "-f", str(EXAMPLES / "volcano" / "vcjob-mpi.yaml"))
    pods = wait_until(lambda: (p := job_pods(hk, "mpi-hello")) and len(p) == 3 and p, what="3 pods")
    assert sorted(pods) == ["mpi-hello-mpimaster-0", "mpi-hello-mpiworker-0", "mpi-hello-mpiworker-1"]
    hosts = hk.json("configmap", "mpi-hello-svc")["data"]["mpiworker.host"]
    assert hosts == "mpi-hello-mpiworker-0.mpi-hello\nmpi-hello-mpiworker-1.mpi-hello"
    assert hk.exists("secret", "mpi-hello-ssh") and hk.exists("service", "mpi-hello")
    wait_until(lambda: phase(hk, "mpi-hello") == "Running", timeout=30, what="Running")
    for name, pod in pods.items():
        mounts = {m["mountPath"] for m in pod["spec"]["containers"][0]["volumeMounts"]}
        assert {"/etc/volcano", "/root/.ssh"} <= mounts, name
    hk("delete", "vcjob", "mpi-hello")
    wait_until(lambda: not any(hk.exists(kind, name) for kind, name in (
        ("service", "mpi-hello"), ("configmap", "mpi-hello-svc"), ("secret", "mpi-hello-ssh"))),
        timeout=30, what="the plugins' objects garbage-collected with the job")
