"""CRD validation, conversion to ResourceTypes and accepted status (Volcano-like sample)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from suanli.apimachinery import schema as S
from suanli.kinds.crd import crd_status_accepted, default_crd, resource_types_from_crd, validate_crd
from suanli.kinds.registry import PrinterColumn, ScaleSpec


def queue_crd() -> dict[str, Any]:
    """A trimmed ``queues.scheduling.volcano.sh`` CRD with two versions."""
    schema = {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {
                "type": "object",
                "properties": {
                    "weight": {
                        "type": "integer",
                        "format": "int32",
                        "default": 1,
                        "minimum": 1,
                        "maximum": 65535,
                    },
                    "reclaimable": {"type": "boolean", "default": True},
                    "replicas": {"type": "integer"},
                    "capability": {
                        "type": "object",
                        "additionalProperties": {
                            "anyOf": [{"type": "integer"}, {"type": "string"}],
                            "x-kubernetes-int-or-string": True,
                        },
                    },
                    "parent": {"type": "string"},
                },
            },
            "status": {
                "type": "object",
                "properties": {
                    "state": {"type": "string"},
                    "running": {"type": "integer"},
                    "selector": {"type": "string"},
                },
            },
        },
    }
    version = {
        "name": "v1beta1",
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": schema},
        "subresources": {
            "status": {},
            "scale": {
                "specReplicasPath": ".spec.replicas",
                "statusReplicasPath": ".status.running",
                "labelSelectorPath": ".status.selector",
            },
        },
        "additionalPrinterColumns": [
            {"name": "Weight", "type": "integer", "jsonPath": ".spec.weight"},
            {"name": "State", "type": "string", "jsonPath": ".status.state", "priority": 1},
        ],
        "selectableFields": [{"jsonPath": ".spec.parent"}],
    }
    old = copy.deepcopy(version) | {"name": "v1alpha1", "storage": False}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "queues.scheduling.volcano.sh"},
        "spec": {
            "group": "scheduling.volcano.sh",
            "scope": "Cluster",
            "names": {
                "kind": "Queue",
                "plural": "queues",
                "shortNames": ["q", "queue-v1beta1"],
                "categories": ["volcano"],
            },
            "versions": [version, old],
        },
    }


def test_valid_crd_has_no_causes() -> None:
    crd = queue_crd()
    default_crd(crd)
    assert validate_crd(crd) == []


def test_default_crd_fills_names_and_conversion() -> None:
    crd = queue_crd()
    default_crd(crd)
    assert crd["spec"]["names"]["singular"] == "queue"
    assert crd["spec"]["names"]["listKind"] == "QueueList"
    assert crd["spec"]["conversion"] == {"strategy": "None"}


def _mutate(path: str, value: Any) -> dict[str, Any]:
    crd = queue_crd()
    parts = path.split(".")
    cur: Any = crd
    for p in parts[:-1]:
        cur = cur[int(p)] if p.isdigit() else cur[p]
    last = parts[-1]
    if value is ...:
        del cur[last]
    elif last.isdigit():
        cur[int(last)] = value
    else:
        cur[last] = value
    return crd


@pytest.mark.parametrize(
    ("path", "value", "field", "message_start"),
    [
        (
            "metadata.name",
            "queue.scheduling.volcano.sh",
            "metadata.name",
            'Invalid value: "queue.scheduling.volcano.sh": must be spec.names.plural+"."+spec.group',
        ),
        (
            "spec.scope",
            "Global",
            "spec.scope",
            'Unsupported value: "Global": supported values: "Cluster", "Namespaced"',
        ),
        ("spec.versions", [], "spec.versions", "Required value"),
        (
            "spec.versions.1.storage",
            True,
            "spec.versions",
            "Invalid value: 2: must have exactly one version marked as storage version",
        ),
        ("spec.versions.1.name", "v1beta1", "spec.versions[1].name", 'Duplicate value: "v1beta1"'),
        (
            "spec.group",
            "volcano",
            "spec.group",
            'Invalid value: "volcano": should be a domain with at least one dot',
        ),
        (
            "spec.names.plural",
            "Queues",
            "spec.names.plural",
            'Invalid value: "Queues": a lowercase RFC 1123 label',
        ),
        (
            "spec.versions.0.schema.openAPIV3Schema.properties.spec.properties.weight",
            {"minimum": 1},
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[weight].type",
            "Required value",
        ),
        (
            "spec.versions.0.schema",
            ...,
            "spec.versions[0].schema.openAPIV3Schema",
            "Required value: schemas are required",
        ),
        (
            "spec.versions.0.additionalPrinterColumns.0",
            {"name": "W", "type": "integer", "jsonPath": "spec.weight"},
            "spec.versions[0].additionalPrinterColumns[0].jsonPath",
            'Invalid value: "spec.weight": must be a simple json',
        ),
        (
            "spec.versions.0.additionalPrinterColumns.0",
            {"name": "W", "type": "int", "jsonPath": ".spec.weight"},
            "spec.versions[0].additionalPrinterColumns[0].type",
            'Unsupported value: "int"',
        ),
        (
            "spec.versions.0.subresources.scale.specReplicasPath",
            ".status.x",
            "spec.versions[0].subresources.scale.specReplicasPath",
            'Invalid value: ".status.x": should be a json path under .spec',
        ),
        (
            "spec.versions.0.selectableFields",
            [{"jsonPath": ".spec.nope"}],
            "spec.versions[0].selectableFields[0].jsonPath",
            'Invalid value: ".spec.nope": is an invalid path',
        ),
        (
            "spec.versions.0.selectableFields",
            [{"jsonPath": ".spec.capability"}],
            "spec.versions[0].selectableFields[0].jsonPath",
            'Invalid value: ".spec.capability": selectable fields must be of type',
        ),
    ],
    ids=[
        "name-not-plural-dot-group",
        "bad-scope",
        "no-versions",
        "two-storage-versions",
        "duplicate-version",
        "group-without-dot",
        "uppercase-plural",
        "non-structural-schema",
        "missing-schema",
        "bad-column-jsonpath",
        "bad-column-type",
        "scale-path-outside-spec",
        "selectable-field-not-in-schema",
        "selectable-field-object",
    ],
)
def test_invalid_crds(path: str, value: Any, field: str, message_start: str) -> None:
    causes = validate_crd(_mutate(path, value))
    assert any(c.field == field and c.message.startswith(message_start) for c in causes), causes


def test_resource_types_one_per_served_version() -> None:
    crd = queue_crd()
    crd["spec"]["versions"][1]["served"] = False
    default_crd(crd)
    rts = resource_types_from_crd(crd)
    assert [r.version for r in rts] == ["v1beta1"]
    r = rts[0]
    assert (r.group, r.kind, r.plural, r.singular, r.namespaced) == (
        "scheduling.volcano.sh",
        "Queue",
        "queues",
        "queue",
        False,
    )
    assert r.short_names == ("q", "queue-v1beta1")
    assert r.categories == ("volcano",)
    assert r.subresources == ("status", "scale")
    assert r.scale == ScaleSpec(".spec.replicas", ".status.running", ".status.selector")
    assert r.printer_columns == (
        PrinterColumn("Weight", "integer", ".spec.weight"),
        PrinterColumn("State", "string", ".status.state", priority=1),
    )
    assert r.selectable_fields == ("spec.parent",)
    assert r.list_kind == "QueueList"
    assert not r.builtin
    assert r.crd_name == "queues.scheduling.volcano.sh"
    assert r.schema == crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def test_all_versions_share_one_bucket() -> None:
    rts = resource_types_from_crd(queue_crd())
    assert {r.storage_key for r in rts} == {"scheduling.volcano.sh/queues"}
    assert len(rts) == 2


def test_preserve_unknown_fields_from_schema_root() -> None:
    crd = queue_crd()
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["x-kubernetes-preserve-unknown-fields"] = True
    assert resource_types_from_crd(crd)[0].preserve_unknown_fields
    assert not resource_types_from_crd(queue_crd())[0].preserve_unknown_fields


def test_custom_resource_pipeline_prune_default_validate() -> None:
    schema = resource_types_from_crd(queue_crd())[0].schema
    assert schema is not None
    cr = {
        "apiVersion": "scheduling.volcano.sh/v1beta1",
        "kind": "Queue",
        "metadata": {"name": "q", "labels": {"a": "b"}},
        "spec": {"capability": {"cpu": 4, "memory": "8Gi"}, "junk": 1},
    }
    pruned, unknown = S.prune(cr, schema)
    assert unknown == ["spec.junk"]
    S.apply_defaults(pruned, schema)
    assert pruned["spec"] == {"capability": {"cpu": 4, "memory": "8Gi"}, "weight": 1, "reclaimable": True}
    assert pruned["metadata"] == {"name": "q", "labels": {"a": "b"}}
    assert S.validate(pruned, schema) == []
    pruned["spec"]["weight"] = 0
    assert [c.field for c in S.validate(pruned, schema)] == ["spec.weight"]


def test_status_accepted() -> None:
    crd = queue_crd()
    default_crd(crd)
    status = crd_status_accepted(crd, now="2024-01-01T00:00:00Z")
    assert status["acceptedNames"] == {
        "plural": "queues",
        "singular": "queue",
        "kind": "Queue",
        "listKind": "QueueList",
        "shortNames": ["q", "queue-v1beta1"],
        "categories": ["volcano"],
    }
    assert status["conditions"] == [
        {
            "type": "NamesAccepted",
            "status": "True",
            "lastTransitionTime": "2024-01-01T00:00:00Z",
            "reason": "NoConflicts",
            "message": "no conflicts found",
        },
        {
            "type": "Established",
            "status": "True",
            "lastTransitionTime": "2024-01-01T00:00:00Z",
            "reason": "InitialNamesAccepted",
            "message": "the initial names have been accepted",
        },
    ]
    assert status["storedVersions"] == ["v1beta1"]


def test_status_keeps_transition_time_and_stored_versions() -> None:
    crd = queue_crd()
    crd["status"] = crd_status_accepted(crd, now="2024-01-01T00:00:00Z")
    crd["status"]["storedVersions"] = ["v1alpha1", "v1beta1"]
    again = crd_status_accepted(crd, now="2025-01-01T00:00:00Z")
    assert {c["lastTransitionTime"] for c in again["conditions"]} == {"2024-01-01T00:00:00Z"}
    assert again["storedVersions"] == ["v1alpha1", "v1beta1"]
