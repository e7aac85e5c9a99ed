"""Decode a Kubernetes protobuf envelope into the JSON-style object a JSON client would send.

Envelope: 4-byte magic ``k8s\\x00``, then a ``runtime.Unknown`` message (1 typeMeta{1 apiVersion, 2 kind},
2 raw = the object's own protobuf, 3 contentEncoding, 4 contentType).  ``raw`` is decoded with the field
table in ``schema.json`` (JSON names, types) and the Go-struct rules in :mod:`.rules`.

Value mapping (proto -> JSON):

* ``metav1.Time`` {seconds, nanos} -> ``"2026-11-22T04:50:04Z"`` (seconds precision, as Go renders it);
  ``MicroTime`` -> ``"2026-11-22T04:50:04.123456Z"``; an empty message (zero time) -> field omitted.
* ``metav1.Duration`` {duration ns} -> Go duration string: 3723000000000 -> ``"1h2m3s"``, 1500000 -> ``"1.5ms"``.
* ``IntOrString`` {type, intVal, strVal} -> ``int`` when type is 0, else ``str``.
* ``Quantity`` {string} -> the string; ``RawExtension``/``FieldsV1`` raw JSON bytes -> parsed JSON.
* ``bytes`` -> base64 text (Secret ``data``, ConfigMap ``binaryData``); int64/int32 -> Python ``int``.
"""

from __future__ import annotations

import base64
import functools
import importlib.resources
import struct
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import orjson

from suanli.apimachinery.protobuf import rules
from suanli.apimachinery.protobuf.wire import I32, I64, LEN, VARINT, ProtobufError, iter_fields, read_varint

__all__ = ["MAGIC", "decode_k8s_protobuf", "decode_message", "go_duration", "supported_kinds"]

MAGIC = b"k8s\x00"
_MAX_DEPTH = 100
_MISSING = object()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_VARINT_TYPES = frozenset({"int32", "int64", "uint32", "uint64", "sint32", "sint64", "bool"})
_I64_TYPES = frozenset({"fixed64", "sfixed64", "double"})
_I32_TYPES = frozenset({"fixed32", "sfixed32", "float"})
_LEN_SCALARS = frozenset({"string", "bytes"})
_SCALARS = _VARINT_TYPES | _I64_TYPES | _I32_TYPES | _LEN_SCALARS
_WIRE_NAMES = {VARINT: "varint", I64: "64-bit", LEN: "length-delimited", I32: "32-bit"}


class FieldSpec(NamedTuple):
    """One field of a message: JSON name, value type, repeated flag, map key type (None unless a map)."""

    name: str
    type: str
    repeated: bool
    map_key: str | None


class Schema(NamedTuple):
    """The generated table: ``"apiVersion kind"`` -> message name, message name -> field number -> spec."""

    kinds: dict[str, str]
    messages: dict[str, dict[int, FieldSpec]]


@functools.cache
def _schema() -> Schema:
    data = orjson.loads(importlib.resources.files(__package__).joinpath("schema.json").read_bytes())
    messages = {
        msg: {int(num): FieldSpec(spec[0], spec[1], bool(spec[2]), spec[3]) for num, spec in fields.items()}
        for msg, fields in data["messages"].items()
    }
    return Schema(kinds=dict(data["kinds"]), messages=messages)


def supported_kinds() -> list[tuple[str, str]]:
    """``(apiVersion, kind)`` pairs the decoder accepts; ``"*"`` as apiVersion matches any version."""
    return [(key.split(" ", 1)[0], key.split(" ", 1)[1]) for key in _schema().kinds]


