"""The port-forward session as kubectl drives it: stream pairs, replies, data both ways, errors in the kubelet's words.

A fake ASGI WebSocket carries a SPDY client (our codec) on one side; the runtime side is a real TCP
server on 127.0.0.1 reached through a stub :class:`PodStreamer`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from suanli.apimachinery.errors import ApiError
from suanli.apiserver.portforward import PORTFORWARD_SUBPROTOCOL, serve_portforward, stream_header_error
from suanli.apiserver.spdy import (
    FLAG_FIN,
    PING,
    RST_CANCEL,
    RST_STREAM,
    SYN_REPLY,
    SYN_STREAM,
    ControlFrame,
    DataFrame,
    Frame,
    SpdyCodec,
)
from suanli.apiserver.streaming import StreamIO

POD = {"metadata": {"name": "web", "namespace": "ns", "uid": "u-1"}, "spec": {"nodeName": "host"}}
WAIT = 20.0  # bounded waits for a loaded machine


@dataclass
class Target:
    """Stub runtime: ``open_port`` reaches ``port_map[port]`` on 127.0.0.1, or is refused."""

    port_map: dict[int, int] = field(default_factory=dict)
    opened: list[int] = field(default_factory=list)

    def serves(self, pod: dict[str, Any]) -> bool:
        return True

    async def check(self, pod: dict[str, Any], container: str, sub: str) -> None:
        return None

    async def exec(self, pod: dict[str, Any], container: str, command: list[str], io: StreamIO) -> int:
        raise NotImplementedError

    async def attach(self, pod: dict[str, Any], container: str, io: StreamIO) -> None:
        raise NotImplementedError

    async def open_port(self, pod: dict[str, Any], port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self.opened.append(port)
        if port not in self.port_map:
            raise ConnectionRefusedError(f"failed to connect to localhost:{port}: connection refused")
        return await asyncio.open_connection("127.0.0.1", self.port_map[port])


class Kubectl:
    """The client end: frames in, frames out, over a fake ASGI WebSocket."""

    def __init__(self) -> None:
        self.codec = SpdyCodec()
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.frames: list[Frame] = []

    async def receive(self) -> dict[str, Any]:
        return await self.inbox.get()

    async def send(self, msg: dict[str, Any]) -> None:
        await self.sent.put(msg)

    def write(self, *frames: Frame) -> None:
        self.inbox.put_nowait({"type": "websocket.receive", "bytes": b"".join(self.codec.encode(f) for f in frames)})

    async def next_message(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.sent.get(), WAIT)

    async def until(self, pred: Any) -> list[Frame]:
        """Read frames until ``pred(frames)`` holds; returns all frames read so far."""
        while not pred(self.frames):
            msg = await self.next_message()
            if msg["type"] == "websocket.send":
                self.frames += self.codec.feed(msg["bytes"])
        return self.frames

    def open_pair(self, request: int, port: int, first_id: int) -> None:
        for sid, kind in ((first_id, "error"), (first_id + 2, "data")):
            self.write(ControlFrame(SYN_STREAM, stream_id=sid,
                                    headers={"streamtype": [kind], "port": [str(port)], "requestid": [str(request)]}))


def data_of(frames: list[Frame], sid: int) -> bytes:
    return b"".join(f.data for f in frames if isinstance(f, DataFrame) and f.stream_id == sid)


def finished(frames: list[Frame], sid: int) -> bool:
    return any(isinstance(f, DataFrame) and f.stream_id == sid and f.fin for f in frames)


@contextlib.asynccontextmanager
async def session(target: Target) -> AsyncIterator[Kubectl]:
    k = Kubectl()
    k.inbox.put_nowait({"type": "websocket.connect"})
    await k.inbox.get()
    scope = {"type": "websocket", "subprotocols": [PORTFORWARD_SUBPROTOCOL], "path": "/", "query_string": b""}
    task = asyncio.ensure_future(serve_portforward(scope, k.receive, k.send, pod=POD, streamer=target))
    accepted = await k.next_message()
    assert accepted == {"type": "websocket.accept", "subprotocol": PORTFORWARD_SUBPROTOCOL}
    try:
        yield k
    finally:
        k.inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(task, WAIT)


@contextlib.asynccontextmanager
async def upper_server() -> AsyncIterator[int]:
    """A TCP server that answers each connection with its input upper-cased once the client half-closes."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read()
        writer.write(data.upper())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def test_a_pair_forwards_bytes_both_ways_and_closes_after_the_target() -> None:
    async with upper_server() as port, session(Target({80: port})) as k:
        k.open_pair(0, 80, 1)
        k.write(DataFrame(1, b"", FLAG_FIN), DataFrame(3, b"hello "), DataFrame(3, b"world", FLAG_FIN))
        frames = await k.until(lambda fs: finished(fs, 1) and finished(fs, 3))
        replies = [f.stream_id for f in frames if isinstance(f, ControlFrame) and f.type == SYN_REPLY]
        assert replies == [1, 3]
        assert data_of(frames, 3) == b"HELLO WORLD"
        assert data_of(frames, 1) == b""  # no error
        fins = [f.stream_id for f in frames if isinstance(f, DataFrame) and f.fin]
        assert fins == [3, 1]  # the data stream ends first, then the error stream


