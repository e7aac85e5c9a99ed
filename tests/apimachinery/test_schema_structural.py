"""Structural-schema machinery: validation messages, pruning, defaulting, structural checks."""

from __future__ import annotations

import time
from typing import Any

import pytest

from suanli.apimachinery import schema as S
from suanli.apimachinery.errors import Cause


def obj_schema(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props}


SPEC = obj_schema(
    spec=obj_schema(
        replicas={"type": "integer", "minimum": 0, "maximum": 10},
        name={"type": "string", "minLength": 1, "maxLength": 5, "pattern": "^[a-z]+$"},
        mode={"type": "string", "enum": ["a", "b"]},
        ratio={"type": "number", "exclusiveMaximum": True, "maximum": 1, "multipleOf": 0.25},
        port={"x-kubernetes-int-or-string": True},
        when={"type": "string", "format": "date-time"},
        maybe={"type": "string", "nullable": True},
        tags={
            "type": "array",
            "items": {"type": "string"},
            "maxItems": 2,
            "minItems": 1,
            "x-kubernetes-list-type": "set",
        },
        items={
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["key"],
            "items": obj_schema(key={"type": "string"}, v={"type": "integer"}) | {"required": ["key"]},
        },
        labels={"type": "object", "additionalProperties": {"type": "string"}},
        choice={
            "type": "object",
            "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
            "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
        },
        size={"type": "integer", "format": "int32"},
    )
    | {"required": ["replicas"]}
)


