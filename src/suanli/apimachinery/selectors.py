"""Label and field selectors (Kubernetes ``labelSelector`` / ``fieldSelector`` semantics).

Label selectors
    String form (``?labelSelector=``): ``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``,
    ``a notin (x)``, ``a`` (exists), ``!a`` (does not exist); a comma means AND and
    whitespace around tokens is ignored. Keys and values are validated as Kubernetes
    label keys/values. Parse errors raise ``ApiError.bad_request`` (400) with a message
    starting ``unable to parse requirement:`` (validation) or naming the unexpected token.

    Matching follows upstream: ``!=`` and ``notin`` also match objects that *lack* the
    key; ``=``/``in`` require it. Example: ``env!=prod`` matches ``{}`` and
    ``{"env": "dev"}`` but not ``{"env": "prod"}``.

    Object form (``metav1.LabelSelector``, via :func:`label_selector_from_object`): an
    empty object ``{}`` matches everything, ``None`` matches *nothing* (as upstream's
    ``LabelSelectorAsSelector(nil)``). Invalid objects raise ``ApiError.bad_request``
    whose ``causes`` name the offending fields; :func:`validate_label_selector_object`
    returns the same causes without raising (for 422 validation of specs).

Field selectors
    ``f=v``, ``f==v``, ``f!=v`` joined by commas; ``\\,``, ``\\=`` and ``\\\\`` escape
    those characters in values. Only fields in ``allowed`` (plus ``metadata.name`` and
    ``metadata.namespace``) may be used; others raise 400
    ``field label not supported: <field>``. Matching reads the dotted path from the
    object; a missing field reads as ``""`` and booleans as ``"true"``/``"false"``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from suanli.apimachinery.errors import ApiError, Cause
from suanli.apimachinery.objects import Obj

__all__ = [
    "FieldRequirement",
    "FieldSelector",
    "LabelSelector",
    "Requirement",
    "field_value",
    "label_selector_from_object",
    "parse_field_selector",
    "parse_label_selector",
    "validate_label_key",
    "validate_label_selector_object",
    "validate_label_value",
]

# Canonical operator spellings.
EQUALS = "="
NOT_EQUALS = "!="
IN = "in"
NOT_IN = "notin"
EXISTS = "exists"
DOES_NOT_EXIST = "!"

_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN_RE = re.compile(rf"^{_DNS_LABEL}(\.{_DNS_LABEL})*$")


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------


def validate_label_key(key: str) -> str | None:
    """Return why ``key`` is not a valid label key (``prefix/name``), or ``None`` if it is."""
    prefix, slash, name = key.rpartition("/")
    if slash:
        if not prefix:
            return "prefix part must be non-empty"
        if len(prefix) > 253:
            return "prefix part must be no more than 253 characters"
        if not _DNS_SUBDOMAIN_RE.match(prefix):
            return "prefix part must be a lowercase RFC 1123 subdomain"
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    if not _NAME_RE.match(name):
        return ("name part must consist of alphanumeric characters, '-', '_' or '.', and must "
                "start and end with an alphanumeric character")
    return None


def validate_label_value(value: str) -> str | None:
    """Return why ``value`` is not a valid label value, or ``None`` (empty is valid)."""
    if value == "":
        return None
    if len(value) > 63:
        return "must be no more than 63 characters"
    if not _NAME_RE.match(value):
        return ("a valid label must be an empty string or consist of alphanumeric characters, "
                "'-', '_' or '.', and must start and end with an alphanumeric character")
    return None


# --------------------------------------------------------------------------------------------
# label selectors
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Requirement:
    """One label requirement. ``values`` is sorted and de-duplicated.

    ``op`` is one of ``=``, ``!=``, ``in``, ``notin``, ``exists``, ``!``.
    """

    key: str
    op: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.op
        if op == EXISTS:
            return self.key in labels
        if op == DOES_NOT_EXIST:
            return self.key not in labels
        present = self.key in labels
        if op in (EQUALS, IN):
            return present and labels[self.key] in self.values
        # != / notin: absent keys match
        return not present or labels[self.key] not in self.values

    def __str__(self) -> str:
        if self.op == EXISTS:
            return self.key
        if self.op == DOES_NOT_EXIST:
            return "!" + self.key
        if self.op in (EQUALS, NOT_EQUALS):
            return f"{self.key}{self.op}{self.values[0]}"
        return f"{self.key} {self.op} ({','.join(self.values)})"


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A conjunction of :class:`Requirement` s (sorted by key, then operator).

    ``nothing=True`` is the selector that matches no object (a nil object selector).
    """

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    @classmethod
    def everything(cls) -> LabelSelector:
        return cls()

    @classmethod
    def match_nothing(cls) -> LabelSelector:
        return cls(nothing=True)

    @classmethod
    def from_requirements(cls, reqs: Iterable[Requirement]) -> LabelSelector:
        """Sort requirements canonically; ``k in ("")`` becomes ``k=`` (``()`` cannot be parsed)."""
        norm = [Requirement(r.key, EQUALS if r.op == IN else NOT_EQUALS, r.values)
                if r.op in (IN, NOT_IN) and r.values == ("",) else r for r in reqs]
        return cls(tuple(sorted(norm, key=lambda r: (r.key, r.op, r.values))))

    @property
    def empty(self) -> bool:
        """True when the selector matches every object."""
        return not self.requirements and not self.nothing

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        lab = labels or {}
        return all(r.matches(lab) for r in self.requirements)

    def equality_requirements(self) -> list[tuple[str, str]]:
        """``(key, value)`` pairs every match must carry (``k=v`` and one-value ``k in (v)``)."""
        return [(r.key, r.values[0]) for r in self.requirements
                if r.op in (EQUALS, IN) and len(r.values) == 1]

    def __str__(self) -> str:
        """Canonical string form; ``parse_label_selector(str(s)) == s``. Nothing-selector → ``""``."""
        return ",".join(str(r) for r in self.requirements)


