"""A day of simulated load replayed in virtual time: `kubectl top`, the custom and external metrics APIs,
the node's /metrics and /metrics/resource and the pod's own /metrics report the same numbers.

The server runs with ``--virtual-time-rate 0``: usage time stands still and moves only when the test
writes a new offset to ``--clock-offset-file`` (a day in four 6-hour steps), so every path must agree
on exactly one sample per step.
"""

from __future__ import annotations

import itertools
import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Kubectl, Server, kubectl_binary, start_server
from tests.e2e.conftest import K, manifest, unique, wait_until

pytestmark = pytest.mark.e2e

NODE = "usage-node-0"
METRIC = "http_requests_per_second"
#: level 1..4 = quarters of the pod's first day (``SinceSecond`` on the virtual clock)
LEVEL = "(1.0 + double(int(pod.SinceSecond() / 21600.0)))"
ANNOTATIONS = {
    "suanli.io/sim-cpu-usage": f'Quantity("100m") * {LEVEL}',
    "suanli.io/sim-memory-usage": f'Quantity("64Mi") * {LEVEL}',
    f"suanli.io/sim-metric.{METRIC}": f"12.5 * {LEVEL}",
}


@pytest.fixture(scope="module")
def vserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    base = tmp_path_factory.mktemp("suanli-virtual")
    offset = base / "offset"
    offset.write_text("0")
    srv = start_server(base / "data", base / "kubeconfig",
                       extra=["--virtual-time-rate", "0", "--clock-offset-file", str(offset)])
    try:
        yield srv, offset
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def vk(vserver: tuple[Server, Path]) -> Kubectl:
    kc = Kubectl(kubectl_binary(), vserver[0].kubeconfig)
    node = {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": NODE, "annotations": {"kwok.x-k8s.io/node": "fake"}}}
    kc("apply", "-f", "-", input=manifest(node))
    return kc


@pytest.fixture
def ns(vk: Kubectl) -> Iterator[K]:
    name = unique("usage")
    vk("create", "namespace", name)
    yield K(vk, name)
    vk.run("delete", "namespace", name, "--wait=false", check=False)


def _pod(name: str, annotations: dict[str, str], labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {"app": "web"}, "annotations": annotations},
            "spec": {"nodeName": NODE, "containers": [{"name": "main", "image": "nginx:1.27"}]}}


def _raw(kc: Kubectl, path: str) -> Any:
    return json.loads(kc("get", "--raw", path))


