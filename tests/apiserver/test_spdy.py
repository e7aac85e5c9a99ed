"""SPDY/3 framing: wire vectors derived from the spec's frame layouts, header blocks, the shared zlib context."""

from __future__ import annotations

import hashlib
import struct
import zlib

import pytest

from suanli.apiserver.spdy import (
    FLAG_FIN,
    GOAWAY,
    HEADER_DICTIONARY,
    HEADERS,
    PING,
    RST_CANCEL,
    RST_STREAM,
    SETTINGS,
    SYN_REPLY,
    SYN_STREAM,
    WINDOW_UPDATE,
    ControlFrame,
    DataFrame,
    Frame,
    SpdyCodec,
    SpdyProtocolError,
    decode_header_block,
    encode_header_block,
)


def test_header_dictionary_is_the_specs_1423_bytes() -> None:
    # spec §2.6.10.1: starts with the length-prefixed "options", ends with "enq=0.", 1423 bytes in all
    assert len(HEADER_DICTIONARY) == 1423
    assert HEADER_DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert b"\x00\x00\x00\x06status\x00\x00\x00\x06200 OK\x00\x00\x00\x07version" in HEADER_DICTIONARY
    assert HEADER_DICTIONARY.endswith(b"charset=iso-8859-1,utf-,*,enq=0.")
    assert hashlib.sha256(HEADER_DICTIONARY).hexdigest() == \
        "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02"


@pytest.mark.parametrize(
    ("frame", "wire"),
    [
        (ControlFrame(PING, value=1), "80030006 00000004 00000001"),
        (ControlFrame(RST_STREAM, stream_id=3, value=RST_CANCEL), "80030003 00000008 00000003 00000005"),
        (ControlFrame(GOAWAY, stream_id=7, value=0), "80030007 00000008 00000007 00000000"),
        (ControlFrame(WINDOW_UPDATE, stream_id=5, value=65536), "80030009 00000008 00000005 00010000"),
        (ControlFrame(SETTINGS, settings=((1, 7, 65536),)), "80030004 0000000c 00000001 01000007 00010000"),
        (DataFrame(1, b"hi"), "00000001 00000002 6869"),
        (DataFrame(3, b"", FLAG_FIN), "00000003 01000000"),
        (DataFrame(0x7FFFFFFF, b"x", FLAG_FIN), "7fffffff 01000001 78"),
    ],
    ids=["ping", "rst-stream-cancel", "goaway-ok", "window-update", "settings-initial-window",
         "data", "data-empty-fin", "data-largest-stream-id"],
)
def test_frames_without_header_blocks_have_the_spec_layout(frame: Frame, wire: str) -> None:
    expected = bytes.fromhex(wire.replace(" ", ""))
    assert SpdyCodec().encode(frame) == expected
    assert SpdyCodec().feed(expected) == [frame]


@pytest.mark.parametrize(
    ("headers", "block"),
    [
        ({}, "00000000"),
        ({"port": ["80"]}, "00000001 00000004 706f7274 00000002 3830"),
        ({"a": ["1", "2"]}, "00000001 00000001 61 00000003 310032"),
        ({"streamtype": ["data"], "port": ["8080"]},
         "00000002 0000000a 73747265616d74797065 00000004 64617461 00000004 706f7274 00000004 38303830"),
    ],
    ids=["empty", "one-pair", "two-values-nul-joined", "two-pairs-in-order"],
)
def test_header_block_round_trips_with_32_bit_lengths(headers: dict[str, list[str]], block: str) -> None:
    raw = bytes.fromhex(block.replace(" ", ""))
    assert encode_header_block(headers) == raw
    assert decode_header_block(raw) == headers


def test_header_names_are_sent_lower_case() -> None:
    assert decode_header_block(encode_header_block({"StreamType": ["error"]})) == {"streamtype": ["error"]}


@pytest.mark.parametrize(
    ("block", "why"),
    [
        (b"\x00\x00\x00\x01\x00\x00\x00\x04Port\x00\x00\x00\x00", "not lower case"),
        (b"\x00\x00\x00\x02" + (b"\x00\x00\x00\x01a\x00\x00\x00\x01b") * 2, "appears twice"),
        (b"\x00\x00\x00\x01\x00\x00\x00\x09port", "truncated"),
        (b"\x00\x00\x00\x00junk", "trailing bytes"),
        (b"\x00\x00", "truncated"),
    ],
    ids=["upper-case-name", "duplicate-name", "name-runs-past-the-end", "trailing-bytes", "short-count"],
)
def test_malformed_header_blocks_are_protocol_errors(block: bytes, why: str) -> None:
    with pytest.raises(SpdyProtocolError, match=why):
        decode_header_block(block)


