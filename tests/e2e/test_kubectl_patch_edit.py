"""kubectl create/replace/edit/patch/label/annotate/scale against existing objects."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import K, configmap, deployment

pytestmark = pytest.mark.e2e


def test_create_from_file_then_get(k: K) -> None:
    assert k.create(configmap("made", {"k": "v"})).strip() == "configmap/made created"
    assert k.json("configmap", "made")["data"] == {"k": "v"}


def test_replace_from_file_overwrites_object(k: K) -> None:
    k.create(configmap("rep", {"a": "1", "b": "2"}))
    assert k("replace", "-f", "-", input=json.dumps(configmap("rep", {"c": "3"}))).strip() == "configmap/rep replaced"
    assert k.json("configmap", "rep")["data"] == {"c": "3"}


def test_replace_with_stale_resource_version_conflicts(k: K) -> None:
    k.create(configmap("rep", {"a": "1"}))
    stale = k.json("configmap", "rep")
    k("patch", "configmap", "rep", "--type=merge", "-p", '{"data":{"a":"2"}}')
    stale["data"] = {"a": "from-stale"}
    proc = k.run("replace", "-f", "-", input=json.dumps(stale))
    assert proc.returncode != 0
    assert "(Conflict)" in proc.stderr and "the object has been modified" in proc.stderr
    assert k.json("configmap", "rep")["data"] == {"a": "2"}


def test_edit_with_noninteractive_editor_applies_change(k: K) -> None:
    k.create(configmap("ed", {"mode": "oldvalue"}))
    proc = k.run("edit", "configmap", "ed", env={"KUBE_EDITOR": "sed -i s/oldvalue/newvalue/"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "configmap/ed edited"
    assert k.json("configmap", "ed")["data"] == {"mode": "newvalue"}


def test_edit_without_changes_reports_cancelled(k: K) -> None:
    k.create(configmap("ed", {"mode": "same"}))
    rv = k.json("configmap", "ed")["metadata"]["resourceVersion"]
    proc = k.run("edit", "configmap", "ed", env={"KUBE_EDITOR": "true"})
    assert proc.returncode == 0 and "Edit cancelled, no changes made." in proc.stderr
    assert k.json("configmap", "ed")["metadata"]["resourceVersion"] == rv


def test_patch_strategic_merges_container_env_by_name(k: K) -> None:
    dep = deployment("web")
    dep["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    k.apply(dep)
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "main", "env": [{"name": "A", "value": "9"}]}]}}}}
    out = k("patch", "deployment", "web", "--type=strategic", "-p", json.dumps(patch))
    assert out.strip() == "deployment.apps/web patched"
    container = k.json("deployment", "web")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.27"
    assert {e["name"]: e["value"] for e in container["env"]} == {"A": "9", "B": "2"}


def test_patch_merge_sets_and_deletes_keys(k: K) -> None:
    k.create(configmap("m", {"a": "1", "b": "2"}))
    k("patch", "configmap", "m", "--type=merge", "-p", '{"data":{"a":null,"c":"3"}}')
    assert k.json("configmap", "m")["data"] == {"b": "2", "c": "3"}


def test_patch_json_applies_operations(k: K) -> None:
    k.create(configmap("j", {"a": "1"}))
    ops = [
        {"op": "test", "path": "/data/a", "value": "1"},
        {"op": "add", "path": "/data/b", "value": "2"},
        {"op": "replace", "path": "/data/a", "value": "10"},
    ]
    k("patch", "configmap", "j", "--type=json", "-p", json.dumps(ops))
    assert k.json("configmap", "j")["data"] == {"a": "10", "b": "2"}


def test_patch_json_failed_test_is_rejected_naming_the_path(k: K) -> None:
    k.create(configmap("j", {"a": "1"}))
    ops = [{"op": "test", "path": "/data/a", "value": "2"}, {"op": "remove", "path": "/data/a"}]
    proc = k.run("patch", "configmap", "j", "--type=json", "-p", json.dumps(ops))
    assert proc.returncode != 0
    assert "/data/a" in proc.stderr
    assert k.json("configmap", "j")["data"] == {"a": "1"}


def test_label_add_overwrite_and_remove(k: K) -> None:
    k.create(configmap("l"))
    assert k("label", "configmap", "l", "tier=web").strip() == "configmap/l labeled"
    refused = k.run("label", "configmap", "l", "tier=db")
    assert refused.returncode != 0 and "already has a value (web)" in refused.stderr
    k("label", "configmap", "l", "tier=db", "--overwrite")
    assert k.json("configmap", "l")["metadata"]["labels"] == {"tier": "db"}
    k("label", "configmap", "l", "tier-")
    assert not k.json("configmap", "l")["metadata"].get("labels")


def test_annotate_add_and_remove(k: K) -> None:
    k.create(configmap("a"))
    assert k("annotate", "configmap", "a", "note=hello world").strip() == "configmap/a annotated"
    assert k.json("configmap", "a")["metadata"]["annotations"]["note"] == "hello world"
    k("annotate", "configmap", "a", "note-")
    assert "note" not in (k.json("configmap", "a")["metadata"].get("annotations") or {})


def test_label_with_selector_touches_only_matching(k: K) -> None:
    k.create(configmap("x", labels={"g": "1"}), configmap("y", labels={"g": "2"}))
    k("label", "configmaps", "-l", "g=1", "picked=yes")
    assert k("get", "configmaps", "-l", "picked=yes", "-o", "name").split() == ["configmap/x"]


def test_scale_deployment_sets_replicas(k: K) -> None:
    k.apply(deployment("web", replicas=1))
    assert k("scale", "deployment", "web", "--replicas=3").strip() == "deployment.apps/web scaled"
    assert k.json("deployment", "web")["spec"]["replicas"] == 3


def test_scale_with_current_replicas_mismatch_fails(k: K) -> None:
    k.apply(deployment("web", replicas=2))
    proc = k.run("scale", "deployment", "web", "--current-replicas=5", "--replicas=4")
    assert proc.returncode != 0
    assert "Expected replicas to be 5, was 2" in proc.stderr
    assert k.json("deployment", "web")["spec"]["replicas"] == 2
    k("scale", "deployment", "web", "--current-replicas=2", "--replicas=4")
    assert k.json("deployment", "web")["spec"]["replicas"] == 4