async def test_concurrent_requests_are_paired_by_request_id() -> None:
    async with upper_server() as port, session(Target({80: port})) as k:
        # interleaved: request 0 gets streams 1 and 7, request 1 gets 3 and 5
        k.write(ControlFrame(SYN_STREAM, stream_id=1, headers={"streamtype": ["error"], "port": ["80"],
                                                               "requestid": ["0"]}),
                ControlFrame(SYN_STREAM, stream_id=3, headers={"streamtype": ["error"], "port": ["80"],
                                                               "requestid": ["1"]}),
                ControlFrame(SYN_STREAM, stream_id=5, headers={"streamtype": ["data"], "port": ["80"],
                                                               "requestid": ["1"]}),
                ControlFrame(SYN_STREAM, stream_id=7, headers={"streamtype": ["data"], "port": ["80"],
                                                               "requestid": ["0"]}))
        k.write(DataFrame(5, b"second", FLAG_FIN), DataFrame(7, b"first", FLAG_FIN))
        frames = await k.until(lambda fs: all(finished(fs, s) for s in (1, 3, 5, 7)))
        assert (data_of(frames, 7), data_of(frames, 5)) == (b"FIRST", b"SECOND")


async def test_a_refused_port_is_reported_on_the_error_stream_in_the_kubelets_words() -> None:
    target = Target()
    async with session(target) as k:
        k.open_pair(0, 9, 1)
        frames = await k.until(lambda fs: finished(fs, 1) and finished(fs, 3))
        assert data_of(frames, 1).decode() == ("error forwarding port 9 to pod web_ns, uid u-1: "
                                               "failed to connect to localhost:9: connection refused")
        assert target.opened == [9]


async def test_a_reset_data_stream_closes_the_target_and_the_error_stream() -> None:
    closed = asyncio.Event()

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # returns when the forwarder closes its end
        closed.set()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        async with session(Target({80: server.sockets[0].getsockname()[1]})) as k:
            k.open_pair(0, 80, 1)
            await k.until(lambda fs: sum(isinstance(f, ControlFrame) and f.type == SYN_REPLY for f in fs) == 2)
            k.write(DataFrame(3, b"partial"), ControlFrame(RST_STREAM, stream_id=3, value=RST_CANCEL))
            frames = await k.until(lambda fs: finished(fs, 1))
            await asyncio.wait_for(closed.wait(), WAIT)
            assert not finished(frames, 3)  # no FIN after kubectl reset the stream
    finally:
        server.close()


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ({"streamtype": ["data"]}, '"port" header is required'),
        ({"streamtype": ["data"], "port": ["http"]}, 'unable to parse "http" as a port'),
        ({"streamtype": ["data"], "port": ["0"]}, 'port "0" must be > 0'),
        ({"port": ["80"]}, '"streamType" header is required'),
        ({"port": ["80"], "streamtype": ["stdin"]}, 'invalid stream type "stdin"'),
    ],
    ids=["no-port", "port-not-a-number", "port-zero", "no-stream-type", "unknown-stream-type"],
)
async def test_bad_stream_headers_are_rejected_with_a_reset(headers: dict[str, list[str]], problem: str) -> None:
    assert problem in (stream_header_error(headers) or "")
    async with session(Target()) as k:
        k.write(ControlFrame(SYN_STREAM, stream_id=1, headers=headers))
        frames = await k.until(lambda fs: len(fs) >= 1)
        assert frames[0] == ControlFrame(RST_STREAM, stream_id=1, value=RST_CANCEL)


async def test_a_second_data_stream_for_one_request_is_an_error_on_its_error_stream() -> None:
    async with session(Target()) as k:
        k.write(ControlFrame(SYN_STREAM, stream_id=1, headers={"streamtype": ["error"], "port": ["9"],
                                                               "requestid": ["4"]}),
                ControlFrame(SYN_STREAM, stream_id=3, headers={"streamtype": ["error"], "port": ["9"],
                                                               "requestid": ["4"]}))
        frames = await k.until(lambda fs: data_of(fs, 1) != b"")
        assert data_of(frames, 1) == b"error processing stream for request 4: error stream already assigned"


async def test_kubectls_pings_are_echoed() -> None:
    async with session(Target()) as k:
        k.write(ControlFrame(PING, value=2), ControlFrame(PING, value=1))  # an even id is ours: not echoed
        frames = await k.until(lambda fs: len(fs) >= 1)
        assert frames == [ControlFrame(PING, value=1)]


async def test_garbage_ends_the_session_with_goaway_and_a_protocol_error_close() -> None:
    k = Kubectl()
    scope = {"type": "websocket", "subprotocols": [PORTFORWARD_SUBPROTOCOL]}
    task = asyncio.ensure_future(serve_portforward(scope, k.receive, k.send, pod=POD, streamer=Target()))
    await k.next_message()
    k.inbox.put_nowait({"type": "websocket.receive", "bytes": bytes.fromhex("8002000600000004 00000001")})
    await asyncio.wait_for(task, WAIT)
    goaway, close = await k.next_message(), await k.next_message()
    assert SpdyCodec().feed(goaway["bytes"])[0].type == 7
    assert close == {"type": "websocket.close", "code": 1002}


async def test_a_websocket_without_the_tunnelling_subprotocol_is_refused_before_accepting() -> None:
    k = Kubectl()
    scope = {"type": "websocket", "subprotocols": ["v5.channel.k8s.io"]}
    with pytest.raises(ApiError) as info:
        await serve_portforward(scope, k.receive, k.send, pod=POD, streamer=Target())
    assert info.value.code == 400 and PORTFORWARD_SUBPROTOCOL in info.value.message
    assert k.sent.empty()