def decode_k8s_protobuf(body: bytes) -> dict[str, Any]:
    """Decode a ``application/vnd.kubernetes.protobuf`` body into a JSON-style object dict.

    The result carries ``apiVersion`` and ``kind`` from the envelope's typeMeta, followed by the decoded
    fields.  Raises :class:`ProtobufError` (a ``ValueError``) for a missing magic prefix, malformed wire
    data, a wire type that contradicts the schema, or a kind without a table entry
    (``"unsupported kind for protobuf: apps/v1 Foo"``).
    """
    if not body.startswith(MAGIC):
        raise ProtobufError("not a Kubernetes protobuf message: missing the 'k8s\\x00' prefix")
    api_version, kind, raw, encoding = _unwrap_unknown(body[len(MAGIC):])
    if encoding:
        raise ProtobufError(f"unsupported protobuf contentEncoding {encoding!r}")
    if not kind:
        raise ProtobufError("protobuf envelope has no kind in typeMeta")
    schema = _schema()
    message = schema.kinds.get(f"{api_version} {kind}") or schema.kinds.get(f"* {kind}")
    if message is None:
        raise ProtobufError(f"unsupported kind for protobuf: {api_version} {kind}")
    obj = decode_message(message, raw)
    if not isinstance(obj, dict):
        raise ProtobufError(f"{kind} did not decode to an object")
    return {"apiVersion": api_version, "kind": kind, **obj}


def _unwrap_unknown(buf: bytes) -> tuple[str, str, bytes, str]:
    api_version = kind = encoding = ""
    raw = b""
    for number, wire_type, value in iter_fields(buf):
        if number not in (1, 2, 3, 4):
            continue
        if wire_type != LEN or not isinstance(value, bytes):
            raise ProtobufError(f"runtime.Unknown field {number}: wire type {wire_type}, expected length-delimited")
        if number == 1:
            for tm_number, tm_wire, tm_value in iter_fields(value):
                if tm_number in (1, 2):
                    if tm_wire != LEN or not isinstance(tm_value, bytes):
                        raise ProtobufError(f"runtime.TypeMeta field {tm_number}: expected length-delimited")
                    text = _utf8(tm_value, "typeMeta")
                    if tm_number == 1:
                        api_version = text
                    else:
                        kind = text
        elif number == 2:
            raw = value
        elif number == 3:
            encoding = _utf8(value, "contentEncoding")
    return api_version, kind, raw, encoding


def decode_message(message: str, buf: bytes, depth: int = 0) -> Any:
    """Decode ``buf`` as message ``message``: a dict for ordinary messages, a plain value for special types.

    Special types return ``None`` for "absent" (empty Time/MicroTime/RawExtension); callers drop those.
    """
    if depth > _MAX_DEPTH:
        raise ProtobufError(f"message nesting deeper than {_MAX_DEPTH} levels")
    special = _SPECIAL.get(message)
    if special is not None:
        return special(buf, depth)
    fields = _schema().messages.get(message)
    if fields is None:
        raise ProtobufError(f"no schema for message {message}")
    raw: dict[str, Any] = {}
    specs: dict[str, FieldSpec] = {}
    for number, wire_type, value in iter_fields(buf):
        spec = fields.get(number)
        if spec is None:
            continue  # a field newer than our table: ignored, as an older server would
        specs[spec.name] = spec
        where = f"{_short(message)}.{spec.name}"
        if spec.map_key is not None:
            key, item = _map_entry(spec, wire_type, value, where, depth)
            raw.setdefault(spec.name, {})[key] = item
        elif spec.repeated:
            items = raw.setdefault(spec.name, [])
            if wire_type == LEN and spec.type in _SCALARS - _LEN_SCALARS:
                assert isinstance(value, bytes)
                items.extend(_unpack(spec.type, value, where))
            else:
                items.append(_value(spec.type, wire_type, value, where, depth))
        else:
            raw[spec.name] = _value(spec.type, wire_type, value, where, depth)
    return _to_json(message, raw, specs)


def _to_json(message: str, raw: dict[str, Any], specs: dict[str, FieldSpec]) -> dict[str, Any]:
    """Apply the Go-JSON rules: drop absent specials and omitempty zeros, splice inline structs."""
    out: dict[str, Any] = {}
    for name, value in raw.items():
        spec = specs[name]
        if value is None:
            continue
        single = spec.map_key is None and not spec.repeated
        if single and (spec.type in _SCALARS or spec.type == rules.INTORSTR) and _is_zero(value) \
                and (message, name) not in rules.KEEP_ZERO:
            continue
        if single and (message, name) in rules.INLINE and isinstance(value, dict):
            out.update(value)
            continue
        out[name] = value
    return out


