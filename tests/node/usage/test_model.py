"""Which source sets a simulated pod's usage, and device / application figures."""

from __future__ import annotations

import json
from typing import Any

import pytest

from suanli.node.usage.model import UsageModel

NOW = 1_700_000_000.0


def pod(name: str = "p", ns: str = "default", ann: dict[str, str] | None = None, containers: int = 1,
        requests: dict[str, str] | None = None, limits: dict[str, str] | None = None) -> dict[str, Any]:
    res: dict[str, Any] = {}
    if requests:
        res["requests"] = requests
    if limits:
        res["limits"] = limits
    return {"metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}", "annotations": ann or {},
                         "creationTimestamp": "2023-11-14T22:00:00Z"},
            "spec": {"containers": [{"name": f"c{i}", "resources": res} for i in range(containers)]}}


def ru(name: str, ns: str, usages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"usages": usages}}


def cru(name: str, selector: dict[str, Any] | None, usages: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = {"usages": usages}
    if selector is not None:
        spec["selector"] = selector
    return {"metadata": {"name": name}, "spec": spec}


CPU = {"usage": {"cpu": {"value": "700m"}}}
ANN_CPU = {"suanli.io/sim-cpu-usage": "400m", "kwok.x-k8s.io/usage-cpu": "90m"}

CASES = [
    # (id, pod, resource usages, cluster resource usages, millicores per container)
    ("resourceusage-by-name-wins", pod(ann=ANN_CPU), [ru("p", "default", [CPU])], [cru("all", None, [
        {"usage": {"cpu": {"value": "5"}}}])], [700]),
    ("resourceusage-in-other-namespace-ignored", pod(ann=ANN_CPU), [ru("p", "other", [CPU])], [], [400]),
    ("clusterresourceusage-by-namespace", pod(ann=ANN_CPU), [], [cru("a", {"matchNamespaces": ["default"]}, [CPU])],
     [700]),
    ("clusterresourceusage-other-names-skipped", pod(ann=ANN_CPU), [],
     [cru("a", {"matchNames": ["q"]}, [CPU])], [400]),
    ("first-clusterresourceusage-by-name", pod(), [], [cru("b", None, [{"usage": {"cpu": {"value": "2"}}}]),
                                                       cru("a", None, [CPU])], [700]),
    ("group-for-named-container", pod(containers=2), [ru("p", "default", [
        {"containers": ["c1"], "usage": {"cpu": {"value": "300m"}}}, {"usage": {"cpu": {"value": "100m"}}}])], [],
     [100, 300]),
    ("expression-in-resourceusage", pod(), [ru("p", "default", [
        {"usage": {"cpu": {"expression": 'Quantity("250m") * 2'}}}])], [], [500]),
    ("sim-annotation-split-over-containers", pod(ann={"suanli.io/sim-cpu-usage": "1"}, containers=4), [], [],
     [250, 250, 250, 250]),
    ("sim-annotation-as-cel", pod(ann={"suanli.io/sim-cpu-usage": 'Quantity("150m") + Quantity("50m")'}), [], [],
     [200]),
    ("kwok-annotation-per-container", pod(ann={"kwok.x-k8s.io/usage-cpu": "90m"}, containers=2), [], [], [90, 90]),
    ("broken-expression-counts-zero", pod(ann={"suanli.io/sim-cpu-usage": "pod.nope + 1"}), [], [], [0]),
]


@pytest.mark.parametrize(("pod_obj", "rus", "crus", "want"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_cpu_source_precedence(pod_obj: dict[str, Any], rus: list[dict[str, Any]], crus: list[dict[str, Any]],
                               want: list[int]) -> None:
    model = UsageModel()
    model.set_rules(rus, crus)
    sample = model.sample(pod_obj, None, NOW)
    assert [sample.containers[f"c{i}"].nanocores // 1_000_000 for i in range(len(want))] == want


def test_default_usage_is_a_stable_fraction_of_requests() -> None:
    p = pod(requests={"cpu": "1", "memory": "1Gi"})
    a, b = UsageModel(seed=3).sample(p, None, NOW), UsageModel(seed=3).sample(p, None, NOW + 60)
    cpu = a.containers["c0"].nanocores
    assert 250_000_000 <= cpu < 750_000_000
    assert a.containers == b.containers and not a.dynamic
    assert UsageModel(seed=4).sample(p, None, NOW).containers != a.containers


def test_expressions_make_a_sample_dynamic_and_follow_time() -> None:
    p = pod(ann={"suanli.io/sim-cpu-usage": 'int(Now().UnixSecond()) % 86400 < 43200 ? Quantity("1") : '
                                            'Quantity("2")'})
    model = UsageModel()
    day = 1_699_920_000.0  # a UTC midnight
    morning, evening = model.sample(p, None, day + 3600), model.sample(p, None, day + 50_000)
    assert morning.dynamic
    assert (morning.containers["c0"].nanocores, evening.containers["c0"].nanocores) == (10**9, 2 * 10**9)


def test_devices_get_their_class_annotations_and_owning_container() -> None:
    alloc = {"nvidia.com/gpu": ["0", "3"], "huawei.com/Ascend910": ["1"], "example.com/fpga": ["0"]}
    p = pod(ann={"suanli.io/allocated-devices": json.dumps(alloc), "suanli.io/sim-gpu-util": "80",
                 "suanli.io/sim-gpu-memory": "20Gi", "suanli.io/sim-npu-util": "150", "suanli.io/sim-npu-hbm": "8Gi"},
            containers=2)
    p["spec"]["containers"][1]["resources"] = {"limits": {"nvidia.com/gpu": "2"}}
    devices = UsageModel().sample(p, None, NOW).devices
    assert [(d.resource, d.device_id, d.device_class, d.utilization, d.memory_bytes, d.container) for d in devices] == [
        ("huawei.com/Ascend910", "1", "npu", 100.0, 8 << 30, ""),  # utilisation capped at 100 %
        ("nvidia.com/gpu", "0", "gpu", 80.0, 20 << 30, "c1"),
        ("nvidia.com/gpu", "3", "gpu", 80.0, 20 << 30, "c1"),
    ]


def test_application_metrics_from_prefixed_annotations() -> None:
    p = pod(ann={"suanli.io/sim-metric.rps": "12.5", "suanli.io/sim-metric.queue": "2 * 3",
                 "suanli.io/sim-metric.": "7"})
    sample = UsageModel().sample(p, None, NOW)
    assert sample.metrics == (("queue", 6.0), ("rps", 12.5))
    assert sample.metric("rps") == 12.5 and sample.metric("absent") is None


def test_rules_generation_moves_only_on_change() -> None:
    model = UsageModel()
    model.set_rules([ru("p", "default", [CPU])], [])
    gen = model.generation
    model.set_rules([ru("p", "default", [CPU])], [])
    assert model.generation == gen
    model.set_rules([], [])
    assert model.generation == gen + 1
