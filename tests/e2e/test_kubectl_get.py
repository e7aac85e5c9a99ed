"""kubectl get: output formats, label/field selectors, all namespaces, sorting, paging, watch, errors."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from tests.conftest import Kubectl
from tests.e2e.conftest import K, configmap, deployment, pod

pytestmark = pytest.mark.e2e


def _names(k: K, *args: str) -> list[str]:
    return sorted(o["metadata"]["name"] for o in k.json(*args)["items"])


def test_get_json_returns_list_with_objects(k: K) -> None:
    k.apply(pod("a", labels={"app": "x"}), pod("b"))
    doc = k.json("pods")
    assert doc["kind"] == "List" or doc["kind"] == "PodList"
    assert sorted(o["metadata"]["name"] for o in doc["items"]) == ["a", "b"]
    assert all(o["kind"] == "Pod" and o["metadata"]["namespace"] == k.ns for o in doc["items"])
    single = k.json("pod", "a")
    assert single["metadata"]["labels"] == {"app": "x"} and single["metadata"]["uid"]
    assert int(single["metadata"]["resourceVersion"]) > 0


def test_get_default_table_has_pod_columns(k: K) -> None:
    k.apply(pod("a"))
    header, row = k("get", "pods").splitlines()
    assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert row.split()[:4] == ["a", "0/1", "Pending", "0"]


def test_get_wide_adds_node_and_ip_columns(k: K) -> None:
    manifest = pod("a")
    manifest["spec"]["nodeName"] = "node-wide"
    k.apply(manifest)
    header, row = k("get", "pods", "-o", "wide").splitlines()
    cols = header.split()
    assert cols[:5] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"] and "IP" in cols and "NODE" in cols
    assert "node-wide" in row.split()


def test_get_yaml_round_trips_the_object(k: K) -> None:
    k.apply(configmap("c", {"key": "value"}))
    doc = yaml.safe_load(k("get", "configmap", "c", "-o", "yaml"))
    assert doc["kind"] == "ConfigMap" and doc["apiVersion"] == "v1"
    assert doc["data"] == {"key": "value"} and doc["metadata"]["namespace"] == k.ns


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{.items[*].metadata.name}", "a b"),
        ('{range .items[*]}{.metadata.name}={.metadata.labels.tier}{"\\n"}{end}', "a=web\nb=db\n"),
        ('{.items[?(@.metadata.labels.tier=="db")].metadata.name}', "b"),
    ],
    ids=["wildcard-names", "range-with-labels", "filter-expression"],
)
def test_get_jsonpath_renders_template(k: K, template: str, expected: str) -> None:
    k.apply(pod("a", labels={"tier": "web"}), pod("b", labels={"tier": "db"}))
    assert k("get", "pods", "-o", f"jsonpath={template}") == expected


def test_get_name_prints_resource_slash_name(k: K) -> None:
    k.apply(pod("a"), configmap("c"))
    assert k("get", "pods", "-o", "name").split() == ["pod/a"]
    assert k("get", "configmap", "c", "-o", "name").strip() == "configmap/c"


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("env=prod", ["p1", "p2"]),
        ("env==prod", ["p1", "p2"]),
        ("env!=prod", ["d1", "none"]),
        ("env in (prod,dev)", ["d1", "p1", "p2"]),
        ("env notin (prod)", ["d1", "none"]),
        ("env", ["d1", "p1", "p2"]),
        ("!env", ["none"]),
        ("env=prod,tier=web", ["p1"]),
        ("env in (prod),!tier", ["p2"]),
    ],
    ids=[
        "equals",
        "double-equals",
        "not-equals-includes-missing-key",
        "in-set",
        "notin-includes-missing-key",
        "exists",
        "not-exists",
        "comma-is-and",
        "set-and-not-exists",
    ],
)
def test_get_label_selector_operators(k: K, selector: str, expected: list[str]) -> None:
    k.apply(
        pod("p1", labels={"env": "prod", "tier": "web"}),
        pod("p2", labels={"env": "prod"}),
        pod("d1", labels={"env": "dev", "tier": "web"}),
        pod("none"),
    )
    assert _names(k, "pods", "-l", selector) == expected


def test_get_field_selector_on_name_phase_and_node(k: K) -> None:
    on_node = pod("on-node")
    on_node["spec"]["nodeName"] = "node-a"
    k.apply(on_node, pod("floating"), pod("other"))
    k("patch", "pod", "other", "--subresource=status", "--type=merge", "-p", '{"status":{"phase":"Succeeded"}}')
    assert _names(k, "pods", "--field-selector", "metadata.name=floating") == ["floating"]
    assert _names(k, "pods", "--field-selector", "metadata.name!=floating") == ["on-node", "other"]
    assert _names(k, "pods", "--field-selector", "status.phase=Succeeded") == ["other"]
    assert _names(k, "pods", "--field-selector", "spec.nodeName=node-a") == ["on-node"]
    assert _names(k, "pods", "--field-selector", "spec.nodeName=") == ["floating", "other"]
    assert _names(k, "pods", "--field-selector", "spec.nodeName!=,status.phase!=Succeeded") == ["on-node"]


def test_get_field_selector_unknown_field_is_rejected_naming_it(k: K) -> None:
    k.apply(pod("a"))
    proc = k.run("get", "pods", "--field-selector", "spec.bogusField=x")
    assert proc.returncode != 0
    assert "spec.bogusField" in proc.stderr and "BadRequest" in proc.stderr


def test_get_all_namespaces_shows_namespace_column(kubectl: Kubectl, k: K) -> None:
    k.apply(pod("across", labels={"marker": k.ns}))
    lines = kubectl("get", "pods", "-A", "-l", f"marker={k.ns}").splitlines()
    assert lines[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert lines[1].split()[:2] == [k.ns, "across"]
    doc = json.loads(kubectl("get", "pods", "--all-namespaces", "-l", f"marker={k.ns}", "-o", "json"))
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in doc["items"]] == [(k.ns, "across")]


def test_get_sort_by_field(k: K) -> None:
    ranked = {"ranked": "yes"}
    k.apply(*(configmap(n, {"rank": r}, labels=ranked) for n, r in (("a", "3"), ("b", "1"), ("c", "2"))))
    out = k("get", "configmaps", "-l", "ranked=yes", "--sort-by", "{.data.rank}", "-o", "name")
    assert out.split() == ["configmap/b", "configmap/c", "configmap/a"]
    out = k("get", "configmaps", "-l", "ranked=yes", "--sort-by", ".metadata.name", "-o", "name")
    assert out.split() == ["configmap/a", "configmap/b", "configmap/c"]


def test_get_chunk_size_pages_through_all_objects(k: K) -> None:
    k.apply(*(configmap(f"cm-{i}", labels={"paged": "yes"}) for i in range(5)))
    proc = k.run("get", "configmaps", "-l", "paged=yes", "--chunk-size=2", "-o", "name", "-v=6", check=True)
    assert proc.stdout.split() == [f"configmap/cm-{i}" for i in range(5)]
    requests = [line for line in proc.stderr.splitlines() if "/configmaps?" in line and "200 OK" in line]
    assert len(requests) == 3, proc.stderr
    assert sum("continue=" in line for line in requests) == 2


def test_get_all_lists_pods_and_deployments(k: K) -> None:
    k.apply(pod("solo"), deployment("web"), configmap("not-in-all"))
    names = k("get", "all", "-o", "name").split()
    assert "pod/solo" in names and "deployment.apps/web" in names
    assert not any(n.startswith("configmap/") for n in names)


def _watch_events(proc: Any, out: queue.Queue[dict[str, Any]]) -> None:
    """Decode the concatenated pretty-printed JSON documents kubectl writes, one event at a time."""
    decoder = json.JSONDecoder()
    buf = ""
    for line in proc.stdout:
        buf += line
        while buf.strip():
            try:
                doc, end = decoder.raw_decode(buf.lstrip())
            except json.JSONDecodeError:
                break
            buf = buf.lstrip()[end:]
            out.put(doc)


def test_get_watch_streams_added_modified_deleted(k: K) -> None:
    k.apply(pod("before"))
    proc = k.popen("get", "pods", "-w", "--output-watch-events", "-o", "json")
    events: queue.Queue[dict[str, Any]] = queue.Queue()
    reader = threading.Thread(target=_watch_events, args=(proc, events), daemon=True)
    reader.start()
    seen: list[tuple[str, str]] = []

    def expect(kind: str, name: str, timeout: float = 20,
               where: Callable[[dict[str, Any]], bool] = lambda _o: True) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                ev = events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {kind} {name} within {timeout}s; saw {seen}") from None
            seen.append((ev["type"], ev["object"]["metadata"]["name"]))
            if seen[-1] == (kind, name) and where(ev["object"]):
                return dict(ev["object"])

    try:
        assert expect("ADDED", "before")["kind"] == "Pod"
        k.apply(pod("live"))
        expect("ADDED", "live")
        k("label", "pod", "live", "stage=two")
        # other writers (the scheduler's PodScheduled condition) may modify the pod first
        modified = expect("MODIFIED", "live", where=lambda o: "labels" in o["metadata"])
        assert modified["metadata"]["labels"] == {"stage": "two"}
        k("delete", "pod", "live", "--wait=false")
        expect("DELETED", "live")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_get_unknown_resource_type_fails(k: K) -> None:
    proc = k.run("get", "flurbles")
    assert proc.returncode != 0
    assert 'the server doesn\'t have a resource type "flurbles"' in proc.stderr


def test_get_missing_object_is_not_found(k: K) -> None:
    proc = k.run("get", "pod", "ghost")
    assert proc.returncode == 1
    assert "(NotFound)" in proc.stderr and 'pods "ghost" not found' in proc.stderr


def test_create_existing_name_is_already_exists(k: K) -> None:
    k.create(configmap("dup"))
    proc = k.run("create", "-f", "-", input=yaml.safe_dump(configmap("dup")))
    assert proc.returncode != 0
    assert "(AlreadyExists)" in proc.stderr and 'configmaps "dup" already exists' in proc.stderr


def test_get_label_columns_and_show_labels(k: K) -> None:
    k.apply(pod("a", labels={"app": "x", "tier": "web"}))
    header, row = k("get", "pods", "-L", "tier,missing").splitlines()
    assert header.split()[-2:] == ["TIER", "MISSING"]
    assert row.split()[-1:] == ["web"] or row.split()[-2:] == ["web", ""]
    header, row = k("get", "pods", "--show-labels").splitlines()
    assert header.split()[-1] == "LABELS" and row.split()[-1] == "app=x,tier=web"


def test_get_custom_columns(k: K) -> None:
    k.apply(pod("a", image="redis:7"))
    out = k("get", "pods", "-o", "custom-columns=NAME:.metadata.name,IMAGE:.spec.containers[0].image")
    assert [line.split() for line in out.splitlines()] == [["NAME", "IMAGE"], ["a", "redis:7"]]
