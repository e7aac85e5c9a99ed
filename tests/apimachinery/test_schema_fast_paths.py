"""The compiled yes/no fast paths (``is_valid``, ``is_clean``) agree with the general walks.

``validate``/``prune``/``unknown_fields`` answer from the fast path when it says "nothing
to report" and fall back to the general walk otherwise, so the fast path must never say
"valid"/"clean" where the general walk reports something (and should agree the other way
too, or it would be pointless). Each case is checked both ways, and the public functions'
results are compared with the general walk's (same causes, paths and messages).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.apimachinery import schema as structural
from suanli.apimachinery.errors import Cause
from suanli.apimachinery.objects import deep_copy
from suanli.kinds.builtin import builtin_resource_types, resolve_ref

_RT = {rt.plural: rt for rt in builtin_resource_types() if rt.group == ""}
POD = structural.compile_schema(_RT["pods"].schema, resolve_ref)  # type: ignore[arg-type]
EVENT = structural.compile_schema(_RT["events"].schema, resolve_ref)  # type: ignore[arg-type]

WIDGET: dict[str, Any] = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1, "maximum": 10},
                "ratio": {"type": "number", "multipleOf": 0.5, "nullable": True},
                "mode": {"type": "string", "enum": ["a", "b"]},
                "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 8, "minLength": 2},
                "when": {"type": "string", "format": "date-time"},
                "port": {"x-kubernetes-int-or-string": True},
                "mem": {"x-kubernetes-int-or-string": True, "format": "quantity"},
                "flag": {"type": "boolean"},
                "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set",
                         "maxItems": 3},
                "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                          "items": {"type": "object", "required": ["name"],
                                    "properties": {"name": {"type": "string"}, "n": {"type": "integer"}}}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": 2},
                "closed": {"type": "object", "additionalProperties": False,
                           "properties": {"x": {"type": "integer"}}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "inner": {"type": "object", "x-kubernetes-embedded-resource": True,
                          "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}},
                                         "metadata": {"type": "object", "properties": {"name": {"type": "string"}}}}},
                "one": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                        "oneOf": [{"required": ["a"]}, {"required": ["b"]}]},
                "nothing": {"type": "object", "properties": {"a": {"type": "string"}}, "minProperties": 1},
                "opt": {"type": "string", "nullable": True},
            },
        },
        "status": {"type": "object", "properties": {"n": {"type": "integer"}}},
    },
}
WIDGET_NODE = structural.compile_schema(WIDGET)


def reference_causes(node: structural.SchemaNode, obj: Any) -> list[Cause]:
    errs: list[Cause] = []
    structural._check(node, obj, "", errs)
    return errs


def reference_prune(node: structural.SchemaNode, obj: Any) -> tuple[Any, list[str]]:
    out = deep_copy(obj)
    unknown: list[str] = []
    structural._prune(node, out, "", unknown, True, True)
    return out, unknown


def pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns", "labels": {"app": "x"},
                     "creationTimestamp": "2024-01-01T00:00:00Z"},
        "spec": {"containers": [{"name": "c", "image": "img", "ports": [{"containerPort": 80}],
                                 "resources": {"requests": {"cpu": "100m", "memory": "500Mi"}}}],
                 "restartPolicy": "Always", "terminationGracePeriodSeconds": 30},
        "status": {"phase": "Pending"},
    }


def with_change(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    obj = pod()
    cur: Any = obj
    for step in path[:-1]:
        cur = cur[step]
    cur[path[-1]] = value
    return obj


POD_CASES: list[tuple[str, dict[str, Any]]] = [
    ("a well-formed pod is valid", pod()),
    ("an integer where a string belongs", with_change(("spec", "restartPolicy"), 5)),
    ("a string where an integer belongs", with_change(("spec", "terminationGracePeriodSeconds"), "30")),
    ("an integral float passes as an integer", with_change(("spec", "terminationGracePeriodSeconds"), 30.0)),
    ("a fractional float fails as an integer", with_change(("spec", "terminationGracePeriodSeconds"), 30.5)),
    ("a boolean is not an integer", with_change(("spec", "terminationGracePeriodSeconds"), True)),
    ("a bad quantity", with_change(("spec", "containers", 0, "resources", "requests", "cpu"), "lots")),
    ("a numeric quantity", with_change(("spec", "containers", 0, "resources", "requests", "cpu"), 2)),
    ("a list quantity", with_change(("spec", "containers", 0, "resources", "requests", "cpu"), [1])),
    ("a null in a list of objects", with_change(("spec", "containers"), [None])),
    ("a null declared field is left to pruning", with_change(("spec", "restartPolicy"), None)),
    ("containers as an object", with_change(("spec", "containers"), {"name": "c"})),
    ("duplicate container names", with_change(("spec", "containers"),
                                              [{"name": "c", "image": "a"}, {"name": "c", "image": "b"}])),
    ("a bad timestamp", with_change(("metadata", "creationTimestamp"), "yesterday")),
    ("a label map value of the wrong type", with_change(("metadata", "labels"), {"a": 1})),
    ("an unknown field is not a validation error", with_change(("spec", "bogus"), {"x": 1})),
    ("a port of the wrong type", with_change(("spec", "containers", 0, "ports", 0, "containerPort"), "80")),
    ("spec as a list", with_change(("spec",), [])),
]

WIDGET_CASES: list[tuple[str, dict[str, Any]]] = [
    ("all features valid", {"spec": {"size": 3, "ratio": 1.5, "mode": "a", "name": "abc",
                                     "when": "2024-01-01T00:00:00Z", "port": "http", "mem": "1Gi", "flag": False,
                                     "tags": ["x", "y"], "ports": [{"name": "a"}, {"name": "b", "n": 1}],
                                     "labels": {"k": "v"}, "closed": {"x": 1}, "free": {"any": [1, {"z": None}]},
                                     "inner": {"apiVersion": "v1", "kind": "K", "metadata": {"name": "n"},
                                               "spec": {"a": "s"}},
                                     "one": {"a": 1}, "nothing": {"a": "s"}, "opt": None}}),
    ("missing required field", {"spec": {}}),
    ("required field null", {"spec": {"size": None}}),
    ("above maximum", {"spec": {"size": 11}}),
    ("below minimum", {"spec": {"size": 0}}),
    ("not a multiple", {"spec": {"size": 1, "ratio": 0.3}}),
    ("nullable number null", {"spec": {"size": 1, "ratio": None}}),
    ("outside enum", {"spec": {"size": 1, "mode": "c"}}),
    ("pattern mismatch", {"spec": {"size": 1, "name": "ABC"}}),
    ("too long", {"spec": {"size": 1, "name": "abcdefghij"}}),
    ("too short", {"spec": {"size": 1, "name": "a"}}),
    ("bad date-time", {"spec": {"size": 1, "when": "soon"}}),
    ("int-or-string given a float", {"spec": {"size": 1, "port": 1.5}}),
    ("int-or-string given a bool", {"spec": {"size": 1, "port": True}}),
    ("quantity given a float", {"spec": {"size": 1, "mem": 1.5}}),
    ("quantity malformed", {"spec": {"size": 1, "mem": "1 Gi"}}),
    ("bool given a string", {"spec": {"size": 1, "flag": "yes"}}),
    ("set with duplicates", {"spec": {"size": 1, "tags": ["x", "x"]}}),
    ("too many items", {"spec": {"size": 1, "tags": ["a", "b", "c", "d"]}}),
    ("set item of the wrong type", {"spec": {"size": 1, "tags": [1]}}),
    ("map list with duplicate keys", {"spec": {"size": 1, "ports": [{"name": "a"}, {"name": "a"}]}}),
    ("map list item missing its key", {"spec": {"size": 1, "ports": [{"n": 1}]}}),
    ("additionalProperties of the wrong type", {"spec": {"size": 1, "labels": {"k": 1}}}),
    ("additionalProperties null", {"spec": {"size": 1, "labels": {"k": None}}}),
    ("too many properties", {"spec": {"size": 1, "labels": {"a": "1", "b": "2", "c": "3"}}}),
    ("closed object with an extra field", {"spec": {"size": 1, "closed": {"x": 1, "y": 2}}}),
    ("oneOf with both alternatives", {"spec": {"size": 1, "one": {"a": 1, "b": 2}}}),
    ("oneOf with none", {"spec": {"size": 1, "one": {}}}),
    ("too few properties", {"spec": {"size": 1, "nothing": {}}}),
    ("non-nullable string null", {"spec": {"size": 1, "mode": None}}),
    ("embedded resource with unknown fields", {"spec": {"size": 1, "inner": {"kind": "K", "spec": {"b": 1},
                                                                             "metadata": {"x": 1}}}}),
    ("unknown top-level field", {"spec": {"size": 1}, "extra": 1}),
    ("status of the wrong type", {"spec": {"size": 1}, "status": {"n": "x"}}),
    ("root is not an object", [1, 2]),  # type: ignore[list-item]
]


ALL_CASES = [(POD, o) for _, o in POD_CASES] + [(WIDGET_NODE, o) for _, o in WIDGET_CASES]
ALL_IDS = [f"pod: {i}" for i, _ in POD_CASES] + [f"widget: {i}" for i, _ in WIDGET_CASES]


@pytest.mark.parametrize(("node", "obj"), ALL_CASES, ids=ALL_IDS)
def test_fast_validity_matches_the_general_walk(node: structural.SchemaNode, obj: Any) -> None:
    expected = reference_causes(node, obj)
    assert structural.is_valid(node, obj) is (not expected)
    assert structural.validate(obj, node) == expected


@pytest.mark.parametrize(("node", "obj"), ALL_CASES, ids=ALL_IDS)
def test_fast_cleanliness_matches_the_general_prune(node: structural.SchemaNode, obj: Any) -> None:
    pruned, unknown = reference_prune(node, obj)
    assert structural.is_clean(node, obj) is (pruned == obj and not unknown)
    got = deep_copy(obj)
    assert structural.prune_in_place(got, node) == unknown
    assert got == pruned
    assert structural.prune(obj, node) == (pruned, unknown)
    assert structural.unknown_fields(obj, node) == unknown


def test_some_cases_are_invalid_and_some_unclean() -> None:
    """Guard against a table that would pass with a fast path that always answers "no"."""
    verdicts = [structural.is_valid(POD, o) for _, o in POD_CASES]
    assert any(verdicts) and not all(verdicts)
    clean = [structural.is_clean(WIDGET_NODE, o) for _, o in WIDGET_CASES]
    assert any(clean) and not all(clean)


def test_recursive_schemas_compile_and_check() -> None:
    """``$ref`` cycles (a tree of nodes) compile once and are checked at every depth."""
    schemas = {"Tree": {"type": "object", "properties": {"v": {"type": "integer"},
                                                          "kids": {"type": "array", "items": {"$ref": "#/Tree"}}}}}
    node = structural.compile_schema({"$ref": "#/Tree"}, structural.components_resolver(schemas))
    good = {"v": 1, "kids": [{"v": 2, "kids": [{"v": 3}]}]}
    bad = {"v": 1, "kids": [{"v": 2, "kids": [{"v": "deep"}]}]}
    unclean = {"v": 1, "kids": [{"kids": [{"w": 3}]}]}
    assert structural.is_valid(node, good) and structural.validate(good, node) == []
    assert not structural.is_valid(node, bad)
    assert [c.field for c in structural.validate(bad, node)] == ["kids[0].kids[0].v"]
    assert structural.is_clean(node, good) and not structural.is_clean(node, unclean)
    assert structural.unknown_fields(unclean, node) == ["kids[0].kids[0].w"]


# -- property: random edits of a valid pod and of a valid event --------------------------------

_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False, width=32),
                     st.sampled_from(["", "x", "100m", "1Gi", "Always", "2024-01-01T00:00:00Z"]))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=2),
                                                         st.dictionaries(st.sampled_from(["a", "name", "cpu"]), inner,
                                                                         max_size=2)), max_leaves=4)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.extend(_paths(v, (*prefix, i)))
    return out


def _edit(obj: Any, path: tuple[Any, ...], value: Any, add_key: str | None) -> Any:
    out = deep_copy(obj)
    cur = out
    for step in path[:-1]:
        cur = cur[step]
    target = cur[path[-1]]
    if add_key is not None and isinstance(target, dict):
        target[add_key] = value
    else:
        cur[path[-1]] = value
    return out


EVENT_OBJ: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Event", "metadata": {"name": "p.1", "namespace": "ns"},
    "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": "p", "namespace": "ns", "uid": "u"},
    "type": "Normal", "reason": "Scheduled", "message": "ok", "source": {"component": "s"}, "count": 1,
    "firstTimestamp": "2024-01-01T00:00:00Z", "lastTimestamp": "2024-01-01T00:00:00Z",
}


@settings(max_examples=300, deadline=None)
@given(data=st.data(), which=st.sampled_from(["pod", "event", "widget"]))
def test_random_edits_agree_with_the_general_walks(data: st.DataObject, which: str) -> None:
    node, base = {"pod": (POD, pod()), "event": (EVENT, EVENT_OBJ),
                  "widget": (WIDGET_NODE, WIDGET_CASES[0][1])}[which]
    path = data.draw(st.sampled_from(_paths(base)))
    value = data.draw(_VALUES)
    add_key = data.draw(st.one_of(st.none(), st.sampled_from(["name", "bogus", "cpu", "size"])))
    obj = _edit(base, path, value, add_key)
    expected = reference_causes(node, obj)
    assert structural.is_valid(node, obj) is (not expected)
    assert structural.validate(obj, node) == expected
    pruned, unknown = reference_prune(node, obj)
    assert structural.is_clean(node, obj) is (pruned == obj and not unknown)
    got = deep_copy(obj)
    assert structural.prune_in_place(got, node) == unknown and got == pruned
