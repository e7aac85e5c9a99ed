"""The Kubernetes REST protocol over ASGI.

:class:`ApiApp` parses paths, query parameters, headers and bodies, calls
:class:`~suanli.apiserver.service.ApiService`, and writes JSON (objects, lists,
``Table``\\ s, ``Status`` errors) or newline-delimited watch streams. It holds no API
semantics of its own. Objects are written from the store's cached bytes where possible,
so a LIST of 100,000 pods is spliced rather than re-encoded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote

import orjson
import yaml

from suanli import __version__
from suanli.apimachinery.errors import ApiError, Cause
from suanli.apimachinery.objects import Obj
from suanli.apimachinery.protobuf import decode_k8s_protobuf
from suanli.apimachinery.version import KUBE_MAJOR, KUBE_MINOR, KUBE_RELEASE
from suanli.apiserver import openapi, tables
from suanli.apiserver.audit import Auditor, AuditRequest
from suanli.apiserver.audit.hook import begin_audit
from suanli.apiserver.authn import Authentication
from suanli.apiserver.authn.peercert import peer_certificates
from suanli.apiserver.authn.union import ANONYMOUS
from suanli.apiserver.authz import AlwaysAllow, Authorizer
from suanli.apiserver.authz.filters import authorize_request, impersonate
from suanli.apiserver.authz.rbac import RbacAuthorizer
from suanli.apiserver.authz.reviews import AUTHZ_GROUP, REVIEW_KINDS, review
from suanli.apiserver.context import ADMIN, FieldValidation, RequestContext, UserInfo
from suanli.apiserver.discovery import Discovery
from suanli.apiserver.kubeletproxy import KubeletProxy, kubelet_path, kubelet_url
from suanli.apiserver.limits import RequestLimits
from suanli.apiserver.logs import FileLogBackend, parse_log_options
from suanli.apiserver.partial import partial_list, partial_object, wants_partial
from suanli.apiserver.portforward import PORTFORWARD_SUBPROTOCOL, serve_portforward
from suanli.apiserver.remotecommand import CHANNEL_PROTOCOLS, deny, serve_remotecommand
from suanli.apiserver.service import ApiService
from suanli.apiserver.streaming import PodStreamer, simulated_pod_error
from suanli.apiserver.watch import Emitted, WatchSession, open_watch
from suanli.kinds.registry import ResourceType
from suanli.storage import StoreError

__all__ = ["ApiApp"]

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

MAX_BODY = 3 * 1024 * 1024
KUBE_VERSION = {"major": str(KUBE_MAJOR), "minor": str(KUBE_MINOR),
                "gitVersion": f"{KUBE_RELEASE}+suanli-{__version__}",
                "gitCommit": "suanli", "gitTreeState": "clean", "buildDate": "2026-11-22T00:00:00Z",
                "goVersion": "python", "compiler": "cpython", "platform": "linux/amd64"}
_PATCH_TYPES = {
    "application/merge-patch+json": "merge",
    "application/json-patch+json": "json",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+json": "apply",
}
_PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version", "/version/"})
_STREAMING_SUBRESOURCES = frozenset({"exec", "attach", "portforward"})
_SEGMENT = re.compile(r"^[^/]+$")
_JSON_TYPE = b"application/json"


#: a prefix route: ``(path, query) -> (content type, body bytes or JSON object) | None``
PrefixHandler = Callable[[str, dict[str, str]], Awaitable[tuple[str, bytes | dict[str, Any]] | None]]


class _Request:
    __slots__ = ("body", "headers", "method", "path", "query", "user")

    def __init__(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
                 body: bytes, user: UserInfo = ADMIN) -> None:
        self.user = user
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body


class _Response:
    __slots__ = ("body", "content_type", "extra_headers", "status")

    def __init__(self, status: int, body: bytes, content_type: str = "application/json",
                 extra_headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.extra_headers = extra_headers if extra_headers is not None else []


def _json(status: int, obj: Any) -> _Response:
    return _Response(status, orjson.dumps(obj))


def _bool_param(q: dict[str, str], name: str) -> bool | None:
    v = q.get(name)
    if v is None:
        return None
    if v in ("true", "1", "True"):
        return True
    if v in ("false", "0", "False", ""):
        return False
    raise ApiError.bad_request(f"{name}: Invalid value: {v!r}: must be a boolean")


def _int_param(q: dict[str, str], name: str) -> int | None:
    v = q.get(name)
    if v is None or v == "":
        return None
    try:
        return int(v)
    except ValueError:
        raise ApiError.bad_request(f"{name}: Invalid value: {v!r}: must be an integer") from None


def _header_text(text: str) -> str:
    """``text`` as an HTTP quoted-string body: quotes and backslashes escaped, control characters as ``\\uXXXX``.

    Example: ``unknown field "metadata.\\x1f"`` → ``unknown field \\"metadata.\\u001f\\"``.
    """
    out = text.replace("\\", "\\\\").replace('"', '\\"')
    return "".join(f"\\u{ord(ch):04x}" if ord(ch) < 0x20 or ord(ch) == 0x7F else ch for ch in out)


def _wants_table(accept: str) -> bool:
    return "as=Table" in accept and "g=meta.k8s.io" in accept


class ApiApp:
    """ASGI application serving the Kubernetes API for one :class:`ApiService`."""

    def __init__(self, service: ApiService, *, token: str | None, allow_anonymous: bool = False,
                 logs: FileLogBackend | None = None, bookmark_interval: float = 30.0,
                 max_body: int = MAX_BODY, authentication: Authentication | None = None,
                 authorizer: Authorizer | None = None, limits: RequestLimits | None = None) -> None:
        """``authentication`` authenticates requests; without it, only the admin ``token`` (and
        ``system:anonymous`` when ``allow_anonymous``); with neither, every request is the admin.
        ``limits`` sheds load and bounds request time (:mod:`suanli.apiserver.limits`; default: upstream's)."""
        self.limits = limits if limits is not None else RequestLimits()
        self.service = service
        self.authentication = authentication if authentication is not None or token is None \
            else Authentication.admin_only(token, anonymous=allow_anonymous)
        #: decides every request after authentication and impersonation (in-process clients bypass it)
        self.authorizer: Authorizer = authorizer if authorizer is not None else AlwaysAllow()
        self.logs = logs
        self.bookmark_interval = bookmark_interval
        self.max_body = max_body
        self.discovery = Discovery(service.registry)
        self.ready = False
        self._sessions: set[WatchSession] = set()
        self._closing = False
        #: runtimes that serve exec/attach for their pods (the process runtime registers itself)
        self.streamers: list[PodStreamer] = []
        self.extra_routes: dict[str, Callable[[_Request], Awaitable[_Response]]] = {}
        #: (path prefix, handler) served before resource routing; see :meth:`add_prefix_route`
        self.prefix_routes: list[tuple[str, PrefixHandler]] = []
        #: audit policy and log (``--audit-policy-file``/``--audit-log-path``); None: not audited
        self.auditor: Auditor | None = None
        #: streams pods/log from a node's own kubelet API when no streamer serves the pod (None: never)
        self.kubelet_proxy: KubeletProxy | None = None

    def add_text_route(self, path: str, render: Callable[[], str],
                       content_type: str = "text/plain; version=0.0.4; charset=utf-8") -> None:
        """Serve ``render()`` at ``path`` (GET, authenticated like the API), e.g. ``/metrics``."""

        async def handler(_req: _Request) -> _Response:
            return _Response(200, render().encode(), content_type)

        self.extra_routes[path] = handler

    def add_prefix_route(self, prefix: str, handler: PrefixHandler) -> None:
        """Serve GET requests under ``prefix`` with ``handler(path, query)`` (authenticated and authorised
        like the API); it returns ``(content type, body)`` — a JSON object is sent as JSON — or
        ``None`` to fall through to resource routing, and raises :class:`ApiError` for errors."""
        self.prefix_routes.append((prefix, handler))

    def close_streams(self) -> None:
        """End every open watch and log stream (server shutdown)."""
        self._closing = True
        for session in list(self._sessions):
            session.close()

    # ------------------------------------------------------------------ ASGI entry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] == "websocket":
            await self.limits.serve(self._serve_websocket, scope, receive, send)
            return
        if scope["type"] != "http":
            return
        try:
            await self.limits.serve(self._handle, scope, receive, send)
        except Exception:  # last line of defence: never leak a traceback as a broken response
            log.exception("unhandled error serving %s %s", scope.get("method"), scope.get("path"))
            with contextlib.suppress(Exception):  # the response may already be under way
                await self._send(send, _json(500, ApiError.internal("internal error").status()))

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        path = scope["path"]
        raw_headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
        headers = dict(raw_headers)
        aud: AuditRequest | None = None
        try:
            qs = scope.get("query_string", b"")
            query = {k: v[-1] for k, v in parse_qs(qs.decode("latin-1"), keep_blank_values=True).items()} \
                if qs else {}
            public = path in _PUBLIC_PATHS and "authorization" not in headers
            user = ANONYMOUS if public else await self._authenticate(headers, scope, raw_headers)
            if self.auditor is not None:
                aud = begin_audit(self.auditor, scope, query, headers, user)
            requestor, user = user, impersonate(self.authorizer, user, raw_headers)
            if aud is not None:
                aud.impersonated(requestor, user)
            await self.limits.admit(method, path, query, user)
            try:
                authorize_request(self.authorizer, user, method, path, query)
            except ApiError:
                if aud is not None:
                    aud.authorized(False)
                raise
            if aud is not None:
                aud.authorized(True)
            body = await self._read_body(receive, headers) if method in ("POST", "PUT", "PATCH", "DELETE") \
                else b""
            if aud is not None:
                aud.request_body(body, headers.get("content-type", "application/json"))
            req = _Request(method, path, query, headers, body, user)
            if (method == "GET" and query.get("watch") in ("true", "1")) or (method == "GET" and \
                    "/watch/" in path and path.startswith(("/api/", "/apis/"))):
                if aud is not None:
                    aud.response_started(200)
                await self._serve_watch(req, receive, send)
                if aud is not None:
                    aud.complete(200, None)
                return
            if "/pods/" in path and path.rstrip("/").rsplit("/", 1)[-1] in _STREAMING_SUBRESOURCES:
                if self._stream_target(path)[1] == "portforward":  # a simulated pod's 400 comes first
                    raise ApiError.bad_request(f"portforward needs a WebSocket upgrade with subprotocol "
                                               f"{PORTFORWARD_SUBPROTOCOL}; a plain SPDY upgrade is not supported")
                raise ApiError.bad_request(f"{path.rstrip('/').rsplit('/', 1)[-1]} needs a WebSocket upgrade with "
                                           f"subprotocol {' or '.join(CHANNEL_PROTOCOLS)}; SPDY is not supported")
            if method == "GET" and path.endswith("/log") and "/pods/" in path:
                if aud is not None:
                    aud.response_started(200)
                await self._serve_log(req, receive, send)
                if aud is not None:
                    aud.complete(200, None)
                return
            resp = await self._route(req)
        except ApiError as err:
            resp = _json(err.code, err.status())
            if err.code == 401:
                resp.extra_headers.append((b"www-authenticate", b'Bearer realm="suanli"'))
                if self.auditor is not None and aud is None:  # upstream audits failed authentication too
                    aud = begin_audit(self.auditor, scope, {}, headers, None)
            if err.retry_after_seconds:  # upstream sends Retry-After for a positive retryAfterSeconds
                resp.extra_headers.append((b"retry-after", str(err.retry_after_seconds).encode()))
        except StoreError as err:  # a failed commit (full disk …): a 500 naming it, as etcd errors are upstream
            resp = _json(500, ApiError(500, "", str(err)).status())
        except Exception as exc:
            if aud is not None:
                aud.panic(f"APIServer panic'd: {exc.__class__.__name__}")
            raise
        if aud is not None:
            aud.complete(resp.status, resp.body, json_body=resp.content_type == "application/json")
            resp.extra_headers.append((b"audit-id", aud.audit_id.encode()))
        await self._send(send, resp)

    async def _authenticate(self, headers: dict[str, str], scope: Scope,
                            raw_headers: list[tuple[str, str]]) -> UserInfo:
        """The identity presenting ``headers`` (bearer token) and, over TLS, a client certificate
        (``scope``'s TLS extension), with ``raw_headers`` for a front proxy's identity headers;
        raises 401 when no authenticator accepts them."""
        if self.authentication is None:
            return ADMIN
        auth = headers.get("authorization", "")
        token = auth[7:].strip() or None if auth[:7].lower() == "bearer " else None
        certs = peer_certificates(scope)
        return await self.authentication.authenticate(token, certs, tuple(raw_headers) if certs else ())

    async def _read_body(self, receive: Receive, headers: dict[str, str]) -> bytes:
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            raise ApiError.too_large(f"Request entity too large: limit is {self.max_body}")
        chunks: list[bytes] = []
        size = 0
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                break
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise ApiError.too_large(f"Request entity too large: limit is {self.max_body}")
            chunks.append(chunk)
            if not msg.get("more_body"):
                break
        return b"".join(chunks)

    @staticmethod
    async def _send(send: Send, resp: _Response) -> None:
        ctype = resp.content_type
        headers = [(b"content-type", _JSON_TYPE if ctype == "application/json" else ctype.encode()),
                   (b"content-length", b"%d" % len(resp.body)),
                   (b"cache-control", b"no-cache, private")]
        if resp.extra_headers:
            headers.extend(resp.extra_headers)
        await send({"type": "http.response.start", "status": resp.status, "headers": headers})
        await send({"type": "http.response.body", "body": resp.body})

    # ------------------------------------------------------------------ routing

    async def _route(self, req: _Request) -> _Response:
        path = req.path.rstrip("/") or "/"
        if path in ("/healthz", "/livez"):
            return _Response(200, b"ok", "text/plain; charset=utf-8")
        if path == "/readyz":
            return _Response(200 if self.ready else 503, b"ok" if self.ready else b"not ready",
                             "text/plain; charset=utf-8")
        if path == "/version":
            return _json(200, KUBE_VERSION)
        if path in self.extra_routes:
            return await self.extra_routes[path](req)
        for prefix, handler in self.prefix_routes:
            if path.startswith(prefix) and req.method == "GET":
                got = await handler(path, req.query)
                if got is not None:
                    return _json(200, got[1]) if isinstance(got[1], dict) else _Response(200, got[1], got[0])
        if path == "/api":
            return _json(200, self.discovery.api_versions())
        if path == "/apis":
            return _json(200, self.discovery.api_group_list())
        if path.startswith("/openapi/v3"):
            return self._openapi(req, path)
        if path.startswith("/openapi/v2"):
            raise ApiError.no_route(path)
        parts = path.split("/")[1:]
        if "%" in path:
            parts = [unquote(p) for p in parts]
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 2:
            if len(parts) == 2:
                g = self.discovery.api_group(parts[1])
                if g is None:
                    raise ApiError.no_route(path)
                return _json(200, g)
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError.no_route(path)
        if not rest:
            if req.method != "GET":
                raise ApiError.method_not_allowed(f"{req.method} is not allowed on {path}")
            doc = self.discovery.resource_list(group, version)
            if doc is None:
                raise ApiError.no_route(path)
            return _json(200, doc)
        if self.authentication is not None and (endpoint := self.authentication.endpoint(group, version, rest)):
            body = self._decode(req) if req.method == "POST" else None
            return _json(201, await self.authentication.serve(req.method, endpoint, rest, body, req.user))
        if not group and version == "v1" and len(rest) == 3 and rest[0] == "namespaces" and rest[2] == "bindings":
            return await self._namespaced_binding(req, rest[1])
        if group == AUTHZ_GROUP and version == "v1" and rest[-1] in REVIEW_KINDS:
            return self._access_review(req, rest)
        return await self._resource(req, group, version, rest)

    def _access_review(self, req: _Request, rest: list[str]) -> _Response:
        """POST of an access review (:mod:`suanli.apiserver.authz.reviews`): answered, never stored."""
        plural = rest[-1]
        namespaced = REVIEW_KINDS[plural][1]
        if (len(rest) != 3 or rest[0] != "namespaces") if namespaced else len(rest) != 1:
            raise ApiError.no_route(req.path)
        if req.method != "POST":
            raise ApiError.method_not_allowed(f"{req.method} is not allowed on {plural}: they are create-only")
        rt = self.service.resource(AUTHZ_GROUP, "v1", plural)
        body = self._decode(req, rt)
        resolver = self.authorizer if isinstance(self.authorizer, RbacAuthorizer) else None
        return _json(201, review(plural, body, requester=req.user, namespace=rest[1] if namespaced else "",
                                 authorizer=self.authorizer, resolver=resolver))

    async def _namespaced_binding(self, req: _Request, namespace: str) -> _Response:
        """POST /api/v1/namespaces/{ns}/bindings: bind the pod named by the Binding's metadata.name."""
        if req.method != "POST":
            raise ApiError.method_not_allowed(f"{req.method} is not allowed on bindings")
        pods = self.service.resource("", "v1", "pods")
        body = self._decode(req, pods)
        name = (body.get("metadata") or {}).get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name:
            raise ApiError.invalid("Binding", "", [Cause("metadata.name", "Required value", "FieldValueRequired")])
        await self.service.bind(namespace, name, body, self._context(req))
        return _json(201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})

    def _openapi(self, req: _Request, path: str) -> _Response:
        if path == "/openapi/v3":
            return _json(200, openapi.openapi_root(self.service.registry))
        sub = path[len("/openapi/v3/"):]
        parts = sub.split("/")
        if parts[0] == "api" and len(parts) == 2:
            doc = openapi.openapi_document(self.service.registry, "", parts[1])
        elif parts[0] == "apis" and len(parts) == 3:
            doc = openapi.openapi_document(self.service.registry, parts[1], parts[2])
        else:
            doc = None
        if doc is None:
            raise ApiError.no_route(path)
        hdrs = [(b"cache-control", b"public, immutable")] if "hash" in req.query else []
        resp = _json(200, doc)
        resp.extra_headers.extend(hdrs)
        return resp

    def _parse_resource_path(self, group: str, version: str, rest: list[str]
                             ) -> tuple[ResourceType, str, str, str]:
        """Return (resource type, namespace, name, subresource) for a resource path."""
        namespace = ""
        if (rest[0] == "namespaces" and len(rest) >= 3 and not group and version == "v1" \
                and rest[2] not in ("status", "finalize")) or (rest[0] == "namespaces" and len(rest) >= 3
                                                               and group):
            namespace = rest[1]
            rest = rest[2:]
        plural = rest[0]
        rt = self.service.registry.get(group, version, plural)
        if rt is None:
            if self.service.registry.get(group, version, plural) is None and \
                    not self.discovery.resource_list(group, version):
                raise ApiError.no_route("/" + "/".join(["apis", group, version] if group else ["api", version]))
            raise ApiError.not_found(plural, "", group)
        if namespace and not rt.namespaced:
            raise ApiError.not_found(plural, "", group)
        name = rest[1] if len(rest) >= 2 else ""
        sub = rest[2] if len(rest) >= 3 else ""
        if len(rest) > 3:
            raise ApiError.no_route("/".join(rest))
        if sub and sub not in rt.subresources and not (sub == "finalize" and rt.storage_key == "namespaces") \
                and not (sub in _STREAMING_SUBRESOURCES and rt.storage_key == "pods"):
            raise ApiError.not_found(f"{plural}/{sub}", "", group)
        return rt, namespace, name, sub

    async def _resource(self, req: _Request, group: str, version: str, rest: list[str]) -> _Response:
        rt, namespace, name, sub = self._parse_resource_path(group, version, rest)
        q = req.query
        ctx = self._context(req)
        svc = self.service
        m = req.method
        accept = req.headers.get("accept", "")
        if accept and not any(t in accept for t in ("json", "*/*", "yaml")):
            raise ApiError.not_acceptable(f"only the following media types are accepted: application/json, "
                                          f"application/yaml (requested {accept})")
        if m == "GET":
            if not name:
                page = svc.list(rt, namespace, label_selector=q.get("labelSelector", ""),
                                field_selector=q.get("fieldSelector", ""), limit=_int_param(q, "limit"),
                                continue_token=q.get("continue") or None,
                                resource_version=q.get("resourceVersion", ""),
                                resource_version_match=q.get("resourceVersionMatch", ""))
                if _wants_table(accept):
                    return _json(200, tables.table_for(rt, [so.obj for so in page.items],
                                                       include_object=q.get("includeObject", "Metadata"),
                                                       list_meta=page.list_meta, now=datetime.now(UTC)))
                if wants_partial(accept):
                    return _json(200, partial_list(page.list_meta, [so.obj for so in page.items]))
                head = orjson.dumps({"kind": rt.list_kind, "apiVersion": rt.api_version,
                                     "metadata": page.list_meta})
                body = head[:-1] + b',"items":[' + b",".join(so.raw for so in page.items) + b"]}"
                return _Response(200, body)
            if sub == "scale":
                return _json(200, svc.get_scale(rt, namespace, name))
            so = svc.get(rt, namespace, name)
            if _wants_table(accept) and not sub:
                return _json(200, tables.table_for(rt, [so.obj], include_object=q.get("includeObject",
                                                                                       "Metadata"),
                                                   list_meta={"resourceVersion": str(so.rv)},
                                                   now=datetime.now(UTC)))
            if wants_partial(accept) and not sub:
                return _json(200, partial_object(so.obj))
            return _Response(200, so.raw)
        if m == "POST":
            body = self._decode(req, rt)
            if sub == "binding" and rt.storage_key == "pods":
                await svc.bind(namespace, name, body, ctx)
                return _json(201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                   "code": 201})
            if sub == "eviction" and rt.storage_key == "pods":
                await svc.evict(namespace, name, body, ctx)
                return _json(201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                   "code": 201})
            if name:
                raise ApiError.method_not_allowed(f"POST is not allowed on a named {rt.plural} path")
            obj = await svc.create(rt, namespace, body, ctx)
            return self._object(201, obj, ctx, rt)
        if m == "PUT":
            if not name:
                raise ApiError.method_not_allowed(f"PUT requires a resource name for {rt.plural}")
            body = self._decode(req, rt)
            obj = await svc.update(rt, namespace, name, body, ctx, subresource=sub)
            return self._object(200, obj, ctx, rt)
        if m == "PATCH":
            if not name:
                raise ApiError.method_not_allowed(f"PATCH requires a resource name for {rt.plural}")
            ctype = req.headers.get("content-type", "").split(";")[0].strip()
            ptype = _PATCH_TYPES.get(ctype)
            if ptype is None:
                raise ApiError.unsupported_media_type(ctype or "<none>")
            patch = self._decode_patch(req, ptype)
            existed = ptype != "apply" or svc.store.get(rt.storage_key, namespace if rt.namespaced else "",
                                                        name) is not None
            obj = await svc.patch(rt, namespace, name, ptype, patch, ctx, subresource=sub)
            return self._object(200 if existed else 201, obj, ctx, rt)
        if m == "DELETE":
            options = self._delete_options(req)
            if not name:
                objs = await svc.delete_collection(rt, namespace, options, ctx,
                                                   label_selector=q.get("labelSelector", ""),
                                                   field_selector=q.get("fieldSelector", ""))
                return _json(200, {"kind": rt.list_kind, "apiVersion": rt.api_version,
                                   "metadata": {"resourceVersion": str(svc.store.revision)}, "items": objs})
            obj, _gone = await svc.delete(rt, namespace, name, options, ctx)
            return self._object(200, obj, ctx)
        raise ApiError.method_not_allowed(f"{m} is not supported")

    def _object(self, status: int, obj: Obj, ctx: RequestContext, rt: ResourceType | None = None) -> _Response:
        """``obj`` as JSON; when it is the stored object of ``rt`` (a write just committed), the
        store's bytes for it (``orjson.dumps`` of the same object) are sent instead of re-encoding."""
        raw: bytes | None = None
        if rt is not None and not ctx.dry_run:
            meta = obj.get("metadata")
            if isinstance(meta, dict):
                so = self.service.store.get(rt.storage_key, str(meta.get("namespace") or "") if rt.namespaced
                                            else "", str(meta.get("name") or ""))
                if so is not None and so.obj is obj:
                    raw = so.raw
        resp = _Response(status, raw) if raw is not None else _json(status, obj)
        for w in ctx.warnings:
            resp.extra_headers.append((b"warning", f'299 - "{_header_text(w)}"'.encode()))
        return resp

    def _context(self, req: _Request) -> RequestContext:
        q = req.query
        dry = q.get("dryRun")
        if dry not in (None, "", "All"):
            raise ApiError.bad_request(f"dryRun: Unsupported value: {dry!r}: supported values: \"All\"")
        fv = q.get("fieldValidation") or "Warn"
        if fv not in ("Strict", "Warn", "Ignore"):
            raise ApiError.bad_request(f"fieldValidation: Unsupported value: {fv!r}: supported values: "
                                       '"Ignore", "Strict", "Warn"')
        field_validation: FieldValidation = fv  # type: ignore[assignment]
        manager = q.get("fieldManager") or self._manager_from_agent(req.headers.get("user-agent", ""))
        force = _bool_param(q, "force") or False
        return RequestContext(user=req.user.name, user_info=req.user, dry_run=dry == "All", field_manager=manager,
                              field_validation=field_validation, force=force)

    @staticmethod
    def _manager_from_agent(agent: str) -> str | None:
        if not agent:
            return None
        return agent.split("/")[0][:128] or None

    def _decode(self, req: _Request, rt: ResourceType | None = None) -> Any:
        ctype = req.headers.get("content-type", "application/json").split(";")[0].strip()
        if ctype in ("application/json", "", "*/*"):
            return self._loads_json(req.body)
        if ctype in ("application/yaml", "application/x-yaml", "text/yaml"):
            return self._loads_yaml(req.body)
        if ctype == "application/vnd.kubernetes.protobuf":
            try:
                return decode_k8s_protobuf(req.body)
            except ValueError as exc:
                raise ApiError.bad_request(f"unable to decode protobuf body: {exc}") from None
        raise ApiError.unsupported_media_type(ctype)

    @staticmethod
    def _loads_json(body: bytes) -> Any:
        if not body.strip():
            raise ApiError.bad_request("the request body is empty")
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ApiError.bad_request(f"couldn't get version/kind; json parse error: {exc}") from None

    @staticmethod
    def _loads_yaml(body: bytes) -> Any:
        """YAML → JSON data; YAML that has no JSON form (e.g. lone UTF-16 surrogates from ``"\\ud800"``
        escapes, which JSON text cannot carry) is a 400, not a 500 when it is stored or echoed."""
        try:
            data = yaml.safe_load(body)
        except yaml.YAMLError as exc:
            raise ApiError.bad_request(f"error converting YAML to JSON: {exc}") from None
        try:
            orjson.dumps(data)
        except TypeError as exc:  # orjson.JSONEncodeError: surrogates, non-string keys, timestamps…
            raise ApiError.bad_request(f"error converting YAML to JSON: {exc}") from None
        return data

    def _decode_patch(self, req: _Request, ptype: str) -> Any:
        if ptype == "apply":
            data = self._loads_yaml(req.body)
            if not isinstance(data, dict):
                raise ApiError.bad_request("the apply patch must be a YAML or JSON object")
            return data
        data = self._loads_json(req.body)
        if ptype == "json":
            if not isinstance(data, list):
                raise ApiError.bad_request("json patch must be a list of operations")
            if len(data) > 10_000:
                raise ApiError.too_large("The allowed maximum operations in a JSON patch is 10000, "
                                         f"got {len(data)}")
        elif not isinstance(data, dict):
            raise ApiError.bad_request(f"{ptype} patch must be a JSON object")
        return data

    def _delete_options(self, req: _Request) -> Obj:
        options: Obj = {}
        if req.body.strip():
            data = self._loads_json(req.body) if not req.headers.get("content-type", "").startswith(
                ("application/yaml",)) else self._loads_yaml(req.body)
            if not isinstance(data, dict):
                raise ApiError.bad_request("DeleteOptions must be an object")
            options = data
        q = req.query
        if "propagationPolicy" in q:
            options["propagationPolicy"] = q["propagationPolicy"]
        grace = _int_param(q, "gracePeriodSeconds")
        if grace is not None:
            options["gracePeriodSeconds"] = grace
        orphan = _bool_param(q, "orphanDependents")
        if orphan is not None:
            options["orphanDependents"] = orphan
        return options

    # ------------------------------------------------------------------ streaming

    async def _serve_watch(self, req: _Request, receive: Receive, send: Send) -> None:
        path = req.path.rstrip("/")
        parts = [unquote(p) for p in path.split("/")[1:]]
        if parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        else:
            group, version, rest = parts[1], parts[2], parts[3:]
        if rest and rest[0] == "watch":
            rest = rest[1:]
        if not rest:
            raise ApiError.no_route(req.path)
        rt, namespace, name, sub = self._parse_resource_path(group, version, rest)
        if sub:
            raise ApiError.method_not_allowed("watch is not supported on subresources")
        q = req.query
        fs_text = q.get("fieldSelector", "")
        if name:
            fs_text = f"metadata.name={name}" + (f",{fs_text}" if fs_text else "")
        ls, fs = self.service.parse_selectors(rt, q.get("labelSelector", ""), fs_text)
        timeout = _int_param(q, "timeoutSeconds")
        session = open_watch(self.service.store, rt, namespace, resource_version=q.get("resourceVersion", ""),
                             label_selector=ls, field_selector=fs,
                             send_initial_events=_bool_param(q, "sendInitialEvents"),
                             resource_version_match=q.get("resourceVersionMatch", ""),
                             allow_bookmarks=bool(_bool_param(q, "allowWatchBookmarks")),
                             timeout=float(timeout) if timeout is not None else None,
                             bookmark_interval=self.bookmark_interval)
        as_table = _wants_table(req.headers.get("accept", ""))
        include = "PartialObjectMetadata" if wants_partial(req.headers.get("accept", "")) else \
            q.get("includeObject", "Metadata")
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"cache-control", b"no-cache, private"),
                                (b"transfer-encoding", b"chunked")]})
        disconnected = asyncio.Event()

        async def watch_disconnect() -> None:
            while True:
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    disconnected.set()
                    session.close()
                    return

        waiter = asyncio.ensure_future(watch_disconnect())
        self._sessions.add(session)
        if self._closing:
            session.close()
        try:
            event_bytes = self._event_bytes
            async for batch in session.batches():
                if disconnected.is_set():
                    break
                body = event_bytes(rt, batch[0], as_table, include) if len(batch) == 1 else \
                    b"".join([event_bytes(rt, ev, as_table, include) for ev in batch])
                await send({"type": "http.response.body", "body": body, "more_body": True})
        finally:
            self._sessions.discard(session)
            session.close()
            waiter.cancel()
        if not disconnected.is_set():
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    @staticmethod
    def _event_bytes(rt: ResourceType, ev: Emitted, as_table: bool, include: str) -> bytes:
        if ev.type == "ERROR":
            return orjson.dumps({"type": "ERROR", "object": ev.error}) + b"\n"
        if ev.type == "BOOKMARK":
            obj = ev.bookmark_object(rt)
            if as_table:
                obj = tables.table_for(rt, [], include_object="None",
                                       list_meta={"resourceVersion": str(ev.rv)}, now=datetime.now(UTC)) | {
                    "metadata": obj["metadata"]}
                obj["rows"] = []
            if include == "PartialObjectMetadata":
                obj = partial_object(obj)
            return orjson.dumps({"type": "BOOKMARK", "object": obj}) + b"\n"
        assert ev.obj is not None
        if include == "PartialObjectMetadata":  # a metadata-client watch (never combined with as=Table)
            return orjson.dumps({"type": ev.type, "object": partial_object(ev.obj.obj)}) + b"\n"
        if as_table:
            tbl = tables.table_for(rt, [ev.obj.obj], include_object=include,
                                   list_meta={"resourceVersion": str(ev.obj.rv)}, now=datetime.now(UTC))
            return orjson.dumps({"type": ev.type, "object": tbl}) + b"\n"
        return b'{"type":"' + ev.type.encode() + b'","object":' + ev.obj.raw + b"}\n"

    def _stream_target(self, path: str) -> tuple[Obj, str, PodStreamer | str]:
        """The pod, subresource and runtime a streaming request (exec/attach/portforward) addresses: an
        in-process runtime, else the URL of the node's kubelet API (:mod:`suanli.apiserver.kubeletproxy`)."""
        parts = [unquote(p) for p in path.rstrip("/").split("/")[1:]]
        if len(parts) < 3 or parts[0] != "api":
            raise ApiError.no_route(path)
        rt, namespace, name, sub = self._parse_resource_path("", parts[1], parts[2:])
        if rt.storage_key != "pods" or sub not in _STREAMING_SUBRESOURCES:
            raise ApiError.no_route(path)
        pod = self.service.get(rt, namespace, name).obj
        node = self.service.store.get("nodes", "", str((pod.get("spec") or {}).get("nodeName") or ""))
        if (err := simulated_pod_error(pod, node.obj if node else None, f"cannot {sub}")) is not None:
            raise err
        streamer = next((s for s in self.streamers if s.serves(pod)), None)
        if streamer is None and self.kubelet_proxy is not None \
                and (base := kubelet_url(node.obj if node else None)) is not None:
            return pod, sub, base
        if streamer is None:
            raise ApiError.bad_request(f'pod "{name}" is not running on a node whose runtime serves {sub}')
        return pod, sub, streamer

    async def _serve_websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket upgrade: exec/attach sessions (:mod:`suanli.apiserver.remotecommand`)."""
        msg = await receive()
        if msg["type"] != "websocket.connect":
            return
        raw_headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
        headers = dict(raw_headers)
        query = {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()}
        aud: AuditRequest | None = None
        audit_scope = {**scope, "method": "GET"}  # the upgrade is a GET; a WebSocket scope names no method
        try:
            try:
                requestor = await self._authenticate(headers, scope, raw_headers)
            except ApiError:
                if self.auditor is not None:  # failed authentication is audited too, as for plain requests
                    aud = begin_audit(self.auditor, audit_scope, query, headers, None)
                raise
            if self.auditor is not None:
                aud = begin_audit(self.auditor, audit_scope, query, headers, requestor)
            user = impersonate(self.authorizer, requestor, raw_headers)
            if aud is not None:
                aud.impersonated(requestor, user)
            # exec/attach/portforward over a WebSocket need ``create`` on the subresource, as upstream
            # 1.35+ (AuthorizePodWebsocketUpgradeCreatePermission) checks for the GET upgrade
            try:
                authorize_request(self.authorizer, user, "GET", scope["path"], query, verb="create")
            except ApiError:
                if aud is not None:
                    aud.authorized(False)
                raise
            if aud is not None:
                aud.authorized(True)
            await self.limits.admit("GET", scope["path"], query, user)
            pod, sub, streamer = self._stream_target(scope["path"])
            if aud is not None:  # a long-running request: ResponseStarted at the upgrade, as upstream
                aud.response_started(101)
            if isinstance(streamer, str):
                if self.kubelet_proxy is None:  # _stream_target returns a URL only with a proxy
                    raise ApiError.internal("no kubelet client")
                await self.kubelet_proxy.relay_websocket(streamer, kubelet_path(pod, sub, scope), scope, receive,
                                                         send)
            elif sub == "portforward":
                await serve_portforward(scope, receive, send, pod=pod, streamer=streamer)
            else:
                await serve_remotecommand(scope, receive, send, sub=sub, pod=pod, streamer=streamer)
            if aud is not None:
                aud.complete(101, None)
        except ApiError as err:
            if aud is not None:
                aud.complete(err.code, orjson.dumps(err.status()))
            await deny(send, err, scope)

    async def _serve_log(self, req: _Request, receive: Receive, send: Send) -> None:
        parts = [unquote(p) for p in req.path.rstrip("/").split("/")[1:]]
        rt, namespace, name, sub = self._parse_resource_path("", parts[1], parts[2:])
        if sub != "log" or rt.storage_key != "pods":
            raise ApiError.no_route(req.path)
        pod = self.service.get(rt, namespace, name).obj
        containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        q = req.query
        container = q.get("container") or ""
        if not container:
            if len(containers) != 1:
                raise ApiError.bad_request(f"a container name must be specified for pod {name}, choose one of: "
                                           f"[{' '.join(str(c) for c in containers)}]")
            container = str(containers[0])
        elif container not in containers:
            raise ApiError.bad_request(f"container {container} is not valid for pod {name}")
        opts = parse_log_options(q, name, datetime.now(UTC))
        follow = bool(_bool_param(q, "follow"))
        previous = bool(_bool_param(q, "previous"))
        node = self.service.store.get("nodes", "", str((pod.get("spec") or {}).get("nodeName") or ""))
        if (err := simulated_pod_error(pod, node.obj if node else None, "have no log")) is not None:
            raise err
        if self.kubelet_proxy is not None and not any(s.serves(pod) for s in self.streamers) \
                and (base := kubelet_url(node.obj if node else None)) is not None:
            await self.kubelet_proxy.serve_log(base, namespace, name, container, q, receive, send)
            return
        if self.logs is None:
            await self._send(send, _Response(200, b"", "text/plain"))
            return
        if previous and not self.logs.has_previous(namespace, name, container):
            raise ApiError.bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
        if previous or not follow:
            data = self.logs.read(namespace, name, container, previous=previous, options=opts)
            await self._send(send, _Response(200, data, "text/plain"))
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"), (b"transfer-encoding", b"chunked")]})
        disconnected = asyncio.Event()

        async def watch_disconnect() -> None:
            while True:
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    disconnected.set()
                    return

        store = self.service.store

        def done() -> bool:
            if disconnected.is_set() or self._closing:
                return True
            cur = store.get("pods", namespace, name)
            if cur is None or cur.obj["metadata"].get("uid") != pod["metadata"].get("uid"):
                return True
            for cs in (cur.obj.get("status") or {}).get("containerStatuses") or []:
                if cs.get("name") == container:
                    return "terminated" in (cs.get("state") or {}) and \
                        (cur.obj.get("status") or {}).get("phase") in ("Succeeded", "Failed")
            return (cur.obj.get("status") or {}).get("phase") in ("Succeeded", "Failed")

        waiter = asyncio.ensure_future(watch_disconnect())
        try:
            async for chunk in self.logs.follow(namespace, name, container, tail_lines=opts.tail_lines, done=done,
                                                options=opts):
                if disconnected.is_set():
                    break
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        finally:
            waiter.cancel()
        if not disconnected.is_set():
            await send({"type": "http.response.body", "body": b"", "more_body": False})

