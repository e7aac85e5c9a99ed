"""Round-2 fast paths in schema checks and fieldsV1 building agree with the general forms.

* compiled string checks (``_string_ok``) accept exactly the strings ``validate`` accepts;
* plain leaves that pass by class (``_leaf_class``) give the same verdict as ``validate``;
* ``fields_tree``'s root builder (ignored paths split into plain names) equals the
  general ``_tree`` + ``_sort_tree`` walk, key order included.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from suanli.apimachinery import schema as S
from suanli.apimachinery.patch.fieldpath import IGNORED, _sort_tree, _split_ignored, _tree, fields_tree

STRING_NODES: list[tuple[dict[str, Any], list[Any]]] = [
    ({"type": "string", "format": "date-time"},
     ["2024-05-01T12:00:07Z", "2024-05-01 12:00:07+02:00", "2024-05-01", "yesterday", "", None, 3]),
    ({"type": "string", "format": "date-time", "maxLength": 20},
     ["2024-05-01T12:00:07Z", "2024-05-01T12:00:07.5Z"]),
    ({"type": "string", "format": "date"}, ["2024-05-01", "2024-05-01T12:00:07Z"]),
    ({"type": "string", "maxLength": 3}, ["abc", "abcd", ""]),
    ({"type": "string", "minLength": 2}, ["a", "ab"]),
    ({"type": "string", "pattern": "^[a-z]+$"}, ["abc", "aBc", ""]),
    ({"type": "string", "format": "byte"}, ["aGVsbG8=", "not base64!"]),
    ({"type": "string", "format": "uuid"}, ["8c17553d-5dce-43c5-ae9c-ff35e90e7026", "8c17553d"]),
    ({"type": "string", "format": "int32"}, ["anything"]),
    ({"type": "string", "format": "date-time", "nullable": True}, [None, "x"]),
]


@pytest.mark.parametrize(("schema", "values"), STRING_NODES, ids=[
    "date-time alone is one regex match", "date-time with a length bound", "date format",
    "max length", "min length", "pattern", "byte format", "uuid format", "ignored int32 format",
    "nullable date-time"])
def test_compiled_string_checks_match_validate(schema: dict[str, Any], values: list[Any]) -> None:
    wrapped = {"type": "object", "properties": {"v": schema}}
    node = S.compile_schema(wrapped)
    for value in values:
        for obj in ({"v": value}, value):
            target = node if obj is not value else node.properties["v"]  # type: ignore[index]
            fast = S.is_valid(target, obj)
            general = not S.validate(obj, target)
            assert fast == general, (schema, obj)


LEAF_CASES: list[tuple[dict[str, Any], Any, bool]] = [
    ({"type": "string"}, "text", True),
    ({"type": "string"}, 3, False),
    ({"type": "boolean"}, True, True),
    ({"type": "boolean"}, 1, False),
    ({"type": "integer"}, 7, True),
    ({"type": "integer"}, True, False),
    ({"type": "integer"}, 2.0, True),
    ({"type": "integer"}, 2.5, False),
    ({"type": "integer", "minimum": 0}, -1, False),
    ({"type": "string", "enum": ["a"]}, "b", False),
    ({"type": "string", "enum": ["a"]}, "a", True),
    ({"x-kubernetes-int-or-string": True}, "5%", True),
    ({"type": "string"}, None, True),
]


class _Str(str):
    pass


@pytest.mark.parametrize(("schema", "value", "valid"), LEAF_CASES, ids=[
    "a str passes a plain string", "an int fails a plain string", "a bool passes a boolean",
    "an int fails a boolean", "an int passes an integer", "a bool fails an integer",
    "an integral float passes an integer", "a fraction fails an integer", "bounds are still checked",
    "enum is still checked", "enum member passes", "int-or-string is not a plain leaf",
    "a declared null is never an error"])
def test_plain_leaves_passing_by_class_match_validate(schema: dict[str, Any], value: Any, valid: bool) -> None:
    node = S.compile_schema({"type": "object", "properties": {"v": schema}})
    assert S.is_valid(node, {"v": value}) is valid
    assert (not S.validate({"v": value}, node)) is valid


def test_str_subclass_still_passes_a_plain_string_through_the_check() -> None:
    node = S.compile_schema({"type": "object", "properties": {"v": {"type": "string"}}})
    assert S.is_valid(node, {"v": _Str("x")}) and not S.validate({"v": _Str("x")}, node)


def general_tree(obj: Any, kind: str, include_status: bool) -> dict[str, Any]:
    ignored = IGNORED - {("f:status",)} if include_status else IGNORED
    root: dict[str, Any] = {}
    _tree(obj, (), (), kind, None, root, ignored)
    return _sort_tree(root)


EVENT: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Event",
    "metadata": {"generateName": "p.", "namespace": "ns", "name": "p.abcde", "uid": "u",
                 "creationTimestamp": "2024-05-01T12:00:00Z", "labels": {"b": "1", "a": "2"}},
    "involvedObject": {"kind": "Pod", "name": "p", "uid": "u2", "resourceVersion": "3"},
    "type": "Normal", "reason": "Scheduled", "message": "m", "source": {"component": "s"},
    "count": 1, "series": None,
}
TREE_CASES = [
    (EVENT, "Event", False),
    ({**EVENT, "status": {"phase": "x"}}, "Event", False),
    ({**EVENT, "status": {"phase": "x"}}, "Event", True),
    ({"spec": {"flag": True, "ratio": 0.5, "empty": {}, "none": None, "list": [1, 2], "d": {"z": 1, "a": None}}},
     "Pod", False),
    ({"metadata": {"name": "n", "generation": 3, "managedFields": [{}], "finalizers": ["b", "a"]}}, "Pod", False),
]


@pytest.mark.parametrize(("obj", "kind", "include_status"), TREE_CASES, ids=[
    "event without status", "status is ignored by default", "status is kept when asked",
    "scalars, empty maps, nulls and lists below the root", "ignored metadata fields are skipped"])
def test_root_builder_equals_general_walk(obj: dict[str, Any], kind: str, include_status: bool) -> None:
    got = fields_tree(obj, kind, include_status=include_status)
    assert json.dumps(got) == json.dumps(general_tree(obj, kind, include_status))


def test_ignored_paths_split_into_root_and_child_names() -> None:
    top, children = _split_ignored(frozenset({("f:kind",), ("f:metadata", "f:uid"), ("f:metadata", "f:name")}))
    assert top == {"kind"} and children == {"metadata": {"uid", "name"}}
