"""The uvicorn protocols put the TLS client certificate into HTTP and WebSocket scopes.

A real uvicorn server (port 0, TLS with the options ``suanli up`` uses) serves a tiny ASGI app
that answers with what :func:`peer_certificates` finds in its scope; clients connect with and
without a client certificate signed by the CA.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Request, TextMessage

from suanli.apiserver.authn.peercert import peer_certificates
from suanli.apiserver.authn.uvicorn_tls import tls_server_options
from suanli.apiserver.tls import TlsMaterial, ensure_tls_material, issue_client_certificate, load_ca


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers with the sizes of the DER certificates :func:`peer_certificates` finds in the scope."""
    certs = peer_certificates(scope)
    report = json.dumps({"certs": [len(c) for c in certs]})
    if scope["type"] == "http":
        await receive()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(report))]})
        await send({"type": "http.response.body", "body": report.encode()})
    elif scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": report})
        await send({"type": "websocket.close"})


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[int, TlsMaterial]]:
    material = ensure_tls_material(tmp_path, [])
    config = uvicorn.Config(app, host="127.0.0.1", port=0, loop="none", lifespan="off", log_level="warning",
                            ssl_certfile=str(material.server_cert), ssl_keyfile=str(material.server_key),
                            **tls_server_options(str(material.ca_cert)))
    srv = uvicorn.Server(config)
    task = asyncio.create_task(srv.serve())
    async with asyncio.timeout(20):
        while not srv.started:
            await asyncio.sleep(0.01)
    yield srv.servers[0].sockets[0].getsockname()[1], material
    srv.should_exit = True
    await task


def _client_ctx(tmp_path: Path, material: TlsMaterial, *, with_cert: bool, expired: bool = False) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(material.ca_cert))
    if with_cert:
        now = dt.datetime.now(dt.UTC) - (dt.timedelta(days=2) if expired else dt.timedelta(0))
        cert, key = issue_client_certificate(load_ca(tmp_path), "alice", ["dev"], validity=dt.timedelta(days=1),
                                             now=now)
        (tmp_path / "c.pem").write_bytes(cert)
        (tmp_path / "k.pem").write_bytes(key)
        ctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    return ctx


async def _raw_http(port: int, ctx: ssl.SSLContext) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="localhost")
    writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    data = await reader.read()
    writer.close()
    return data


async def _http(port: int, ctx: ssl.SSLContext) -> dict[str, Any]:
    return dict(json.loads((await _raw_http(port, ctx)).split(b"\r\n\r\n", 1)[1]))


async def _websocket(port: int, ctx: ssl.SSLContext) -> dict[str, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="localhost")
    ws = WSConnection(ConnectionType.CLIENT)
    writer.write(ws.send(Request(host="localhost", target="/ws")))
    text = ""
    while True:
        data = await reader.read(65536)
        if not data:
            break
        ws.receive_data(data)
        done = False
        for event in ws.events():
            if isinstance(event, TextMessage):
                text += event.data
            elif isinstance(event, CloseConnection):
                done = True
            elif not isinstance(event, AcceptConnection):
                raise AssertionError(f"unexpected {event!r}")
        if done:
            break
    writer.close()
    return dict(json.loads(text))


@pytest.mark.parametrize("transport", ["http", "websocket"])
@pytest.mark.parametrize(("with_cert", "expired", "count"), [(True, False, 1), (False, False, 0), (True, True, 1)],
                         ids=["client-certificate", "no-certificate", "expired-certificate-still-reaches-the-app"])
async def test_scope_carries_the_client_certificate(server: tuple[int, TlsMaterial], tmp_path: Path, transport: str,
                                                    with_cert: bool, expired: bool, count: int) -> None:
    port, material = server
    ctx = _client_ctx(tmp_path, material, with_cert=with_cert, expired=expired)
    async with asyncio.timeout(20):
        got = await (_http(port, ctx) if transport == "http" else _websocket(port, ctx))
    assert len(got["certs"]) == count


async def test_certificate_from_another_ca_fails_the_handshake(server: tuple[int, TlsMaterial],
                                                               tmp_path: Path) -> None:
    port, material = server
    ensure_tls_material(tmp_path / "other", [])
    ctx = ssl.create_default_context(cafile=str(material.ca_cert))
    cert, key = issue_client_certificate(load_ca(tmp_path / "other"), "mallory")
    (tmp_path / "m.pem").write_bytes(cert)
    (tmp_path / "mk.pem").write_bytes(key)
    ctx.load_cert_chain(tmp_path / "m.pem", tmp_path / "mk.pem")
    try:
        async with asyncio.timeout(20):
            answer = await _raw_http(port, ctx)
    except (ssl.SSLError, ConnectionError):
        return  # the server's alert reached the client during the handshake or the first read
    assert answer == b""  # TLS 1.3: the handshake "finished" on the client side, then the server hung up
