"""CustomResourceDefinitions through kubectl: establishment, discovery, printer columns, defaults,
validation, scale/status subresources, explain and cleanup of custom resources on CRD deletion."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import Kubectl
from tests.e2e.conftest import K, manifest, unique

pytestmark = pytest.mark.e2e


@dataclass
class Crd:
    name: str
    group: str
    short: str
    category: str

    def widget(self, name: str, **spec: Any) -> dict[str, Any]:
        return {"apiVersion": f"{self.group}/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec}


def _crd_manifest(group: str, short: str, category: str) -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "size": {
                        "type": "string",
                        "enum": ["small", "large"],
                        "default": "small",
                        "description": "How big the widget is.",
                    },
                    "replicas": {"type": "integer", "minimum": 0, "default": 1},
                    "color": {"type": "string"},
                },
            },
            "status": {
                "type": "object",
                "properties": {
                    "replicas": {"type": "integer"},
                    "selector": {"type": "string"},
                    "phase": {"type": "string"},
                },
            },
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {
                "plural": "widgets",
                "singular": "widget",
                "kind": "Widget",
                "shortNames": [short],
                "categories": [category],
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": {
                        "status": {},
                        "scale": {
                            "specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.replicas",
                            "labelSelectorPath": ".status.selector",
                        },
                    },
                    "additionalPrinterColumns": [
                        {"name": "Size", "type": "string", "jsonPath": ".spec.size"},
                        {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                }
            ],
        },
    }


@pytest.fixture
def crd(kubectl: Kubectl) -> Iterator[Crd]:
    """A Widget CRD in a group of its own (so tests never share a resource type), established."""
    tag = unique("g").replace("-", "")
    c = Crd(f"widgets.{tag}.e2e.suanli.io", f"{tag}.e2e.suanli.io", f"wd{tag}", f"cat{tag}")
    kubectl("apply", "-f", "-", input=manifest(_crd_manifest(c.group, c.short, c.category)))
    out = kubectl("wait", "--for", "condition=established", f"crd/{c.name}", "--timeout=30s")
    assert out.strip() == f"customresourcedefinition.apiextensions.k8s.io/{c.name} condition met"
    yield c
    kubectl.run("delete", "crd", c.name, "--wait=false", "--ignore-not-found", check=False)


def test_crd_is_established_with_accepted_names(kubectl: Kubectl, crd: Crd) -> None:
    obj = json.loads(kubectl("get", "crd", crd.name, "-o", "json"))
    conditions = {c["type"]: c["status"] for c in obj["status"]["conditions"]}
    assert conditions["Established"] == "True" and conditions["NamesAccepted"] == "True"
    assert obj["status"]["acceptedNames"]["kind"] == "Widget"
    assert obj["status"]["acceptedNames"]["shortNames"] == [crd.short]


def test_crd_appears_in_discovery_at_once(kubectl: Kubectl, crd: Crd) -> None:
    assert f"{crd.group}/v1" in kubectl("api-versions").split()
    rows = [line.split() for line in kubectl("api-resources", f"--api-group={crd.group}").splitlines()[1:]]
    assert rows == [["widgets", crd.short, f"{crd.group}/v1", "true", "Widget"]]


def test_custom_resource_table_shows_printer_columns_and_defaults(k: K, crd: Crd) -> None:
    assert k.apply(crd.widget("w1", color="red")).strip() == f"widget.{crd.group}/w1 created"
    header, row = k("get", "widgets").splitlines()
    assert header.split() == ["NAME", "SIZE", "REPLICAS", "PHASE", "AGE"]
    assert row.split()[:3] == ["w1", "small", "1"]
    spec = k.json(f"widgets.{crd.group}", "w1")["spec"]
    assert spec == {"color": "red", "size": "small", "replicas": 1}


def test_custom_resource_reachable_by_short_name_and_category(k: K, crd: Crd) -> None:
    k.apply(crd.widget("w1"), crd.widget("w2", size="large"))
    assert k("get", crd.short, "-o", "name").split() == [f"widget.{crd.group}/w1", f"widget.{crd.group}/w2"]
    assert k("get", crd.category, "-o", "name").split() == [f"widget.{crd.group}/w1", f"widget.{crd.group}/w2"]


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        ({"size": "huge"}, "spec.size", 'Unsupported value: "huge"'),
        ({"replicas": -1}, "spec.replicas", "should be greater than or equal to 0"),
        ({"replicas": "three"}, "spec.replicas", "Invalid value"),
    ],
    ids=["enum-violation", "minimum-violation", "wrong-type"],
)
def test_custom_resource_validation_failure_names_the_field(
    k: K, crd: Crd, spec: dict[str, Any], field: str, message: str
) -> None:
    proc = k.run("apply", "-f", "-", input=manifest(crd.widget("bad", **spec)))
    assert proc.returncode != 0
    assert "is invalid" in proc.stderr and field in proc.stderr and message in proc.stderr
    assert not k.exists(crd.short, "bad")


def test_custom_resource_unknown_field_rejected_under_strict_validation(k: K, crd: Crd) -> None:
    proc = k.run("apply", "-f", "-", input=manifest(crd.widget("strict", bogus="x")))
    assert proc.returncode != 0
    assert 'unknown field "spec.bogus"' in proc.stderr
    # with validation off the unknown field is pruned instead
    k("apply", "--validate=false", "-f", "-", input=manifest(crd.widget("lax", bogus="x")))
    assert "bogus" not in k.json(crd.short, "lax")["spec"]


def test_custom_resource_reapply_unchanged_and_configured(k: K, crd: Crd) -> None:
    k.apply(crd.widget("w", color="red"))
    assert k.apply(crd.widget("w", color="red")).strip() == f"widget.{crd.group}/w unchanged"
    assert k.apply(crd.widget("w", size="large")).strip() == f"widget.{crd.group}/w configured"
    assert k.json(crd.short, "w")["spec"] == {"size": "large", "replicas": 1}


def test_scale_custom_resource_through_scale_subresource(k: K, crd: Crd) -> None:
    k.apply(crd.widget("w"))
    assert k("scale", crd.short, "w", "--replicas=5").strip() == f"widget.{crd.group}/w scaled"
    assert k.json(crd.short, "w")["spec"]["replicas"] == 5


def test_status_subresource_patch_sets_status_and_main_endpoint_ignores_it(k: K, crd: Crd) -> None:
    k.apply(crd.widget("w"))
    k(
        "patch",
        crd.short,
        "w",
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status":{"phase":"Ready","replicas":1}}',
    )
    assert k.json(crd.short, "w")["status"] == {"phase": "Ready", "replicas": 1}
    assert k("get", crd.short, "w", "--no-headers").split()[3] == "Ready"
    k("patch", crd.short, "w", "--type=merge", "-p", '{"status":{"phase":"Hacked"},"spec":{"color":"blue"}}')
    obj = k.json(crd.short, "w")
    assert obj["status"]["phase"] == "Ready" and obj["spec"]["color"] == "blue"


def test_wait_for_custom_resource_status_jsonpath(k: K, crd: Crd) -> None:
    k.apply(crd.widget("w"))
    proc = k.popen("wait", f"{crd.short}/w", "--for=jsonpath={.status.phase}=Done", "--timeout=30s")
    try:
        k("patch", crd.short, "w", "--subresource=status", "--type=merge", "-p", '{"status":{"phase":"Done"}}')
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out.strip() == f"widget.{crd.group}/w condition met"


def test_explain_custom_resource_lists_schema_fields(kubectl: Kubectl, crd: Crd) -> None:
    # the group goes in --api-version: a dotted "widgets.<group>.spec" would read the group as field names
    out = kubectl("explain", "widgets.spec", f"--api-version={crd.group}/v1")
    assert f"GROUP:      {crd.group}" in out
    assert "FIELDS:" in out
    for field in ("size", "replicas", "color"):
        assert f"\n  {field}\t" in out, out
    assert "How big the widget is." in out


def test_deleting_crd_deletes_its_custom_resources(kubectl: Kubectl, k: K, crd: Crd) -> None:
    k.apply(crd.widget("w1"), crd.widget("w2"))
    out = kubectl("delete", "crd", crd.name, "--timeout=30s")
    assert out.strip() == f'customresourcedefinition.apiextensions.k8s.io "{crd.name}" deleted'
    proc = k.run("get", f"widgets.{crd.group}")
    assert proc.returncode != 0 and "doesn't have a resource type" in proc.stderr
    assert f"{crd.group}/v1" not in kubectl("api-versions").split()
    # a new CRD with the same name starts empty: the old objects were really removed
    kubectl("apply", "-f", "-", input=manifest(_crd_manifest(crd.group, crd.short, crd.category)))
    kubectl("wait", "--for", "condition=established", f"crd/{crd.name}", "--timeout=30s")
    assert k.json(f"widgets.{crd.group}")["items"] == []
