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
from urllib.parse import quote

import httpx

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.apiserver.tls import CaPair, issue_client_certificate

__all__ = ["KUBELET_CLIENT_GROUP", "KUBELET_CLIENT_USER", "KubeletProxy", "kubelet_url"]

KUBELET_CLIENT_USER = "kube-apiserver-kubelet-client"
KUBELET_CLIENT_GROUP = "system:masters"
#: how much of a kubelet's error body becomes the Status message (upstream reads at most 2 KiB)
_MAX_ERROR_BODY = 2048
_LOG_QUERY = ("follow", "previous", "timestamps", "tailLines", "sinceSeconds", "sinceTime", "limitBytes")

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