def _bad(message: str) -> ApiError:
    return ApiError.bad_request(message)


_SPECIAL = frozenset("=!(),<>")


def _lex(text: str) -> list[tuple[str, str]]:
    """Split a label selector into ``(kind, text)`` tokens; kind ``id`` or the operator itself."""
    toks: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c in _SPECIAL:
            two = text[i:i + 2]
            if two in ("==", "!="):
                toks.append((two, two))
                i += 2
            else:
                toks.append((c, c))
                i += 1
            continue
        j = i
        while j < n and not text[j].isspace() and text[j] not in _SPECIAL:
            j += 1
        toks.append(("id", text[i:j]))
        i = j
    return toks


class _LabelParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _lex(text)
        self.pos = 0

    def peek(self) -> tuple[str, str]:
        return self.toks[self.pos] if self.pos < len(self.toks) else ("eos", "")

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        self.pos += 1
        return tok

    def expected(self, found: tuple[str, str], what: str) -> ApiError:
        shown = found[1] if found[0] != "eos" else "end of string"
        return _bad(f"unable to parse requirement: found '{shown}', expected: {what}")

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        if self.peek()[0] == "eos":
            return reqs
        while True:
            reqs.append(self.requirement())
            kind, _ = self.take()
            if kind == "eos":
                return reqs
            if kind != ",":
                raise self.expected(self.toks[self.pos - 1], "',' or end of string")
            if self.peek()[0] == "eos":
                raise self.expected(self.peek(), "identifier after ','")

    def requirement(self) -> Requirement:
        tok = self.take()
        negate = tok[0] == "!"
        if negate:
            tok = self.take()
        if tok[0] != "id":
            raise self.expected(tok, "identifier")
        key = tok[1]
        _check_key(key)
        nxt = self.peek()
        if negate:
            if nxt[0] not in ("eos", ","):
                raise self.expected(nxt, "',' or end of string")
            return Requirement(key, DOES_NOT_EXIST)
        if nxt[0] in ("eos", ","):
            return Requirement(key, EXISTS)
        op_tok = self.take()
        if op_tok[0] in ("=", "==", "!="):
            op = NOT_EQUALS if op_tok[0] == "!=" else EQUALS
            val_tok = self.peek()
            if val_tok[0] in ("eos", ","):
                value = ""
            elif val_tok[0] == "id":
                self.take()
                value = val_tok[1]
            else:
                raise self.expected(val_tok, "identifier")
            _check_value(key, value)
            return Requirement(key, op, (value,))
        if op_tok[0] == "id" and op_tok[1] in (IN, NOT_IN):
            values = self.value_set()
            if not values:
                raise _bad(f"unable to parse requirement: for '{op_tok[1]}' operator on key {key!r}, "
                           "values set can't be empty")
            for v in values:
                _check_value(key, v)
            return Requirement(key, op_tok[1], tuple(sorted(set(values))))
        raise self.expected(op_tok, "'=', '!=', '==', 'in', 'notin'")

    def value_set(self) -> list[str]:
        tok = self.take()
        if tok[0] != "(":
            raise self.expected(tok, "'('")
        values: list[str] = []
        if self.peek()[0] == ")":
            self.take()
            return values
        while True:
            tok = self.peek()
            if tok[0] == "id":
                self.take()
                values.append(tok[1])
                tok = self.peek()
            elif tok[0] in (",", ")"):
                values.append("")
            else:
                raise self.expected(tok, "identifier, ',' or ')'")
            self.take()
            if tok[0] == ")":
                return values
            if tok[0] != ",":
                raise self.expected(tok, "',' or ')'")


