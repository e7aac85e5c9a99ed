"""The tenant recipe of docs/tenants.md through the real kubectl: two departments (namespace +
RBAC + ResourceQuota on CPU and huawei.com/Ascend910 + LimitRange + own Volcano queue) from
examples/tenants. Creates over quota get kube-apiserver's 403 ``exceeded quota`` message, Volcano
Jobs in each department's queue run within its quota, and ``kubectl describe quota`` shows the
usage the quota controller keeps."""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Any

import pytest

from tests.conftest import Kubectl
from tests.e2e.conftest import manifest, wait_until
from tests.e2e_tenants.conftest import ASCEND, TENANTS, quota_used

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("departments")]


def pod(name: str, requests: dict[str, Any] | None = None, limits: dict[str, Any] | None = None) -> dict[str, Any]:
    res: dict[str, Any] = {}
    if requests:
        res["requests"] = requests
    if limits:
        res["limits"] = limits
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "main", "image": "busybox:1.36", "command": ["sleep", "3600"],
                                     "resources": res}]}}


def create(kc: Kubectl, ns: str, *objs: dict[str, Any]) -> tuple[int, str]:
    proc = kc.run("create", "-n", ns, "-f", "-", input=manifest(*objs), check=False)
    return proc.returncode, proc.stderr.strip()


def job_phase(kc: Kubectl, ns: str, name: str) -> str:
    job = json.loads(kc("get", "vcjob", name, "-n", ns, "-o", "json"))
    return str(((job.get("status") or {}).get("state") or {}).get("phase") or "")


def running_pods(kc: Kubectl, ns: str, job: str) -> list[dict[str, Any]]:
    items = json.loads(kc("get", "pods", "-n", ns, "-l", f"volcano.sh/job-name={job}", "-o", "json"))["items"]
    return [p for p in items if (p.get("status") or {}).get("phase") == "Running"]


def test_cpu_over_quota_is_refused_with_upstream_message(kc: Kubectl) -> None:
    code, err = create(kc, "dept-a", pod("fits", {"cpu": "3"}, {"cpu": "4"}))
    assert code == 0, err
    code, err = create(kc, "dept-a", pod("too-much", {"cpu": "2"}, {"cpu": "2"}))
    assert code == 1
    assert err == ('Error from server (Forbidden): error when creating "STDIN": pods "too-much" is forbidden: '
                   "exceeded quota: compute, requested: requests.cpu=2, used: requests.cpu=3, "
                   "limited: requests.cpu=4")
    # deleting the pod gives its CPU back once the quota controller has seen it go
    kc("delete", "pod", "fits", "-n", "dept-a", "--grace-period=0", "--force", "--wait=true")
    wait_until(lambda: quota_used(kc, "dept-a").get("requests.cpu") == "0", timeout=30, what="CPU released")
    code, err = create(kc, "dept-a", pod("too-much", {"cpu": "2"}, {"cpu": "2"}))
    assert code == 0, err
    kc("delete", "pod", "too-much", "-n", "dept-a", "--grace-period=0", "--force", "--wait=true")


def test_npu_job_runs_in_its_queue_within_quota_and_a_further_npu_pod_is_refused(kc: Kubectl) -> None:
    kc("apply", "-f", str(TENANTS / "npu-job-dept-b.yaml"))
    wait_until(lambda: len(running_pods(kc, "dept-b", "npu-train")) == 2, timeout=60, what="2 NPU workers Running")
    assert job_phase(kc, "dept-b", "npu-train") == "Running"
    pg = json.loads(kc("get", "podgroups", "-n", "dept-b", "-o", "json"))["items"][0]
    assert pg["spec"]["queue"] == "dept-b"
    assert quota_used(kc, "dept-b")["requests.huawei.com/Ascend910"] == "2"
    npu = {ASCEND: 1, "cpu": "100m", "memory": "128Mi"}
    code, err = create(kc, "dept-b", pod("one-more-npu", npu, npu))
    assert code == 1
    assert err.endswith('pods "one-more-npu" is forbidden: exceeded quota: compute, requested: '
                        "requests.huawei.com/Ascend910=1, used: requests.huawei.com/Ascend910=2, "
                        "limited: requests.huawei.com/Ascend910=2")
    # the other department's NPU quota is its own
    code, err = create(kc, "dept-a", pod("npu-in-a", npu, npu))
    assert code == 0, err


