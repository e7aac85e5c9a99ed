"""The .proto parser behind scripts/gen_proto_schema.py and the consistency of the committed table."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from suanli.apimachinery.protobuf import decode

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_proto_schema", ROOT / "scripts" / "gen_proto_schema.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()

PROTO = """
syntax = "proto2";
package a.b.v1;
import "other.proto";
// Outer is documented.
message Outer {
  // +optional
  optional string name = 1;  // trailing comment
  repeated Inner items = 2;
  map<string, .x.y.Quantity> limits = 3;
  optional Sibling sibling = 4;
  message Inner {
    optional int64 count = 7;
  }
  optional Inner single = 5;
}
message Sibling {
}
message Empty {}
"""


def test_parser_reads_fields_maps_repeated_and_nested_messages() -> None:
    messages: dict[str, tuple[str, dict[int, tuple[str, str, bool, str | None]]]] = {}
    GEN.parse_proto(PROTO, messages)
    assert set(messages) == {"a.b.v1.Outer", "a.b.v1.Outer.Inner", "a.b.v1.Sibling", "a.b.v1.Empty"}
    _scope, outer = messages["a.b.v1.Outer"]
    assert outer == {1: ("name", "string", False, None), 2: ("items", "Inner", True, None),
                     3: ("limits", ".x.y.Quantity", False, "string"), 4: ("sibling", "Sibling", False, None),
                     5: ("single", "Inner", False, None)}
    assert messages["a.b.v1.Outer.Inner"][1] == {7: ("count", "int64", False, None)}


@pytest.mark.parametrize(("typ", "scope", "expected"), [
    ("string", "a.b.v1.Outer", "string"),
    (".x.y.Quantity", "a.b.v1.Outer", "x.y.Quantity"),
    ("Inner", "a.b.v1.Outer", "a.b.v1.Outer.Inner"),
    ("Sibling", "a.b.v1.Outer", "a.b.v1.Sibling"),
], ids=["scalar", "absolute", "nested-in-enclosing-message", "same-package"])
def test_type_names_resolve_with_protobuf_scoping(typ: str, scope: str, expected: str) -> None:
    messages: dict[str, tuple[str, dict[int, tuple[str, str, bool, str | None]]]] = {}
    GEN.parse_proto(PROTO, messages)
    assert GEN.resolve(typ, scope, messages) == expected


@pytest.mark.parametrize(("text", "error"), [
    ("package p;\nmessage M {\n  optional string = 1;\n}\n", "cannot parse"),
    ("package p;\nmessage M {\n  optional Missing m = 1;\n}\n", None),
], ids=["field-without-name", "unknown-type-parses-but-cannot-resolve"])
def test_parser_reports_what_it_cannot_handle(text: str, error: str | None) -> None:
    messages: dict[str, tuple[str, dict[int, tuple[str, str, bool, str | None]]]] = {}
    if error:
        with pytest.raises(GEN.ProtoParseError, match=error):
            GEN.parse_proto(text, messages)
        return
    GEN.parse_proto(text, messages)
    with pytest.raises(GEN.ProtoParseError, match="unresolved type 'Missing'"):
        GEN.resolve("Missing", "p.M", messages)


def test_committed_table_is_closed_and_rooted() -> None:
    table = json.loads((ROOT / "src/suanli/apimachinery/protobuf/schema.json").read_text())
    messages = table["messages"]
    assert set(table["kinds"]) == {f"{v} {k}" for v, k, _ in GEN.ROOTS}
    assert all(msg in messages for msg in table["kinds"].values())
    for name, fields in messages.items():
        for num, (json_name, typ, repeated, key) in fields.items():
            assert int(num) > 0 and json_name, (name, num)
            assert typ in GEN.SCALARS or typ in messages, (name, json_name, typ)
            assert key is None or not repeated
    # the decoder's Go-struct rules name only fields that exist in the table
    from suanli.apimachinery.protobuf import rules

    names = {(msg, spec[0]) for msg, fields in messages.items() for spec in fields.values()}
    assert names >= rules.KEEP_ZERO, sorted(rules.KEEP_ZERO - names)
    assert names >= rules.INLINE, sorted(rules.INLINE - names)
    assert decode.supported_kinds()
