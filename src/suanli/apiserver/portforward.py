"""``pods/{name}/portforward`` as kubectl speaks it: SPDY/3.1 tunnelled inside a WebSocket.

kubectl (client-go ``tools/portforward``, tunnelling dialer) opens a WebSocket offering the
subprotocol ``SPDY/3.1+portforward.k8s.io``; every binary message carries the next bytes of a
SPDY/3 session in which kubectl is the client (:mod:`suanli.apiserver.spdy` frames it). For each
local connection kubectl opens two streams whose headers name ``streamtype`` (``error`` or
``data``), ``port`` and ``requestid``; the server answers each ``SYN_STREAM`` with a
``SYN_REPLY``, pairs them by request id (as a kubelet's ``httpStreamHandler``) and, once both are
there, connects the data stream to the port through the runtime
(:meth:`~suanli.apiserver.streaming.PodStreamer.open_port`). Bytes flow both ways; a ``FIN`` from
kubectl half-closes the connection, the target's end is a ``FIN`` on the data stream, and the
error stream closes after it. A failure is written to the error stream in the kubelet's words
(``error forwarding port <p> to pod <pod>, uid <uid>: <cause>``), which kubectl prints.

Flow control: spdystream neither sends nor honours ``WINDOW_UPDATE``, so neither do we; writes
to a target wait for its socket to drain (a slow target holds up reading the session).
A plain SPDY upgrade (``Upgrade: SPDY/3.1``, kubectl's fallback) needs the raw socket, which
ASGI servers do not hand over; it is answered 400 by the HTTP path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.apiserver.remotecommand import Receive, Scope, Send
from suanli.apiserver.spdy import (
    FLAG_FIN,
    GOAWAY,
    PING,
    RST_CANCEL,
    RST_STREAM,
    SYN_REPLY,
    SYN_STREAM,
    ControlFrame,
    DataFrame,
    Frame,
    SpdyCodec,
    SpdyProtocolError,
)
from suanli.apiserver.streaming import PodStreamer

__all__ = ["PORTFORWARD_PROTOCOL", "PORTFORWARD_SUBPROTOCOL", "serve_portforward", "stream_header_error"]

log = logging.getLogger(__name__)

PORTFORWARD_PROTOCOL = "portforward.k8s.io"
#: The WebSocket subprotocol of a SPDY session tunnelled in WebSocket messages.
PORTFORWARD_SUBPROTOCOL = f"SPDY/3.1+{PORTFORWARD_PROTOCOL}"
#: How long a request's first stream waits for its partner (a kubelet's default stream creation timeout).
STREAM_CREATION_TIMEOUT = 30.0
_CHUNK = 32 * 1024


def stream_header_error(headers: dict[str, list[str]]) -> str | None:
    """Why a new stream's headers are unacceptable (a kubelet's wording), or None."""
    port = (headers.get("port") or [""])[0]
    if not port:
        return '"port" header is required'
    if not port.isdigit() or int(port) > 65535:
        return f'unable to parse "{port}" as a port: strconv.ParseUint: parsing "{port}": invalid syntax'
    if int(port) == 0:
        return f'port "{port}" must be > 0'
    kind = (headers.get("streamtype") or [""])[0]
    if not kind:
        return '"streamType" header is required'
    if kind not in ("error", "data"):
        return f'invalid stream type "{kind}"'
    return None


@dataclass
class _Pair:
    """One forwarded connection: its error and data streams and the bytes kubectl sent on the latter."""

    request_id: str
    port: int = 0
    error_id: int = 0
    data_id: int = 0
    inbound: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    reset: asyncio.Event = field(default_factory=asyncio.Event)
    started: bool = False


class _Session:
    def __init__(self, send: Send, pod: Obj, streamer: PodStreamer) -> None:
        self._send = send
        self.pod = pod
        self.streamer = streamer
        self.codec = SpdyCodec()
        self._lock = asyncio.Lock()
        self.pairs: dict[str, _Pair] = {}
        self.by_stream: dict[int, _Pair] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    async def write(self, *frames: Frame) -> None:
        """Encode and send ``frames`` as one message (encoding order is wire order: shared zlib context)."""
        async with self._lock:
            data = b"".join(self.codec.encode(f) for f in frames)
            await self._send({"type": "websocket.send", "bytes": data})

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def handle(self, frame: Frame) -> bool:
        """Act on one frame from kubectl; False when the session is over (GOAWAY)."""
        if isinstance(frame, DataFrame):
            pair = self.by_stream.get(frame.stream_id)
            if pair is not None and frame.stream_id == pair.data_id:
                if frame.data:
                    pair.inbound.put_nowait(frame.data)
                if frame.fin:
                    pair.inbound.put_nowait(None)
            return True
        if frame.type == SYN_STREAM:
            await self._new_stream(frame)
        elif frame.type == RST_STREAM:
            pair = self.by_stream.get(frame.stream_id)
            if pair is not None and frame.stream_id == pair.data_id:
                pair.reset.set()
                pair.inbound.put_nowait(None)
        elif frame.type == PING and frame.value & 1:  # kubectl's pings have odd ids: echo them
            await self.write(frame)
        elif frame.type == GOAWAY:
            return False
        return True  # SETTINGS, WINDOW_UPDATE, HEADERS: nothing to do

    async def _new_stream(self, frame: ControlFrame) -> None:
        sid, headers = frame.stream_id, frame.headers
        if (problem := stream_header_error(headers)) is not None:
            log.warning("port-forward stream %d rejected: %s", sid, problem)
            await self.write(ControlFrame(RST_STREAM, stream_id=sid, value=RST_CANCEL))
            return
        await self.write(ControlFrame(SYN_REPLY, stream_id=sid))
        kind = headers["streamtype"][0]
        request_id = (headers.get("requestid") or [""])[0]
        if not request_id:  # old clients: error stream n, data stream n+2 (as a kubelet guesses)
            request_id = str(sid if kind == "error" else sid - 2)
        pair = self.pairs.get(request_id)
        if pair is None:
            pair = self.pairs[request_id] = _Pair(request_id)
            asyncio.get_running_loop().call_later(STREAM_CREATION_TIMEOUT, self._expire, pair)
        taken = pair.error_id if kind == "error" else pair.data_id
        if taken:
            await self._print_error(pair, f"error processing stream for request {request_id}: "
                                          f"{kind} stream already assigned")
            return
        if kind == "error":
            pair.error_id = sid
        else:
            pair.data_id, pair.port = sid, int(headers["port"][0])
        self.by_stream[sid] = pair
        if pair.error_id and pair.data_id and not pair.started:
            pair.started = True
            self._spawn(self._forward(pair))

    def _expire(self, pair: _Pair) -> None:
        if not pair.started and self.pairs.get(pair.request_id) is pair:
            del self.pairs[pair.request_id]
            self._spawn(self._print_error(pair, f"(conn=websocket, request={pair.request_id}) timed out waiting "
                                                "for streams"))

    async def _print_error(self, pair: _Pair, message: str) -> None:
        if pair.error_id:
            with contextlib.suppress(Exception):
                await self.write(DataFrame(pair.error_id, message.encode()))

    async def _forward(self, pair: _Pair) -> None:
        """Connect ``pair``'s data stream to its port; report a failure on its error stream; close both."""
        meta = self.pod["metadata"]
        try:
            try:
                reader, writer = await self.streamer.open_port(self.pod, pair.port)
            except (OSError, ApiError) as exc:
                cause = exc.message if isinstance(exc, ApiError) else str(exc)
                await self._print_error(pair, f"error forwarding port {pair.port} to pod "
                                              f"{meta['name']}_{meta.get('namespace', '')}, uid {meta.get('uid', '')}: "
                                              f"{cause}")
                return
            upstream = asyncio.ensure_future(self._to_target(pair, writer))
            try:
                while chunk := await reader.read(_CHUNK):
                    if pair.reset.is_set():
                        break
                    await self.write(DataFrame(pair.data_id, chunk))
            except (ConnectionError, OSError):
                pass
            finally:
                upstream.cancel()
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
        finally:
            self.pairs.pop(pair.request_id, None)
            frames: list[Frame] = []
            if not pair.reset.is_set():
                frames.append(DataFrame(pair.data_id, b"", FLAG_FIN))
            frames.append(DataFrame(pair.error_id, b"", FLAG_FIN))
            with contextlib.suppress(Exception):
                await self.write(*frames)
            self.by_stream.pop(pair.data_id, None)
            self.by_stream.pop(pair.error_id, None)

    async def _to_target(self, pair: _Pair, writer: asyncio.StreamWriter) -> None:
        """Copy kubectl's bytes to the target; its FIN half-closes the connection, a reset closes it."""
        with contextlib.suppress(ConnectionError, OSError):
            while (chunk := await pair.inbound.get()) is not None:
                writer.write(chunk)
                await writer.drain()
            if pair.reset.is_set():
                writer.close()
            elif writer.can_write_eof():
                writer.write_eof()

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(BaseException):
                await task


