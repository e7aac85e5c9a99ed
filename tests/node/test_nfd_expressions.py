"""Every NodeFeatureRule operator, true and false, plus static and node-value errors."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.node.nfd.expressions import RuleError, compile_expression, parse_int, parse_version

MISSING = object()

# (spec, node value or MISSING, expected)
CASES: list[tuple[dict[str, Any], Any, bool]] = [
    ({"op": "In", "value": ["a", "b"]}, "b", True),
    ({"op": "In", "value": ["a", "b"]}, "c", False),
    ({"op": "In", "value": ["a"]}, MISSING, False),
    ({"op": "NotIn", "value": ["a"]}, "b", True),
    ({"op": "NotIn", "value": ["a"]}, "a", False),
    ({"op": "NotIn", "value": ["a"]}, MISSING, False),
    ({"op": "InRegexp", "value": ["tesla"]}, "nvidia-tesla-t4", True),
    ({"op": "InRegexp", "value": ["^tesla$"]}, "nvidia-tesla-t4", False),
    ({"op": "InRegexp", "value": ["^a", "4$"]}, "nvidia-tesla-t4", True),
    ({"op": "InRegexp", "value": ["x"]}, MISSING, False),
    ({"op": "Exists"}, "", True),
    ({"op": "Exists"}, MISSING, False),
    ({"op": "DoesNotExist"}, MISSING, True),
    ({"op": "DoesNotExist"}, "x", False),
    ({"op": "Gt", "value": ["5"]}, "6", True),
    ({"op": "Gt", "value": ["5"]}, "5", False),
    ({"op": "Gt", "value": ["5"]}, MISSING, False),
    ({"op": "Ge", "value": ["5"]}, "5", True),
    ({"op": "Ge", "value": ["5"]}, "4", False),
    ({"op": "Lt", "value": ["5"]}, "-3", True),
    ({"op": "Lt", "value": ["5"]}, "5", False),
    ({"op": "Le", "value": ["5"]}, "5", True),
    ({"op": "Le", "value": ["5"]}, "6", False),
    ({"op": "GtLt", "value": ["1", "3"]}, "2", True),
    ({"op": "GtLt", "value": ["1", "3"]}, "3", False),
    ({"op": "GtLt", "value": ["1", "3"]}, "1", False),
    ({"op": "GeLe", "value": ["1", "3"]}, "3", True),
    ({"op": "GeLe", "value": ["1", "3"]}, "1", True),
    ({"op": "GeLe", "value": ["1", "3"]}, "4", False),
    ({"op": "Gt", "value": ["5.4"], "type": "version"}, "5.15.0-91-generic", True),
    ({"op": "Lt", "value": ["5.4"], "type": "version"}, "5.15.0", False),
    ({"op": "GeLe", "value": ["4.18", "5.10.200"], "type": "version"}, "5.10.200", True),
    ({"op": "IsTrue"}, "true", True),
    ({"op": "IsTrue"}, "True", False),
    ({"op": "IsFalse"}, "false", True),
    ({"op": "IsFalse"}, "true", False),
    ({"op": ""}, MISSING, True),
    ({}, "x", True),
]
IDS = [
    "in-matches-listed-value",
    "in-rejects-other-value",
    "in-missing-key-false",
    "notin-accepts-other-value",
    "notin-rejects-listed-value",
    "notin-missing-key-false",
    "inregexp-unanchored-substring",
    "inregexp-anchored-no-match",
    "inregexp-any-pattern",
    "inregexp-missing-false",
    "exists-present",
    "exists-missing",
    "doesnotexist-missing",
    "doesnotexist-present",
    "gt-greater",
    "gt-equal-false",
    "gt-missing-false",
    "ge-equal",
    "ge-less-false",
    "lt-negative",
    "lt-equal-false",
    "le-equal",
    "le-greater-false",
    "gtlt-inside",
    "gtlt-upper-bound-excluded",
    "gtlt-lower-bound-excluded",
    "gele-upper-included",
    "gele-lower-included",
    "gele-outside",
    "version-gt-kernel-release",
    "version-lt-false",
    "version-gele-closed",
    "istrue-true",
    "istrue-case-sensitive",
    "isfalse-false",
    "isfalse-true",
    "matchany-empty-op",
    "matchany-no-op",
]


@pytest.mark.parametrize(("spec", "value", "expected"), CASES, ids=IDS)
def test_operator_on_attribute_value(spec: dict[str, Any], value: Any, expected: bool) -> None:
    expr = compile_expression(spec)
    present = value is not MISSING
    assert expr.test(present, value if present else None) is expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"op": "Exists"}, True),
        ({"op": "DoesNotExist"}, False),
        ({"op": "In", "value": ["AVX"]}, False),
        ({"op": "NotIn", "value": ["AVX"]}, False),
        ({"op": "IsTrue"}, False),
        ({"op": "Gt", "value": ["1"]}, False),
    ],
    ids=["exists", "doesnotexist", "in-false", "notin-false", "istrue-false", "gt-false-no-error"],
)
def test_operator_on_present_flag_has_no_value(spec: dict[str, Any], expected: bool) -> None:
    assert compile_expression(spec).test(True, None) is expected


@pytest.mark.parametrize(
    "spec",
    [
        {"op": "Bogus"},
        {"op": "In"},
        {"op": "NotIn", "value": []},
        {"op": "InRegexp", "value": ["("]},
        {"op": "Exists", "value": ["x"]},
        {"op": "IsTrue", "value": ["true"]},
        {"op": "", "value": ["x"]},
        {"op": "Gt", "value": ["1", "2"]},
        {"op": "Gt", "value": ["one"]},
        {"op": "Le", "value": ["1.5"]},
        {"op": "GtLt", "value": ["1"]},
        {"op": "GtLt", "value": ["3", "1"]},
        {"op": "GtLt", "value": ["2", "2"]},
        {"op": "GeLe", "value": ["2", "2"]},
        {"op": "Gt", "value": ["1"], "type": "semver"},
        {"op": "In", "value": "a"},
    ],
    ids=[
        "unknown-op",
        "in-without-values",
        "notin-empty-values",
        "invalid-regexp",
        "exists-with-values",
        "istrue-with-values",
        "matchany-with-values",
        "gt-two-values",
        "gt-non-integer-bound",
        "le-float-bound",
        "gtlt-one-value",
        "gtlt-reversed-bounds",
        "gtlt-equal-bounds",
        "gele-equal-bounds",
        "unknown-type",
        "value-not-a-list",
    ],
)
def test_malformed_expression_is_rejected(spec: dict[str, Any]) -> None:
    with pytest.raises(RuleError):
        compile_expression(spec)


@pytest.mark.parametrize(
    ("spec", "value"),
    [
        ({"op": "Gt", "value": ["1"]}, "abc"),
        ({"op": "GtLt", "value": ["1", "9"]}, "2.5"),
        ({"op": "Lt", "value": ["1"]}, " 1"),
        ({"op": "Ge", "value": ["1.0"], "type": "version"}, "beta"),
    ],
    ids=["gt-word", "gtlt-float", "lt-leading-space", "version-unparsable"],
)
def test_non_numeric_node_value_raises(spec: dict[str, Any], value: str) -> None:
    expr = compile_expression(spec)
    with pytest.raises(RuleError):
        expr.test(True, value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("42", 42), ("-7", -7), ("+3", 3), ("007", 7)],
    ids=["plain", "negative", "plus-sign", "leading-zeros"],
)
def test_parse_int_accepts_atoi_syntax(text: str, expected: int) -> None:
    assert parse_int(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("5", (5, 0, 0)), ("5.15", (5, 15, 0)), ("v1.2.3", (1, 2, 3)), ("6.18.44-fc-v669", (6, 18, 44))],
    ids=["major-only", "major-minor", "v-prefix", "kernel-suffix-ignored"],
)
def test_parse_version_pads_missing_parts(text: str, expected: tuple[int, int, int]) -> None:
    assert parse_version(text) == expected
