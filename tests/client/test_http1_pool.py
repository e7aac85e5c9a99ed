"""The lean keep-alive pool behind HttpClient's requests, against a raw asyncio server that answers
with scripted bytes: response framing, connection reuse, a connection the server closed while idle,
and failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from suanli.client._http1 import Http1Pool, TransportFailure

Reply = Callable[[bytes], bytes | None]  # request head+body -> raw response (None: close without answering)


@dataclass
class Raw:
    port: int
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)


async def _serve(reply: Reply, raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    raw.connections += 1
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            req = head + await reader.readexactly(length)
            raw.requests.append(req)
            out = reply(req)
            if out is None:
                break
            writer.write(out)
            await writer.drain()
            if b"Connection: close" in out:
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()


@pytest.fixture
async def server(request: pytest.FixtureRequest) -> AsyncIterator[Raw]:
    reply: Reply = request.param
    raw = Raw(0)
    srv = await asyncio.start_server(lambda r, w: _serve(reply, raw, r, w), "127.0.0.1", 0)
    raw.port = srv.sockets[0].getsockname()[1]
    yield raw
    srv.close()


def length_framed(req: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


def chunked(req: bytes) -> bytes:
    return b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;x=y\r\nlo\r\n0\r\n\r\n"


def closing(req: bytes) -> bytes:
    return b"HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"


def echo_path(req: bytes) -> bytes:
    target = req.split(b" ")[1]
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(target), target)


def never(req: bytes) -> bytes | None:
    return None


@pytest.mark.parametrize(("server", "status", "body", "connections"), [
    (length_framed, 200, b"hello", 1), (chunked, 201, b"hello", 1), (closing, 404, b"{}", 3),
], ids=["content-length-reuses-one-connection", "chunked-reuses-one-connection",
        "connection-close-opens-a-new-one-each-time"], indirect=["server"])
async def test_responses_are_framed_and_connections_reused_when_allowed(server: Raw, status: int, body: bytes,
                                                                        connections: int) -> None:
    pool = Http1Pool("127.0.0.1", server.port, ssl_context=None, max_connections=1)
    for _ in range(3):
        assert await pool.request("GET", "/x") == (status, body)
    assert server.connections == connections
    await pool.close()


@pytest.mark.parametrize("server", [echo_path], indirect=True)
async def test_request_line_carries_base_path_query_headers_and_one_body(server: Raw) -> None:
    pool = Http1Pool("127.0.0.1", server.port, ssl_context=None, base_path="/prefix/",
                     headers={"Authorization": "Bearer t"})
    status, body = await pool.request("POST", "/api/v1/pods", params={"fieldManager": "a b"}, body=b"{}",
                                      headers={"Content-Type": "application/json"})
    assert (status, body) == (200, b"/prefix/api/v1/pods?fieldManager=a+b")
    req = server.requests[0]
    assert f"Host: 127.0.0.1:{server.port}\r\n".encode() in req
    assert b"Authorization: Bearer t\r\n" in req and b"Content-Type: application/json\r\n" in req
    assert req.endswith(b"Content-Length: 2\r\n\r\n{}")
    await pool.close()


@pytest.mark.parametrize("server", [length_framed], indirect=True)
async def test_requests_in_flight_are_bounded_by_the_connections(server: Raw) -> None:
    pool = Http1Pool("127.0.0.1", server.port, ssl_context=None, max_connections=3)
    results = await asyncio.gather(*(pool.request("GET", "/x") for _ in range(20)))
    assert results == [(200, b"hello")] * 20
    assert server.connections <= 3
    await pool.close()


async def test_a_connection_the_server_closed_while_idle_is_replaced_and_the_request_sent_once_more() -> None:
    answered = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal answered
        await reader.readuntil(b"\r\n\r\n")
        answered += 1
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()  # keep-alive timeout: closed right after answering, without saying so

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    pool = Http1Pool("127.0.0.1", srv.sockets[0].getsockname()[1], ssl_context=None, max_connections=1)
    for _ in range(3):
        assert await pool.request("GET", "/x") == (200, b"ok")
    assert answered == 3
    await pool.close()
    srv.close()


@pytest.mark.parametrize("server", [never], indirect=True)
async def test_a_fresh_connection_closed_without_an_answer_is_a_transport_failure(server: Raw) -> None:
    pool = Http1Pool("127.0.0.1", server.port, ssl_context=None)
    with pytest.raises(TransportFailure):
        await pool.request("GET", "/x")
    assert len(server.requests) == 1  # not retried: nothing says the server did not act on it
    await pool.close()


async def test_no_answer_within_the_timeout_is_a_transport_failure() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    srv = await asyncio.start_server(silent, "127.0.0.1", 0)
    pool = Http1Pool("127.0.0.1", srv.sockets[0].getsockname()[1], ssl_context=None, timeout=0.2)
    with pytest.raises(TransportFailure, match="no response within"):
        await pool.request("GET", "/x")
    await pool.close()
    srv.close()


async def test_refused_connection_is_a_transport_failure() -> None:
    srv = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    srv.close()
    await srv.wait_closed()
    with pytest.raises(TransportFailure):
        await Http1Pool("127.0.0.1", port, ssl_context=None).request("GET", "/x")


@pytest.mark.parametrize(("host", "port", "expected"), [
    ("127.0.0.1", 6443, "127.0.0.1:6443"), ("::1", 6443, "[::1]:6443"), ("api.example", 443, "api.example"),
], ids=["ipv4-with-port", "ipv6-literal-bracketed", "default-port-omitted"])
def test_host_header(host: str, port: int, expected: str) -> None:
    assert f"Host: {expected}\r\n" in Http1Pool(host, port, ssl_context=None)._fixed