def _is_zero(value: Any) -> bool:
    return value is False or value == "" or (isinstance(value, int | float) and value == 0)


def _map_entry(spec: FieldSpec, wire_type: int, value: int | bytes, where: str, depth: int) -> tuple[Any, Any]:
    if wire_type != LEN or not isinstance(value, bytes):
        raise ProtobufError(f"{where}: wire type {_WIRE_NAMES.get(wire_type, wire_type)}, "
                            "expected length-delimited map entry")
    assert spec.map_key is not None
    key: Any = _MISSING
    item: Any = _MISSING
    for number, entry_wire, entry_value in iter_fields(value):
        if number == 1:
            key = _value(spec.map_key, entry_wire, entry_value, f"{where} key", depth)
        elif number == 2:
            item = _value(spec.type, entry_wire, entry_value, f"{where}[{key}]", depth)
    if key is _MISSING:
        key = _default(spec.map_key, depth)
    if item is _MISSING:
        item = _default(spec.type, depth)
    return key, item


def _default(typ: str, depth: int) -> Any:
    if typ in _LEN_SCALARS:
        return ""
    if typ == "bool":
        return False
    if typ in _SCALARS:
        return 0
    return decode_message(typ, b"", depth + 1)


def _value(typ: str, wire_type: int, value: int | bytes, where: str, depth: int) -> Any:
    if typ in _VARINT_TYPES:
        _expect(wire_type, VARINT, where)
        assert isinstance(value, int)
        return _varint_value(typ, value)
    if typ in _I64_TYPES or typ in _I32_TYPES:
        _expect(wire_type, I64 if typ in _I64_TYPES else I32, where)
        assert isinstance(value, int)
        return _fixed_value(typ, value)
    _expect(wire_type, LEN, where)
    assert isinstance(value, bytes)
    if typ == "string":
        return _utf8(value, where)
    if typ == "bytes":
        return base64.b64encode(value).decode("ascii")
    return decode_message(typ, value, depth + 1)


def _expect(wire_type: int, wanted: int, where: str) -> None:
    if wire_type != wanted:
        raise ProtobufError(f"{where}: wire type {_WIRE_NAMES.get(wire_type, wire_type)}, "
                            f"expected {_WIRE_NAMES[wanted]}")


def _varint_value(typ: str, value: int) -> int | bool:
    if typ == "bool":
        return value != 0
    if typ in ("sint32", "sint64"):
        return (value >> 1) ^ -(value & 1)
    if typ in ("int32", "int64"):
        value &= (1 << 64) - 1
        return value - (1 << 64) if value >= 1 << 63 else value
    return value


def _fixed_value(typ: str, value: int) -> int | float:
    if typ == "double":
        return float(struct.unpack("<d", value.to_bytes(8, "little"))[0])
    if typ == "float":
        return float(struct.unpack("<f", value.to_bytes(4, "little"))[0])
    bits = 64 if typ in _I64_TYPES else 32
    if typ.startswith("sfixed") and value >= 1 << (bits - 1):
        return value - (1 << bits)
    return value


def _unpack(typ: str, buf: bytes, where: str) -> list[Any]:
    """Decode a packed repeated scalar field."""
    out: list[Any] = []
    pos = 0
    if typ in _VARINT_TYPES:
        while pos < len(buf):
            value, pos = read_varint(buf, pos)
            out.append(_varint_value(typ, value))
        return out
    size = 8 if typ in _I64_TYPES else 4
    if len(buf) % size:
        raise ProtobufError(f"{where}: packed {typ} payload of {len(buf)} bytes")
    for start in range(0, len(buf), size):
        out.append(_fixed_value(typ, int.from_bytes(buf[start:start + size], "little")))
    return out


