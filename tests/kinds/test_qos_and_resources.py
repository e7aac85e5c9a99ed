"""QoS class sums and resource sign checks (kept exact when summing without a zero term)."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.kinds.defaults import pod_qos_class, validate_builtin


def pod(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": f"c{i}", "image": "img", "resources": r}
                                    for i, r in enumerate(resources)]}}


@pytest.mark.parametrize(("resources", "qos"), [
    ((), "BestEffort"),
    (({},), "BestEffort"),
    (({"requests": {"cpu": "0"}},), "BestEffort"),
    (({"requests": {"cpu": "100m", "memory": "500Mi"}},), "Burstable"),
    (({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},), "Guaranteed"),
    (({"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "500m", "memory": "1Gi"}},
      {"requests": {"cpu": "0.5", "memory": "1024Mi"}, "limits": {"cpu": "500m", "memory": "1Gi"}}), "Guaranteed"),
    (({"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "500m", "memory": "1Gi"}},
      {"limits": {"cpu": "1"}}), "Burstable"),
], ids=["no containers", "no resources", "zero requests count as none", "requests only",
        "equal requests and limits", "sums over two guaranteed containers", "one container lacks memory limits"])
def test_qos_class(resources: tuple[dict[str, Any], ...], qos: str) -> None:
    assert pod_qos_class(pod(*resources)) == qos


@pytest.mark.parametrize(("value", "bad"), [
    ("-1", True), ("-100m", True), ("0", False), ("1.5Gi", False), (-2, True),
], ids=["negative integer text", "negative milli", "zero", "binary suffix", "negative number"])
def test_negative_quantities_are_rejected(value: Any, bad: bool) -> None:
    causes = validate_builtin("Pod", pod({"requests": {"cpu": value}}))
    negative = [c for c in causes if "must be greater than or equal to 0" in c.message]
    assert bool(negative) is bad
    if bad:
        assert negative[0].field == "spec.containers[0].resources.requests[cpu]"