def causes(obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c.field, c.message) for c in S.validate(obj, SPEC)]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"replicas": 1}, []),
        (
            {"replicas": "string"},
            [
                (
                    "spec.replicas",
                    'Invalid value: "string": spec.replicas in body must be of type integer: "string"',
                )
            ],
        ),
        ({}, [("spec.replicas", "Required value")]),
        (
            {"replicas": 11},
            [
                (
                    "spec.replicas",
                    "Invalid value: 11: spec.replicas in body should be less than or equal to 10",
                )
            ],
        ),
        (
            {"replicas": -1},
            [
                (
                    "spec.replicas",
                    "Invalid value: -1: spec.replicas in body should be greater than or equal to 0",
                )
            ],
        ),
        ({"replicas": 1, "mode": "x"}, [("spec.mode", 'Unsupported value: "x": supported values: "a", "b"')]),
        ({"replicas": 1, "name": "abcdef"}, [("spec.name", "Too long: may not be more than 5 bytes")]),
        (
            {"replicas": 1, "name": ""},
            [
                ("spec.name", 'Invalid value: "": spec.name in body should be at least 1 chars long'),
                ("spec.name", "Invalid value: \"\": spec.name in body should match '^[a-z]+$'"),
            ],
        ),
        (
            {"replicas": 1, "name": "AB"},
            [("spec.name", "Invalid value: \"AB\": spec.name in body should match '^[a-z]+$'")],
        ),
        (
            {"replicas": 1, "ratio": 1},
            [("spec.ratio", "Invalid value: 1: spec.ratio in body should be less than 1")],
        ),
        (
            {"replicas": 1, "ratio": 0.3},
            [("spec.ratio", "Invalid value: 0.3: spec.ratio in body should be a multiple of 0.25")],
        ),
        ({"replicas": 1, "port": 80}, []),
        ({"replicas": 1, "port": "http"}, []),
        (
            {"replicas": 1, "port": True},
            [
                (
                    "spec.port",
                    'Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"',
                )
            ],
        ),
        ({"replicas": 1, "when": "2024-01-01T00:00:00Z"}, []),
        (
            {"replicas": 1, "when": "yesterday"},
            [
                (
                    "spec.when",
                    'Invalid value: "yesterday": spec.when in body must be of type date-time: "yesterday"',
                )
            ],
        ),
        ({"replicas": 1, "maybe": None}, []),
        ({"replicas": 1, "mode": None}, []),
        ({"replicas": 1, "tags": ["a", "b", "c"]}, [("spec.tags", "Too many: 3: must have at most 2 items")]),
        (
            {"replicas": 1, "tags": []},
            [("spec.tags", "Invalid value: 0: spec.tags in body should have at least 1 items")],
        ),
        ({"replicas": 1, "tags": ["a", "a"]}, [("spec.tags[1]", 'Duplicate value: "a"')]),
        (
            {"replicas": 1, "items": [{"key": "x"}, {"key": "x", "v": 1}]},
            [("spec.items[1]", 'Duplicate value: {"key":"x"}')],
        ),
        (
            {"replicas": 1, "items": [{"v": "1"}]},
            [
                ("spec.items[0].key", "Required value"),
                (
                    "spec.items[0].v",
                    'Invalid value: "string": spec.items[0].v in body must be of type integer: "string"',
                ),
            ],
        ),
        (
            {"replicas": 1, "labels": {"a": 1}},
            [
                (
                    "spec.labels[a]",
                    'Invalid value: "integer": spec.labels[a] in body must be of type string: "integer"',
                )
            ],
        ),
        ({"replicas": 1, "choice": {"a": "x"}}, []),
        (
            {"replicas": 1, "choice": {}},
            [
                (
                    "spec.choice",
                    'Invalid value: {}: "spec.choice" must validate one and '
                    "only one schema (oneOf). Found none valid",
                )
            ],
        ),
        (
            {"replicas": 1, "choice": {"a": "x", "b": "y"}},
            [
                (
                    "spec.choice",
                    'Invalid value: {"a":"x","b":"y"}: "spec.choice" must validate one and only one schema '
                    "(oneOf). Found 2 valid alternatives",
                )
            ],
        ),
        ({"replicas": 1, "size": 5000000000}, []),
        ({"replicas": 2.0}, []),
    ],
    ids=[
        "valid",
        "wrong-type-names-actual-type",
        "missing-required",
        "above-maximum",
        "below-minimum",
        "enum-unsupported",
        "max-length-too-long",
        "min-length-and-pattern",
        "pattern",
        "exclusive-maximum",
        "multiple-of",
        "int-or-string-int",
        "int-or-string-string",
        "int-or-string-rejects-bool",
        "date-time-ok",
        "date-time-bad",
        "nullable-null-ok",
        "non-nullable-null-treated-as-absent",
        "max-items-too-many",
        "min-items",
        "set-duplicate",
        "map-list-duplicate-key",
        "nested-array-paths",
        "additional-properties-key-path",
        "one-of-ok",
        "one-of-none",
        "one-of-two",
        "int32-format-not-range-checked",
        "integral-float-is-integer",
    ],
)
def test_validate_messages(spec: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert causes({"spec": spec}) == expected


def test_validate_reasons_match_upstream() -> None:
    errs = S.validate({"spec": {"mode": "x", "tags": ["a", "b", "c"]}}, SPEC)
    assert {c.field: c.reason for c in errs} == {
        "spec.replicas": "FieldValueRequired",
        "spec.mode": "FieldValueNotSupported",
        "spec.tags": "FieldValueTooMany",
    }


@pytest.mark.parametrize(
    ("schema", "value", "ok"),
    [
        ({"anyOf": [{"type": "integer"}, {"type": "string"}]}, 1, True),
        ({"anyOf": [{"minimum": 5}, {"maximum": 1}]}, 3, False),
        ({"allOf": [{"minimum": 1}, {"maximum": 5}]}, 6, False),
        ({"not": {"enum": ["x"]}}, "x", False),
        ({"not": {"enum": ["x"]}}, "y", True),
        ({"type": "string", "format": "byte"}, "aGVsbG8=", True),
        ({"type": "string", "format": "byte"}, "not base64!", False),
        ({"type": "string", "format": "uuid"}, "0b7c7d2e-9c1a-4f51-9b5e-1a2b3c4d5e6f", True),
        ({"type": "string", "format": "ipv4"}, "10.0.0.1", True),
        ({"type": "string", "format": "ipv4"}, "::1", False),
        ({"type": "string", "format": "quantity", "x-kubernetes-int-or-string": True}, 0.5, True),
        ({"type": "string", "format": "quantity", "x-kubernetes-int-or-string": True}, "1Gi", True),
        ({"type": "string", "format": "quantity", "x-kubernetes-int-or-string": True}, "lots", False),
        ({"type": "boolean"}, 1, False),
        ({"type": "integer"}, True, False),
    ],
    ids=[
        "any-of-matches",
        "any-of-none",
        "all-of-one-fails",
        "not-matches",
        "not-passes",
        "byte-ok",
        "byte-bad",
        "uuid-ok",
        "ipv4-ok",
        "ipv4-rejects-v6",
        "quantity-float",
        "quantity-string",
        "quantity-garbage",
        "bool-rejects-int",
        "integer-rejects-bool",
    ],
)
def test_validate_keywords(schema: dict[str, Any], value: Any, ok: bool) -> None:
    assert (S.validate(value, schema) == []) is ok


def test_validate_follows_refs_with_resolver() -> None:
    defs = {
        "Inner": obj_schema(n={"type": "integer"}),
        "Outer": obj_schema(inner={"$ref": "#/components/schemas/Inner"}),
    }
    resolver = S.components_resolver(defs)
    errs = S.validate({"inner": {"n": "x"}}, defs["Outer"], resolver)
    assert [c.field for c in errs] == ["inner.n"]


def test_recursive_refs_compile() -> None:
    defs = {
        "Node": obj_schema(
            children={"type": "array", "items": {"$ref": "#/components/schemas/Node"}}, v={"type": "integer"}
        )
    }
    resolver = S.components_resolver(defs)
    errs = S.validate({"children": [{"children": [{"v": "x"}]}]}, defs["Node"], resolver)
    assert [c.field for c in errs] == ["children[0].children[0].v"]


# -- pruning ----------------------------------------------------------------------------------

PRUNE_SCHEMA = obj_schema(
    metadata=obj_schema(name={"type": "string"}),
    spec=obj_schema(
        a={"type": "integer"},
        free={
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
            "properties": {"n": obj_schema()},
        },
        list={"type": "array", "items": obj_schema(k={"type": "string"})},
        map={"type": "object", "additionalProperties": obj_schema(x={"type": "string"})},
        empty={"type": "object"},
        embedded={
            "type": "object",
            "x-kubernetes-embedded-resource": True,
            "properties": {"spec": obj_schema()},
        },
        n={"type": "string", "nullable": True},
    ),
)


@pytest.mark.parametrize(
    ("obj", "pruned", "dropped"),
    [
        (
            {"apiVersion": "v1", "kind": "X", "metadata": {"name": "a", "labels": {"x": "y"}}, "extra": 1},
            {"apiVersion": "v1", "kind": "X", "metadata": {"name": "a", "labels": {"x": "y"}}},
            ["extra"],
        ),
        ({"spec": {"a": 1, "b": 2}}, {"spec": {"a": 1}}, ["spec.b"]),
        (
            {"spec": {"free": {"anything": {"deep": 1}, "n": {"z": 1}}}},
            {"spec": {"free": {"anything": {"deep": 1}, "n": {}}}},
            ["spec.free.n.z"],
        ),
        ({"spec": {"list": [{"k": "a", "z": 1}]}}, {"spec": {"list": [{"k": "a"}]}}, ["spec.list[0].z"]),
        (
            {"spec": {"map": {"m": {"x": "1", "y": 2}}}},
            {"spec": {"map": {"m": {"x": "1"}}}},
            ["spec.map[m].y"],
        ),
        ({"spec": {"empty": {"q": 1}}}, {"spec": {"empty": {}}}, ["spec.empty.q"]),
        (
            {
                "spec": {
                    "embedded": {"apiVersion": "v1", "kind": "Pod", "metadata": {"x": 1}, "spec": {}, "o": 1}
                }
            },
            {"spec": {"embedded": {"apiVersion": "v1", "kind": "Pod", "metadata": {"x": 1}, "spec": {}}}},
            ["spec.embedded.o"],
        ),
        ({"spec": {"a": None, "n": None}}, {"spec": {"n": None}}, []),
    ],
    ids=[
        "root-envelope-kept-metadata-untouched",
        "unknown-dropped",
        "preserve-unknown-keeps-but-walks-known",
        "array-items-pruned",
        "additional-properties-values-pruned",
        "object-without-properties-emptied",
        "embedded-resource-keeps-envelope",
        "non-nullable-null-dropped",
    ],
)
def test_prune(obj: dict[str, Any], pruned: dict[str, Any], dropped: list[str]) -> None:
    out, unknown = S.prune(obj, PRUNE_SCHEMA)
    assert out == pruned
    assert unknown == dropped
    assert S.unknown_fields(obj, PRUNE_SCHEMA) == dropped


def test_prune_does_not_mutate_input() -> None:
    obj = {"spec": {"a": 1, "b": 2}}
    S.prune(obj, PRUNE_SCHEMA)
    assert obj == {"spec": {"a": 1, "b": 2}}


def test_prune_root_preserve_unknown_keeps_everything() -> None:
    schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    obj = {"spec": {"x": 1}, "status": {"y": 2}}
    assert S.prune(obj, schema) == (obj, [])


# -- defaulting -------------------------------------------------------------------------------

DEFAULTS_SCHEMA = obj_schema(
    spec=obj_schema(
        replicas={"type": "integer", "default": 1},
        policy={
            "type": "object",
            "default": {},
            "properties": {"mode": {"type": "string", "default": "Fair"}},
        },
        workers={"type": "array", "items": obj_schema(cpu={"type": "string", "default": "1"})},
        pools={"type": "object", "additionalProperties": obj_schema(size={"type": "integer", "default": 3})},
        tags={"type": "array", "items": {"type": "string"}, "default": ["a"]},
    )
)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, {"replicas": 1, "policy": {"mode": "Fair"}, "tags": ["a"]}),
        (
            {"replicas": 5, "policy": {"mode": "x"}, "tags": []},
            {"replicas": 5, "policy": {"mode": "x"}, "tags": []},
        ),
        (
            {"workers": [{}, {"cpu": "2"}]},
            {
                "replicas": 1,
                "policy": {"mode": "Fair"},
                "tags": ["a"],
                "workers": [{"cpu": "1"}, {"cpu": "2"}],
            },
        ),
        (
            {"pools": {"p": {}}},
            {"replicas": 1, "policy": {"mode": "Fair"}, "tags": ["a"], "pools": {"p": {"size": 3}}},
        ),
    ],
    ids=[
        "absent-fields-defaulted-recursively",
        "present-fields-kept",
        "array-items-defaulted",
        "additional-properties-defaulted",
    ],
)
def test_apply_defaults(spec: dict[str, Any], expected: dict[str, Any]) -> None:
    assert S.apply_defaults({"spec": spec}, DEFAULTS_SCHEMA) == {"spec": expected}