def _check_key(key: str) -> None:
    why = validate_label_key(key)
    if why is not None:
        raise _bad(f'unable to parse requirement: key: Invalid value: "{key}": {why}')


def _check_value(key: str, value: str) -> None:
    why = validate_label_value(value)
    if why is not None:
        raise _bad(f'unable to parse requirement: values[0][{key}]: Invalid value: "{value}": {why}')


def parse_label_selector(text: str) -> LabelSelector:
    """Parse the string form of a label selector (``""`` → matches everything).

    >>> str(parse_label_selector("tier in (b, a), app = web,!old"))
    'app=web,!old,tier in (a,b)'
    """
    return LabelSelector.from_requirements(_LabelParser(text).parse())


_EXPR_OPS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


def validate_label_selector_object(sel: Any, path: str = "selector") -> list[Cause]:
    """Field-level problems of a ``metav1.LabelSelector`` object (empty list = valid)."""
    causes: list[Cause] = []
    if sel is None:
        return causes
    if not isinstance(sel, dict):
        return [Cause(path, "must be an object")]
    ml = sel.get("matchLabels") or {}
    if not isinstance(ml, dict):
        causes.append(Cause(f"{path}.matchLabels", "must be an object"))
        ml = {}
    for k, v in ml.items():
        why = validate_label_key(str(k))
        if why:
            causes.append(Cause(f"{path}.matchLabels", f'Invalid value: "{k}": {why}'))
        if not isinstance(v, str):
            causes.append(Cause(f"{path}.matchLabels", f'Invalid value: {k}: must be a string'))
        elif (why := validate_label_value(v)) is not None:
            causes.append(Cause(f"{path}.matchLabels", f'Invalid value: "{v}": {why}'))
    exprs = sel.get("matchExpressions") or []
    if not isinstance(exprs, list):
        return [*causes, Cause(f"{path}.matchExpressions", "must be a list")]
    for i, e in enumerate(exprs):
        p = f"{path}.matchExpressions[{i}]"
        if not isinstance(e, dict):
            causes.append(Cause(p, "must be an object"))
            continue
        key = e.get("key")
        op = e.get("operator")
        values = e.get("values") or []
        if not isinstance(key, str) or (why := validate_label_key(key)) is not None:
            detail = why if isinstance(key, str) else "Required value"
            causes.append(Cause(f"{p}.key", f'Invalid value: "{key}": {detail}'))
        if not isinstance(op, str) or op not in _EXPR_OPS:
            causes.append(Cause(f"{p}.operator", f'Unsupported value: "{op}": supported values: '
                                '"In", "NotIn", "Exists", "DoesNotExist"'))
            continue
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            causes.append(Cause(f"{p}.values", "must be a list of strings"))
            continue
        if op in ("In", "NotIn") and not values:
            causes.append(Cause(f"{p}.values", "Required value: must be specified when `operator` is 'In' "
                                "or 'NotIn'"))
        if op in ("Exists", "DoesNotExist") and values:
            causes.append(Cause(f"{p}.values", "Forbidden: may not be specified when `operator` is "
                                "'Exists' or 'DoesNotExist'"))
        for j, v in enumerate(values):
            if (why := validate_label_value(v)) is not None:
                causes.append(Cause(f"{p}.values[{j}]", f'Invalid value: "{v}": {why}'))
    return causes