def _syn_stream(sid: int, headers: dict[str, list[str]]) -> ControlFrame:
    return ControlFrame(SYN_STREAM, stream_id=sid, value=0, priority=0, headers=headers)


def test_syn_stream_layout_and_compressed_block_per_spec() -> None:
    headers = {"streamtype": ["error"], "port": ["80"], "requestid": ["0"]}
    wire = SpdyCodec().encode(ControlFrame(SYN_STREAM, stream_id=1, value=0, priority=2, headers=headers))
    first, second, sid, assoc, pri, slot = struct.unpack_from(">IIIIBB", wire)
    assert first == 0x80030001 and second & 0xFFFFFF == len(wire) - 8 and second >> 24 == 0
    assert (sid, assoc, pri, slot) == (1, 0, 2 << 5, 0)
    # the block is zlib with the spec dictionary and ends with a sync flush (00 00 ff ff)
    block = wire[18:]
    assert block.endswith(b"\x00\x00\xff\xff")
    assert zlib.decompressobj(zdict=HEADER_DICTIONARY).decompress(block) == encode_header_block(headers)


def test_header_compression_context_spans_the_session() -> None:
    sender, receiver = SpdyCodec(), SpdyCodec()
    headers = {"streamtype": ["data"], "port": ["8080"], "requestid": ["0"]}
    first = sender.encode(_syn_stream(1, headers))
    second = sender.encode(_syn_stream(3, headers))
    assert len(second) < len(first)  # the repeated block refers back into the shared window
    with pytest.raises(zlib.error):  # so it does not decode on its own …
        zlib.decompressobj(zdict=HEADER_DICTIONARY).decompress(second[18:])
    assert receiver.feed(first) == [_syn_stream(1, headers)]  # … only after the first, in one context
    assert receiver.feed(second) == [_syn_stream(3, headers)]


def test_blocks_from_another_compressor_decode() -> None:
    # a peer may compress at any level: only the dictionary and the shared stream matter
    peer = zlib.compressobj(1, zlib.DEFLATED, zlib.MAX_WBITS, 8, zlib.Z_DEFAULT_STRATEGY, HEADER_DICTIONARY)
    frames = []
    for sid, port in ((1, "80"), (3, "443")):
        block = peer.compress(encode_header_block({"port": [port]})) + peer.flush(zlib.Z_SYNC_FLUSH)
        body = struct.pack(">I", sid) + block
        frames.append(struct.pack(">II", 0x80030002, len(body)) + body)
    assert SpdyCodec().feed(b"".join(frames)) == [ControlFrame(SYN_REPLY, stream_id=1, headers={"port": ["80"]}),
                                                  ControlFrame(SYN_REPLY, stream_id=3, headers={"port": ["443"]})]


def test_a_byte_stream_cut_anywhere_yields_every_frame_once() -> None:
    frames: list[Frame] = [
        _syn_stream(1, {"streamtype": ["error"], "port": ["80"], "requestid": ["0"]}),
        DataFrame(1, b"", FLAG_FIN),
        _syn_stream(3, {"streamtype": ["data"], "port": ["80"], "requestid": ["0"]}),
        DataFrame(3, b"GET / HTTP/1.0\r\n\r\n"),
        ControlFrame(HEADERS, stream_id=3, headers={"x": ["y"]}),
        ControlFrame(PING, value=5),
        ControlFrame(RST_STREAM, stream_id=3, value=RST_CANCEL),
    ]
    sender = SpdyCodec()
    wire = b"".join(sender.encode(f) for f in frames)
    receiver = SpdyCodec()
    got: list[Frame] = []
    for i in range(len(wire)):
        got += receiver.feed(wire[i:i + 1])
    assert got == frames


@pytest.mark.parametrize(
    ("wire", "why"),
    [
        ("80020006 00000004 00000001", "unsupported SPDY version 2"),
        ("8003000a 00000000", "unknown control frame type 10"),
        ("80030003 00000004 00000001", "shorter than 8"),
        ("80030004 00000008 00000002 00000000", "does not hold 2 entries"),
        ("80030002 00000008 00000001 deadbeef", "does not decompress"),
    ],
    ids=["version-2", "unknown-type", "short-rst-stream", "settings-count-mismatch", "garbage-header-block"],
)
def test_malformed_frames_are_protocol_errors(wire: str, why: str) -> None:
    with pytest.raises(SpdyProtocolError, match=why):
        SpdyCodec().feed(bytes.fromhex(wire.replace(" ", "")))