def _series(text: str, name: str, **labels: str) -> float | None:
    """The value of the first series ``name`` whose labels include ``labels``."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        if head != name and not head.startswith(name + "{"):
            continue
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            return float(value)
    return None


def _top(k: K, pod: str) -> tuple[str, str] | None:
    proc = k.run("top", "pod", pod, "--no-headers")
    if proc.returncode != 0 or not proc.stdout.strip():
        return None
    cols = proc.stdout.split()
    return cols[1], cols[2]


def test_a_replayed_day_moves_every_metrics_path_in_step(vserver: tuple[Server, Path], ns: K) -> None:
    _, offset = vserver
    ns.apply(_pod("web-0", ANNOTATIONS))
    custom = f"/apis/custom.metrics.k8s.io/v1beta2/namespaces/{ns.ns}/pods/*/{METRIC}"
    seen: list[tuple[int, str, str, str]] = []
    cpu_seconds: list[float] = []
    for step in range(4):
        offset.write_text(str(step * 21600 + 1800))
        level = step + 1
        want_cpu, want_mem = f"{100 * level}m", f"{64 * level}Mi"

        def settled(level: int = level, want: tuple[str, str] = (want_cpu, want_mem)) -> Any:
            if _top(ns, "web-0") != want:
                return None
            proc = ns.kubectl.run("get", "--raw", custom, check=False)
            if proc.returncode != 0:
                return None
            doc = json.loads(proc.stdout)
            return doc if [i["value"] for i in doc["items"]] == [_milli(12.5 * level)] else None

        doc = wait_until(settled, timeout=60, interval=0.5,
                         what=f"step {step}: top and custom metrics at level {level}")
        item = doc["items"][0]
        assert doc["kind"] == "MetricValueList" and doc["apiVersion"] == "custom.metrics.k8s.io/v1beta2"
        assert item["describedObject"] == {"kind": "Pod", "namespace": ns.ns, "name": "web-0", "apiVersion": "/v1"}
        assert item["metric"] == {"name": METRIC}
        # the pod's own endpoint and the node's kubelet-style endpoints report the same sample
        pod_text = ns.kubectl("get", "--raw", f"/api/v1/namespaces/{ns.ns}/pods/web-0/proxy/metrics")
        assert _series(pod_text, METRIC) == 12.5 * level
        resource = ns.kubectl("get", "--raw", f"/api/v1/nodes/{NODE}/proxy/metrics/resource")
        assert _series(resource, "container_memory_working_set_bytes", namespace=ns.ns, pod="web-0",
                       container="main") == 64 * level * 2**20
        assert _series(resource, "pod_memory_working_set_bytes", namespace=ns.ns, pod="web-0") == 64 * level * 2**20
        cpu_seconds.append(_series(resource, "pod_cpu_usage_seconds_total", namespace=ns.ns, pod="web-0") or 0.0)
        node_text = ns.kubectl("get", "--raw", f"/api/v1/nodes/{NODE}/proxy/metrics")
        total = _series(node_text, "node_memory_MemTotal_bytes")
        available = _series(node_text, "node_memory_MemAvailable_bytes")
        assert total is not None and available is not None
        assert total - available >= 64 * level * 2**20  # this pod's memory is part of the node's use
        top = _top(ns, "web-0")
        assert top == (want_cpu, want_mem)  # still the same sample: time stands still between steps
        seen.append((level, top[0], top[1], item["value"]))
    assert [s[1] for s in seen] == ["100m", "200m", "300m", "400m"]
    assert [s[3] for s in seen] == ["12500m", "25", "37500m", "50"]
    # the CPU counter integrates what `kubectl top` showed: 6 h at 100m, 200m, 300m between the steps
    steps = [b - a for a, b in itertools.pairwise(cpu_seconds)]
    assert steps == pytest.approx([0.1 * 21600, 0.2 * 21600, 0.3 * 21600])


def _milli(v: float) -> str:
    """prometheus-adapter's value rendering of ``v`` (integers plain, otherwise milli units)."""
    m = int(v * 1000)
    return str(m // 1000) if m % 1000 == 0 else f"{m}m"


def test_custom_metrics_discovery_lists_pods_and_namespaces_entries(ns: K) -> None:
    ns.apply(_pod("disc-0", {f"suanli.io/sim-metric.{METRIC}": "3"}))
    path = "/apis/custom.metrics.k8s.io/v1beta2"

    def listed() -> Any:
        doc = _raw(ns.kubectl, path)
        return doc if any(r["name"] == f"pods/{METRIC}" for r in doc["resources"]) else None

    doc = wait_until(listed, timeout=60, interval=0.5, what="pods/<metric> in custom metrics discovery")
    entry = next(r for r in doc["resources"] if r["name"] == f"pods/{METRIC}")
    assert entry == {"name": f"pods/{METRIC}", "singularName": "", "namespaced": True, "kind": "MetricValueList",
                     "verbs": ["get"]}
    assert any(r["name"] == f"namespaces/{METRIC}" and r["namespaced"] is False for r in doc["resources"])
    groups = {g["name"] for g in _raw(ns.kubectl, "/apis")["groups"]}
    assert {"custom.metrics.k8s.io", "external.metrics.k8s.io"} <= groups
    external = _raw(ns.kubectl, "/apis/external.metrics.k8s.io/v1beta1")
    assert any(r["name"] == METRIC and r["kind"] == "ExternalMetricValueList" for r in external["resources"])


def test_label_selector_object_and_external_queries(ns: K) -> None:
    ns.apply(_pod("sel-a", {f"suanli.io/sim-metric.{METRIC}": "4"}, {"app": "shop", "tier": "front"}),
             _pod("sel-b", {f"suanli.io/sim-metric.{METRIC}": "6"}, {"app": "shop", "tier": "back"}),
             _pod("sel-c", {f"suanli.io/sim-metric.{METRIC}": "100"}, {"app": "other"}),
             {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "shop"},
              "spec": {"selector": {"app": "shop"}, "ports": [{"port": 80}]}})
    base = f"/apis/custom.metrics.k8s.io/v1beta2/namespaces/{ns.ns}"
    selected = f"{base}/pods/*/{METRIC}?labelSelector=" + urllib.parse.quote("app=shop")

    def both() -> Any:
        proc = ns.kubectl.run("get", "--raw", selected, check=False)
        doc = json.loads(proc.stdout) if proc.returncode == 0 else None
        return doc if doc and len(doc["items"]) == 2 else None

    doc = wait_until(both, timeout=60, interval=0.5, what="both shop pods in the custom metrics API")
    assert sorted((i["describedObject"]["name"], i["value"]) for i in doc["items"]) == [("sel-a", "4"),
                                                                                        ("sel-b", "6")]
    svc = _raw(ns.kubectl, f"{base}/services/shop/{METRIC}")
    assert [(i["describedObject"]["kind"], i["value"]) for i in svc["items"]] == [("Service", "10")]
    by_metric_labels = _raw(ns.kubectl, f"{base}/pods/*/{METRIC}?metricSelector=" + urllib.parse.quote("tier=back"))
    assert [i["describedObject"]["name"] for i in by_metric_labels["items"]] == ["sel-b"]
    assert by_metric_labels["items"][0]["metric"]["selector"] == {"matchLabels": {"tier": "back"}}
    ext = _raw(ns.kubectl, f"/apis/external.metrics.k8s.io/v1beta1/namespaces/{ns.ns}/{METRIC}?labelSelector="
               + urllib.parse.quote("app=shop"))
    assert ext["kind"] == "ExternalMetricValueList"
    assert sorted((i["metricLabels"]["pod"], i["value"]) for i in ext["items"]) == [("sel-a", "4"), ("sel-b", "6")]


