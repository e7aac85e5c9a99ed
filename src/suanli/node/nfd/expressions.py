"""NodeFeatureRule match expressions (``{op, value[], type?}``) compiled to predicates.

Contract (upstream ``evaluateMatchExpression`` semantics):

=================  ========  ===============================================
op                 values    true when
=================  ========  ===============================================
``In``             >= 1      the element exists with a value equal to one
``NotIn``          >= 1      the element exists and its value equals none
``InRegexp``       >= 1      any pattern matches the value *unanchored*
``Exists``         0         the element exists
``DoesNotExist``   0         the element does not exist
``Gt Ge Lt Le``    1         integer (``strconv.Atoi``) comparison
``GtLt GeLe``      2         open / closed interval, ``value[0] < value[1]``
``IsTrue/IsFalse`` 0         value is ``"true"`` / ``"false"``
``""`` (MatchAny)  0         always
=================  ========  ===============================================

Every value-based op is false on a missing element and on flags (which have
no value). ``type: version`` makes the comparison ops compare
``major[.minor[.patch]]`` prefixes, e.g. ``"5.15.0-91-generic"`` -> (5, 15, 0).

Static problems (unknown op, wrong value count, bad regexp, non-integer
bound, ``value[0] >= value[1]``) raise :class:`RuleError` from
:func:`compile_expression`; a non-integer *node* value raises it when the
predicate is called. Either way the caller skips the whole rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["OPS", "Expression", "RuleError", "compile_expression", "parse_int", "parse_version"]


class RuleError(Exception):
    """A rule cannot be evaluated; the rule is skipped (other rules still run)."""


#: Predicate: ``(present, value)`` -> matched; ``value`` is ``None`` for flags
#: and missing elements.
Predicate = Callable[[bool, "str | None"], bool]

OPS = frozenset(
    {
        "",
        "In",
        "NotIn",
        "InRegexp",
        "Exists",
        "DoesNotExist",
        "Gt",
        "Ge",
        "Lt",
        "Le",
        "GtLt",
        "GeLe",
        "IsTrue",
        "IsFalse",
    }
)
_NO_VALUE_OPS = frozenset({"", "Exists", "DoesNotExist", "IsTrue", "IsFalse"})
_LIST_OPS = frozenset({"In", "NotIn", "InRegexp"})
_ONE_OPS = frozenset({"Gt", "Ge", "Lt", "Le"})
_TWO_OPS = frozenset({"GtLt", "GeLe"})
_INT_RE = re.compile(r"[+-]?[0-9]+")
_VERSION_RE = re.compile(r"v?([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?")


@dataclass(frozen=True, slots=True)
class Expression:
    """A compiled match expression; ``test(present, value)`` is the predicate."""

    op: str
    values: tuple[str, ...]
    test: Predicate


def parse_int(text: str) -> int:
    """Parse like Go ``strconv.Atoi`` (optional sign, ASCII digits only)."""
    if not _INT_RE.fullmatch(text):
        raise RuleError(f"not a number {text!r}")
    return int(text)


def parse_version(text: str) -> tuple[int, int, int]:
    """Parse a ``[v]major[.minor[.patch]]`` prefix; missing parts are 0.

    >>> parse_version("5.15.0-91-generic")
    (5, 15, 0)
    """
    m = _VERSION_RE.match(text)
    if m is None:
        raise RuleError(f"not a version {text!r}")
    return (int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0))


def compile_expression(spec: Any) -> Expression:
    """Compile one ``{op, value, type}`` mapping; raise :class:`RuleError` on
    static errors. A bare ``None`` spec is ``op: ""`` (MatchAny)."""
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise RuleError(f"match expression must be an object, got {type(spec).__name__}")
    op = spec.get("op", "")
    if op is None:
        op = ""
    raw_values = spec.get("value") or []
    if not isinstance(raw_values, list):
        raise RuleError(f"'value' of op {op!r} must be a list")
    values = tuple(str(v) for v in raw_values)
    vtype = spec.get("type") or ""
    if op not in OPS:
        raise RuleError(f"invalid Op {op!r}")
    if vtype not in ("", "version"):
        raise RuleError(f"invalid type {vtype!r} (only 'version' is supported)")
    if op in _NO_VALUE_OPS and values:
        raise RuleError(f"'value' must be empty for Op {op!r} (have {list(values)})")
    if op in _LIST_OPS and not values:
        raise RuleError(f"'value' must be non-empty for Op {op!r}")
    if op in _ONE_OPS and len(values) != 1:
        raise RuleError(f"'value' must contain exactly one element for Op {op!r} (have {list(values)})")
    if op in _TWO_OPS and len(values) != 2:
        raise RuleError(f"'value' must contain exactly two elements for Op {op!r} (have {list(values)})")
    return Expression(op, values, _predicate(op, values, vtype))


def _predicate(op: str, values: tuple[str, ...], vtype: str) -> Predicate:
    if op == "":
        return lambda present, value: True
    if op == "Exists":
        return lambda present, value: present
    if op == "DoesNotExist":
        return lambda present, value: not present
    if op == "IsTrue":
        return lambda present, value: value == "true"
    if op == "IsFalse":
        return lambda present, value: value == "false"
    if op == "In":
        allowed = frozenset(values)
        return lambda present, value: value is not None and value in allowed
    if op == "NotIn":
        denied = frozenset(values)
        return lambda present, value: value is not None and value not in denied
    if op == "InRegexp":
        try:
            patterns = tuple(re.compile(v) for v in values)
        except re.error as exc:
            raise RuleError(f"'value' must only contain valid regexps for Op {op!r}: {exc}") from None
        return lambda present, value: value is not None and any(p.search(value) for p in patterns)
    return _compare_predicate(op, values, vtype)


def _compare_predicate(op: str, values: tuple[str, ...], vtype: str) -> Predicate:
    parse: Callable[[str], Any] = parse_version if vtype == "version" else parse_int
    bounds = [parse(v) for v in values]
    if op in _TWO_OPS and bounds[0] >= bounds[1]:
        raise RuleError(f"value[0] must be less than value[1] for Op {op!r} (have {list(values)})")
    if op == "Gt":
        return lambda present, value: value is not None and parse(value) > bounds[0]
    if op == "Ge":
        return lambda present, value: value is not None and parse(value) >= bounds[0]
    if op == "Lt":
        return lambda present, value: value is not None and parse(value) < bounds[0]
    if op == "Le":
        return lambda present, value: value is not None and parse(value) <= bounds[0]
    lo, hi = bounds
    if op == "GtLt":
        return lambda present, value: value is not None and lo < parse(value) < hi
    return lambda present, value: value is not None and lo <= parse(value) <= hi
