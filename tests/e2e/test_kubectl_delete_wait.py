"""kubectl delete (wait, cascade policies, selectors, namespaces) and kubectl wait."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Kubectl
from tests.e2e.conftest import K, configmap, manifest, pod, unique, wait_until

pytestmark = pytest.mark.e2e


def _owned(name: str, owner: dict[str, Any]) -> dict[str, Any]:
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"]}
    return configmap(name, {"role": "dependent"}, ownerReferences=[ref])


def _family(k: K) -> None:
    """An owner ConfigMap with two dependents pointing at its uid."""
    k.apply(configmap("owner", {"role": "owner"}))
    owner = k.json("configmap", "owner")
    k.apply(_owned("dep-1", owner), _owned("dep-2", owner))


def test_delete_wait_returns_only_when_finalizers_released(k: K) -> None:
    k.apply(configmap("held", finalizers=["e2e.suanli.io/hold"]))
    proc = k.popen("delete", "configmap", "held", "--timeout=30s")
    try:
        terminating = wait_until(
            lambda: k.json("configmap", "held")["metadata"].get("deletionTimestamp"), what="deletionTimestamp"
        )
        assert terminating
        assert proc.poll() is None, "delete --wait returned while the object still exists"
        k("patch", "configmap", "held", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out.strip() == f'configmap "held" deleted from {k.ns} namespace'
    assert not k.exists("configmap", "held")


def test_delete_cascade_background_garbage_collects_dependents(k: K) -> None:
    _family(k)
    k("delete", "configmap", "owner", "--cascade=background")
    assert not k.exists("configmap", "owner")
    wait_until(
        lambda: not k.exists("configmap", "dep-1") and not k.exists("configmap", "dep-2"),
        what="dependents garbage-collected",
    )


def test_delete_cascade_foreground_removes_dependents_before_owner(k: K) -> None:
    _family(k)
    out = k("delete", "configmap", "owner", "--cascade=foreground")
    assert out.strip() == f'configmap "owner" deleted from {k.ns} namespace'
    # foreground: the owner disappears only after every blocking dependent is gone
    assert not k.exists("configmap", "owner")
    assert not k.exists("configmap", "dep-1") and not k.exists("configmap", "dep-2")


def test_delete_cascade_foreground_owner_waits_for_held_dependent(k: K) -> None:
    k.apply(configmap("owner"))
    owner = k.json("configmap", "owner")
    held = _owned("held", owner)
    held["metadata"]["finalizers"] = ["e2e.suanli.io/hold"]
    held["metadata"]["ownerReferences"][0]["blockOwnerDeletion"] = True
    k.apply(held)
    k("delete", "configmap", "owner", "--cascade=foreground", "--wait=false")
    wait_until(lambda: k.json("configmap", "held")["metadata"].get("deletionTimestamp"), what="dependent deleting")
    assert "foregroundDeletion" in k.json("configmap", "owner")["metadata"]["finalizers"]
    k("patch", "configmap", "held", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    wait_until(lambda: not k.exists("configmap", "owner"), what="owner deleted after its dependent")


def test_delete_cascade_orphan_keeps_dependents_without_owner_reference(k: K) -> None:
    _family(k)
    k("delete", "configmap", "owner", "--cascade=orphan")
    assert not k.exists("configmap", "owner")
    for name in ("dep-1", "dep-2"):
        dep = k.json("configmap", name)
        assert not dep["metadata"].get("ownerReferences"), dep["metadata"]
        assert dep["metadata"].get("deletionTimestamp") is None


def test_delete_namespace_empties_it_first(kubectl: Kubectl) -> None:
    ns = unique("e2e-doomed")
    kubectl("apply", "-f", "-", input=manifest({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
    doomed = K(kubectl, ns)
    doomed.apply(configmap("free"), pod("p"), configmap("held", finalizers=["e2e.suanli.io/hold"]))
    kubectl("delete", "namespace", ns, "--wait=false")
    wait_until(
        lambda: not doomed.exists("configmap", "free") and not doomed.exists("pod", "p"),
        what="namespace contents deleted",
    )
    namespace = json.loads(kubectl("get", "namespace", ns, "-o", "json"))
    assert namespace["status"]["phase"] == "Terminating" and namespace["metadata"]["deletionTimestamp"]
    assert doomed.json("configmap", "held")["metadata"]["deletionTimestamp"]
    refused = doomed.run("apply", "-f", "-", input=manifest(configmap("late")))
    assert refused.returncode != 0 and "being terminated" in refused.stderr
    doomed("patch", "configmap", "held", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    wait_until(
        lambda: not kubectl("get", "namespace", ns, "--ignore-not-found", "-o", "name").strip(), what="namespace gone"
    )


def test_delete_with_label_selector(k: K) -> None:
    k.apply(configmap("a", labels={"doomed": "yes"}), configmap("b", labels={"doomed": "yes"}), configmap("c"))
    out = k("delete", "configmaps", "-l", "doomed=yes")
    assert sorted(out.splitlines()) == [f'configmap "{n}" deleted from {k.ns} namespace' for n in ("a", "b")]
    assert k.exists("configmap", "c") and not k.exists("configmap", "a")


def test_delete_all_in_namespace(k: K) -> None:
    k.apply(pod("p1"), pod("p2"), configmap("keep"))
    k("delete", "pods", "--all")
    assert k.json("pods")["items"] == []
    assert k.exists("configmap", "keep")


def test_delete_missing_object_is_not_found(k: K) -> None:
    proc = k.run("delete", "configmap", "ghost")
    assert proc.returncode != 0 and 'configmaps "ghost" not found' in proc.stderr
    assert k.run("delete", "configmap", "ghost", "--ignore-not-found").returncode == 0


def test_wait_for_condition_set_through_status_subresource(k: K) -> None:
    k.apply(pod("p"))
    proc = k.popen("wait", "--for=condition=Ready", "pod/p", "--timeout=30s")
    try:
        status = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
        k("patch", "pod", "p", "--subresource=status", "--type=merge", "-p", json.dumps(status))
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out.strip() == "pod/p condition met"


def test_wait_for_condition_already_true_returns_at_once(k: K) -> None:
    k.apply(pod("p"))
    status = {"status": {"conditions": [{"type": "PodScheduled", "status": "True"}]}}
    k("patch", "pod", "p", "--subresource=status", "--type=merge", "-p", json.dumps(status))
    assert k("wait", "--for=condition=PodScheduled", "pod/p", "--timeout=10s").strip() == "pod/p condition met"


def test_wait_times_out_when_condition_never_holds(k: K) -> None:
    k.apply(pod("p"))
    proc = k.run("wait", "--for=condition=Ready", "pod/p", "--timeout=1s")
    assert proc.returncode != 0 and "timed out waiting for the condition" in proc.stderr


def test_wait_for_delete(k: K) -> None:
    k.apply(configmap("bye"))
    proc, log = k.popen_watching("wait", "--for=delete", "configmap/bye", "--timeout=30s")
    try:
        k("delete", "configmap", "bye", "--wait=false")
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        err = log.read_text()
        log.unlink()
    assert proc.returncode == 0, err
    assert out.strip() == "configmap/bye condition met"


def test_wait_for_jsonpath_value(k: K) -> None:
    k.apply(pod("p"))
    proc = k.popen("wait", "--for=jsonpath={.status.phase}=Running", "pod/p", "--timeout=30s")
    try:
        k("patch", "pod", "p", "--subresource=status", "--type=merge", "-p", '{"status":{"phase":"Running"}}')
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out.strip() == "pod/p condition met"
