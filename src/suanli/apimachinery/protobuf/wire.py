"""Protobuf wire-format reading: varints and (field number, wire type, value) records.

Wire types: 0 varint, 1 64-bit little endian, 2 length-delimited, 5 32-bit little endian.  Groups (3, 4)
are rejected.  Example: ``b"\\x08\\x96\\x01"`` is field 1, wire type 0, value 150.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["I32", "I64", "LEN", "VARINT", "ProtobufError", "iter_fields", "read_varint"]

VARINT, I64, LEN, I32 = 0, 1, 2, 5


class ProtobufError(ValueError):
    """The body is not a well-formed (or not a supported) Kubernetes protobuf message."""


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Read an unsigned base-128 varint at ``pos``; return ``(value, next_pos)``.

    Raises :class:`ProtobufError` when the buffer ends mid-varint or the varint exceeds 10 bytes.
    """
    result = 0
    shift = 0
    end = len(buf)
    while True:
        if pos >= end:
            raise ProtobufError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ProtobufError("varint longer than 10 bytes")


def iter_fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield ``(field_number, wire_type, value)`` for each record of one message.

    ``value`` is an ``int`` for wire types 0/1/5 (unsigned, as stored) and ``bytes`` for wire type 2.
    """
    pos = 0
    end = len(buf)
    while pos < end:
        key, pos = read_varint(buf, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise ProtobufError("invalid field number 0")
        value: int | bytes
        if wire_type == VARINT:
            value, pos = read_varint(buf, pos)
        elif wire_type == LEN:
            length, pos = read_varint(buf, pos)
            if pos + length > end:
                raise ProtobufError(f"truncated length-delimited field {number}: need {length} bytes, "
                                    f"have {end - pos}")
            value = bytes(buf[pos:pos + length])
            pos += length
        elif wire_type in (I64, I32):
            size = 8 if wire_type == I64 else 4
            if pos + size > end:
                raise ProtobufError(f"truncated fixed-width field {number}")
            value = int.from_bytes(buf[pos:pos + size], "little")
            pos += size
        else:
            raise ProtobufError(f"unsupported wire type {wire_type} for field {number}")
        yield number, wire_type, value
