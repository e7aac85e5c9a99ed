"""Arguments parsed as Go's ``flag`` package parses them (e.g. Volcano's job plugins, which use a
``flag.FlagSet`` with ``ContinueOnError``).

Contract of :func:`parse_flags` (Go's ``FlagSet.Parse``):

* arguments are read left to right; parsing stops, without error, at the first argument that is
  not a flag (``""``, ``"-"``, or not starting with ``-``) and after a lone ``--``;
* ``-name`` and ``--name`` are the same; ``name=value`` carries a value;
* a bool flag without ``=value`` is set to true; with one, the value is parsed as Go's
  ``strconv.ParseBool`` (``1 t T TRUE true True 0 f F FALSE false False``);
* any other flag without ``=value`` takes the next argument (missing → error);
* int flags parse like ``strconv.ParseInt(s, 0, 64)`` (``0x``/``0o``/``0b`` prefixes, ``_``);
* on the first error (unknown flag, bad syntax, bad value) parsing stops; flags set before it
  keep their values and the error text is returned (upstream logs it and goes on).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

__all__ = ["FlagKind", "FlagValue", "parse_flags"]

FlagKind = Literal["bool", "string", "int"]
FlagValue = bool | str | int

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def _parse_bool(text: str) -> bool | None:
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def _parse_int(text: str) -> int | None:
    try:
        return int(text, 0)
    except ValueError:
        return None


def parse_flags(
    args: Sequence[str], kinds: Mapping[str, FlagKind], defaults: Mapping[str, FlagValue]
) -> tuple[dict[str, FlagValue], str | None]:
    """The flag values (``defaults`` overridden by ``args``) and the first parse error, if any."""
    values: dict[str, FlagValue] = dict(defaults)
    i = 0
    while i < len(args):
        arg = args[i]
        if len(arg) < 2 or arg[0] != "-":
            break
        i += 1
        dashes = 2 if arg[1] == "-" else 1
        if dashes == 2 and len(arg) == 2:
            break  # "--" terminates the flags
        name = arg[dashes:]
        if not name or name[0] in "-=":
            return values, f"bad flag syntax: {arg}"
        has_value, value = False, ""
        if "=" in name:
            name, value = name.split("=", 1)
            has_value = True
        kind = kinds.get(name)
        if kind is None:
            return values, f"flag provided but not defined: -{name}"
        if kind == "bool":
            parsed_bool = _parse_bool(value) if has_value else True
            if parsed_bool is None:
                return values, f'invalid boolean value "{value}" for -{name}: parse error'
            values[name] = parsed_bool
            continue
        if not has_value:
            if i >= len(args):
                return values, f"flag needs an argument: -{name}"
            value = args[i]
            i += 1
        if kind == "int":
            parsed_int = _parse_int(value)
            if parsed_int is None:
                return values, f'invalid value "{value}" for flag -{name}: parse error'
            values[name] = parsed_int
        else:
            values[name] = value
    return values, None
