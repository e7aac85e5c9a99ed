"""kubectl apply (client-side three-way merge and server-side), dry runs, diff, and describe."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import K, configmap, deployment, pod

pytestmark = pytest.mark.e2e

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def test_apply_creates_then_unchanged_keeps_resource_version(k: K) -> None:
    cm = configmap("cfg", {"a": "1"}, labels={"team": "blue"})
    assert k.apply(cm).strip() == "configmap/cfg created"
    first = k.json("configmap", "cfg")
    assert first["data"] == {"a": "1"} and LAST_APPLIED in first["metadata"]["annotations"]
    assert k.apply(cm).strip() == "configmap/cfg unchanged"
    assert k.json("configmap", "cfg")["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]


def test_apply_modified_manifest_is_configured(k: K) -> None:
    k.apply(configmap("cfg", {"a": "1"}))
    assert k.apply(configmap("cfg", {"a": "2", "b": "3"})).strip() == "configmap/cfg configured"
    assert k.json("configmap", "cfg")["data"] == {"a": "2", "b": "3"}


def test_apply_removes_fields_dropped_from_the_manifest(k: K) -> None:
    k.apply(configmap("cfg", {"keep": "1", "drop": "2"}, labels={"keep": "1", "drop": "1"}))
    k("label", "configmap", "cfg", "foreign=kept")  # set outside apply: three-way merge must keep it
    k.apply(configmap("cfg", {"keep": "1"}, labels={"keep": "1"}))
    obj = k.json("configmap", "cfg")
    assert obj["data"] == {"keep": "1"}
    assert obj["metadata"]["labels"] == {"keep": "1", "foreign": "kept"}


def test_apply_strategic_merge_on_deployment_keeps_other_containers_fields(k: K) -> None:
    dep = deployment("web", replicas=2)
    dep["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    k.apply(dep)
    dep["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "A", "value": "10"}]
    dep["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    assert "configured" in k.apply(dep)
    container = k.json("deployment", "web")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.28"
    assert container["env"] == [{"name": "A", "value": "10"}]


def test_apply_server_side_creates_and_records_manager(k: K) -> None:
    out = k.apply(configmap("ssa", {"a": "1", "b": "2"}), extra=("--server-side",))
    assert out.strip() == "configmap/ssa serverside-applied"
    obj = k.json("configmap", "ssa", "--show-managed-fields")
    managers = {(m["manager"], m["operation"]) for m in obj["metadata"]["managedFields"]}
    assert ("kubectl", "Apply") in managers
    assert obj["data"] == {"a": "1", "b": "2"}


def test_apply_server_side_removes_field_dropped_by_its_manager(k: K) -> None:
    k.apply(configmap("ssa", {"a": "1", "b": "2"}, labels={"x": "1"}), extra=("--server-side",))
    k.apply(configmap("ssa", {"a": "1"}), extra=("--server-side",))
    obj = k.json("configmap", "ssa")
    assert obj["data"] == {"a": "1"}
    assert "x" not in obj["metadata"].get("labels", {})


def test_apply_server_side_with_custom_field_manager(k: K) -> None:
    k.apply(configmap("ssa", {"a": "1"}), extra=("--server-side", "--field-manager=robot"))
    obj = k.json("configmap", "ssa", "--show-managed-fields")
    entry = next(m for m in obj["metadata"]["managedFields"] if m["manager"] == "robot")
    assert entry["operation"] == "Apply" and "f:data" in json.dumps(entry["fieldsV1"])


def test_apply_server_side_conflicts_with_other_manager_unless_forced(k: K) -> None:
    k.apply(configmap("shared", {"a": "1"}))
    proc = k.run("apply", "--server-side", "-f", "-", input=json.dumps(configmap("shared", {"a": "2"})))
    assert proc.returncode != 0
    assert "conflict" in proc.stderr and ".data.a" in proc.stderr
    assert k.json("configmap", "shared")["data"] == {"a": "1"}
    k.apply(configmap("shared", {"a": "2"}), extra=("--server-side", "--force-conflicts"))
    assert k.json("configmap", "shared")["data"] == {"a": "2"}


@pytest.mark.parametrize(
    "extra",
    [("--dry-run=server",), ("--dry-run=server", "--server-side")],
    ids=["client-side-apply", "server-side-apply"],
)
def test_apply_dry_run_server_does_not_persist(k: K, extra: tuple[str, ...]) -> None:
    out = k.apply(configmap("dry", {"a": "1"}), extra=extra)
    assert "(server dry run)" in out
    assert not k.exists("configmap", "dry")
    k.apply(configmap("dry", {"a": "1"}), extra=extra[1:])
    k.apply(configmap("dry", {"a": "changed"}), extra=extra)
    assert k.json("configmap", "dry")["data"] == {"a": "1"}


def test_diff_reports_pending_change_and_exit_code(k: K) -> None:
    k.apply(configmap("cfg", {"a": "1"}))
    same = k.run("diff", "-f", "-", input=json.dumps(configmap("cfg", {"a": "1"})))
    assert same.returncode == 0, same.stderr
    changed = k.run("diff", "-f", "-", input=json.dumps(configmap("cfg", {"a": "2"})))
    assert changed.returncode == 1, changed.stderr
    assert '-  a: "1"' in changed.stdout and '+  a: "2"' in changed.stdout


def test_describe_pod_shows_metadata_containers_and_events(k: K) -> None:
    k.apply(pod("described", labels={"app": "demo"}, annotations={"owner": "team-a"}, env={"MODE": "fast"}))
    uid = k.json("pod", "described")["metadata"]["uid"]
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "described.evt1"},
        "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": "described", "namespace": k.ns, "uid": uid},
        "reason": "Scheduled",
        "message": "Successfully assigned to node-x",
        "type": "Normal",
        "source": {"component": "e2e-test"},
        "count": 1,
        "firstTimestamp": "2026-01-01T00:00:00Z",
        "lastTimestamp": "2026-01-01T00:00:00Z",
    }
    k.apply(event)
    out = k("describe", "pod", "described")
    assert "Name:             described" in out
    assert "app=demo" in out and "owner: team-a" in out
    assert "Containers:\n  main:" in out and "nginx:1.27" in out and "MODE:" in out
    events = out.split("Events:", 1)[1]
    assert "Scheduled" in events and "Successfully assigned to node-x" in events and "e2e-test" in events
