"""A small block-YAML reader for ``volcano-scheduler.conf`` (the core may not import PyYAML).

Supported: block mappings and sequences (including ``- key: value`` items and
sequences at the same indent as their parent key), plain/single/double quoted
scalars, ``true/false/null/~``, integers, floats, flow ``[...]``/``{...}``
collections of scalars, ``#`` comments and ``---``. Anything else raises
``ValueError`` with the line number. Example::

    load("actions: \"enqueue, allocate\"\\ntiers:\\n- plugins:\\n  - name: gang\\n")
    == {"actions": "enqueue, allocate", "tiers": [{"plugins": [{"name": "gang"}]}]}
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["load"]

_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][-+]?[0-9]+)?$")


def _strip_comment(line: str) -> str:
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()


def scalar(text: str) -> Any:
    """Interpret one scalar token."""
    t = text.strip()
    if not t:
        return None
    if t[0] == '"' and t[-1] == '"' and len(t) >= 2:
        return json.loads(t)
    if t[0] == "'" and t[-1] == "'" and len(t) >= 2:
        return t[1:-1].replace("''", "'")
    if t[0] in "[{":
        return _flow(t)
    low = t.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("null", "~"):
        return None
    if _INT.match(t):
        return int(t)
    if _FLOAT.match(t):
        return float(t)
    return t


def _flow(t: str) -> Any:
    inner = t[1:-1].strip()
    if t[0] == "[" and t[-1] == "]":
        return [scalar(p) for p in inner.split(",")] if inner else []
    if t[0] == "{" and t[-1] == "}":
        out: dict[str, Any] = {}
        for part in inner.split(",") if inner else []:
            k, sep, v = part.partition(":")
            if not sep:
                raise ValueError(f"bad flow mapping entry {part!r}")
            out[str(scalar(k))] = scalar(v)
        return out
    raise ValueError(f"unterminated flow collection {t!r}")


def _split_key(content: str) -> tuple[str, str] | None:
    if content.endswith(":"):
        return content[:-1].strip(), ""
    m = re.search(r":\s", content)
    if m is None or content[0] in "\"'[{":
        if content[0] in "\"'":
            end = content.find(content[0], 1)
            if end > 0 and content[end + 1 : end + 2] == ":":
                return content[1:end], content[end + 2 :].strip()
        return None
    return content[: m.start()].strip(), content[m.end() :].strip()


class _Parser:
    def __init__(self, text: str) -> None:
        self.lines: list[tuple[int, str, int]] = []
        for no, raw in enumerate(text.splitlines(), 1):
            if "\t" in raw[: len(raw) - len(raw.lstrip())]:
                raise ValueError(f"line {no}: tabs are not allowed for indentation")
            line = _strip_comment(raw)
            if not line.strip() or line.strip() in ("---", "..."):
                continue
            self.lines.append((len(line) - len(line.lstrip(" ")), line.strip(), no))
        self.i = 0

    def parse(self) -> Any:
        if not self.lines:
            return None
        value = self.block(self.lines[0][0])
        if self.i < len(self.lines):
            raise ValueError(f"line {self.lines[self.i][2]}: unexpected indentation")
        return value

    def block(self, indent: int) -> Any:
        ind, content, _ = self.lines[self.i]
        if content == "-" or content.startswith("- "):
            return self.sequence(ind)
        if _split_key(content) is None:
            self.i += 1
            return scalar(content)
        return self.mapping(ind)

    def sequence(self, indent: int) -> list[Any]:
        out: list[Any] = []
        while self.i < len(self.lines):
            ind, content, no = self.lines[self.i]
            if ind != indent or not (content == "-" or content.startswith("- ")):
                if ind > indent:
                    raise ValueError(f"line {no}: unexpected indentation")
                break
            rest = content[1:].strip()
            if not rest:
                self.i += 1
                out.append(
                    self.block(self.lines[self.i][0])
                    if self.i < len(self.lines) and self.lines[self.i][0] > indent
                    else None
                )
                continue
            # Re-read the item's content as if it started at indent + 2.
            self.lines[self.i] = (indent + 2, rest, no)
            out.append(self.block(indent + 2))
        return out

    def mapping(self, indent: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        while self.i < len(self.lines):
            ind, content, no = self.lines[self.i]
            if ind < indent:
                break
            if ind > indent:
                raise ValueError(f"line {no}: unexpected indentation")
            if content.startswith("- ") or content == "-":
                break
            kv = _split_key(content)
            if kv is None:
                raise ValueError(f"line {no}: expected 'key: value', got {content!r}")
            key, raw = kv
            self.i += 1
            if raw:
                out[key] = scalar(raw)
                continue
            if self.i < len(self.lines):
                nind, ncontent, _ = self.lines[self.i]
                if nind > indent or (nind == indent and (ncontent.startswith("- ") or ncontent == "-")):
                    out[key] = self.block(nind)
                    continue
            out[key] = None
        return out


def load(text: str) -> Any:
    """Parse ``text`` (see module docstring); ``ValueError`` on unsupported input."""
    return _Parser(text).parse()