def label_selector_from_object(sel: Mapping[str, Any] | None) -> LabelSelector:
    """Convert a ``metav1.LabelSelector``; ``None`` → matches nothing, ``{}`` → everything.

    Raises ``ApiError.bad_request`` (with causes) when the object is invalid.
    """
    if sel is None:
        return LabelSelector.match_nothing()
    causes = validate_label_selector_object(dict(sel))
    if causes:
        text = "; ".join(c.text() for c in causes)
        raise ApiError.bad_request(f"invalid label selector: {text}", causes)
    match_labels = sel.get("matchLabels") or {}
    reqs: list[Requirement] = [Requirement(k, EQUALS, (v,)) for k, v in match_labels.items()]
    for e in sel.get("matchExpressions") or []:
        op = _EXPR_OPS[e["operator"]]
        vals = tuple(sorted(set(e.get("values") or []))) if op in (IN, NOT_IN) else ()
        reqs.append(Requirement(e["key"], op, vals))
    return LabelSelector.from_requirements(reqs)


# --------------------------------------------------------------------------------------------
# field selectors
# --------------------------------------------------------------------------------------------

ALWAYS_ALLOWED_FIELDS = frozenset({"metadata.name", "metadata.namespace"})


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    """``field op value`` with ``op`` ``=`` or ``!=`` (``==`` is stored as ``=``)."""

    field: str
    op: str
    value: str

    def __str__(self) -> str:
        return f"{self.field}{self.op}{escape_field_value(self.value)}"


def field_value(obj: Obj, dotted: str) -> str:
    """The string a field selector compares: missing → ``""``, bools → ``true``/``false``."""
    cur: Any = obj
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    if isinstance(cur, dict | list):
        return ""
    return str(cur)


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """A conjunction of :class:`FieldRequirement` s, in the order given."""

    requirements: tuple[FieldRequirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, obj: Obj) -> bool:
        for r in self.requirements:
            equal = field_value(obj, r.field) == r.value
            if equal != (r.op == EQUALS):
                return False
        return True

    def exact(self, field: str) -> str | None:
        """The value of an ``field=value`` requirement, for index lookups (else ``None``)."""
        for r in self.requirements:
            if r.field == field and r.op == EQUALS:
                return r.value
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def escape_field_value(value: str) -> str:
    r"""Escape ``\``, ``,`` and ``=`` for use in a field selector value."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _unescape_field_value(value: str) -> str:
    out: list[str] = []
    it = iter(value)
    for c in it:
        if c == "\\":
            nxt = next(it, None)
            if nxt is None or nxt not in "\\,=":
                seq = "\\" + (nxt or "")
                raise _bad(f"invalid field selector: invalid escape sequence: {seq}")
            out.append(nxt)
        elif c in ",=":
            raise _bad(f"invalid field selector: unescaped character: {c}")
        else:
            out.append(c)
    return "".join(out)


def _split_unescaped_commas(text: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    escaped = False
    for c in text:
        if escaped:
            cur.append(c)
            escaped = False
        elif c == "\\":
            cur.append(c)
            escaped = True
        elif c == ",":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    parts.append("".join(cur))
    return parts


def _split_term(term: str) -> tuple[str, str, str] | None:
    """Find the first unescaped operator (``!=``, ``==``, ``=``) in a term."""
    i = 0
    while i < len(term):
        c = term[i]
        if c == "\\":
            i += 2
            continue
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
        i += 1
    return None


def parse_field_selector(text: str, allowed: Iterable[str] | None = ()) -> FieldSelector:
    """Parse ``?fieldSelector=``; unknown fields → 400 ``field label not supported: <f>``
    (``allowed`` None: any field, upstream's ``fields.ParseSelector``)."""
    if not text.strip():
        return FieldSelector()
    ok = None if allowed is None else ALWAYS_ALLOWED_FIELDS | frozenset(allowed)
    reqs: list[FieldRequirement] = []
    for term in _split_unescaped_commas(text):
        if not term.strip():
            continue
        split = _split_term(term)
        if split is None:
            raise _bad(f"invalid selector: '{text}'; can't understand '{term}'")
        field, op, raw_value = split
        field = field.strip()
        if ok is not None and field not in ok:
            raise _bad(f"field label not supported: {field}")
        reqs.append(FieldRequirement(field, NOT_EQUALS if op == "!=" else EQUALS,
                                     _unescape_field_value(raw_value)))
    return FieldSelector(tuple(reqs))