def test_limit_range_defaults_are_charged_to_the_queue_job(kc: Kubectl) -> None:
    kc("apply", "-f", str(TENANTS / "cpu-job-dept-a.yaml"))
    wait_until(lambda: len(running_pods(kc, "dept-a", "cpu-batch")) == 3, timeout=60, what="3 workers Running")
    worker = running_pods(kc, "dept-a", "cpu-batch")[0]
    assert worker["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "1", "memory": "1Gi"},
                                                            "requests": {"cpu": "250m", "memory": "256Mi"}}
    assert worker["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container main; cpu, memory limit for container main")
    assert worker["metadata"]["annotations"]["volcano.sh/queue-name"] == "dept-a"
    used = quota_used(kc, "dept-a")
    assert used["count/jobs.batch.volcano.sh"] == "1"
    assert int(used["pods"]) >= 3


def test_describe_quota_renders_used_and_hard(kc: Kubectl) -> None:
    out = kc("describe", "quota", "compute", "-n", "dept-b")
    assert re.search(r"^Name:\s+compute$", out, re.M), out
    assert re.search(r"^Resource\s+Used\s+Hard$", out, re.M), out
    assert re.search(r"^requests\.cpu\s+\S+\s+2$", out, re.M), out
    assert re.search(r"^requests\.huawei\.com/Ascend910\s+\d+\s+2$", out, re.M), out
    assert re.search(r"^requests\.memory\s+\S+\s+4Gi$", out, re.M), out
    table = kc("get", "quota", "-n", "dept-b").splitlines()
    assert table[0].split() == ["NAME", "AGE", "REQUEST", "LIMIT"]
    assert table[1].startswith("compute ") and "requests.huawei.com/Ascend910: 2/2" in table[1], table


def test_limit_range_max_is_enforced(kc: Kubectl) -> None:
    code, err = create(kc, "dept-b", pod("huge", {"cpu": "1"}, {"cpu": "3"}))
    assert code == 1
    assert err.endswith('pods "huge" is forbidden: maximum cpu usage per Container is 2, but limit is 3')


def test_namespace_lifecycle(kc: Kubectl) -> None:
    proc = kc.run("delete", "namespace", "kube-public", check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == ('Error from server (Forbidden): namespaces "kube-public" is forbidden: '
                                   "this namespace may not be deleted")
    code, err = create(kc, "no-such-dept", pod("p"))
    assert code == 1 and 'namespaces "no-such-dept" not found' in err


def test_concurrent_creates_never_overrun_the_quota(kc: Kubectl) -> None:
    """Six kubectl processes race for a quota with room for two pods: exactly two get in."""
    ns = "race"
    kc("apply", "-f", "-", input=manifest(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "two-pods", "namespace": ns},
         "spec": {"hard": {"pods": "2"}}}))
    wait_until(lambda: quota_used(kc, ns, "two-pods").get("pods") == "0", timeout=30, what="quota synced")
    env = {**os.environ, "KUBECONFIG": str(kc.kubeconfig), "HOME": str(kc.kubeconfig.parent)}
    procs = [subprocess.Popen([kc.binary, "create", "-n", ns, "-f", "-"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(6)]
    results = [p.communicate(manifest(pod(f"racer-{i}")), timeout=60) for i, p in enumerate(procs)]
    codes = [p.returncode for p in procs]
    assert codes.count(0) == 2, results
    refused = [err for (_, err), code in zip(results, codes, strict=True) if code != 0]
    assert all("exceeded quota: two-pods, requested: pods=1, used: pods=2, limited: pods=2" in e for e in refused)
    assert quota_used(kc, ns, "two-pods")["pods"] == "2"
    assert len(json.loads(kc("get", "pods", "-n", ns, "-o", "json"))["items"]) == 2
