"""Volcano Job plugins (svc, ssh, env), dependsOn readiness, PodGroup events and policy timeouts as
pure functions; tables ported from upstream's unit tests where they exist."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

from suanli.apimachinery.objects import Obj
from suanli.controllers.volcanojob import (
    JobEvent,
    VolcanoJobController,
    build_plugins,
    delay_persists,
    dependencies_met,
    podgroup_pending_message,
    policy_match,
    task_ready,
    tasks_of,
)
from suanli.controllers.volcanojob.env import EnvPlugin
from suanli.controllers.volcanojob.ssh import ABSOLUTE_PATH, SshPlugin, ssh_config
from suanli.controllers.volcanojob.svc import SvcPlugin, hosts_data

# A key pair in the shape of upstream's ssh_test.go case (shortened; the plugin stores it as given).
PRIVATE = "-----BEGIN RSA PRIVATE KEY-----\\nMIIEpAIBAAKCAQEAyeyZ\\n-----END RSA PRIVATE KEY-----\\n"
PUBLIC = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDJ7JmN root@aiplatform"


def job(tasks: list[Obj], plugins: dict[str, list[str]] | None = None, name: str = "job1") -> Obj:
    return {
        "apiVersion": "batch.volcano.sh/v1alpha1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "ns", "uid": "u1"},
        "spec": {"tasks": tasks, "plugins": plugins or {}},
    }


def task(name: str, replicas: int, **spec: Any) -> Obj:
    return {"name": name, "replicas": replicas, "minAvailable": replicas,
            "template": {"spec": {"containers": [{"name": "c", "image": "x"}],
                                  "initContainers": [{"name": "i", "image": "x"}], **spec}}}


# -- ssh (upstream TestSSHPlugin, TestGenerateSSHConfigWithCustomPort, TestInvalidSSHPortFallsBackToDefault)


@pytest.mark.parametrize(
    ("params", "path", "private", "public", "port"),
    [
        ([], ABSOLUTE_PATH, "", "", 22),
        (["--ssh-key-file-path=/a/b"], "/a/b", "", "", 22),
        ([f"--ssh-private-key={PRIVATE}", f"--ssh-public-key={PUBLIC}"], ABSOLUTE_PATH, PRIVATE, PUBLIC, 22),
        (["--ssh-port=2026"], ABSOLUTE_PATH, "", "", 2026),
        (["--ssh-port=-10"], ABSOLUTE_PATH, "", "", 22),
    ],
    ids=["no-params", "key-file-path", "user-provided-keys", "custom-port", "invalid-port-falls-back-to-22"],
)
def test_ssh_arguments(params: list[str], path: str, private: str, public: str, port: int) -> None:
    p = SshPlugin.build(params)
    assert (p.key_file_path, p.private_key, p.public_key, p.port, p.error) == (path, private, public, port, None)


def test_ssh_config_names_every_host_with_the_port() -> None:
    j = job([task("worker", 2), task("master", 3, hostname="m", subdomain="sub")])
    assert ssh_config(j, 2026) == (
        "StrictHostKeyChecking no\nUserKnownHostsFile /dev/null\n"
        "Host job1-worker-0\n  HostName job1-worker-0.job1\n  Port 2026\n"
        "Host job1-worker-1\n  HostName job1-worker-1.job1\n  Port 2026\n"
        "Host m\n  HostName m.sub\n  Port 2026\n"
    )


@pytest.mark.parametrize(
    ("params", "mode"), [([], 0o600), (["--ssh-key-file-path=/home/user/.ssh"], 0o644)],
    ids=["root-keys-0600", "other-path-0644"],
)
def test_ssh_mounts_the_key_secret(params: list[str], mode: int) -> None:
    j = job([task("w", 1)])
    pod: Obj = {"metadata": {"name": "job1-w-0"}, "spec": j["spec"]["tasks"][0]["template"]["spec"]}
    plugin = SshPlugin.build(params)
    plugin.on_pod_create(pod, j)
    vol = pod["spec"]["volumes"][-1]
    assert vol["name"] == "job1-ssh"
    assert vol["secret"]["defaultMode"] == mode
    assert [i["path"] for i in vol["secret"]["items"]] == [
        ".ssh/id_rsa", ".ssh/id_rsa.pub", ".ssh/authorized_keys", ".ssh/config"]
    for c in (*pod["spec"]["containers"], *pod["spec"]["initContainers"]):
        assert c["volumeMounts"][-1] == {"name": "job1-ssh", "mountPath": plugin.key_file_path, "subPath": ".ssh"}


def test_ssh_secret_holds_a_generated_key_pair_and_config() -> None:
    j = job([task("w", 1)])
    (owned,) = SshPlugin.build([]).on_job_add(j)
    secret = owned.obj
    assert secret["metadata"]["name"] == "job1-ssh"
    assert secret["metadata"]["ownerReferences"][0]["uid"] == "u1"
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["id_rsa"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert data["id_rsa.pub"].startswith("ssh-rsa ") and data["id_rsa.pub"].endswith("\n")
    assert data["authorized_keys"] == data["id_rsa.pub"]
    assert "Host job1-w-0\n" in data["config"]
    (again,) = SshPlugin.build([]).on_job_add(j)
    assert again.obj["data"]["id_rsa"] != secret["data"]["id_rsa"]  # a fresh key per initiation


def test_ssh_secret_uses_the_given_key_pair() -> None:
    (owned,) = SshPlugin.build([f"--ssh-private-key={PRIVATE}", f"--ssh-public-key={PUBLIC}"]).on_job_add(
        job([task("w", 1)]))
    data = {k: base64.b64decode(v).decode() for k, v in owned.obj["data"].items()}
    assert (data["id_rsa"], data["id_rsa.pub"], data["authorized_keys"]) == (PRIVATE, PUBLIC, PUBLIC)


# -- svc (upstream GenerateHosts and OnPodCreate) ----------------------------------------------


@pytest.mark.parametrize(
    ("tasks", "data"),
    [
        ([task("ps", 1), task("worker", 2)],
         {"ps.host": "job1-ps-0.job1", "VC_PS_HOSTS": "job1-ps-0.job1", "VC_PS_NUM": "1",
          "worker.host": "job1-worker-0.job1\njob1-worker-1.job1",
          "VC_WORKER_HOSTS": "job1-worker-0.job1,job1-worker-1.job1", "VC_WORKER_NUM": "2"}),
        ([task("my-task", 1)],
         {"my_task.host": "job1-my-task-0.job1", "VC_MY_TASK_HOSTS": "job1-my-task-0.job1", "VC_MY_TASK_NUM": "1"}),
        ([task("m", 3, hostname="master", subdomain="net")],
         {"m.host": "master.net", "VC_M_HOSTS": "master.net", "VC_M_NUM": "1"}),
        ([task("z", 0)], {"z.host": "", "VC_Z_HOSTS": "", "VC_Z_NUM": "0"}),
    ],
    ids=["one-line-per-pod", "dash-becomes-underscore", "fixed-hostname-is-one-host", "no-replicas"],
)
def test_hosts_configmap_data(tasks: list[Obj], data: dict[str, str]) -> None:
    assert hosts_data(job(tasks)) == data


def test_svc_objects_and_pod() -> None:
    j = job([task("ps", 1), task("worker", 2)])
    plugin = SvcPlugin.build(["--publish-not-ready-addresses"])
    cm, svc = plugin.on_job_add(j)
    assert (cm.obj["metadata"]["name"], cm.replace) == ("job1-svc", True)
    assert svc.obj["metadata"]["name"] == "job1" and not svc.replace
    assert svc.obj["spec"] == {"clusterIP": "None", "publishNotReadyAddresses": True,
                               "selector": {"volcano.sh/job-name": "job1", "volcano.sh/job-namespace": "ns"}}
    assert "publishNotReadyAddresses" not in SvcPlugin.build([]).on_job_add(j)[1].obj["spec"]
    pod: Obj = {"metadata": {"name": "job1-worker-1"}, "spec": j["spec"]["tasks"][1]["template"]["spec"]}
    plugin.on_pod_create(pod, j)
    assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == ("job1-worker-1", "job1")
    assert pod["spec"]["volumes"][-1] == {"name": "job1-svc", "configMap": {"name": "job1-svc"}}
    for c in (*pod["spec"]["containers"], *pod["spec"]["initContainers"]):
        assert c["volumeMounts"][-1] == {"name": "job1-svc", "mountPath": "/etc/volcano"}
        assert [e["name"] for e in c["env"]] == ["VC_PS_HOSTS", "VC_PS_NUM", "VC_WORKER_HOSTS", "VC_WORKER_NUM"]
        assert c["env"][0]["valueFrom"] == {"configMapKeyRef": {"name": "job1-svc", "key": "VC_PS_HOSTS"}}


def test_svc_keeps_template_hostname_and_can_skip_env() -> None:
    j = job([task("m", 1, hostname="master", subdomain="net")])
    pod: Obj = {"metadata": {"name": "job1-m-0"}, "spec": j["spec"]["tasks"][0]["template"]["spec"]}
    SvcPlugin.build(["--inject-hosts-env=false"]).on_pod_create(pod, j)
    assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == ("master", "net")
    assert "env" not in pod["spec"]["containers"][0]


# -- env ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("pod_name", "index"), [("job1-worker-3", "3"), ("a-b", "")],
                         ids=["last-part-of-the-name", "short-names-have-none"])
def test_env_task_index(pod_name: str, index: str) -> None:
    pod: Obj = {"metadata": {"name": pod_name}, "spec": {"containers": [{"name": "c", "env": [{"name": "X"}]}],
                                                         "initContainers": [{"name": "i"}]}}
    EnvPlugin.build([]).on_pod_create(pod, job([]))
    for c in (*pod["spec"]["containers"], *pod["spec"]["initContainers"]):
        assert c["env"][-2:] == [{"name": "VK_TASK_INDEX", "value": index}, {"name": "VC_TASK_INDEX", "value": index}]


def test_pod_for_applies_every_plugin() -> None:
    j = job([task("w", 2)], {"env": [], "svc": [], "ssh": []})
    (t,) = tasks_of(j["spec"])
    pod = VolcanoJobController.pod_for(j, t, 1, 0)
    names = [v["name"] for v in pod["spec"]["volumes"]]
    assert names == ["job1-svc", "job1-ssh"]
    env = [e["name"] for e in pod["spec"]["containers"][0]["env"]]
    assert env == ["VK_TASK_INDEX", "VC_TASK_INDEX", "VC_W_HOSTS", "VC_W_NUM"]
    assert [p.name for p in build_plugins(j["spec"])] == ["env", "svc", "ssh"]
    assert build_plugins({"plugins": {"mpi": []}}) == []  # known upstream, not implemented: ignored


# -- dependsOn (upstream TestIsDependsOnPodsReady, plus iteration any/all) -----------------------


def pod(name: str, phase: str, ready: bool | None = None) -> Obj:
    status: Obj = {"phase": phase}
    if ready is not None:
        status["containerStatuses"] = [{"name": "c", "ready": ready}]
    return {"metadata": {"name": name}, "status": status}


def lookup(*pods: Obj) -> Callable[[str], Obj | None]:
    by_name = {p["metadata"]["name"]: p for p in pods}
    return by_name.get


@pytest.mark.parametrize(
    ("replicas", "pods", "ready"),
    [
        (2, [pod("job1-task1-0", "Succeeded"), pod("job1-task1-1", "Succeeded")], True),
        (1, [pod("job1-task1-0", "Running", True)], True),
        (1, [pod("job1-task1-0", "Running", False)], False),
        (1, [pod("job1-task1-0", "Pending")], False),
        (1, [], False),
    ],
    ids=["all-pods-succeeded", "running-and-ready", "running-not-ready", "pending", "no-pods-yet"],
)
def test_task_ready(replicas: int, pods: list[Obj], ready: bool) -> None:
    (t,) = tasks_of({"tasks": [task("task1", replicas)]})
    assert task_ready("job1", t, lookup(*pods)) is ready


@pytest.mark.parametrize(
    ("depends_on", "ready_tasks", "met"),
    [
        (None, [], True),
        ({"name": ["a"]}, [], False),
        ({"name": ["a"]}, ["a"], True),
        ({"name": ["a", "b"]}, ["a"], False),
        ({"name": ["a", "b"], "iteration": "all"}, ["a", "b"], True),
        ({"name": ["a", "b"], "iteration": "any"}, ["b"], True),
        ({"name": ["a", "b"], "iteration": "any"}, [], False),
        ({"name": ["a"], "iteration": "any"}, [], False),
        ({"name": ["ghost"]}, [], False),
    ],
    ids=["no-dependency", "waits-for-its-dependency", "dependency-ready", "all-by-default", "all-explicit",
         "any-one-is-enough", "any-none-ready", "any-with-one-name-is-all", "unknown-task-never-ready"],
)
def test_dependencies_met(depends_on: Obj | None, ready_tasks: list[str], met: bool) -> None:
    extra = {"dependsOn": depends_on} if depends_on else {}
    spec = {"tasks": [task("a", 1), task("b", 1), {**task("c", 1), **extra}]}
    tasks = tasks_of(spec)
    pods = [pod(f"job1-{n}-0", "Running", True) for n in ready_tasks]
    assert dependencies_met("job1", tasks, tasks[2], lookup(*pods)) is met


# -- PodGroupPending (upstream TestRecordPodGroupEvent) -----------------------------------------


UNSCHEDULABLE = "PodGroup default:job1 unschedulable, reason: test message"


def cond(kind: str, minute: int) -> Obj:
    return {"type": kind, "status": "True", "reason": "test reason", "message": "test message",
            "lastTransitionTime": f"2024-07-01T15:{minute:02d}:05Z"}


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        ([], None),
        ([cond("Unschedulable", 4)], UNSCHEDULABLE),
        ([cond("Unschedulable", 15), cond("Scheduled", 4)], UNSCHEDULABLE),
        ([cond("Unschedulable", 15), cond("Scheduled", 20)], None),
    ],
    ids=["no-conditions", "unschedulable", "unschedulable-after-scheduled", "scheduled-after-unschedulable"],
)
def test_podgroup_pending_message(conditions: list[Obj], message: str | None) -> None:
    j = {"metadata": {"name": "job1", "namespace": "default"}}
    assert podgroup_pending_message(j, {"status": {"conditions": conditions}}) == message


# -- policy timeouts (upstream applyPolicies) ----------------------------------------------------


@pytest.mark.parametrize(
    ("policies", "event", "want"),
    [
        ([{"event": "PodFailed", "action": "RestartJob", "timeout": "5m"}], "PodFailed", ("RestartJob", 300.0)),
        ([{"event": "PodFailed", "action": "RestartJob"}], "PodFailed", ("RestartJob", None)),
        ([{"event": "PodPending", "action": "AbortJob"}], "PodPending", None),
        ([{"event": "PodPending", "action": "AbortJob", "timeout": "90s"}], "PodPending", ("AbortJob", 90.0)),
        ([{"event": "*", "action": "AbortJob"}], "PodPending", None),
    ],
    ids=["timeout-delays", "no-timeout-acts-at-once", "pod-pending-needs-a-timeout", "pod-pending-with-timeout",
         "star-does-not-catch-pending-without-timeout"],
)
def test_policy_match(policies: list[Obj], event: str, want: tuple[str, float | None] | None) -> None:
    assert policy_match({"tasks": [], "policies": policies}, JobEvent(event, "a", "p")) == want


@pytest.mark.parametrize(
    ("event", "pods", "persists"),
    [
        (JobEvent("PodFailed", "t", "p"), [pod("p", "Failed")], True),
        (JobEvent("PodFailed", "t", "p"), [pod("p", "Running")], False),
        (JobEvent("PodEvicted", "t", "p"), [], True),
        (JobEvent("PodEvicted", "t", "p"), [pod("p", "Running")], False),
        (JobEvent("PodPending", "t", "p"), [pod("p", "Pending")], True),
        (JobEvent("PodPending", "t", "p"), [pod("p", "Running")], False),
        (JobEvent("PodPending", "t", "p"), [], False),
        (JobEvent("TaskFailed", "t"), [], True),
    ],
    ids=["failed-pod-still-failed", "failed-pod-runs-again", "evicted-pod-not-back-yet", "evicted-pod-runs-again",
         "pending-pod-still-pending", "pending-pod-started", "pending-pod-gone", "task-event-persists"],
)
def test_delayed_action_cancellation(event: JobEvent, pods: list[Obj], persists: bool) -> None:
    assert delay_persists(event, pods) is persists


@pytest.mark.parametrize(
    ("job_meta", "task_extra", "annotations", "labels"),
    [
        ({}, {}, {"volcano.sh/job-retry-count": "2"}, {}),
        ({"annotations": {"volcano.sh/preemptable": "true", "volcano.sh/cooldown-time": "600s", "other": "x"}},
         {}, {"volcano.sh/preemptable": "true", "volcano.sh/cooldown-time": "600s"}, {}),
        ({"labels": {"volcano.sh/preemptable": "false", "team": "a"}}, {}, {}, {"volcano.sh/preemptable": "false"}),
        ({"annotations": {"volcano.sh/jdb-min-available": "1", "volcano.sh/jdb-max-unavailable": "2"}}, {},
         {"volcano.sh/jdb-min-available": "1"}, {}),
        ({}, {"topologyPolicy": "best-effort"}, {"volcano.sh/numa-topology-policy": "best-effort"}, {}),
    ],
    ids=["retry-count", "job-annotations-copied", "job-labels-copied", "jdb-min-available-wins", "numa-policy"],
)
def test_pod_for_carries_job_metadata(job_meta: Obj, task_extra: Obj, annotations: dict[str, str],
                                      labels: dict[str, str]) -> None:
    j = job([{**task("w", 1), **task_extra}])
    j["metadata"].update(job_meta)
    (t,) = tasks_of(j["spec"])
    pod = VolcanoJobController.pod_for(j, t, 0, 0, retry=2)
    got_ann = {k: v for k, v in pod["metadata"]["annotations"].items() if k in annotations or k.startswith(
        ("volcano.sh/preemptable", "volcano.sh/cooldown", "volcano.sh/jdb", "volcano.sh/numa", "other"))}
    assert {k: v for k, v in got_ann.items() if k != "volcano.sh/job-retry-count"} == {
        k: v for k, v in annotations.items() if k != "volcano.sh/job-retry-count"}
    assert pod["metadata"]["annotations"]["volcano.sh/job-retry-count"] == "2"
    got_labels = {k: v for k, v in pod["metadata"]["labels"].items() if k in ("volcano.sh/preemptable", "team")}
    assert got_labels == labels
