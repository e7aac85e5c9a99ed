"""The :class:`~suanli.client.protocol.Client` over HTTP(S) for any Kubernetes API server.

Ordinary requests go through a lean keep-alive pool (:mod:`suanli.client._http1`: up to
``max_inflight`` persistent connections, one request in flight on each); watches stream through
an ``httpx.AsyncClient`` (one pooled connection each). JSON is encoded and decoded with orjson.
TLS verifies the server against the kubeconfig's CA (or the system store when none is given);
a bearer token and/or client certificate authenticate us.

Failures raise :class:`~suanli.apimachinery.errors.ApiError`:

* a non-2xx response → the ``Status`` in its body (:func:`api_error_from_status`),
  or a synthetic one named after the HTTP code when the body is not a Status;
* an ``ERROR`` event inside a watch stream → its Status (410 ``Expired`` means
  "re-list");
* a transport failure (refused, reset, TLS) → ``503 ServiceUnavailable``; the
  original httpx exception is chained as ``__cause__``.

Each open :meth:`HttpClient.watch` holds one httpx connection for its lifetime, so size
``max_connections`` above the number of concurrent watches.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import ssl
import tempfile
import time
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from suanli.apimachinery.errors import ApiError, Cause
from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj, name_of, namespace_of
from suanli.client._http1 import Http1Pool, TransportFailure
from suanli.client.kubeconfig import KubeConfig, load_kubeconfig
from suanli.client.protocol import PatchType, WatchEventDict

__all__ = ["PATCH_CONTENT_TYPES", "HttpClient", "TokenFileAuth", "api_error_from_status"]

PATCH_CONTENT_TYPES: dict[str, str] = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}

_REASONS = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
    406: "NotAcceptable", 409: "Conflict", 410: "Expired", 413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType", 422: "Invalid", 429: "TooManyRequests", 500: "InternalError",
    503: "ServiceUnavailable", 504: "Timeout",
}


def api_error_from_status(status: dict[str, Any], http_code: int) -> ApiError:
    """Rebuild an :class:`ApiError` from a Kubernetes ``Status`` (inverse of ``ApiError.status()``).

    ``status["code"]`` wins over ``http_code``; a missing reason is named after the code.
    Cause messages rendered as ``"<field>: <message>"`` are stripped back to ``<message>``.
    """
    code = int(status.get("code") or http_code or 500)
    raw_details = status.get("details")
    details: dict[str, Any] = raw_details if isinstance(raw_details, dict) else {}
    causes: list[Cause] = []
    for c in details.get("causes") or []:
        if not isinstance(c, dict):
            continue
        fld = str(c.get("field") or "")
        msg = str(c.get("message") or "")
        if fld and msg.startswith(f"{fld}: "):
            msg = msg[len(fld) + 2:]
        causes.append(Cause(fld, msg, str(c.get("reason") or "")))
    retry = details.get("retryAfterSeconds")
    return ApiError(
        code=code,
        reason=str(status.get("reason") or _REASONS.get(code, "Unknown")),
        message=str(status.get("message") or ""),
        kind=str(details.get("kind") or ""),
        name=str(details.get("name") or ""),
        group=str(details.get("group") or ""),
        causes=causes,
        retry_after_seconds=int(retry) if retry is not None else None,
    )


def _error_from_body(http_code: int, body: bytes) -> ApiError:
    try:
        doc = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, dict) and doc.get("kind") == "Status":
        return api_error_from_status(doc, http_code)
    text = body.decode("utf-8", "replace").strip()[:500]
    return ApiError(http_code, _REASONS.get(http_code, "Unknown"), text or f"HTTP {http_code}")


def _transport_error(exc: httpx.TransportError | TransportFailure) -> ApiError:
    return ApiError(503, "ServiceUnavailable", f"cannot reach the API server: {type(exc).__name__}: {exc}")


def _ssl_context(cfg: KubeConfig) -> ssl.SSLContext:
    if cfg.insecure_skip_tls_verify:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ca = cfg.ca_pem()
        ctx = ssl.create_default_context(cadata=ca.decode("ascii")) if ca else ssl.create_default_context()
    cert, key = cfg.client_cert_data, cfg.client_key_data
    if cert or key:
        with tempfile.TemporaryDirectory(prefix="suanli-tls-") as tmp:
            cert_p, key_p = Path(tmp) / "client.crt", Path(tmp) / "client.key"
            cert_p.write_bytes(cert or Path(cfg.client_cert_file or "").read_bytes())
            key_p.write_bytes(key or Path(cfg.client_key_file or "").read_bytes())
            ctx.load_cert_chain(cert_p, key_p)
    elif cfg.client_cert_file and cfg.client_key_file:
        ctx.load_cert_chain(cfg.client_cert_file, cfg.client_key_file)
    return ctx


def _params(**kv: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in kv.items():
        if v is None or v == "":
            continue
        out[k] = ("true" if v else "false") if isinstance(v, bool) else str(v)
    return out


class TokenFileAuth(httpx.Auth):
    """Bearer token read from ``path``, re-read at most every ``refresh`` seconds (client-go
    re-reads ``tokenFile`` / the in-cluster token each minute: the kubelet rotates projected
    ServiceAccount tokens in place). A file that cannot be read keeps the last token."""

    def __init__(self, path: str, *, refresh: float = 60.0) -> None:
        self.path = Path(path)
        self.refresh = refresh
        self._token = ""  # nosec B105  # empty token placeholder
        self._read_at = float("-inf")

    def token(self) -> str:
        now = time.monotonic()
        if now - self._read_at >= self.refresh:
            with contextlib.suppress(OSError):
                self._token = self.path.read_text().strip()
            self._read_at = now
        return self._token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.token()
        if token:
            request.headers["Authorization"] = f"Bearer {token}"
        yield request


class HttpClient:
    """:class:`~suanli.client.protocol.Client` for a Kubernetes API server reached over HTTP(S).

    ``request_timeout`` bounds ordinary requests; watches have no read timeout (the
    server ends them after ``timeoutSeconds``).
    """

    def __init__(self, config: KubeConfig, *, max_connections: int = 100, request_timeout: float = 30.0,
                 user_agent: str = "suanli/0.1", max_inflight: int = 16) -> None:
        self.config = config
        headers = {"Accept": "application/json", "User-Agent": user_agent}
        auth: httpx.Auth | None = None
        self._token_file: TokenFileAuth | None = None
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        elif config.token_file:
            auth = self._token_file = TokenFileAuth(config.token_file)  # projected ServiceAccount tokens rotate
        tls = _ssl_context(config) if config.server.startswith("https") else None
        # Ordinary requests: up to max_inflight at once on as many keep-alive connections (a burst
        # of hundreds, a scheduler cycle's binds, would otherwise open as many TLS connections).
        url = urlsplit(config.server)
        self._pool = Http1Pool(url.hostname or "localhost", url.port or (443 if url.scheme == "https" else 80),
                               ssl_context=tls, base_path=url.path, headers=headers, max_connections=max_inflight,
                               timeout=request_timeout)
        self._http = httpx.AsyncClient(
            base_url=config.server,
            headers=headers,
            auth=auth,
            verify=tls if tls is not None else True,
            http1=True,
            http2=False,
            timeout=httpx.Timeout(request_timeout),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections,
                                keepalive_expiry=60.0),
        )
        self._watch_timeout = httpx.Timeout(request_timeout, read=None)
        self._discovery: list[dict[str, Any]] | None = None
        self._kinds: dict[tuple[str, str, str], GVR] = {}

    @classmethod
    def from_kubeconfig(cls, path: str | None = None, context: str | None = None,
                        **kwargs: Any) -> HttpClient:
        """Build a client from a kubeconfig (see :func:`~suanli.client.kubeconfig.load_kubeconfig`)."""
        return cls(load_kubeconfig(path, context), **kwargs)

    @property
    def default_namespace(self) -> str:
        """The kubeconfig context's namespace (``default`` when unset)."""
        return self.config.namespace

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._pool.close()
        await self._http.aclose()

    # -- escape hatches ------------------------------------------------------------------------

    async def request(self, method: str, path: str, *, params: dict[str, str] | None = None,
                      body: Any = None, content_type: str = "application/json") -> Any:
        """Send one request and return the decoded JSON response (``{}`` when empty).

        ``body`` may be bytes/str (sent as-is) or any JSON value (encoded with orjson).
        """
        raw = await self._send(method, path, params=params, body=body, content_type=content_type)
        return orjson.loads(raw) if raw else {}

    async def get_raw(self, path: str, *, params: dict[str, str] | None = None) -> bytes:
        """``GET path`` and return the response body bytes (for discovery, OpenAPI, logs)."""
        return await self._send("GET", path, params=params)

    async def _send(self, method: str, path: str, *, params: dict[str, str] | None = None, body: Any = None,
                    content_type: str = "application/json") -> bytes:
        headers: dict[str, str] = {}
        content: bytes | None = None
        if body is not None:
            if isinstance(body, bytes):
                content = body
            elif isinstance(body, str):
                content = body.encode()
            else:
                content = orjson.dumps(body)
            headers["Content-Type"] = content_type
        if self._token_file is not None:
            token = self._token_file.token()
            if token:
                headers["Authorization"] = f"Bearer {token}"
        try:
            status, raw = await self._pool.request(method, path, params=params, body=content, headers=headers)
        except TransportFailure as exc:
            raise _transport_error(exc) from exc
        if not 200 <= status < 300:
            raise _error_from_body(status, raw)
        return raw

    # -- Client protocol -----------------------------------------------------------------------

    async def get(self, gvr: GVR, name: str, namespace: str = "") -> Obj:
        obj: Obj = await self.request("GET", gvr.path(namespace, name))
        return obj

    async def list(
        self,
        gvr: GVR,
        namespace: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> Obj:
        params = _params(labelSelector=label_selector, fieldSelector=field_selector, limit=limit,
                         **{"continue": continue_token})
        out: Obj = await self.request("GET", gvr.path(namespace), params=params)
        return out

    async def watch(
        self,
        gvr: GVR,
        namespace: str = "",
        *,
        resource_version: str = "",
        label_selector: str = "",
        field_selector: str = "",
        timeout_seconds: int | None = None,
        allow_bookmarks: bool = True,
    ) -> AsyncIterator[WatchEventDict]:
        """Yield ``{"type", "object"}`` events; ERROR events raise the ApiError they carry."""
        params = _params(watch=True, allowWatchBookmarks=allow_bookmarks or None,
                         resourceVersion=resource_version, labelSelector=label_selector,
                         fieldSelector=field_selector, timeoutSeconds=timeout_seconds)
        try:
            async with self._http.stream("GET", gvr.path(namespace), params=params,
                                         timeout=self._watch_timeout) as resp:
                if not 200 <= resp.status_code < 300:
                    raise _error_from_body(resp.status_code, await resp.aread())
                pending = b""
                async for chunk in resp.aiter_bytes():
                    pending += chunk
                    if b"\n" not in chunk:
                        continue
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        if line.strip():
                            yield _decode_event(line)
                if pending.strip():
                    yield _decode_event(pending)
        except httpx.TransportError as exc:
            raise _transport_error(exc) from exc

    async def create(self, gvr: GVR, obj: Obj, namespace: str = "") -> Obj:
        out: Obj = await self.request("POST", gvr.path(namespace or namespace_of(obj)), body=obj)
        return out

    async def create_owned(self, gvr: GVR, obj: Obj, namespace: str = "") -> Obj:
        return await self.create(gvr, obj, namespace)  # serialised either way: nothing to save

    async def update(self, gvr: GVR, obj: Obj, namespace: str = "", *, subresource: str = "") -> Obj:
        path = gvr.path(namespace or namespace_of(obj), name_of(obj), subresource)
        out: Obj = await self.request("PUT", path, body=obj)
        return out

    async def patch(
        self,
        gvr: GVR,
        name: str,
        patch: Any,
        namespace: str = "",
        *,
        patch_type: PatchType = "merge",
        subresource: str = "",
        field_manager: str | None = None,
        force: bool = False,
    ) -> Obj:
        """PATCH with the content type of ``patch_type``; ``apply`` requires ``field_manager``."""
        if patch_type not in PATCH_CONTENT_TYPES:
            raise ValueError(f"unknown patch type {patch_type!r}")
        if patch_type == "apply" and not field_manager:
            raise ValueError("server-side apply requires field_manager")
        apply_force = True if (force and patch_type == "apply") else None
        params = _params(fieldManager=field_manager, force=apply_force)
        out: Obj = await self.request("PATCH", gvr.path(namespace, name, subresource), params=params,
                                      body=patch, content_type=PATCH_CONTENT_TYPES[patch_type])
        return out

    async def delete(
        self,
        gvr: GVR,
        name: str,
        namespace: str = "",
        *,
        propagation_policy: str | None = None,
        grace_period_seconds: int | None = None,
        preconditions: dict[str, str] | None = None,
    ) -> Obj:
        """DELETE with a ``DeleteOptions`` body; returns the object or a success ``Status``."""
        opts: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy:
            opts["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            opts["gracePeriodSeconds"] = grace_period_seconds
        if preconditions:
            opts["preconditions"] = dict(preconditions)
        out: Obj = await self.request("DELETE", gvr.path(namespace, name), body=opts)
        return out

    async def bind(self, name: str, namespace: str, node_name: str) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": namespace},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node_name},
        }
        await self._send("POST", f"/api/v1/namespaces/{namespace}/pods/{name}/binding", body=body)

    async def evict(self, name: str, namespace: str, *, grace_period_seconds: int | None = None) -> None:
        body: dict[str, Any] = {"apiVersion": "policy/v1", "kind": "Eviction",
                                "metadata": {"name": name, "namespace": namespace}}
        if grace_period_seconds is not None:
            body["deleteOptions"] = {"gracePeriodSeconds": grace_period_seconds}
        await self._send("POST", f"/api/v1/namespaces/{namespace}/pods/{name}/eviction", body=body)

    # -- discovery -----------------------------------------------------------------------------

    async def discover(self, *, refresh: bool = False) -> builtins.list[dict[str, Any]]:
        """Every top-level resource the server serves (legacy discovery), cached.

        Each entry is the server's ``APIResource`` plus ``group`` and ``version``;
        subresources (``pods/status``) are omitted. Group versions that fail to answer
        are skipped.
        """
        if self._discovery is not None and not refresh:
            return self._discovery
        gvs: builtins.list[tuple[str, str]] = []
        with contextlib.suppress(ApiError):
            core = await self.request("GET", "/api")
            gvs += [("", str(v)) for v in core.get("versions") or []]
        with contextlib.suppress(ApiError):
            groups = await self.request("GET", "/apis")
            for g in groups.get("groups") or []:
                gvs += [(str(g["name"]), str(v["version"])) for v in g.get("versions") or []]

        async def one(group: str, version: str) -> builtins.list[dict[str, Any]]:
            path = f"/apis/{group}/{version}" if group else f"/api/{version}"
            try:
                doc = await self.request("GET", path)
            except ApiError:
                return []
            return [{**r, "group": group, "version": version} for r in doc.get("resources") or []
                    if "/" not in str(r.get("name", ""))]

        found = await asyncio.gather(*(one(g, v) for g, v in gvs))
        self._discovery = [r for rs in found for r in rs]
        self._kinds = {(r["group"], r["version"], str(r.get("kind"))):
                       GVR(r["group"], r["version"], str(r["name"]), bool(r.get("namespaced")))
                       for r in self._discovery}
        return self._discovery

    async def discovery_document(self, path: str) -> dict[str, Any]:
        doc: dict[str, Any] = await self.request("GET", path)
        return doc

    async def gvr_for(self, api_version: str, kind: str) -> GVR:
        """Resolve ``(apiVersion, kind)`` to a :class:`GVR`; re-discovers once on a miss.

        Raises ``ApiError(404)`` when the server does not serve the kind.
        """
        group, _, version = api_version.rpartition("/")
        key = (group, version, kind)
        if key not in self._kinds:
            await self.discover(refresh=self._discovery is not None)
        if key not in self._kinds:
            raise ApiError(404, "NotFound", f'no matches for kind "{kind}" in version "{api_version}"')
        return self._kinds[key]


def _decode_event(line: bytes) -> WatchEventDict:
    event: WatchEventDict = orjson.loads(line)
    if event.get("type") == "ERROR":
        obj = event.get("object")
        status = obj if isinstance(obj, dict) else {}
        raise api_error_from_status(status, int(status.get("code") or 500))
    return event
