"""Fixtures for the scheduler end-to-end suite: `suanli up` with its demo pool, driven by the real kubectl.

Every module gets its own fresh demo server (``demo_server`` is overridden module-scoped here): queues,
PriorityClasses, the scheduler ConfigMap and device policies are cluster-wide. Helpers:

* ``npu_online`` / ``kae_online`` — the NFD rules and the NPU / KAE cluster policy are applied and the
  Ascend nodes advertise 8 ``huawei.com/Ascend910`` each (the KAE node ``openfuyao.com/kae.hpre``).
* :func:`set_scheduler_config` — write ``volcano-scheduler-configmap`` in ``volcano-system``.
* :func:`vcjob` — a Volcano Job object; :func:`pods_of` / :func:`bound` — what the scheduler did.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Kubectl, Server
from tests.e2e.conftest import K, manifest, wait_until
from tests.e2e_hardware.conftest import EXAMPLES, fresh_demo_server, get_json, hk, kc

__all__ = ["hk", "kc"]  # re-exported fixtures

ASCEND = "huawei.com/Ascend910"
HPRE = "openfuyao.com/kae.hpre"
DEVICES_ANNOTATION = "suanli.io/allocated-devices"
PREEMPTABLE = "volcano.sh/preemptable"
NODEGROUP_LABEL = "volcano.sh/nodegroup-name"
#: Number of nodes in the demo pool (6 simulated + the host).
POOL_SIZE = 7

#: Volcano's default tiers with the given actions (a ``volcano-scheduler.conf`` text).
DEFAULT_TIERS = """\
tiers:
- plugins:
  - name: priority
  - name: gang
  - name: conformance
- plugins:
  - name: overcommit
  - name: drf
  - name: predicates
  - name: proportion
  - name: nodeorder
"""


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A fresh demo platform per module (cluster-wide scheduler state must not leak between modules)."""
    yield from fresh_demo_server(tmp_path_factory)


def allocatable(kc: Kubectl, node: str) -> dict[str, str]:
    return dict(get_json(kc, "node", node)["status"].get("allocatable") or {})


def _rules(kc: Kubectl) -> None:
    kc("apply", "-f", str(EXAMPLES / "nfd-rules-ascend-kae.yaml"))


@pytest.fixture
def npu_online(kc: Kubectl) -> None:
    """Both Ascend demo nodes advertise 8 NPUs (idempotent: apply + wait)."""
    _rules(kc)
    kc("apply", "-f", str(EXAMPLES / "npu-cluster-policy.yaml"))
    wait_until(
        lambda: all(allocatable(kc, n).get(ASCEND) == "8" for n in ("demo-ascend-0", "demo-ascend-1")),
        timeout=30,
        what="8 huawei.com/Ascend910 on both Ascend nodes",
    )


def bring_kae_online(kc: Kubectl) -> None:
    _rules(kc)
    kc("apply", "-f", str(EXAMPLES / "kae-cluster-policy.yaml"))
    wait_until(lambda: allocatable(kc, "demo-kae-0").get(HPRE), timeout=30, what=f"{HPRE} on demo-kae-0")


def set_scheduler_config(kc: Kubectl, text: str) -> None:
    """Create or replace the scheduler ConfigMap with ``text`` as ``volcano-scheduler.conf``."""
    kc("apply", "-f", "-", input=manifest({"apiVersion": "v1", "kind": "Namespace",
                                            "metadata": {"name": "volcano-system"}}))
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "volcano-scheduler-configmap", "namespace": "volcano-system"},
        "data": {"volcano-scheduler.conf": text},
    }
    kc("apply", "-f", "-", input=manifest(cm))


def priority_class(name: str, value: int) -> dict[str, Any]:
    return {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
            "value": value}


def queue(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "scheduling.volcano.sh/v1beta1", "kind": "Queue", "metadata": {"name": name},
            "spec": {"reclaimable": True, **spec}}


