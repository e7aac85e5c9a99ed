"""SPDY/3 framing (draft-mbelshe-httpbis-spdy-00 as ``SPDY/3.1``): frames, header blocks, a session codec.

Only what a port-forward server needs, as client-go's spdystream speaks it:

* every frame has an 8-byte header. A *control* frame starts with bit 1, the 15-bit version
  (3) and a 16-bit type, then 8 flag bits and a 24-bit length; a *data* frame starts with bit 0
  and the 31-bit stream id, then flags (``FIN`` = 1) and the 24-bit length.
* control frames: ``SYN_STREAM`` (1: stream id, associated stream id, 3-bit priority, slot,
  header block), ``SYN_REPLY`` (2: stream id, header block), ``RST_STREAM`` (3: stream id,
  status), ``SETTINGS`` (4: count, then flags/id/value triples), ``PING`` (6: id),
  ``GOAWAY`` (7: last good stream id, status), ``HEADERS`` (8: stream id, header block),
  ``WINDOW_UPDATE`` (9: stream id, delta).
* a header block is ``count`` then ``len name len value`` pairs (32-bit big-endian lengths,
  lower-case names, several values of one name joined by NUL), zlib-compressed with the spec's
  fixed dictionary (:data:`HEADER_DICTIONARY`) through **one** compression context per direction
  for the whole session, each block ending with a sync flush.

:class:`SpdyCodec` holds one session's two contexts: :meth:`SpdyCodec.encode` turns frames into
bytes and :meth:`SpdyCodec.feed` parses a byte stream cut anywhere into frames. Malformed input
raises :class:`SpdyProtocolError`.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

__all__ = [
    "FLAG_FIN", "GOAWAY", "HEADERS", "HEADER_DICTIONARY", "PING", "RST_CANCEL", "RST_PROTOCOL_ERROR",
    "RST_REFUSED_STREAM", "RST_STREAM", "SETTINGS", "SYN_REPLY", "SYN_STREAM", "VERSION", "WINDOW_UPDATE",
    "ControlFrame", "DataFrame", "Frame", "SpdyCodec", "SpdyProtocolError", "decode_header_block",
    "encode_header_block",
]

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
#: RST_STREAM status codes (spec §2.6.3) a server sends.
RST_PROTOCOL_ERROR, RST_INVALID_STREAM, RST_REFUSED_STREAM, RST_CANCEL = 1, 2, 3, 5
MAX_LENGTH = (1 << 24) - 1

_WORDS = (
    "options head post put delete trace accept accept-charset accept-encoding accept-language accept-ranges age "
    "allow authorization cache-control connection content-base content-encoding content-language content-length "
    "content-location content-md5 content-range content-type date etag expect expires from host if-match "
    "if-modified-since if-none-match if-range if-unmodified-since last-modified location max-forwards pragma "
    "proxy-authenticate proxy-authorization range referer retry-after server te trailer transfer-encoding upgrade "
    "user-agent vary via warning www-authenticate method get status 200_OK version HTTP/1.1 url public set-cookie "
    "keep-alive origin"
)
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
    "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
    "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)


def _dictionary() -> bytes:
    out = bytearray()
    for word in (w.replace("_", " ") for w in _WORDS.split()):  # "200_OK" is the one word with a space
        out += struct.pack(">I", len(word)) + word.encode()
    return bytes(out) + _TAIL.encode()


#: The zlib dictionary of SPDY/3 header compression (spec §2.6.10.1): length-prefixed common
#: header names and values, then a run of status codes, dates and media types.
HEADER_DICTIONARY = _dictionary()


class SpdyProtocolError(ValueError):
    """The peer sent bytes that are not valid SPDY/3 (the session cannot continue)."""


Headers = dict[str, list[str]]


@dataclass(frozen=True)
class DataFrame:
    """A data frame: ``data`` for stream ``stream_id``; ``flags & FLAG_FIN`` ends the sender's half."""

    stream_id: int
    data: bytes = b""
    flags: int = 0

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


@dataclass(frozen=True)
class ControlFrame:
    """A control frame of ``type``; the fields a type does not use keep their defaults.

    ``stream_id`` is the stream (SYN_STREAM, SYN_REPLY, RST_STREAM, HEADERS, WINDOW_UPDATE) or the
    last good stream (GOAWAY); ``value`` is the associated stream id (SYN_STREAM), the status
    (RST_STREAM, GOAWAY), the ping id (PING) or the window delta (WINDOW_UPDATE); ``priority`` is
    SYN_STREAM's 3-bit priority; ``settings`` are SETTINGS' (flags, id, value) entries.
    """

    type: int
    flags: int = 0
    stream_id: int = 0
    value: int = 0
    priority: int = 0
    headers: Headers = field(default_factory=dict)
    settings: tuple[tuple[int, int, int], ...] = ()

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


Frame = DataFrame | ControlFrame


def encode_header_block(headers: Headers) -> bytes:
    """The uncompressed name/value block of ``headers`` (names lower-cased, values NUL-joined)."""
    out = bytearray(struct.pack(">I", len(headers)))
    for name, values in headers.items():
        raw_name, raw_value = name.lower().encode(), "\x00".join(values).encode()
        out += struct.pack(">I", len(raw_name)) + raw_name + struct.pack(">I", len(raw_value)) + raw_value
    return bytes(out)


