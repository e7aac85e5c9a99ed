"""JSON merge patch (RFC 7386) and its diff."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.apimachinery.patch import create_merge_patch, json_merge_patch

CASES = [
    ({"a": 1, "b": 2}, {"a": None}, {"b": 2}),
    ({"a": {"b": 1, "c": 2}}, {"a": {"c": 3, "d": 4}}, {"a": {"b": 1, "c": 3, "d": 4}}),
    ({"a": [1, 2, 3]}, {"a": [4]}, {"a": [4]}),
    ({"a": 1}, [1, 2], [1, 2]),
    ({"a": 1}, "x", "x"),
    ([1], {"a": 1}, {"a": 1}),
    ({"a": "x"}, {"a": {"b": 1}}, {"a": {"b": 1}}),
    ({"a": {"b": 1}}, {"a": {"b": None, "c": None}}, {"a": {}}),
    ({}, {"a": {"b": None, "c": 1}}, {"a": {"c": 1}}),
    (
        {"metadata": {"labels": {"app": "web", "tier": "fe"}}},
        {"metadata": {"labels": {"tier": None}}},
        {"metadata": {"labels": {"app": "web"}}},
    ),
    ({"a": 1}, {}, {"a": 1}),
    # RFC 7386 appendix A examples
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
]
IDS = [
    "null deletes key",
    "nested maps merge",
    "lists are replaced",
    "non-object patch replaces document",
    "scalar patch replaces document",
    "object patch on non-object target starts empty",
    "object replaces scalar value",
    "nested nulls delete nested keys",
    "nulls in new subtree are dropped",
    "label removed via null",
    "empty patch is identity",
    "rfc value replaced",
    "rfc list of maps replaced",
    "existing null values in target survive",
]


@pytest.mark.parametrize(("target", "patch", "want"), CASES, ids=IDS)
def test_json_merge_patch(target: Any, patch: Any, want: Any) -> None:
    before_t, before_p = copy.deepcopy(target), copy.deepcopy(patch)
    assert json_merge_patch(target, patch) == want
    assert (target, patch) == (before_t, before_p), "inputs must not be mutated"


def test_result_does_not_alias_inputs() -> None:
    target = {"keep": {"deep": [1]}}
    patch = {"new": {"x": [2]}}
    out = json_merge_patch(target, patch)
    out["keep"]["deep"].append(9)
    out["new"]["x"].append(9)
    assert target == {"keep": {"deep": [1]}} and patch == {"new": {"x": [2]}}


DIFFS = [
    ({"a": 1, "b": 2}, {"a": 1}, {"b": None}),
    ({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}}, {"a": {"c": 3}}),
    ({"a": [1]}, {"a": [1, 2]}, {"a": [1, 2]}),
    ({"a": 1}, {"a": 1}, {}),
    ({"a": 1}, {"a": True}, {"a": True}),
    ({"a": 1}, {"a": 1.0}, {}),
]
DIFF_IDS = [
    "removed key becomes null",
    "nested change only",
    "changed list sent whole",
    "equal gives empty",
    "bool differs from int",
    "int equals float",
]


@pytest.mark.parametrize(("a", "b", "want"), DIFFS, ids=DIFF_IDS)
def test_create_merge_patch(a: Any, b: Any, want: Any) -> None:
    assert create_merge_patch(a, b) == want


_scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3)
_keys = st.sampled_from(["a", "b", "c", "d"])
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=12,
)
_no_null_json = st.recursive(
    st.booleans() | st.integers(-5, 5) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(a=st.dictionaries(_keys, _json, max_size=4), b=st.dictionaries(_keys, _no_null_json, max_size=4))
def test_merge_patch_roundtrip_property(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert json_merge_patch(a, create_merge_patch(a, b)) == b
