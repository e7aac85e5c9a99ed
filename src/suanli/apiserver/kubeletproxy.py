"""``pods/{name}/log`` of a pod whose node runs its own kubelet API: proxied as kube-apiserver does.

When no in-process runtime serves a pod (``suanli up --only api`` with a separate
``suanli agent --host``) and its Node publishes ``status.daemonEndpoints.kubeletEndpoint.Port``
> 0, the API server streams ``GET https://<address>:<port>/containerLogs/{ns}/{pod}/{container}``
with the same ``PodLogOptions`` query to the client (``follow`` included: bytes are passed on
as they arrive). The address is the Node's first ``InternalIP``, else its ``Hostname``
(upstream's ``--kubelet-preferred-address-types`` default puts ``Hostname`` first; a host
agent's Hostname is its node name, which need not resolve, so we try the IP first).

The API server presents a client certificate issued by the cluster CA for
``kube-apiserver-kubelet-client`` in ``system:masters`` (kube-apiserver's
``--kubelet-client-certificate``); like kube-apiserver without
``--kubelet-certificate-authority``, it does not verify the kubelet's serving certificate.
A kubelet's non-2xx answer becomes an error ``Status`` with its code and body as message
(upstream's ``GenericHttpResponseChecker``); an unreachable kubelet is a 500 naming the URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import orjson
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Message,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.apiserver.remotecommand import pick_container
from suanli.apiserver.tls import CaPair, issue_client_certificate

__all__ = ["KUBELET_CLIENT_GROUP", "KUBELET_CLIENT_USER", "KubeletProxy", "kubelet_path", "kubelet_url"]

KUBELET_CLIENT_USER = "kube-apiserver-kubelet-client"
KUBELET_CLIENT_GROUP = "system:masters"
#: how much of a kubelet's error body becomes the Status message (upstream reads at most 2 KiB)
_MAX_ERROR_BODY = 2048
_LOG_QUERY = ("follow", "previous", "timestamps", "tailLines", "sinceSeconds", "sinceTime", "limitBytes")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def kubelet_url(node: Obj | None) -> str | None:
    """``https://<address>:<port>`` of ``node``'s kubelet API, or None when it publishes none.

    >>> kubelet_url({"status": {"daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
    ...     "addresses": [{"type": "Hostname", "address": "h1"}, {"type": "InternalIP", "address": "10.0.0.5"}]}})
    'https://10.0.0.5:10250'
    >>> kubelet_url({"status": {"daemonEndpoints": {"kubeletEndpoint": {"Port": 0}}}}) is None
    True
    """
    status = (node or {}).get("status") or {}
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or 0
    if not isinstance(port, int) or port <= 0:
        return None
    by_type: dict[str, str] = {}
    for a in status.get("addresses") or []:
        by_type.setdefault(str(a.get("type")), str(a.get("address") or ""))
    address = by_type.get("InternalIP") or by_type.get("Hostname")
    if not address:
        return None
    return f"https://[{address}]:{port}" if ":" in address else f"https://{address}:{port}"


def kubelet_path(pod: Obj, sub: str, scope: Scope) -> str:
    """The kubelet API path (with the request's query) of ``sub`` (exec/attach/portforward) on ``pod``:
    ``/exec/{ns}/{pod}/{container}``, ``/attach/…``, ``/portForward/{ns}/{pod}``; the container is the
    one the request names, else the pod's default (400 when ambiguous or unknown)."""
    meta = pod["metadata"]
    ns, name = quote(str(meta["namespace"])), quote(str(meta["name"]))
    raw = scope.get("query_string", b"").decode("latin-1")
    if sub == "portforward":
        path = f"/portForward/{ns}/{name}"
    else:
        requested = (parse_qs(raw).get("container") or [""])[-1]
        path = f"/{sub}/{ns}/{name}/{quote(pick_container(pod, requested))}"
    return f"{path}?{raw}" if raw else path


class KubeletProxy:
    """Streams ``pods/log`` from a node's kubelet API with the API server's kubelet client certificate."""

    def __init__(self, ca: CaPair, cert_dir: Path) -> None:
        """Issue the client certificate with ``ca`` (written under ``cert_dir``, mode 0600)."""
        cert_pem, key_pem = issue_client_certificate(ca, KUBELET_CLIENT_USER, [KUBELET_CLIENT_GROUP],
                                                     validity=dt.timedelta(days=365))
        cert_dir.mkdir(parents=True, exist_ok=True)
        cert_p, key_p = cert_dir / "kubelet-client.crt", cert_dir / "kubelet-client.key"
        for path, data in ((cert_p, cert_pem), (key_p, key_pem)):
            path.touch(mode=0o600)
            path.write_bytes(data)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # nosec B501  # kube-apiserver's default without --kubelet-certificate-authority
        ctx.load_cert_chain(str(cert_p), str(key_p))
        self._ssl = ctx
        self._client = httpx.AsyncClient(verify=ctx, timeout=httpx.Timeout(30.0, read=None))

    async def close(self) -> None:
        await self._client.aclose()

    async def serve_log(self, base: str, namespace: str, pod: str, container: str, query: dict[str, str],
                        receive: Receive, send: Send) -> None:
        """Proxy the log of ``container`` to ``send``; raises :class:`ApiError` before any byte is sent."""
        url = f"{base}/containerLogs/{quote(namespace)}/{quote(pod)}/{quote(container)}"
        params = {k: query[k] for k in _LOG_QUERY if k in query}
        try:
            resp_cm = self._client.stream("GET", url, params=params)
            resp = await resp_cm.__aenter__()
        except httpx.HTTPError as err:
            raise ApiError.internal(f'Get "{url}": {err}') from None
        try:
            if resp.status_code // 100 != 2:
                body = (await resp.aread())[:_MAX_ERROR_BODY].decode("utf-8", "replace").strip()
                raise ApiError(resp.status_code, "", body or f"the kubelet answered {resp.status_code}")
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/plain"), (b"transfer-encoding", b"chunked")]})

            async def relay() -> None:
                with contextlib.suppress(httpx.HTTPError):  # the kubelet went away mid-stream: end the response
                    async for chunk in resp.aiter_raw():
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})

            async def disconnect() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass

            relaying, waiting = asyncio.ensure_future(relay()), asyncio.ensure_future(disconnect())
            try:
                await asyncio.wait({relaying, waiting}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                relaying.cancel()
                waiting.cancel()
            if not waiting.done() or waiting.cancelled():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await resp_cm.__aexit__(None, None, None)

    async def relay_websocket(self, base: str, target: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Relay a client's WebSocket session (not yet accepted) to ``base + target`` on the kubelet.

        The client's subprotocols are offered to the kubelet; its choice accepts the client's
        handshake, its refusal is raised as :class:`ApiError` (its ``Status`` when it sent one).
        Messages then pass both ways unchanged until either side closes.
        """
        url = urlsplit(base)
        host, port = url.hostname or "", url.port or 443
        try:
            reader, writer = await asyncio.open_connection(host, port, ssl=self._ssl)
        except OSError as err:
            raise ApiError.internal(f'dial "{base}{target.split("?")[0]}": {err}') from None
        ws = WSConnection(ConnectionType.CLIENT)
        try:
            writer.write(ws.send(Request(host=url.netloc, target=target,
                                         subprotocols=[p.strip() for p in scope.get("subprotocols") or []])))
            await writer.drain()
            await self._relay(ws, reader, writer, receive, send)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    @staticmethod
    async def _relay(ws: WSConnection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     receive: Receive, send: Send) -> None:
        accepted = closed = False
        rejected: RejectConnection | None = None
        rejection = b""
        partial: list[bytes | str] = []

        async def forward(ev: Event) -> None:
            nonlocal accepted, closed, rejected, rejection
            if isinstance(ev, AcceptConnection):
                accepted = True
                await send({"type": "websocket.accept", "subprotocol": ev.subprotocol})
            elif isinstance(ev, RejectConnection):
                rejected = ev
                if not ev.has_body:
                    raise ApiError(ev.status_code, "", f"the kubelet refused the upgrade ({ev.status_code})")
            elif isinstance(ev, RejectData) and rejected is not None:
                rejection += ev.data
                if ev.body_finished:
                    raise _rejection_error(rejected.status_code, rejection)
            elif isinstance(ev, Message):
                partial.append(ev.data)
                if ev.message_finished:
                    if isinstance(ev, BytesMessage):
                        await send({"type": "websocket.send", "bytes": b"".join(p for p in partial
                                                                                 if isinstance(p, bytes))})
                    else:
                        await send({"type": "websocket.send", "text": "".join(p for p in partial
                                                                               if isinstance(p, str))})
                    partial.clear()
            elif isinstance(ev, Ping):
                writer.write(ws.send(ev.response()))
            elif isinstance(ev, CloseConnection):
                closed = True
                with contextlib.suppress(LocalProtocolError):
                    writer.write(ws.send(ev.response()))
                await send({"type": "websocket.close", "code": ev.code})

        async def downstream() -> None:
            while not closed:
                data = await reader.read(65536)
                if not data:
                    if not accepted:
                        raise ApiError.internal("the kubelet closed the connection during the upgrade")
                    await send({"type": "websocket.close", "code": 1000})
                    return
                ws.receive_data(data)
                for ev in ws.events():
                    await forward(ev)

        async def upstream() -> None:
            while True:
                msg = await receive()
                if msg["type"] == "websocket.disconnect":
                    with contextlib.suppress(LocalProtocolError):
                        writer.write(ws.send(CloseConnection(code=1000)))
                    return
                if msg.get("bytes") is not None:
                    writer.write(ws.send(BytesMessage(data=msg["bytes"])))
                elif msg.get("text") is not None:
                    writer.write(ws.send(TextMessage(data=msg["text"])))
                await writer.drain()

        down = asyncio.ensure_future(downstream())
        while not accepted and not down.done():  # the handshake: nothing is read from the client yet
            await asyncio.wait({down}, timeout=0.05)
        if down.done():
            down.result()  # raises the refusal
            return
        up = asyncio.ensure_future(upstream())
        try:
            await asyncio.wait({down, up}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            up.cancel()
            down.cancel()


def _rejection_error(code: int, body: bytes) -> ApiError:
    """The kubelet's refusal as an error: its ``Status`` when it sent one, else its body as message."""
    with contextlib.suppress(ValueError):
        status = orjson.loads(body)
        if isinstance(status, dict) and status.get("kind") == "Status":
            return ApiError(code, str(status.get("reason") or ""), str(status.get("message") or ""))
    return ApiError(code, "", body[:_MAX_ERROR_BODY].decode("utf-8", "replace").strip())
