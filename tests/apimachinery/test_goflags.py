"""Go ``flag.FlagSet.Parse`` semantics (ContinueOnError), as Volcano's job plugins parse their arguments."""

from __future__ import annotations

import pytest

from suanli.apimachinery.goflags import FlagKind, FlagValue, parse_flags

KINDS: dict[str, FlagKind] = {"on": "bool", "path": "string", "port": "int"}
DEFAULTS: dict[str, FlagValue] = {"on": False, "path": "/root/.ssh", "port": 22}


@pytest.mark.parametrize(
    ("args", "values", "error"),
    [
        ([], {}, None),
        (["--on"], {"on": True}, None),
        (["-on"], {"on": True}, None),
        (["--on=false"], {}, None),
        (["--on=T"], {"on": True}, None),
        (["--path=/a/b"], {"path": "/a/b"}, None),
        (["--path", "/a/b"], {"path": "/a/b"}, None),
        (["--port=0x10"], {"port": 16}, None),
        (["--port=2026", "stop", "--on"], {"port": 2026}, None),
        (["--port=1", "--", "--on"], {"port": 1}, None),
        (["--on", "--no-root", "--port=5"], {"on": True}, "flag provided but not defined: -no-root"),
        (["--on=maybe"], {}, 'invalid boolean value "maybe" for -on: parse error'),
        (["--port=ten"], {}, 'invalid value "ten" for flag -port: parse error'),
        (["--path"], {}, "flag needs an argument: -path"),
        (["---on"], {}, "bad flag syntax: ---on"),
    ],
    ids=[
        "no-arguments-keep-defaults", "bool-without-value-is-true", "one-dash-same-as-two", "bool-false-value",
        "bool-go-spelling", "string-with-equals", "string-takes-next-argument", "int-with-base-prefix",
        "stops-at-first-non-flag", "double-dash-ends-flags", "unknown-flag-stops-parsing-keeps-earlier",
        "bad-bool", "bad-int", "missing-argument", "three-dashes",
    ],
)
def test_parse_flags(args: list[str], values: dict[str, FlagValue], error: str | None) -> None:
    got, err = parse_flags(args, KINDS, DEFAULTS)
    assert got == {**DEFAULTS, **values}
    assert err == error
