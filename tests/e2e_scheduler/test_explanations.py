"""Why is my pod pending: ``kubectl describe pod`` explains unschedulable pods, and the KAE nginx
Deployment lands on the KAE node once its devices come online (cluster-wide: own demo server)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Kubectl
from tests.e2e.conftest import K, manifest, wait_until
from tests.e2e_hardware.conftest import EXAMPLES
from tests.e2e_scheduler.conftest import (
    HPRE,
    POOL_SIZE,
    allocatable,
    bring_kae_online,
    describe_pod,
    scheduled_condition,
)

pytestmark = pytest.mark.e2e


def pending_pod(k: K, selector: str) -> dict[str, Any]:
    items = json.loads(k("get", "pods", "-l", selector, "-o", "json"))["items"]
    assert len(items) == 1, items
    return dict(items[0])


def described_failure(k: K, name: str, expected: str) -> str:
    """Wait until ``kubectl describe pod`` shows a FailedScheduling event containing ``expected``."""

    def shown() -> str | None:
        out = describe_pod(k, name)
        return out if "FailedScheduling" in out and expected in out else None

    return wait_until(shown, timeout=15, what=f"describe pod {name} to explain {expected!r}")


def test_kae_nginx_waits_for_kae_devices_then_lands_on_the_kae_node(kc: Kubectl, hk: K) -> None:
    assert HPRE not in allocatable(kc, "demo-kae-0"), "KAE must start offline"
    hk("apply", "-f", str(EXAMPLES / "kae-nginx-deployment.yaml"))
    name = wait_until(lambda: pending_pod(hk, "app=kae-nginx")["metadata"]["name"], what="the kae-nginx pod")
    expected = f"0/{POOL_SIZE} nodes are available: {POOL_SIZE} Insufficient {HPRE}."
    described_failure(hk, str(name), expected)
    cond = scheduled_condition(pending_pod(hk, "app=kae-nginx"))
    assert cond is not None and cond["status"] == "False" and cond["reason"] == "Unschedulable"
    assert cond["message"] == expected

    bring_kae_online(kc)
    node = wait_until(
        lambda: pending_pod(hk, "app=kae-nginx")["spec"].get("nodeName"),
        timeout=20,
        what="kae-nginx to be bound",
    )
    assert node == "demo-kae-0"
    pod = pending_pod(hk, "app=kae-nginx")
    devices = json.loads(pod["metadata"]["annotations"]["suanli.io/allocated-devices"])
    assert list(devices) == [HPRE] and len(devices[HPRE]) == 1
    assert "Successfully assigned" in hk("describe", "pod", str(name))


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"nodeSelector": {"suanli.io/zone": "nowhere"}},
            f"0/{POOL_SIZE} nodes are available: {POOL_SIZE} node(s) didn't match Pod's node affinity/selector.",
        ),
        (
            {"containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "100000"}}}]},
            f"0/{POOL_SIZE} nodes are available: {POOL_SIZE} Insufficient cpu.",
        ),
        (
            {"nodeSelector": {"kubernetes.io/arch": "arm64"},
             "containers": [{"name": "c", "image": "busybox",
                             "resources": {"requests": {"cpu": "200", "memory": "1600Gi"}}}]},
            f"0/{POOL_SIZE} nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
            "5 Insufficient cpu, 6 Insufficient memory.",
        ),
    ],
    ids=["selector-matches-no-node", "request-larger-than-any-node", "resources-checked-before-selector-as-volcano"],
)
def test_describe_pod_explains_why_it_is_unschedulable(hk: K, spec: dict[str, object], expected: str) -> None:
    pod_spec = {"containers": [{"name": "c", "image": "busybox"}], **spec}
    hk("apply", "-f", "-", input=manifest({"apiVersion": "v1", "kind": "Pod",
                                            "metadata": {"name": "stuck", "labels": {"app": "stuck"}},
                                            "spec": pod_spec}))
    out = described_failure(hk, "stuck", expected)
    assert "Warning  FailedScheduling" in out
    cond = scheduled_condition(pending_pod(hk, "app=stuck"))
    assert cond == {**(cond or {}), "status": "False", "reason": "Unschedulable", "message": expected}
    assert hk("get", "pod", "stuck", "-o", "jsonpath={.spec.nodeName}") == ""
