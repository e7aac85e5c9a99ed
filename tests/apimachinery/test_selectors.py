"""Label and field selector parsing, matching and canonical form."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.selectors import (
    LabelSelector,
    Requirement,
    label_selector_from_object,
    parse_field_selector,
    parse_label_selector,
    validate_label_selector_object,
)

# -- label selector: matching ------------------------------------------------------------------

MATCH_CASES: list[tuple[str, dict[str, str], bool]] = [
    ("", {}, True),
    ("app=web", {"app": "web"}, True),
    ("app==web", {"app": "web", "x": "y"}, True),
    ("app=web", {"app": "db"}, False),
    ("app=web", {}, False),
    ("app!=web", {}, True),
    ("app!=web", {"app": "web"}, False),
    ("app!=web", {"app": "db"}, True),
    ("tier in (a, b)", {"tier": "b"}, True),
    ("tier in (a,b)", {"tier": "c"}, False),
    ("tier in (a,b)", {}, False),
    ("tier notin (a)", {}, True),
    ("tier notin (a)", {"tier": "a"}, False),
    ("app", {"app": ""}, True),
    ("app", {}, False),
    ("!app", {}, True),
    ("!app", {"app": "x"}, False),
    ("app=web,tier in (a,b),!old", {"app": "web", "tier": "a"}, True),
    ("app=web,tier in (a,b),!old", {"app": "web", "tier": "a", "old": "1"}, False),
    ("  app = web ,  tier  notin  ( a , b )  ", {"app": "web", "tier": "c"}, True),
    ("app=", {"app": ""}, True),
    ("app=", {"app": "x"}, False),
    ("example.com/app=web", {"example.com/app": "web"}, True),
    ("in=notin", {"in": "notin"}, True),
]


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    MATCH_CASES,
    ids=[
        "empty selector matches everything",
        "equals matches same value",
        "double equals is equality",
        "equals rejects other value",
        "equals rejects missing key",
        "not-equals matches missing key",
        "not-equals rejects same value",
        "not-equals matches other value",
        "in matches a member",
        "in rejects non-member",
        "in rejects missing key",
        "notin matches missing key",
        "notin rejects member",
        "exists matches empty value",
        "exists rejects missing key",
        "does-not-exist matches missing key",
        "does-not-exist rejects present key",
        "comma is AND (all satisfied)",
        "comma is AND (one violated)",
        "whitespace is tolerated everywhere",
        "empty value equality matches empty label",
        "empty value equality rejects non-empty label",
        "prefixed key",
        "keywords usable as key and value",
    ],
)
def test_label_selector_matches(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_label_selector(text).matches(labels) is expected


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("b=1,a=2", "a=2,b=1"),
        ("a==x", "a=x"),
        ("t in (z, y,y)", "t in (y,z)"),
        ("x notin (q)", "x notin (q)"),
        ("!a , b", "!a,b"),
    ],
    ids=[
        "sorted by key",
        "double equals canonicalised",
        "set values sorted and deduplicated",
        "notin kept",
        "exists and not-exists",
    ],
)
def test_label_selector_canonical_string(text: str, canonical: str) -> None:
    assert str(parse_label_selector(text)) == canonical


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a in ()", "values set can't be empty"),
        ("a in (x", "expected"),
        ("a=b c", "expected"),
        ("a,", "identifier after ','"),
        ("=b", "expected: identifier"),
        ("a b", "expected"),
        ("a=b=c", "expected"),
        ("-bad=x", "unable to parse requirement"),
        ("a=" + "v" * 64, "no more than 63"),
        ("Example.com/a=x", "prefix part"),
        ("a=b!", "expected"),
        ("!a=b", "expected"),
    ],
    ids=[
        "empty set",
        "unclosed set",
        "two values",
        "trailing comma",
        "missing key",
        "no operator",
        "double operator",
        "key starting with dash",
        "value too long",
        "uppercase prefix",
        "garbage after value",
        "negated key with value",
    ],
)
def test_label_selector_errors_are_bad_request(text: str, fragment: str) -> None:
    with pytest.raises(ApiError) as info:
        parse_label_selector(text)
    assert info.value.code == 400
    assert fragment in info.value.message


def test_equality_requirements_feed_indexes() -> None:
    sel = parse_label_selector("app=web,tier in (a),env in (x,y),!old,z!=1")
    assert sorted(sel.equality_requirements()) == [("app", "web"), ("tier", "a")]


# -- label selector: object form ---------------------------------------------------------------

OBJECT_CASES: list[tuple[dict[str, Any] | None, dict[str, str], bool]] = [
    (None, {"app": "web"}, False),
    ({}, {"anything": "x"}, True),
    ({"matchLabels": {"app": "web"}}, {"app": "web"}, True),
    ({"matchLabels": {"app": "web"}}, {"app": "db"}, False),
    ({"matchExpressions": [{"key": "t", "operator": "In", "values": ["a", "b"]}]}, {"t": "b"}, True),
    ({"matchExpressions": [{"key": "t", "operator": "NotIn", "values": ["a"]}]}, {}, True),
    ({"matchExpressions": [{"key": "t", "operator": "Exists"}]}, {"t": "1"}, True),
    ({"matchExpressions": [{"key": "t", "operator": "DoesNotExist"}]}, {"t": "1"}, False),
    (
        {"matchLabels": {"a": "1"}, "matchExpressions": [{"key": "b", "operator": "Exists"}]},
        {"a": "1"},
        False,
    ),
]


@pytest.mark.parametrize(
    ("sel", "labels", "expected"),
    OBJECT_CASES,
    ids=[
        "absent selector matches nothing",
        "empty selector matches everything",
        "matchLabels equal",
        "matchLabels different value",
        "In expression",
        "NotIn matches missing key",
        "Exists expression",
        "DoesNotExist expression",
        "matchLabels and expressions are ANDed",
    ],
)
def test_label_selector_from_object(
    sel: dict[str, Any] | None, labels: dict[str, str], expected: bool
) -> None:
    assert label_selector_from_object(sel).matches(labels) is expected


def test_object_and_string_forms_agree() -> None:
    obj = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "t", "operator": "In", "values": ["b", "a"]}],
    }
    assert label_selector_from_object(obj) == parse_label_selector("t in (a,b), app=web")


@pytest.mark.parametrize(
    ("sel", "field"),
    [
        (
            {"matchExpressions": [{"key": "t", "operator": "In", "values": []}]},
            "selector.matchExpressions[0].values",
        ),
        (
            {"matchExpressions": [{"key": "t", "operator": "Exists", "values": ["x"]}]},
            "selector.matchExpressions[0].values",
        ),
        ({"matchExpressions": [{"key": "t", "operator": "Maybe"}]}, "selector.matchExpressions[0].operator"),
        (
            {"matchExpressions": [{"key": "bad key", "operator": "Exists"}]},
            "selector.matchExpressions[0].key",
        ),
        ({"matchLabels": {"app": "has space"}}, "selector.matchLabels"),
        ({"matchExpressions": [{"key": "t", "operator": ["In"]}]}, "selector.matchExpressions[0].operator"),
        ({"matchExpressions": [{"key": "t", "operator": {"op": "In"}}]}, "selector.matchExpressions[0].operator"),
    ],
    ids=["In without values", "Exists with values", "unknown operator", "invalid key", "invalid label value",
         "operator that is a list (fuzz: was an uncaught TypeError)", "operator that is an object"],
)
def test_invalid_selector_object_names_the_field(sel: dict[str, Any], field: str) -> None:
    assert [c.field for c in validate_label_selector_object(sel)] == [field]
    with pytest.raises(ApiError) as info:
        label_selector_from_object(sel)
    assert info.value.code == 400
    assert info.value.causes[0].field == field


def test_nothing_and_everything_flags() -> None:
    assert LabelSelector.everything().empty
    assert parse_label_selector("").empty
    assert not label_selector_from_object(None).empty
    assert not parse_label_selector("a").empty


# -- label selector: properties ----------------------------------------------------------------

_name = st.from_regex(r"[a-z0-9]([a-z0-9._-]{0,6}[a-z0-9])?", fullmatch=True)
_key = st.one_of(
    _name, st.builds(lambda p, n: f"{p}.io/{n}", st.from_regex(r"[a-z]{1,5}", fullmatch=True), _name)
)
_value = st.one_of(st.just(""), _name)
_values = st.lists(_value, min_size=1, max_size=3).map(lambda vs: tuple(sorted(set(vs))))


@st.composite
def _requirements(draw: st.DrawFn) -> Requirement:
    key = draw(_key)
    op = draw(st.sampled_from(["=", "!=", "in", "notin", "exists", "!"]))
    if op in ("=", "!="):
        return Requirement(key, op, (draw(_value),))
    if op in ("in", "notin"):
        return Requirement(key, op, draw(_values))
    return Requirement(key, op)


def _naive(reqs: list[Requirement], labels: dict[str, str]) -> bool:
    for r in reqs:
        has = r.key in labels
        v = labels.get(r.key)
        first = r.values[0] if r.values else None
        ok = {
            "=": has and v == first,
            "!=": not has or v != first,
            "in": has and v in r.values,
            "notin": not has or v not in r.values,
            "exists": has,
            "!": not has,
        }[r.op]
        if not ok:
            return False
    return True


@settings(max_examples=200, deadline=None)
@given(reqs=st.lists(_requirements(), max_size=5), labels=st.dictionaries(_key, _value, max_size=5))
def test_round_trip_and_matching_agree_with_naive_reference(
    reqs: list[Requirement], labels: dict[str, str]
) -> None:
    sel = LabelSelector.from_requirements(reqs)
    reparsed = parse_label_selector(str(sel))
    assert reparsed == sel
    assert reparsed.matches(labels) == _naive(reqs, labels)


# -- field selectors ---------------------------------------------------------------------------

POD = {
    "metadata": {"name": "web-1", "namespace": "prod"},
    "spec": {"nodeName": "n1", "hostNetwork": True, "schedulerName": "a,b=c\\d"},
    "status": {"phase": "Running"},
}
ALLOWED = {"spec.nodeName", "status.phase", "spec.hostNetwork", "spec.schedulerName", "spec.missing"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("metadata.name=web-1", True),
        ("metadata.name==web-1", True),
        ("metadata.name!=web-1", False),
        ("metadata.namespace=prod,status.phase=Running", True),
        ("metadata.namespace=prod,status.phase=Pending", False),
        ("spec.nodeName!=", True),
        ("spec.missing=", True),
        ("spec.missing!=", False),
        ("spec.hostNetwork=true", True),
        (r"spec.schedulerName=a\,b\=c\\d", True),
    ],
    ids=[
        "empty matches everything",
        "name equals",
        "double equals",
        "not equals",
        "AND of two terms",
        "AND with one failing",
        "scheduled pods via nodeName!= empty",
        "missing field reads as empty",
        "missing field is not non-empty",
        "booleans render as true",
        "escaped comma, equals and backslash",
    ],
)
def test_field_selector_matches(text: str, expected: bool) -> None:
    assert parse_field_selector(text, ALLOWED).matches(POD) is expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("spec.unknown=x", "field label not supported: spec.unknown"),
        ("metadata.name", "can't understand"),
        (r"metadata.name=a\x", "invalid escape sequence"),
        ("metadata.name=a=b", "unescaped"),
    ],
    ids=["unknown field", "term without operator", "bad escape", "unescaped equals in value"],
)
def test_field_selector_errors(text: str, fragment: str) -> None:
    with pytest.raises(ApiError) as info:
        parse_field_selector(text, ALLOWED)
    assert info.value.code == 400
    assert fragment in info.value.message


def test_metadata_fields_are_always_allowed() -> None:
    sel = parse_field_selector("metadata.name=x,metadata.namespace=y", set())
    assert sel.exact("metadata.name") == "x"
    assert sel.exact("metadata.namespace") == "y"


def test_exact_ignores_negative_terms() -> None:
    sel = parse_field_selector("spec.nodeName!=n1,status.phase=Running", ALLOWED)
    assert sel.exact("spec.nodeName") is None
    assert sel.exact("status.phase") == "Running"


@settings(max_examples=100, deadline=None)
@given(value=st.text(alphabet="ab,=\\ x", max_size=8), negate=st.booleans())
def test_field_selector_escaping_round_trips(value: str, negate: bool) -> None:
    op = "!=" if negate else "="
    sel = parse_field_selector(
        f"spec.nodeName{op}" + value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\="), ALLOWED
    )
    assert parse_field_selector(str(sel), ALLOWED) == sel
    obj = {"spec": {"nodeName": value}}
    assert sel.matches(obj) is (not negate)
