"""The subset of Go ``text/template`` (+ a few Sprig functions) that NFD rules use.

Supported: text, ``{{pipeline}}``, trim markers ``{{-`` / ``-}}``, comments
``{{/* */}}``, ``{{if}}``/``{{else if}}``/``{{else}}``/``{{end}}``,
``{{range [$i,] [$e :=] pipeline}}`` (lists, and maps in sorted key order) with
``{{else}}``, variables (``$``, ``$x := ...``, ``$x = ...``), fields on maps
(``.pci.device``, ``.Name``; a missing key is an error, as with upstream's
``missingkey=error``), pipes, parenthesised pipelines, string/number/bool
literals, the builtins ``and or not len index print printf println eq ne lt le
gt ge`` and the Sprig functions listed in :data:`FUNCTIONS`. Anything else
(``with``, ``define``, ``template``, methods, unknown functions) is a
:class:`TemplateError` at parse time.

:func:`expand_map` runs a template and splits the output into ``key=value``
lines (blank lines skipped, lines trimmed, a line without ``=`` is an error).

Example::

    >>> t = parse_template("{{range .pci.device}}dev-{{.vendor | lower}}=true\\n{{end}}")
    >>> expand_map(t, {"pci": {"device": [{"vendor": "19E5"}]}})
    {'dev-19e5': 'true'}
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FUNCTIONS", "Template", "TemplateError", "expand_map", "go_str", "parse_template"]


class TemplateError(Exception):
    """Template parse or execution error."""


# --------------------------------------------------------------------------- values


def go_str(value: Any) -> str:
    """Format a value like Go's ``%v`` for template data (str, int, bool, list, map)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<no value>"
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_str(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{go_str(k)}:{go_str(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def _truth(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str | list | tuple | dict):
        return len(value) > 0
    return True


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return "other"


def _comparable(a: Any, b: Any) -> None:
    ka, kb = _kind(a), _kind(b)
    if ka == "other" or kb == "other" or ka != kb:
        raise TemplateError(f"incompatible types for comparison: {go_str(a)!r} and {go_str(b)!r}")


def _eq(a: Any, *others: Any) -> bool:
    if not others:
        raise TemplateError("missing argument for comparison")
    for b in others:
        _comparable(a, b)
        if a == b:
            return True
    return False


def _ordered(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def cmp(a: Any, b: Any) -> bool:
        _comparable(a, b)
        if _kind(a) == "bool":
            raise TemplateError("invalid type for comparison: bool")
        return op(a, b)

    return cmp


def _len(value: Any) -> int:
    if isinstance(value, str | list | tuple | dict):
        return len(value)
    raise TemplateError(f"len of type {_kind(value)}")


def _index(value: Any, *keys: Any) -> Any:
    for k in keys:
        if isinstance(value, dict):
            value = value.get(k)
        elif isinstance(value, list | tuple | str) and isinstance(k, int) and not isinstance(k, bool):
            if not 0 <= k < len(value):
                raise TemplateError(f"index out of range: {k}")
            value = value[k]
        else:
            raise TemplateError(f"can't index item of type {_kind(value)}")
    return value


_VERB_RE = re.compile(r"%([-+# 0]*)(\d*)(?:\.(\d*))?([a-zA-Z%])")


def _printf(fmt: Any, *args: Any) -> str:
    """Go ``fmt.Sprintf`` for the verbs ``%v %s %d %q %x %X %f %t %%``."""
    if not isinstance(fmt, str):
        raise TemplateError("printf format must be a string")
    out: list[str] = []
    pos = 0
    argi = 0
    for m in _VERB_RE.finditer(fmt):
        out.append(fmt[pos : m.start()])
        pos = m.end()
        flags, width, prec, verb = m.groups()
        if verb == "%":
            out.append("%")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[argi]
        argi += 1
        spec = flags.replace("#", "") + width + (f".{prec}" if prec is not None else "")
        if verb in "vs" or (verb == "t" and isinstance(arg, bool)):
            out.append(("%" + spec + "s") % go_str(arg))
        elif verb == "q" and isinstance(arg, str):
            out.append(("%" + spec + "s") % json.dumps(arg, ensure_ascii=False))
        elif verb in "dxX" and _kind(arg) == "int":
            out.append(("%" + flags.replace("#", "") + width + verb) % arg)
        elif verb in "xX" and isinstance(arg, str):
            out.append(arg.encode().hex() if verb == "x" else arg.encode().hex().upper())
        elif verb in "feg" and _kind(arg) in ("int", "float"):
            out.append(("%" + spec + verb) % float(arg))
        else:
            out.append(f"%!{verb}({_kind(arg)}={go_str(arg)})")
    out.append(fmt[pos:])
    if argi < len(args):
        out.append("%!(EXTRA " + ", ".join(f"{_kind(a)}={go_str(a)}" for a in args[argi:]) + ")")
    return "".join(out)


def _s(value: Any) -> str:
    return go_str(value) if value is not None else ""


def _int(value: Any) -> int:
    if _kind(value) == "int":
        return int(value)
    try:
        return int(_s(value))
    except ValueError:
        return 0


def _default(dflt: Any, *given: Any) -> Any:
    return given[0] if given and _truth(given[0]) else dflt


#: Sprig subset plus Go builtins; ``and``/``or`` are handled by the evaluator.
FUNCTIONS: dict[str, Callable[..., Any]] = {
    # Go builtins
    "not": lambda v: not _truth(v),
    "len": _len,
    "index": _index,
    "print": lambda *a: "".join(go_str(v) for v in a),
    "println": lambda *a: " ".join(go_str(v) for v in a) + "\n",
    "printf": _printf,
    "eq": _eq,
    "ne": lambda a, b: not _eq(a, b),
    "lt": _ordered(lambda a, b: a < b),
    "le": _ordered(lambda a, b: a <= b),
    "gt": _ordered(lambda a, b: a > b),
    "ge": _ordered(lambda a, b: a >= b),
    # Sprig
    "lower": lambda s: _s(s).lower(),
    "upper": lambda s: _s(s).upper(),
    "title": lambda s: " ".join(w[:1].upper() + w[1:] for w in _s(s).split(" ")),
    "trim": lambda s: _s(s).strip(),
    "trimAll": lambda cut, s: _s(s).strip(_s(cut)),
    "trimPrefix": lambda p, s: _s(s).removeprefix(_s(p)),
    "trimSuffix": lambda p, s: _s(s).removesuffix(_s(p)),
    "replace": lambda old, new, s: _s(s).replace(_s(old), _s(new)),
    "contains": lambda sub, s: _s(sub) in _s(s),
    "hasPrefix": lambda p, s: _s(s).startswith(_s(p)),
    "hasSuffix": lambda p, s: _s(s).endswith(_s(p)),
    "nospace": lambda s: "".join(_s(s).split()),
    "quote": lambda *a: " ".join(json.dumps(_s(v), ensure_ascii=False) for v in a),
    "squote": lambda *a: " ".join(f"'{_s(v)}'" for v in a),
    "toString": _s,
    "default": _default,
    "empty": lambda v: not _truth(v),
    "join": lambda sep, items: _s(sep).join(go_str(v) for v in (items or [])),
    "splitList": lambda sep, s: _s(s).split(_s(sep)),
    "trunc": lambda n, s: _s(s)[: _int(n)] if _int(n) >= 0 else _s(s)[_int(n) :],
    "substr": lambda a, b, s: _s(s)[_int(a) : _int(b)],
    "regexMatch": lambda rx, s: re.search(_s(rx), _s(s)) is not None,
    "atoi": _int,
    "add": lambda *a: sum(_int(v) for v in a),
}
_SPECIAL = {"and", "or"}
_KEYWORDS = {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"}


# --------------------------------------------------------------------------- AST


@dataclass(slots=True)
class _Tok:
    kind: str  # field var ident string number bool nil pipe lparen rparen declare assign comma
    value: Any = None
    fields: tuple[str, ...] = ()


@dataclass(slots=True)
class _Operand:
    kind: str  # field var literal func pipe
    value: Any = None
    fields: tuple[str, ...] = ()


@dataclass(slots=True)
class _Pipe:
    decl: tuple[str, ...] = ()
    assign: bool = False
    cmds: list[list[_Operand]] = field(default_factory=list)


@dataclass(slots=True)
class _Text:
    text: str


@dataclass(slots=True)
class _Output:
    pipe: _Pipe


@dataclass(slots=True)
class _If:
    branches: list[tuple[_Pipe, list[Any]]] = field(default_factory=list)
    else_body: list[Any] | None = None


@dataclass(slots=True)
class _Range:
    pipe: _Pipe
    body: list[Any] = field(default_factory=list)
    else_body: list[Any] | None = None


_FIELD_RE = re.compile(r"(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
_VAR_RE = re.compile(r"\$[A-Za-z0-9_]*")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUM_RE = re.compile(r"-?(?:0[xX][0-9a-fA-F]+|[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)")
_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "\\": "\\",
    '"': '"',
    "'": "'",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
}


def _scan_string(text: str, p: int) -> tuple[str, int]:
    out: list[str] = []
    i = p + 1
    while i < len(text):
        c = text[i]
        if c == '"':
            return "".join(out), i + 1
        if c == "\n":
            break
        if c == "\\" and i + 1 < len(text):
            e = text[i + 1]
            if e in _ESCAPES:
                out.append(_ESCAPES[e])
                i += 2
                continue
            if e in "xuU":
                n = {"x": 2, "u": 4, "U": 8}[e]
                try:
                    out.append(chr(int(text[i + 2 : i + 2 + n], 16)))
                except ValueError:
                    raise TemplateError(f"bad escape in string at {i}") from None
                i += 2 + n
                continue
            raise TemplateError(f"unknown escape \\{e}")
        out.append(c)
        i += 1
    raise TemplateError("unterminated quoted string")


def _tokenize_action(text: str, p: int) -> tuple[list[_Tok], int, bool]:
    """Tokens of one action starting at ``p``; returns (tokens, end, trim_right)."""
    toks: list[_Tok] = []
    n = len(text)
    while p < n:
        c = text[p]
        if c in " \t\r\n":
            q = p
            while q < n and text[q] in " \t\r\n":
                q += 1
            if text.startswith("-}}", q):
                return toks, q + 3, True
            p = q
            continue
        if text.startswith("}}", p):
            return toks, p + 2, False
        if c == '"':
            s, p = _scan_string(text, p)
            toks.append(_Tok("string", s))
        elif c == "`":
            q = text.find("`", p + 1)
            if q < 0:
                raise TemplateError("unterminated raw string")
            toks.append(_Tok("string", text[p + 1 : q]))
            p = q + 1
        elif c == "|":
            toks.append(_Tok("pipe"))
            p += 1
        elif c == "(":
            toks.append(_Tok("lparen"))
            p += 1
        elif c == ")":
            toks.append(_Tok("rparen"))
            p += 1
            if p < n and text[p] == ".":
                raise TemplateError("field access on a parenthesised pipeline is not supported")
        elif c == ",":
            toks.append(_Tok("comma"))
            p += 1
        elif text.startswith(":=", p):
            toks.append(_Tok("declare"))
            p += 2
        elif c == "=":
            toks.append(_Tok("assign"))
            p += 1
        elif c == ".":
            m = _FIELD_RE.match(text, p)
            if m:
                toks.append(_Tok("field", fields=tuple(m.group()[1:].split("."))))
                p = m.end()
            else:
                toks.append(_Tok("field"))
                p += 1
        elif c == "$":
            m = _VAR_RE.match(text, p)
            assert m is not None
            p = m.end()
            fm = _FIELD_RE.match(text, p)
            fields: tuple[str, ...] = ()
            if fm:
                fields = tuple(fm.group()[1:].split("."))
                p = fm.end()
            toks.append(_Tok("var", m.group(), fields))
        elif c.isdigit() or (c == "-" and p + 1 < n and text[p + 1].isdigit()):
            m = _NUM_RE.match(text, p)
            assert m is not None
            s = m.group()
            p = m.end()
            if s.lower().lstrip("-").startswith("0x"):
                toks.append(_Tok("number", int(s, 16)))
            elif any(ch in s for ch in ".eE"):
                toks.append(_Tok("number", float(s)))
            else:
                toks.append(_Tok("number", int(s)))
        else:
            m = _IDENT_RE.match(text, p)
            if m is None:
                raise TemplateError(f"unexpected {c!r} in action")
            word = m.group()
            p = m.end()
            if word in ("true", "false"):
                toks.append(_Tok("bool", word == "true"))
            elif word == "nil":
                toks.append(_Tok("nil"))
            else:
                toks.append(_Tok("ident", word))
    raise TemplateError("unclosed action")


def _parse_pipe(toks: list[_Tok], allow_decl: bool = True, range_decl: bool = False) -> _Pipe:
    pipe = _Pipe()
    # declarations: $x := ..., $x = ..., (range) $i, $e := ...
    if allow_decl and toks and toks[0].kind == "var" and not toks[0].fields:
        if len(toks) > 1 and toks[1].kind in ("declare", "assign"):
            pipe.decl = (toks[0].value,)
            pipe.assign = toks[1].kind == "assign"
            toks = toks[2:]
        elif (
            range_decl
            and len(toks) > 3
            and toks[1].kind == "comma"
            and toks[2].kind == "var"
            and toks[3].kind == "declare"
        ):
            pipe.decl = (toks[0].value, toks[2].value)
            toks = toks[4:]
    if not toks:
        raise TemplateError("missing value for command")
    cmd: list[_Operand] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        if t.kind == "pipe":
            if not cmd:
                raise TemplateError("missing command before '|'")
            pipe.cmds.append(cmd)
            cmd = []
            i += 1
            continue
        if t.kind == "lparen":
            depth = 1
            j = i + 1
            while j < len(toks) and depth:
                depth += {"lparen": 1, "rparen": -1}.get(toks[j].kind, 0)
                j += 1
            if depth:
                raise TemplateError("unclosed left paren")
            cmd.append(_Operand("pipe", _parse_pipe(toks[i + 1 : j - 1], allow_decl=False)))
            i = j
            continue
        if t.kind == "ident":
            if t.value in _KEYWORDS:
                raise TemplateError(f"unexpected keyword {t.value!r}")
            if t.value not in FUNCTIONS and t.value not in _SPECIAL:
                raise TemplateError(f"function {t.value!r} not defined")
            cmd.append(_Operand("func", t.value))
        elif t.kind == "field":
            cmd.append(_Operand("field", None, t.fields))
        elif t.kind == "var":
            cmd.append(_Operand("var", t.value, t.fields))
        elif t.kind in ("string", "number", "bool"):
            cmd.append(_Operand("literal", t.value))
        elif t.kind == "nil":
            cmd.append(_Operand("literal", None))
        else:
            raise TemplateError(f"unexpected {t.kind} in pipeline")
        i += 1
    if not cmd:
        raise TemplateError("missing command after '|'")
    pipe.cmds.append(cmd)
    for k, c in enumerate(pipe.cmds):
        if c[0].kind != "func" and (len(c) > 1 or k > 0):
            raise TemplateError("can't give argument to non-function")
    return pipe


def _parse(text: str) -> list[Any]:
    root: list[Any] = []
    # stack entries: (node, kind) where kind in {"if", "range"}; current list tracked separately
    stack: list[tuple[Any, list[Any]]] = []
    cur = root
    pos = 0
    trim_next = False
    n = len(text)
    while pos <= n:
        i = text.find("{{", pos)
        chunk = text[pos:] if i < 0 else text[pos:i]
        trim_left = False
        j = 0
        if i >= 0:
            j = i + 2
            if text.startswith("-", j) and j + 1 < n and text[j + 1] in " \t\r\n":
                trim_left = True
                j += 2
        if trim_next:
            chunk = chunk.lstrip(" \t\r\n")
        if trim_left:
            chunk = chunk.rstrip(" \t\r\n")
        if chunk:
            cur.append(_Text(chunk))
        if i < 0:
            break
        k = j
        while k < n and text[k] in " \t\r\n":
            k += 1
        if text.startswith("/*", k):
            end = text.find("*/", k + 2)
            if end < 0:
                raise TemplateError("unclosed comment")
            q = end + 2
            while q < n and text[q] in " \t\r\n":
                q += 1
            if text.startswith("-}}", q):
                pos, trim_next = q + 3, True
            elif text.startswith("}}", q):
                pos, trim_next = q + 2, False
            else:
                raise TemplateError("comment ends before closing delimiter")
            continue
        toks, pos, trim_next = _tokenize_action(text, j)
        if not toks:
            raise TemplateError("missing value for command")
        head = toks[0].value if toks[0].kind == "ident" else None
        if head == "if":
            node = _If()
            node.branches.append((_parse_pipe(toks[1:]), []))
            stack.append((node, cur))
            cur = node.branches[-1][1]
        elif head == "range":
            rnode = _Range(_parse_pipe(toks[1:], range_decl=True))
            stack.append((rnode, cur))
            cur = rnode.body
        elif head == "else":
            if not stack:
                raise TemplateError("unexpected {{else}}")
            top = stack[-1][0]
            if isinstance(top, _If) and top.else_body is None and len(toks) > 1:
                if toks[1].kind != "ident" or toks[1].value != "if":
                    raise TemplateError("unexpected tokens after else")
                top.branches.append((_parse_pipe(toks[2:]), []))
                cur = top.branches[-1][1]
            elif len(toks) > 1:
                raise TemplateError("unexpected tokens after else")
            elif top.else_body is not None:
                raise TemplateError("expected end; found {{else}}")
            else:
                top.else_body = []
                cur = top.else_body
        elif head == "end":
            if len(toks) > 1 or not stack:
                raise TemplateError("unexpected {{end}}")
            node_done, cur = stack.pop()
            cur.append(node_done)
        elif head in _KEYWORDS:
            raise TemplateError(f"{{{{{head}}}}} is not supported")
        else:
            cur.append(_Output(_parse_pipe(toks)))
    if stack:
        raise TemplateError("unexpected EOF: missing {{end}}")
    return root


# --------------------------------------------------------------------------- execution


class Template:
    """A parsed template; :meth:`execute` renders it against ``data``."""

    __slots__ = ("_nodes", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self._nodes = _parse(source)

    def execute(self, data: Any) -> str:
        out: list[str] = []
        _exec(self._nodes, data, [{"$": data}], out)
        return "".join(out)


def parse_template(source: str) -> Template:
    """Parse ``source``; raise :class:`TemplateError` on unsupported syntax."""
    return Template(source)


def expand_map(template: Template, data: Any) -> dict[str, str]:
    """Execute and split into ``key=value`` lines (whitespace-trimmed, blank lines skipped)."""
    result: dict[str, str] = {}
    for line in template.execute(data).split("\n"):
        item = line.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep:
            raise TemplateError(
                f"missing value in expanded template line {item!r} (format must be '<key>=<value>')"
            )
        result[key] = value
    return result


def _lookup_var(scopes: list[dict[str, Any]], name: str) -> Any:
    for scope in reversed(scopes):
        if name in scope:
            return scope[name]
    raise TemplateError(f"undefined variable {name!r}")


def _fields(value: Any, names: tuple[str, ...]) -> Any:
    for name in names:
        if isinstance(value, dict):
            if name not in value:
                raise TemplateError(f"map has no entry for key {name!r}")
            value = value[name]
        elif value is None:
            raise TemplateError(f"nil pointer evaluating field {name!r}")
        else:
            raise TemplateError(f"can't evaluate field {name!r} in type {_kind(value)}")
    return value


def _operand(op: _Operand, dot: Any, scopes: list[dict[str, Any]]) -> Any:
    if op.kind == "field":
        return _fields(dot, op.fields)
    if op.kind == "var":
        return _fields(_lookup_var(scopes, op.value), op.fields)
    if op.kind == "literal":
        return op.value
    if op.kind == "pipe":
        return _pipe(op.value, dot, scopes)
    raise TemplateError(f"function {op.value!r} used as a value")


def _pipe(pipe: _Pipe, dot: Any, scopes: list[dict[str, Any]]) -> Any:
    value: Any = None
    for k, cmd in enumerate(pipe.cmds):
        head = cmd[0]
        if head.kind != "func":
            value = _operand(head, dot, scopes)
            continue
        arg_ops = cmd[1:]
        if head.value in _SPECIAL:
            # Go 1.18+: and/or stop at the first falsy/truthy argument and return it.
            if not arg_ops and k == 0:
                raise TemplateError(f"wrong number of args for {head.value}")
            piped, value = value, None
            stop_on = head.value == "or"
            done = False
            for o in arg_ops:
                value = _operand(o, dot, scopes)
                if _truth(value) == stop_on:
                    done = True
                    break
            if not done and k > 0:
                value = piped
            continue
        args = [_operand(o, dot, scopes) for o in arg_ops]
        if k > 0:
            args.append(value)
        try:
            value = FUNCTIONS[head.value](*args)
        except TemplateError:
            raise
        except TypeError as exc:
            raise TemplateError(f"error calling {head.value}: {exc}") from None
        except (ValueError, re.error, AttributeError) as exc:
            raise TemplateError(f"error calling {head.value}: {exc}") from None
    if pipe.decl and len(pipe.decl) == 1:
        name = pipe.decl[0]
        if pipe.assign:
            for scope in reversed(scopes):
                if name in scope:
                    scope[name] = value
                    break
            else:
                raise TemplateError(f"undefined variable {name!r}")
        else:
            scopes[-1][name] = value
    return value


def _exec(nodes: list[Any], dot: Any, scopes: list[dict[str, Any]], out: list[str]) -> None:
    for node in nodes:
        if isinstance(node, _Text):
            out.append(node.text)
        elif isinstance(node, _Output):
            value = _pipe(node.pipe, dot, scopes)
            if not node.pipe.decl:
                out.append(go_str(value))
        elif isinstance(node, _If):
            scopes.append({})
            try:
                for cond, body in node.branches:
                    if _truth(_pipe(cond, dot, scopes)):
                        _exec(body, dot, scopes, out)
                        break
                else:
                    if node.else_body is not None:
                        _exec(node.else_body, dot, scopes, out)
            finally:
                scopes.pop()
        else:
            _exec_range(node, dot, scopes, out)


def _exec_range(node: _Range, dot: Any, scopes: list[dict[str, Any]], out: list[str]) -> None:
    pipe = node.pipe
    decl = pipe.decl
    plain = _Pipe(cmds=pipe.cmds)
    coll = _pipe(plain, dot, scopes)
    items: list[tuple[Any, Any]]
    if coll is None:
        items = []
    elif isinstance(coll, list | tuple):
        items = list(enumerate(coll))
    elif isinstance(coll, dict):
        items = [(k, coll[k]) for k in sorted(coll)]
    else:
        raise TemplateError(f"range can't iterate over {go_str(coll)}")
    if not items:
        if node.else_body is not None:
            scopes.append({})
            try:
                _exec(node.else_body, dot, scopes, out)
            finally:
                scopes.pop()
        return
    for key, elem in items:
        scope: dict[str, Any] = {}
        if len(decl) == 1:
            scope[decl[0]] = elem
        elif len(decl) == 2:
            scope[decl[0]] = key
            scope[decl[1]] = elem
        scopes.append(scope)
        try:
            _exec(node.body, elem, scopes, out)
        finally:
            scopes.pop()