def test_defaults_are_copies() -> None:
    a = S.apply_defaults({"spec": {}}, DEFAULTS_SCHEMA)
    a["spec"]["tags"].append("b")
    assert S.apply_defaults({"spec": {}}, DEFAULTS_SCHEMA)["spec"]["tags"] == ["a"]


def test_null_then_default_after_prune() -> None:
    pruned, _ = S.prune({"spec": {"replicas": None}}, DEFAULTS_SCHEMA)
    assert S.apply_defaults(pruned, DEFAULTS_SCHEMA)["spec"]["replicas"] == 1


# -- structural -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (obj_schema(spec=obj_schema(a={"type": "string"})), []),
        (
            obj_schema(spec={"properties": {}}),
            [
                Cause(
                    "openAPIV3Schema.properties[spec].type",
                    "Required value: must not be empty for specified object fields",
                    "FieldValueRequired",
                )
            ],
        ),
        (
            {"type": "array", "items": {"type": "string"}},
            [
                Cause(
                    "openAPIV3Schema.type",
                    'Unsupported value: "array": supported values: "object"',
                    "FieldValueNotSupported",
                )
            ],
        ),
        (
            obj_schema(metadata=obj_schema(labels={"type": "object"})),
            [
                Cause(
                    "openAPIV3Schema.properties[metadata]",
                    "Forbidden: must not specify anything other than name and "
                    "generateName, but metadata is implicitly specified",
                    "FieldValueForbidden",
                )
            ],
        ),
        (obj_schema(metadata=obj_schema(name={"type": "string", "maxLength": 10})), []),
        (
            obj_schema(
                port={"x-kubernetes-int-or-string": True}, free={"x-kubernetes-preserve-unknown-fields": True}
            ),
            [],
        ),
        (
            obj_schema(xs={"type": "array"}),
            [
                Cause(
                    "openAPIV3Schema.properties[xs].items",
                    "Required value: must be specified",
                    "FieldValueRequired",
                )
            ],
        ),
        (
            obj_schema(x={"$ref": "#/definitions/X"}),
            [
                Cause(
                    "openAPIV3Schema.properties[x].$ref",
                    "Forbidden: $ref is not supported",
                    "FieldValueForbidden",
                ),
                Cause(
                    "openAPIV3Schema.properties[x].type",
                    "Required value: must not be empty for specified object fields",
                    "FieldValueRequired",
                ),
            ],
        ),
        (
            obj_schema(
                spec=obj_schema(a={"type": "string"}) | {"anyOf": [{"required": ["a"]}, {"required": ["b"]}]}
            ),
            [],
        ),
        (
            obj_schema(
                spec=obj_schema(a={"type": "string"}) | {"anyOf": [{"properties": {"b": {"minLength": 1}}}]}
            ),
            [
                Cause(
                    "openAPIV3Schema.properties[spec].properties[b]",
                    "Required value: because it is defined in "
                    "openAPIV3Schema.properties[spec].anyOf[0].properties[b]",
                    "FieldValueRequired",
                )
            ],
        ),
        (
            obj_schema(spec=obj_schema(a={"type": "string"}) | {"allOf": [{"type": "object"}]}),
            [
                Cause(
                    "openAPIV3Schema.properties[spec].allOf[0].type",
                    "Forbidden: must not be specified",
                    "FieldValueForbidden",
                )
            ],
        ),
    ],
    ids=[
        "structural",
        "missing-type",
        "root-not-object",
        "metadata-beyond-name",
        "metadata-name-only-ok",
        "int-or-string-and-preserve-need-no-type",
        "array-without-items",
        "ref-forbidden",
        "value-validation-over-declared-fields",
        "value-validation-undeclared-field",
        "type-inside-allof",
    ],
)
def test_check_structural(schema: dict[str, Any], expected: list[Cause]) -> None:
    assert S.check_structural(schema) == expected