def decode_header_block(block: bytes) -> Headers:
    """Parse an uncompressed name/value block; raises :class:`SpdyProtocolError` when malformed.

    Names must be lower case and unique (spec §2.6.10); a value splits at NUL into several.
    """
    def take(pos: int, n: int) -> tuple[bytes, int]:
        if pos + n > len(block):
            raise SpdyProtocolError("header block truncated")
        return block[pos:pos + n], pos + n

    raw, pos = take(0, 4)
    count = struct.unpack(">I", raw)[0]
    headers: Headers = {}
    for _ in range(count):
        raw, pos = take(pos, 4)
        name_b, pos = take(pos, struct.unpack(">I", raw)[0])
        raw, pos = take(pos, 4)
        value_b, pos = take(pos, struct.unpack(">I", raw)[0])
        name = name_b.decode("latin-1")
        if not name or name != name.lower():
            raise SpdyProtocolError(f"header name {name!r} is empty or not lower case")
        if name in headers:
            raise SpdyProtocolError(f"header {name!r} appears twice")
        headers[name] = value_b.decode("latin-1").split("\x00")
    if pos != len(block):
        raise SpdyProtocolError("header block has trailing bytes")
    return headers


class SpdyCodec:
    """One SPDY/3 session's framing: outgoing and incoming header-compression contexts and a read buffer."""

    def __init__(self) -> None:
        self._deflate = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS, 9, zlib.Z_DEFAULT_STRATEGY,
                                         HEADER_DICTIONARY)
        self._inflate = zlib.decompressobj(zlib.MAX_WBITS, HEADER_DICTIONARY)
        self._buf = bytearray()

    # ------------------------------------------------------------------ writing

    def _compress(self, headers: Headers) -> bytes:
        return self._deflate.compress(encode_header_block(headers)) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def encode(self, frame: Frame) -> bytes:
        """The wire bytes of ``frame``; header blocks go through this session's compression context,
        so frames must be sent in the order they were encoded."""
        if isinstance(frame, DataFrame):
            if len(frame.data) > MAX_LENGTH:
                raise ValueError("data frame longer than 2^24-1 bytes")
            return struct.pack(">II", frame.stream_id & 0x7FFFFFFF, (frame.flags << 24) | len(frame.data)) + frame.data
        t = frame.type
        if t == SYN_STREAM:
            body = struct.pack(">IIBB", frame.stream_id, frame.value, (frame.priority & 7) << 5, 0) + \
                self._compress(frame.headers)
        elif t in (SYN_REPLY, HEADERS):
            body = struct.pack(">I", frame.stream_id) + self._compress(frame.headers)
        elif t in (RST_STREAM, GOAWAY, WINDOW_UPDATE):
            body = struct.pack(">II", frame.stream_id & 0x7FFFFFFF, frame.value)
        elif t == PING:
            body = struct.pack(">I", frame.value)
        elif t == SETTINGS:
            body = struct.pack(">I", len(frame.settings)) + b"".join(
                struct.pack(">II", (flags << 24) | ident, value) for flags, ident, value in frame.settings)
        else:
            raise ValueError(f"unknown control frame type {t}")
        return struct.pack(">HHI", 0x8000 | VERSION, t, (frame.flags << 24) | len(body)) + body

    # ------------------------------------------------------------------ reading

    def feed(self, data: bytes) -> list[Frame]:
        """Append ``data`` (any cut of the byte stream) and return the frames now complete."""
        self._buf += data
        frames: list[Frame] = []
        while len(self._buf) >= 8:
            first, second = struct.unpack_from(">II", self._buf)
            length = second & 0xFFFFFF
            if len(self._buf) < 8 + length:
                break
            payload = bytes(self._buf[8:8 + length])
            del self._buf[:8 + length]
            flags = second >> 24
            if first & 0x80000000:
                frames.append(self._control(first, flags, payload))
            else:
                frames.append(DataFrame(first & 0x7FFFFFFF, payload, flags))
        return frames

    def _headers(self, block: bytes) -> Headers:
        try:
            raw = self._inflate.decompress(block)
        except zlib.error as exc:
            raise SpdyProtocolError(f"header block does not decompress: {exc}") from None
        return decode_header_block(raw)

    def _control(self, first: int, flags: int, body: bytes) -> ControlFrame:
        version, t = (first >> 16) & 0x7FFF, first & 0xFFFF
        if version != VERSION:
            raise SpdyProtocolError(f"unsupported SPDY version {version}")
        need = {SYN_STREAM: 10, SYN_REPLY: 4, HEADERS: 4, RST_STREAM: 8, GOAWAY: 8, WINDOW_UPDATE: 8, PING: 4,
                SETTINGS: 4}.get(t)
        if need is None:
            raise SpdyProtocolError(f"unknown control frame type {t}")
        if len(body) < need:
            raise SpdyProtocolError(f"control frame type {t} is {len(body)} bytes, shorter than {need}")
        if t == SYN_STREAM:
            sid, assoc, pri, _slot = struct.unpack_from(">IIBB", body)
            return ControlFrame(t, flags, sid & 0x7FFFFFFF, assoc & 0x7FFFFFFF, pri >> 5, self._headers(body[10:]))
        if t in (SYN_REPLY, HEADERS):
            sid = struct.unpack_from(">I", body)[0] & 0x7FFFFFFF
            return ControlFrame(t, flags, sid, headers=self._headers(body[4:]))
        if t in (RST_STREAM, GOAWAY, WINDOW_UPDATE):
            sid, value = struct.unpack_from(">II", body)
            return ControlFrame(t, flags, sid & 0x7FFFFFFF, value & (0x7FFFFFFF if t == WINDOW_UPDATE else 0xFFFFFFFF))
        if t == PING:
            return ControlFrame(t, flags, value=struct.unpack_from(">I", body)[0])
        count = struct.unpack_from(">I", body)[0]
        if len(body) != 4 + 8 * count:
            raise SpdyProtocolError(f"SETTINGS frame of {len(body)} bytes does not hold {count} entries")
        entries = tuple((word >> 24, word & 0xFFFFFF, value)
                        for word, value in struct.iter_unpack(">II", body[4:]))
        return ControlFrame(t, flags, settings=entries)