@pytest.mark.parametrize(("path", "code", "needle"), [
    pytest.param("pods/*/no_such_metric", 404, "the server could not find the metric no_such_metric for pods",
                 id="unknown-metric-is-404-naming-it"),
    pytest.param("pods/*/x?labelSelector=a%20in%20(", 400, "labelSelector", id="bad-label-selector-is-400-naming-it"),
    pytest.param("frobnicators/x/y", 404, "frobnicators", id="unknown-resource-is-404"),
])
def test_bad_custom_metrics_requests_get_a_status(ns: K, path: str, code: int, needle: str) -> None:
    proc = ns.kubectl.run("get", "--raw", f"/apis/custom.metrics.k8s.io/v1beta2/namespaces/{ns.ns}/{path}",
                          check=False)
    assert proc.returncode != 0
    assert needle in proc.stderr
    assert f"({_reason(code)})" in proc.stderr or str(code) in proc.stderr


def _reason(code: int) -> str:
    return {400: "BadRequest", 404: "NotFound"}[code]


def test_resource_usage_object_sets_a_pods_usage(ns: K) -> None:
    ns.apply(_pod("ru-0", {"kwok.x-k8s.io/usage-cpu": "50m"}),
             {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ResourceUsage", "metadata": {"name": "ru-0"},
              "spec": {"usages": [{"usage": {"cpu": {"expression": 'Quantity("300m") * 2'},
                                             "memory": {"value": "48Mi"}}}]}})
    got = wait_until(lambda: _top(ns, "ru-0") == ("600m", "48Mi"), timeout=60, interval=0.5,
                     what="kubectl top to show the ResourceUsage figures")
    assert got
    ns("delete", "resourceusage", "ru-0")
    # without the ResourceUsage, kwok's annotation convention applies (memory: 25-75 % of no requests = 0)
    assert wait_until(lambda: _top(ns, "ru-0") == ("50m", "0Mi"), timeout=60, interval=0.5,
                      what="kubectl top to fall back to kwok.x-k8s.io/usage-cpu")