def test_compiled_schema_is_cached_by_identity() -> None:
    schema = obj_schema(a={"type": "integer"})
    assert S.compile_schema(schema) is S.compile_schema(schema)
    assert S.compile_schema(dict(schema)) is not S.compile_schema(schema)


@pytest.mark.parametrize(
    ("value", "text"),
    [("x", '"x"'), (5, "5"), (2.0, "2"), (0.5, "0.5"), (True, "true"), (None, "null"), ({"b": 1}, '{"b":1}')],
    ids=["string-quoted", "int", "integral-float", "float", "bool", "null", "object-as-json"],
)
def test_format_value(value: Any, text: str) -> None:
    assert S.format_value(value) == text


def test_validation_is_cheap() -> None:
    schema = obj_schema(spec=obj_schema(containers={"type": "array", "items": SPEC["properties"]["spec"]}))
    obj = {"spec": {"containers": [{"replicas": 1, "name": "abc", "tags": ["a"], "labels": {"a": "b"}}] * 5}}
    S.validate(obj, schema)
    start = time.perf_counter()
    for _ in range(200):
        assert S.validate(obj, schema) == []
    per_call = (time.perf_counter() - start) / 200
    assert per_call < 0.001


def test_int_or_string_any_of_pattern_is_structural() -> None:
    schema = obj_schema(
        port={"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}
    )
    assert S.check_structural(schema) == []
