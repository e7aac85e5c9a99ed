"""Field and label selectors as authorization attributes (upstream's AuthorizeWithSelectors).

* :func:`request_selectors`: the ``?fieldSelector=``/``?labelSelector=`` of a ``list``, ``watch``
  or ``deletecollection`` request as :class:`~suanli.apiserver.authz.SelectorRequirement`\\ s
  (other verbs carry none). A selector that does not parse carries none: upstream keeps the
  parse error beside the attributes for authorizers that care (RBAC does not), and the request
  itself then fails with the handler's 400.
* :func:`validate_review_selectors`: a SubjectAccessReview's ``resourceAttributes.fieldSelector``
  and ``labelSelector`` checked as upstream's ``validateFieldSelectorAttributes`` /
  ``validateLabelSelectorAttributes`` (``rawSelector`` xor ``requirements``; In/NotIn need values,
  one for fields; Exists/DoesNotExist take none; label keys and values valid; unknown operators
  allowed for skewed clients).
* :func:`review_selectors`: the requirements those stanzas carry (``rawSelector`` parsed).
"""

from __future__ import annotations

from typing import Any

from suanli.apimachinery.errors import ApiError, Cause
from suanli.apimachinery.selectors import (
    DOES_NOT_EXIST,
    EQUALS,
    EXISTS,
    IN,
    NOT_EQUALS,
    NOT_IN,
    parse_field_selector,
    parse_label_selector,
    validate_label_key,
    validate_label_value,
)
from suanli.apiserver.authz import SelectorRequirement

__all__ = ["SELECTOR_VERBS", "request_selectors", "review_selectors", "validate_review_selectors"]

#: the verbs whose requests carry selectors
SELECTOR_VERBS = frozenset({"list", "watch", "deletecollection"})
_LABEL_OPS = {EQUALS: "In", IN: "In", NOT_EQUALS: "NotIn", NOT_IN: "NotIn", EXISTS: "Exists",
              DOES_NOT_EXIST: "DoesNotExist"}
Requirements = tuple[SelectorRequirement, ...]


def _fields(text: str) -> Requirements:
    try:
        sel = parse_field_selector(text, None)
    except ApiError:
        return ()
    return tuple(SelectorRequirement(r.field, "NotIn" if r.op == NOT_EQUALS else "In", (r.value,))
                 for r in sel.requirements)


def _labels(text: str) -> Requirements:
    try:
        sel = parse_label_selector(text)
    except ApiError:
        return ()
    return tuple(SelectorRequirement(r.key, _LABEL_OPS.get(r.op, r.op), r.values) for r in sel.requirements)


def request_selectors(verb: str, query: dict[str, str]) -> tuple[Requirements, Requirements]:
    """(field, label) requirements of a request with ``verb`` and ``query`` (see the module docstring)."""
    if verb not in SELECTOR_VERBS:
        return (), ()
    fs, ls = query.get("fieldSelector"), query.get("labelSelector")
    return (_fields(fs) if fs else ()), (_labels(ls) if ls else ())


def _go(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)


def _stanza(sel: Any, path: str, *, fields: bool) -> list[Cause]:
    if not isinstance(sel, dict):
        return [Cause(path, f"Invalid value: {_go(sel)}: must be an object")]
    causes: list[Cause] = []
    raw, reqs = sel.get("rawSelector") or "", sel.get("requirements") or []
    if raw and reqs:
        causes.append(Cause(f"{path}.rawSelector", f"Invalid value: {_go(raw)}: may not specified at the same time "
                                                   "as requirements"))
    if not raw and not reqs:
        causes.append(Cause(f"{path}.requirements", f"Required value: when {path} is specified, requirements or "
                                                    "rawSelector is required", "FieldValueRequired"))
    if not isinstance(reqs, list):
        return [*causes, Cause(f"{path}.requirements", f"Invalid value: {_go(reqs)}: must be a list")]
    for i, req in enumerate(reqs):
        at = f"{path}.requirements[{i}]"
        if not isinstance(req, dict):
            causes.append(Cause(at, f"Invalid value: {_go(req)}: must be an object"))
            continue
        key, op, values = str(req.get("key") or ""), req.get("operator"), req.get("values") or []
        if fields and not key:
            causes.append(Cause(f"{at}.key", "Required value: must be specified", "FieldValueRequired"))
        if op in ("In", "NotIn"):
            if fields and len(values) != 1:
                causes.append(Cause(f"{at}.values", "Required value: must have one element when `operator` is 'In' "
                                                    "or 'NotIn'", "FieldValueRequired"))
            elif not fields and not values:
                causes.append(Cause(f"{at}.values", "Required value: must be specified when `operator` is 'In' or "
                                                    "'NotIn'", "FieldValueRequired"))
        elif op in ("Exists", "DoesNotExist") and values:
            causes.append(Cause(f"{at}.values", "Forbidden: may not be specified when `operator` is 'Exists' or "
                                                "'DoesNotExist'", "FieldValueForbidden"))
        if not fields:
            why = validate_label_key(key)
            if why:
                causes.append(Cause(f"{at}.key", f"Invalid value: {_go(key)}: {why}"))
            for j, v in enumerate(values):
                bad = validate_label_value(str(v))
                if bad:
                    causes.append(Cause(f"{at}.values[{j}]", f"Invalid value: {_go(v)}: {bad}"))
    return causes


def validate_review_selectors(res: dict[str, Any], path: str = "spec.resourceAttributes") -> list[Cause]:
    """The field errors of ``res``'s ``fieldSelector``/``labelSelector`` (empty when valid or absent)."""
    causes: list[Cause] = []
    if res.get("fieldSelector") is not None:
        causes += _stanza(res["fieldSelector"], f"{path}.fieldSelector", fields=True)
    if res.get("labelSelector") is not None:
        causes += _stanza(res["labelSelector"], f"{path}.labelSelector", fields=False)
    return causes


def _requirements(sel: Any) -> Requirements:
    reqs = sel.get("requirements") if isinstance(sel, dict) else None
    return tuple(SelectorRequirement(str(r.get("key") or ""), str(r.get("operator") or ""),
                                     tuple(str(v) for v in r.get("values") or ()))
                 for r in reqs or () if isinstance(r, dict))


def review_selectors(res: dict[str, Any]) -> tuple[Requirements, Requirements]:
    """(field, label) requirements of validated review ``resourceAttributes`` (``rawSelector`` parsed)."""
    out: list[Requirements] = []
    for key, parse in (("fieldSelector", _fields), ("labelSelector", _labels)):
        sel = res.get(key)
        raw = sel.get("rawSelector") if isinstance(sel, dict) else None
        out.append(parse(str(raw)) if raw else _requirements(sel))
    return out[0], out[1]