async def serve_portforward(scope: Scope, receive: Receive, send: Send, *, pod: Obj, streamer: PodStreamer) -> None:
    """Serve one port-forward WebSocket for ``pod`` (the handshake is not yet accepted).

    Raises :class:`ApiError` before accepting when the subprotocol is missing or no container runs.
    """
    offered = [p.strip() for p in scope.get("subprotocols") or []]
    if PORTFORWARD_SUBPROTOCOL not in offered:
        raise ApiError.bad_request(f"unable to upgrade connection: no subprotocol in {offered} is supported; "
                                   f"supported: [{PORTFORWARD_SUBPROTOCOL}]")
    await streamer.check(pod, "", "portforward")
    await send({"type": "websocket.accept", "subprotocol": PORTFORWARD_SUBPROTOCOL})
    session = _Session(send, pod, streamer)
    try:
        while True:
            msg = await receive()
            if msg["type"] == "websocket.disconnect":
                return
            data: bytes = msg.get("bytes") or (msg.get("text") or "").encode()
            try:
                frames = session.codec.feed(data)
            except SpdyProtocolError as exc:
                log.warning("port-forward session for %s ended: %s", pod["metadata"]["name"], exc)
                with contextlib.suppress(Exception):
                    await session.write(ControlFrame(GOAWAY, value=1))
                    await send({"type": "websocket.close", "code": 1002})
                return
            for frame in frames:
                if not await session.handle(frame):
                    with contextlib.suppress(Exception):
                        await send({"type": "websocket.close", "code": 1000})
                    return
    finally:
        await session.close()
