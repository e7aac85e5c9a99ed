"""JSONPath subset used by CRD printer columns."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.apimachinery import jsonpath

OBJ: dict[str, Any] = {
    "metadata": {"name": "x", "labels": {"app": "web", "app.kubernetes.io/name": "api"}},
    "spec": {
        "replicas": 3,
        "items": [{"name": "a", "n": 1}, {"name": "b", "n": 5}, {"name": "c", "n": 9}],
        "paused": False,
    },
    "status": {
        "conditions": [
            {"type": "Initialized", "status": "True"},
            {"type": "Ready", "status": "False", "reason": "Waiting"},
        ],
    },
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (".spec.replicas", [3]),
        ("{.spec.replicas}", [3]),
        ("$.spec.replicas", [3]),
        ("{$.spec.replicas}", [3]),
        (".metadata.labels.app", ["web"]),
        (".metadata.labels['app.kubernetes.io/name']", ["api"]),
        (r".metadata.labels.app\.kubernetes\.io/name", ["api"]),
        ('.status.conditions[?(@.type=="Ready")].status', ["False"]),
        (".status.conditions[?(@.type=='Ready')].reason", ["Waiting"]),
        ('.status.conditions[?(@.type!="Ready")].type', ["Initialized"]),
        (".status.conditions[?(@.reason)].type", ["Ready"]),
        (".spec.items[0].name", ["a"]),
        (".spec.items[-1].name", ["c"]),
        (".spec.items[*].name", ["a", "b", "c"]),
        (".spec.items[0:2].name", ["a", "b"]),
        (".spec.items[?(@.n > 4)].name", ["b", "c"]),
        (".spec.items[?(@.n<=1)].name", ["a"]),
        ("..name", ["x", "a", "b", "c"]),
        (".spec.missing", []),
        (".spec.items[7].name", []),
        (".spec.paused", [False]),
        (".spec.replicas.deeper", []),
        (".spec.items[0:2:1].name", ["a", "b"]),
        (".spec.items[0:3:2].name", ["a", "c"]),
        (".spec.items[0:2:0].name", []),
        (".spec.items[::-1].name", []),
    ],
    ids=[
        "dotted field",
        "braces optional",
        "dollar root",
        "braces and dollar",
        "label by key",
        "bracketed key with dots",
        "escaped dots in key",
        "filter by condition type (double quotes)",
        "filter with single quotes",
        "filter not-equals",
        "filter by existence",
        "index",
        "negative index",
        "wildcard over list",
        "slice",
        "numeric greater-than filter",
        "numeric less-or-equal filter",
        "recursive descent",
        "missing field gives nothing",
        "index out of range gives nothing",
        "false is a value not a miss",
        "field of a scalar gives nothing",
        "slice with unit step",
        "slice with step two",
        "zero step selects nothing (fuzz: was an uncaught ValueError)",
        "negative step selects nothing (upstream: step must be > 0)",
    ],
)
def test_evaluate(path: str, expected: list[Any]) -> None:
    assert jsonpath.evaluate(OBJ, path) == expected


@pytest.mark.parametrize(
    "path",
    [
        "",
        "{}",
        "spec.replicas",
        "{.spec",
        ".spec[",
        ".spec[]",
        ".spec[abc]",
        ".spec[?(@.a ~ 1)]",
        ".spec[?(x==1)]",
        ".spec.items[1:2:3:4]",
        ".",
        ".spec.['unterminated]",
    ],
    ids=[
        "empty",
        "empty braces",
        "no leading dot",
        "unclosed brace",
        "unclosed bracket",
        "empty brackets",
        "non-numeric index",
        "unknown filter operator",
        "filter without @",
        "slice with too many parts",
        "lone dot",
        "unterminated quote",
    ],
)
def test_malformed_paths_raise_value_error(path: str) -> None:
    with pytest.raises(ValueError):
        jsonpath.compile(path)


def test_compiled_path_is_reusable() -> None:
    path = jsonpath.compile(".spec.replicas")
    assert path.find(OBJ) == [3]
    assert path.find({"spec": {"replicas": 7}}) == [7]
