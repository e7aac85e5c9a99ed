"""The subset of Kubernetes JSONPath used by CRD ``additionalPrinterColumns``.

Supported (braces and a leading ``$`` are optional)::

    .spec.replicas                 field access (``\\.`` escapes a dot inside a key)
    .metadata.labels['app.kubernetes.io/name']   bracketed key ('…' or "…")
    .spec.items[0].name  [-1]  [1:3]  [*]  .*     index, negative index, slice, wildcards
    ..name                         recursive descent
    .status.conditions[?(@.type=="Ready")].status filter: ==, !=, <, <=, >, >= against a
                                   quoted string, number, true/false/null; ``[?(@.x)]`` = exists

:func:`evaluate` returns every match in document order (missing keys and out-of-range
indexes simply contribute nothing, like upstream's ``AllowMissingKeys``). A malformed path
raises ``ValueError`` from :func:`compile`/:func:`evaluate`.

Example: ``evaluate({"a": {"b": [1, 2]}}, "{.a.b[*]}") == [1, 2]``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["JsonPath", "compile", "evaluate"]

Step = Callable[[Any], list[Any]]

_NUMBER_RE = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")
_OPS = ("==", "!=", "<=", ">=", "<", ">")


@dataclass(frozen=True)
class JsonPath:
    """A compiled path; call :meth:`find` on an object."""

    text: str
    steps: tuple[Step, ...]

    def find(self, obj: Any) -> list[Any]:
        cur = [obj]
        for step in self.steps:
            nxt: list[Any] = []
            for value in cur:
                nxt.extend(step(value))
            cur = nxt
        return cur


def evaluate(obj: Any, path: str) -> list[Any]:
    """All values ``path`` selects from ``obj`` (``[]`` if none)."""
    return compile(path).find(obj)


def compile(path: str) -> JsonPath:
    """Parse ``path``; raise ``ValueError`` naming the problem if it is malformed."""
    text = path.strip()
    if text.startswith("{"):
        if not text.endswith("}"):
            raise ValueError(f"unclosed action in JSONPath {path!r}")
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    if not text:
        raise ValueError(f"empty JSONPath {path!r}")
    if text[0] not in ".[":
        raise ValueError(f"JSONPath {path!r} must start with '.' or '['")
    return JsonPath(path, tuple(_Parser(text, path).parse()))


# -- steps ---------------------------------------------------------------------------------------


def _field(name: str) -> Step:
    def step(value: Any) -> list[Any]:
        if isinstance(value, dict) and name in value:
            return [value[name]]
        return []
    return step


def _wildcard(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return list(value)
    return []


def _descend(name: str | None) -> Step:
    def step(value: Any) -> list[Any]:
        out: list[Any] = []

        def walk(v: Any) -> None:
            if isinstance(v, dict):
                if name is None:
                    out.extend(v.values())
                elif name in v:
                    out.append(v[name])
                for child in v.values():
                    walk(child)
            elif isinstance(v, list):
                if name is None:
                    out.extend(v)
                for child in v:
                    walk(child)
        walk(value)
        return out
    return step


def _index(i: int) -> Step:
    def step(value: Any) -> list[Any]:
        if isinstance(value, list) and -len(value) <= i < len(value):
            return [value[i]]
        return []
    return step


def _slice(start: int | None, stop: int | None, stride: int | None) -> Step:
    """``[start:stop:stride]``; a step that is not positive selects nothing (upstream fails the
    evaluation with "step must be > 0", and a failed printer-column lookup is an empty cell)."""
    def step(value: Any) -> list[Any]:
        if not isinstance(value, list) or (stride is not None and stride <= 0):
            return []
        return list(value[start:stop:stride])
    return step


def _filter(sub: JsonPath, op: str | None, literal: Any) -> Step:
    def keep(item: Any) -> bool:
        found = sub.find(item)
        if op is None:
            return bool(found)
        if not found:
            return False
        return _compare(found[0], op, literal)

    def step(value: Any) -> list[Any]:
        items = value if isinstance(value, list) else list(value.values()) if isinstance(value, dict) else []
        return [item for item in items if keep(item)]
    return step


def _compare(left: Any, op: str, right: Any) -> bool:
    if op in ("==", "!="):
        if isinstance(left, int | float) and isinstance(right, int | float) and not isinstance(left, bool):
            equal = float(left) == float(right)
        else:
            equal = left == right
        return equal if op == "==" else not equal
    both_num = all(isinstance(x, int | float) and not isinstance(x, bool) for x in (left, right))
    both_str = isinstance(left, str) and isinstance(right, str)
    if not (both_num or both_str):
        return False
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


# -- parser --------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str, original: str) -> None:
        self.s = text
        self.i = 0
        self.original = original

    def error(self, why: str) -> ValueError:
        return ValueError(f"invalid JSONPath {self.original!r} at offset {self.i}: {why}")

    def parse(self) -> list[Step]:
        steps: list[Step] = []
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if s.startswith("..", self.i):
                self.i += 2
                if self.i < len(s) and s[self.i] == "*":
                    self.i += 1
                    steps.append(_descend(None))
                else:
                    name = self.name()
                    if not name:
                        raise self.error("expected a field name after '..'")
                    steps.append(_descend(name))
            elif c == ".":
                self.i += 1
                if self.i < len(s) and s[self.i] == "*":
                    self.i += 1
                    steps.append(_wildcard)
                elif self.i < len(s) and s[self.i] == "[":
                    continue
                else:
                    name = self.name()
                    if not name:
                        raise self.error("expected a field name after '.'")
                    steps.append(_field(name))
            elif c == "[":
                steps.append(self.bracket())
            else:
                raise self.error(f"unexpected character {c!r}")
        return steps

    def name(self) -> str:
        out: list[str] = []
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c == "\\" and self.i + 1 < len(s):
                out.append(s[self.i + 1])
                self.i += 2
                continue
            if c in ".[]()'\"@?{}=!<> \t,":
                break
            out.append(c)
            self.i += 1
        return "".join(out)

    def bracket(self) -> Step:
        s = self.s
        end = self._closing(self.i)
        inner = s[self.i + 1:end].strip()
        start_pos = self.i
        self.i = end + 1
        if not inner:
            self.i = start_pos
            raise self.error("empty brackets")
        if inner == "*":
            return _wildcard
        if inner[0] in "'\"":
            if len(inner) < 2 or inner[-1] != inner[0]:
                raise self.error("unterminated quoted key")
            return _field(inner[1:-1])
        if inner.startswith("?"):
            return self.filter(inner[1:].strip())
        if ":" in inner:
            parts = inner.split(":")
            if len(parts) > 3:
                raise self.error(f"bad slice {inner!r}")
            try:
                nums = [int(p) if p.strip() else None for p in parts] + [None] * (3 - len(parts))
            except ValueError:
                raise self.error(f"bad slice {inner!r}") from None
            return _slice(nums[0], nums[1], nums[2])
        try:
            return _index(int(inner))
        except ValueError:
            raise self.error(f"bad array index {inner!r}") from None

    def _closing(self, open_pos: int) -> int:
        depth = 0
        quote = ""
        for j in range(open_pos, len(self.s)):
            c = self.s[j]
            if quote:
                if c == quote:
                    quote = ""
                continue
            if c in "'\"":
                quote = c
            elif c == "[":
                depth += 1
            elif c == "]":
                depth -= 1
                if depth == 0:
                    return j
        raise self.error("unclosed '['")

    def filter(self, expr: str) -> Step:
        if not (expr.startswith("(") and expr.endswith(")")):
            raise self.error("filter must look like ?(@.field op value)")
        body = expr[1:-1].strip()
        if not body.startswith("@"):
            raise self.error("filter must start with '@'")
        op_at, op = -1, None
        quote = ""
        for j, c in enumerate(body):
            if quote:
                if c == quote:
                    quote = ""
                continue
            if c in "'\"":
                quote = c
                continue
            for candidate in _OPS:
                if body.startswith(candidate, j):
                    op_at, op = j, candidate
                    break
            if op is not None:
                break
        left = body[1:op_at] if op is not None else body[1:]
        left = left.strip()
        sub = JsonPath(left, tuple(_Parser(left, self.original).parse())) if left else JsonPath("", ())
        if op is None:
            return _filter(sub, None, None)
        return _filter(sub, op, self.literal(body[op_at + len(op):].strip()))

    def literal(self, text: str) -> Any:
        if len(text) >= 2 and text[0] in "'\"" and text[-1] == text[0]:
            return text[1:-1]
        if text in ("true", "false", "null"):
            return json.loads(text)
        if _NUMBER_RE.fullmatch(text):
            return float(text) if any(c in text for c in ".eE") else int(text)
        raise self.error(f"bad filter literal {text!r}")