def vcjob(name: str, replicas: int, requests: dict[str, Any], *, queue: str = "default",
          min_available: int | None = None, priority_class: str | None = None, preemptable: bool | None = None,
          node_selector: dict[str, str] | None = None) -> dict[str, Any]:
    """A one-task Volcano Job of ``replicas`` pods each requesting ``requests``; ``preemptable`` True/False
    annotates the pods ``volcano.sh/preemptable`` (None: neither annotation nor label, i.e. preemptable)."""
    meta: dict[str, Any] = {}
    if preemptable is not None:
        meta["annotations"] = {PREEMPTABLE: str(preemptable).lower()}
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [{"name": "main", "image": "busybox:1.36", "command": ["sleep", "3600"],
                        "resources": {"requests": dict(requests), "limits": dict(requests)}}],
    }
    if node_selector:
        pod_spec["nodeSelector"] = node_selector
    spec: dict[str, Any] = {
        "schedulerName": "volcano",
        "queue": queue,
        "minAvailable": replicas if min_available is None else min_available,
        "tasks": [{"name": "task", "replicas": replicas, "template": {"metadata": meta, "spec": pod_spec}}],
    }
    if priority_class:
        spec["priorityClassName"] = priority_class
    return {"apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job", "metadata": {"name": name}, "spec": spec}


def describe_pod(k: K, name: str) -> str:
    """``kubectl describe pod name``, or "" while the pod does not exist yet (controllers create
    Volcano Job pods only after the scheduler enqueues the PodGroup)."""
    proc = k.run("describe", "pod", name)
    if proc.returncode != 0 and "NotFound" in proc.stderr:
        return ""
    if proc.returncode != 0:
        raise AssertionError(f"kubectl describe pod {name} failed: {proc.stderr}")
    return proc.stdout


def pods_of(k: K, job: str) -> list[dict[str, Any]]:
    """The pods of Volcano Job ``job`` (label ``volcano.sh/job-name``)."""
    return list(json.loads(k("get", "pods", "-l", f"volcano.sh/job-name={job}", "-o", "json"))["items"])


def bound(k: K, job: str) -> dict[str, str]:
    """``{pod name: node}`` of ``job``'s pods that have a node and are not being deleted."""
    return {p["metadata"]["name"]: p["spec"]["nodeName"] for p in pods_of(k, job)
            if p["spec"].get("nodeName") and not p["metadata"].get("deletionTimestamp")}


def wait_bound(k: K, job: str, count: int, *, timeout: float = 20) -> dict[str, str]:
    """Wait until ``count`` pods of ``job`` are bound; return ``{pod: node}``."""

    def done() -> dict[str, str] | None:
        got = bound(k, job)
        return got if len(got) == count else None

    return wait_until(done, timeout=timeout, what=f"{count} bound pods of job {job}")


def scheduled_condition(pod: dict[str, Any]) -> dict[str, Any] | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "PodScheduled":
            return dict(cond)
    return None


def metrics_text(server: Server) -> str:
    """``GET /metrics`` with the admin bearer token (Prometheus text format)."""
    req = urllib.request.Request(f"{server.url}/metrics", headers={"Authorization": f"Bearer {server.token()}"})
    with urllib.request.urlopen(req, timeout=10, context=server.ssl_context()) as resp:
        return str(resp.read().decode())


def metric_value(text: str, name: str, labels: str = "") -> float | None:
    """The sample ``name{labels}`` in Prometheus ``text`` (labels exactly as rendered), else None."""
    key = f"{name}{{{labels}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(key + " "):
            return float(line.split()[-1])
    return None


def cycles(server: Server) -> float:
    return metric_value(metrics_text(server), "suanli_scheduler_cycle_duration_seconds_count") or 0.0


def wait_cycles(server: Server, n: int = 2, *, since: float | None = None) -> None:
    """Wait until the scheduler has completed ``n`` more cycles than ``since`` (default: now).

    Read ``since`` *before* a change that triggers a cycle, or the cycle may already be counted.
    """
    start = cycles(server) if since is None else since
    wait_until(lambda: cycles(server) >= start + n, timeout=15, what=f"{n} more scheduling cycles")


def with_extended_limits(pod: dict[str, Any]) -> dict[str, Any]:
    """``pod`` with each container's extended-resource requests (``nvidia.com/gpu``…) also as limits.

    kube-apiserver (and so Suanli) rejects extended resources that are requested without an equal
    limit; upstream's unit-test builders set requests only, so a replay through the API copies them.
    """
    out = dict(pod, spec=dict(pod["spec"]))
    containers = []
    for c in out["spec"].get("containers", []):
        resources = dict(c.get("resources") or {})
        extended = {name: q for name, q in (resources.get("requests") or {}).items() if "/" in name}
        if extended:
            resources["limits"] = {**(resources.get("limits") or {}), **extended}
            c = dict(c, resources=resources)
        containers.append(c)
    out["spec"]["containers"] = containers
    return out
