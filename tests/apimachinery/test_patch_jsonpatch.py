"""JSON patch (RFC 6902) and JSON Pointer handling."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.patch import MAX_OPERATIONS, apply_json_patch
from suanli.apimachinery.patch.jsonpatch import parse_pointer

DOC = {"a": {"b": [1, 2, 3]}, "m~n": 1, "x/y": 2, "s": "v", "t": True}

OK = [
    ([{"op": "add", "path": "/c", "value": 3}], {**DOC, "c": 3}),
    ([{"op": "add", "path": "/a/b/-", "value": 4}], {**DOC, "a": {"b": [1, 2, 3, 4]}}),
    ([{"op": "add", "path": "/a/b/0", "value": 0}], {**DOC, "a": {"b": [0, 1, 2, 3]}}),
    ([{"op": "add", "path": "/a/b/3", "value": 9}], {**DOC, "a": {"b": [1, 2, 3, 9]}}),
    ([{"op": "add", "path": "/s", "value": "w"}], {**DOC, "s": "w"}),
    ([{"op": "remove", "path": "/a/b/1"}], {**DOC, "a": {"b": [1, 3]}}),
    ([{"op": "remove", "path": "/m~0n"}], {k: v for k, v in DOC.items() if k != "m~n"}),
    ([{"op": "replace", "path": "/x~1y", "value": 5}], {**DOC, "x/y": 5}),
    ([{"op": "replace", "path": "/a/b/2", "value": 7}], {**DOC, "a": {"b": [1, 2, 7]}}),
    ([{"op": "move", "from": "/a/b", "path": "/c"}], {**DOC, "a": {}, "c": [1, 2, 3]}),
    ([{"op": "move", "from": "/a/b/0", "path": "/a/b/-"}], {**DOC, "a": {"b": [2, 3, 1]}}),
    ([{"op": "copy", "from": "/a/b", "path": "/c"}], {**DOC, "c": [1, 2, 3]}),
    ([{"op": "test", "path": "/a/b", "value": [1, 2.0, 3]}], DOC),
    ([{"op": "test", "path": "/t", "value": True}], DOC),
    ([{"op": "replace", "path": "", "value": [1]}], [1]),
    ([{"op": "add", "path": "", "value": {"z": 1}}], {"z": 1}),
    ([], DOC),
    (
        [
            {"op": "add", "path": "/c", "value": {}},
            {"op": "add", "path": "/c/d", "value": 1},
            {"op": "test", "path": "/c/d", "value": 1},
        ],
        {**DOC, "c": {"d": 1}},
    ),
]
OK_IDS = [
    "add new key",
    "dash appends to array",
    "add inserts at index",
    "add at array length appends",
    "add replaces existing key",
    "remove array item shifts",
    "tilde0 unescapes to tilde",
    "tilde1 unescapes to slash",
    "replace array item",
    "move subtree",
    "move within array",
    "copy subtree",
    "test compares 1 equal to 1.0",
    "test true equals true",
    "replace root",
    "add at root",
    "empty patch is identity",
    "ops apply in sequence",
]


@pytest.mark.parametrize(("ops", "want"), OK, ids=OK_IDS)
def test_apply_ok(ops: list[dict[str, Any]], want: Any) -> None:
    before = copy.deepcopy(DOC)
    assert apply_json_patch(DOC, ops) == want
    assert before == DOC, "input must not be mutated"


FAIL_422 = [
    [{"op": "remove", "path": "/nope"}],
    [{"op": "replace", "path": "/a/nope", "value": 1}],
    [{"op": "test", "path": "/s", "value": "other"}],
    [{"op": "test", "path": "/t", "value": 1}],
    [{"op": "test", "path": "/missing", "value": 1}],
    [{"op": "add", "path": "/a/b/5", "value": 1}],
    [{"op": "add", "path": "/a/b/01", "value": 1}],
    [{"op": "remove", "path": "/a/b/-"}],
    [{"op": "remove", "path": "/a/b/3"}],
    [{"op": "add", "path": "/no/such/parent", "value": 1}],
    [{"op": "move", "from": "/a", "path": "/a/b/c"}],
    [{"op": "copy", "from": "/missing", "path": "/c"}],
    [{"op": "add", "path": "/s/deeper", "value": 1}],
    [{"op": "remove", "path": ""}],
    [{"op": "add", "path": "/c", "value": 1}, {"op": "test", "path": "/c", "value": 2}],
]
FAIL_IDS = [
    "remove missing key returns 422",
    "replace missing key returns 422",
    "failed test op returns 422",
    "test true is not 1",
    "test on missing path returns 422",
    "index past end returns 422",
    "leading zero index returns 422",
    "remove dash returns 422",
    "remove index at length returns 422",
    "missing parent returns 422",
    "move into own child returns 422",
    "copy from missing returns 422",
    "traverse into scalar returns 422",
    "remove root returns 422",
    "later failed test fails whole patch",
]


@pytest.mark.parametrize("ops", FAIL_422, ids=FAIL_IDS)
def test_apply_failures_are_422(ops: list[dict[str, Any]]) -> None:
    with pytest.raises(ApiError) as err:
        apply_json_patch(DOC, ops)
    assert err.value.code == 422
    assert ops[-1]["path"] in err.value.message or ops[0]["path"] in err.value.message


def test_failed_resource_version_test_names_path() -> None:
    obj = {"metadata": {"resourceVersion": "5"}}
    with pytest.raises(ApiError) as err:
        apply_json_patch(
            obj,
            [
                {"op": "test", "path": "/metadata/resourceVersion", "value": "4"},
                {"op": "replace", "path": "/metadata/resourceVersion", "value": "6"},
            ],
        )
    assert err.value.code == 422 and "/metadata/resourceVersion" in err.value.message


BAD = [
    {"op": "add", "path": "/a", "value": 1},
    ["not an object"],
    [{"path": "/a", "value": 1}],
    [{"op": "add", "value": 1}],
    [{"op": "add", "path": "/a"}],
    [{"op": "frob", "path": "/a"}],
    [{"op": "move", "path": "/a"}],
    [{"op": "add", "path": "a", "value": 1}],
    [{"op": "add", "path": "/a~2", "value": 1}],
    [{"op": "test", "path": "/a"}],
]
BAD_IDS = [
    "non-list patch is 400",
    "non-object op is 400",
    "missing op is 400",
    "missing path is 400",
    "missing value is 400",
    "unknown op is 400",
    "move without from is 400",
    "pointer without slash is 400",
    "bad tilde escape is 400",
    "test without value is 400",
]


@pytest.mark.parametrize("ops", BAD, ids=BAD_IDS)
def test_malformed_patch_is_400(ops: Any) -> None:
    with pytest.raises(ApiError) as err:
        apply_json_patch(DOC, ops)
    assert err.value.code == 400


def test_more_than_max_ops_is_413() -> None:
    ops = [{"op": "test", "path": "/s", "value": "v"}] * (MAX_OPERATIONS + 1)
    with pytest.raises(ApiError) as err:
        apply_json_patch(DOC, ops)
    assert err.value.code == 413
    assert apply_json_patch(DOC, ops[:MAX_OPERATIONS]) == DOC


def test_null_value_is_allowed() -> None:
    assert apply_json_patch({"a": 1}, [{"op": "replace", "path": "/a", "value": None}]) == {"a": None}


def test_added_value_does_not_alias_patch() -> None:
    value = {"x": [1]}
    out = apply_json_patch({}, [{"op": "add", "path": "/v", "value": value}])
    out["v"]["x"].append(2)
    assert value == {"x": [1]}


@pytest.mark.parametrize(
    ("pointer", "tokens"),
    [("", []), ("/", [""]), ("/a~1b/m~0n", ["a/b", "m~n"]), ("/~01", ["~1"])],
    ids=["empty is root", "slash is empty key", "escapes decode", "tilde0 then 1 decodes once"],
)
def test_parse_pointer(pointer: str, tokens: list[str]) -> None:
    assert parse_pointer(pointer) == tokens
