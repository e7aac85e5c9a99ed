"""Fast write-path helpers agree with their general forms.

* ``fields_tree`` (sorted one-pass builder) equals the general ``_tree`` + ``_sort_tree``,
  key order included (it is stored JSON);
* ``deep_copy`` copies JSON trees exactly and independently;
* ``now_rfc3339`` renders the current second like ``format_time``.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.apimachinery.objects import deep_copy, format_time, now_rfc3339
from suanli.apimachinery.patch.fieldpath import IGNORED, _sort_tree, _tree, fields_tree
from suanli.apimachinery.patch.patchmeta import list_meta_from_schema


def general_tree(obj: Any, kind: str, include_status: bool = False, extra: Any = None) -> dict[str, Any]:
    ignored = IGNORED - {("f:status",)} if include_status else IGNORED
    root: dict[str, Any] = {}
    _tree(obj, (), (), kind, extra, root, ignored)
    return _sort_tree(root)


def ordered(tree: Any) -> str:
    """JSON text keeping key order: equal trees with different key order differ here."""
    return json.dumps(tree)


POD: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "p", "namespace": "ns", "uid": "u", "resourceVersion": "3", "labels": {"b": "1", "a": "2"},
                 "annotations": {}, "finalizers": ["x/b", "x/a"], "ownerReferences": [
                     {"apiVersion": "v1", "kind": "RS", "name": "r", "uid": "u2", "controller": True}],
                 "managedFields": [{"manager": "m"}], "generation": 1},
    "spec": {"containers": [{"name": "z", "image": "i", "env": [{"name": "B", "value": "1"}, {"name": "A"}],
                             "ports": [{"containerPort": 80, "protocol": "TCP"}], "args": ["a", "b"],
                             "resources": {"requests": {"memory": "1Gi", "cpu": "1"}}},
                            {"name": "a", "image": "j", "resources": {}, "command": []}],
             "nodeSelector": {"zone": "a"}, "tolerations": [{"key": "k", "operator": "Exists"}],
             "restartPolicy": None, "priority": 0, "enableServiceLinks": True, "overhead": {"cpu": 1.5}},
    "status": {"phase": "Pending", "conditions": [{"type": "Ready", "status": "True"}]},
}

CASES: list[tuple[str, Any, str, bool]] = [
    ("a full pod", POD, "Pod", False),
    ("a full pod with status tracked", POD, "Pod", True),
    ("an empty object", {}, "Pod", False),
    ("only ignored fields", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "n", "uid": "u"}}, "Pod", False),
    ("duplicate list-map keys: the later item wins",
     {"spec": {"containers": [{"name": "c", "image": "a"}, {"name": "c", "args": ["x"]}]}}, "Pod", False),
    ("a list-map item with only nulls", {"spec": {"containers": [{"name": None}]}}, "Pod", False),
    ("a list-map with a non-object item is atomic", {"spec": {"containers": [{"name": "c"}, "x"]}}, "Pod", False),
    ("set values are sorted", {"metadata": {"finalizers": ["b", "a", "b"]}}, "Pod", False),
    ("a set with an object is atomic", {"metadata": {"finalizers": ["a", {"b": 1}]}}, "Pod", False),
    ("a root-level list", {"items": [1, 2], "data": {"z": 1, "a": None}}, "ConfigMap", False),
    ("non-string keys fall back to the general walk", {"data": {1: "a", 2: "b"}}, "ConfigMap", False),
    ("an ordered-dict subclass", OrderedDict([("spec", OrderedDict([("b", 1), ("a", 2)]))]), "Pod", False),
    ("a deployment template's containers", {"spec": {"template": {"spec": {"containers": [
        {"name": "b"}, {"name": "a", "ports": [{"containerPort": 1}, {"containerPort": 2}]}]}}}},
     "apps/Deployment", False),
]


@pytest.mark.parametrize(("obj", "kind", "status"), [(o, k, s) for _, o, k, s in CASES], ids=[c[0] for c in CASES])
def test_fields_tree_equals_the_general_forms(obj: Any, kind: str, status: bool) -> None:
    assert ordered(fields_tree(obj, kind, include_status=status)) == ordered(general_tree(obj, kind, status))


def test_fields_tree_uses_custom_list_metadata() -> None:
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {"items": {
        "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["id"],
        "items": {"type": "object", "properties": {"id": {"type": "integer"}, "v": {"type": "string"}}}}}}}}
    extra = list_meta_from_schema(schema)
    obj = {"spec": {"items": [{"id": 2, "v": "b"}, {"id": 1}]}}
    got = fields_tree(obj, "example.com/Widget", extra=extra)
    assert ordered(got) == ordered(general_tree(obj, "example.com/Widget", extra=extra))
    assert list(got["f:spec"]["f:items"]) == ['k:{"id":1}', 'k:{"id":2}']


_KEYS = st.sampled_from(["name", "containers", "env", "finalizers", "spec", "metadata", "status", "a", "b", "uid"])
_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.text("ab", max_size=2)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_KEYS, inner, max_size=3)),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(obj=st.dictionaries(_KEYS, _JSON, max_size=4), status=st.booleans())
def test_fields_tree_matches_on_random_objects(obj: dict[str, Any], status: bool) -> None:
    assert ordered(fields_tree(obj, "Pod", include_status=status)) == ordered(general_tree(obj, "Pod", status))


# -- deep_copy -----------------------------------------------------------------------------------


class _D(dict):  # type: ignore[type-arg]
    pass


class _L(list):  # type: ignore[type-arg]
    pass


@pytest.mark.parametrize("value", [
    POD, [], {}, [[1, [2, {"a": [3]}]]], "s", 1, None, _D(a=_L([_D(b=1)])), {"t": (1, [2])},
], ids=["a pod", "an empty list", "an empty map", "nested lists", "a string", "a number", "null",
        "dict and list subclasses", "a tuple"])
def test_deep_copy_is_equal_and_independent(value: Any) -> None:
    copy = deep_copy(value)
    assert copy == value

    def containers(v: Any) -> list[Any]:
        out = [v] if isinstance(v, dict | list) else []
        for child in (v.values() if isinstance(v, dict) else v if isinstance(v, list) else []):
            out.extend(containers(child))
        return out

    originals = {id(c) for c in containers(value)}
    assert not any(id(c) in originals for c in containers(copy))  # no dict or list is shared
    assert all(type(c) in (dict, list) for c in containers(copy))  # subclasses come back plain


def test_deep_copy_shares_tuples_and_scalars() -> None:
    t = (1, [2])
    s = "text"
    copy = deep_copy({"t": t, "s": s})
    assert copy["t"] is t and copy["s"] is s


# -- timestamps ------------------------------------------------------------------------------------


def test_now_rfc3339_renders_the_current_second() -> None:
    before = format_time(datetime.now(UTC))
    got = now_rfc3339()
    after = format_time(datetime.now(UTC))
    assert before <= got <= after
    assert len(got) == 20 and got.endswith("Z")
    assert datetime.fromisoformat(got.replace("Z", "+00:00")).tzinfo is not None