def _utf8(value: bytes, where: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtobufError(f"{where}: string is not valid UTF-8") from None


def _short(message: str) -> str:
    return message.rsplit(".", 1)[-1]


# --- special types -----------------------------------------------------------------------------------------

def _ints(buf: bytes, where: str) -> dict[int, int]:
    out: dict[int, int] = {}
    for number, wire_type, value in iter_fields(buf):
        _expect(wire_type, VARINT, f"{where} field {number}")
        assert isinstance(value, int)
        out[number] = int(_varint_value("int64", value))
    return out


def _timestamp(buf: bytes, micro: bool) -> datetime | None:
    if not buf:
        return None
    parts = _ints(buf, "Time")
    seconds, nanos = parts.get(1, 0), parts.get(2, 0)
    if not 0 <= nanos < 1_000_000_000:
        raise ProtobufError(f"Time: nanos {nanos} out of range")
    try:
        return _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000 if micro else 0)
    except OverflowError:
        raise ProtobufError(f"Time: seconds {seconds} out of range") from None


def _time(buf: bytes, depth: int) -> str | None:
    when = _timestamp(buf, micro=False)
    return None if when is None else when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _microtime(buf: bytes, depth: int) -> str | None:
    when = _timestamp(buf, micro=True)
    return None if when is None else when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _frac(value: int, digits: int) -> str:
    """``value / 10**digits`` with trailing zeros trimmed: ``_frac(1500, 3) == "1.5"``."""
    whole, part = divmod(value, 10**digits)
    text = f"{part:0{digits}d}".rstrip("0")
    return f"{whole}.{text}" if text else str(whole)


def go_duration(nanos: int) -> str:
    """Render nanoseconds like Go's ``time.Duration.String``: 3723e9 -> ``"1h2m3s"``, 0 -> ``"0s"``."""
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    u = abs(nanos)
    if u < 1_000:
        return f"{sign}{u}ns"
    if u < 1_000_000:
        return f"{sign}{_frac(u, 3)}µs"
    if u < 1_000_000_000:
        return f"{sign}{_frac(u, 6)}ms"
    hours, rest = divmod(u, 3600 * 10**9)
    minutes, secs = divmod(rest, 60 * 10**9)
    text = f"{_frac(secs, 9)}s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return sign + text


def _duration(buf: bytes, depth: int) -> str:
    return go_duration(_ints(buf, "Duration").get(1, 0))


def _int_or_string(buf: bytes, depth: int) -> int | str:
    kind, int_val, str_val = 0, 0, ""
    for number, wire_type, value in iter_fields(buf):
        if number == 1:
            _expect(wire_type, VARINT, "IntOrString.type")
            assert isinstance(value, int)
            kind = value
        elif number == 2:
            _expect(wire_type, VARINT, "IntOrString.intVal")
            assert isinstance(value, int)
            int_val = int(_varint_value("int32", value))
        elif number == 3:
            _expect(wire_type, LEN, "IntOrString.strVal")
            assert isinstance(value, bytes)
            str_val = _utf8(value, "IntOrString.strVal")
    return str_val if kind == 1 else int_val


def _single_bytes(buf: bytes, where: str) -> bytes:
    out = b""
    for number, wire_type, value in iter_fields(buf):
        if number == 1:
            _expect(wire_type, LEN, where)
            assert isinstance(value, bytes)
            out = value
    return out


def _quantity(buf: bytes, depth: int) -> str:
    return _utf8(_single_bytes(buf, "Quantity.string"), "Quantity.string") or "0"


def _embedded_json(raw: bytes, where: str, depth: int) -> Any:
    if raw.startswith(MAGIC):
        return decode_k8s_protobuf(raw)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ProtobufError(f"{where}: embedded JSON does not parse: {exc}") from None


def _raw_extension(buf: bytes, depth: int) -> Any:
    raw = _single_bytes(buf, "RawExtension.raw")
    return _embedded_json(raw, "RawExtension.raw", depth) if raw else None


def _fields_v1(buf: bytes, depth: int) -> Any:
    raw = _single_bytes(buf, "FieldsV1.Raw")
    return _embedded_json(raw, "FieldsV1.Raw", depth) if raw else {}


_SPECIAL: dict[str, Any] = {
    rules.TIME: _time,
    rules.MICROTIME: _microtime,
    rules.DURATION: _duration,
    rules.INTORSTR: _int_or_string,
    rules.QUANTITY: _quantity,
    rules.RAWEXT: _raw_extension,
    rules.FIELDSV1: _fields_v1,
}
