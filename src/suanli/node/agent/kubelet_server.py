"""The kubelet API of a ``suanli agent --host``: container logs over HTTPS, callers checked as upstream.

Upstream's kubelet serves an HTTPS API (port 10250) that kube-apiserver proxies ``pods/log``
(and exec/attach/port-forward) to. :class:`KubeletServer` serves its log endpoint for the pods
of one :class:`~suanli.node.agent.process.ProcessAgent`:

``GET /containerLogs/{namespace}/{pod}/{container}`` with ``PodLogOptions`` as query
(``follow``, ``previous``, ``timestamps``, ``tailLines``, ``sinceSeconds``, ``sinceTime``,
``limitBytes``), read and followed with the runtime's own
:class:`~suanli.apiserver.logs.FileLogBackend` (one home for the CRI log format). A pod not
bound to this node, or a container it does not have, is 404; invalid options are the same
422 ``Status`` the API server answers.

Every request is authenticated — a TLS client certificate signed by the cluster CA (the CA of
the agent's kubeconfig: upstream's ``--client-ca-file``), else a bearer token checked with a
``TokenReview`` — and then authorised with a ``SubjectAccessReview`` on the Node as kubelet's
authorizer maps paths: ``/logs/*`` is ``nodes/log``, every other path (``/containerLogs`` too)
``nodes/proxy``; the verb follows the HTTP method (GET → get, POST → create...; a WebSocket
upgrade is a GET). No credentials or a rejected token: 401 ``Unauthorized``; denied: 403
``Forbidden (user=…, verb=…, resource=nodes, subresource(s)=[…])``; a review that fails: 500
``Authorization error (…)`` — plain text, as upstream words them.

WebSockets: ``/exec`` and ``/attach/{ns}/{pod}/{container}`` and ``/portForward/{ns}/{pod}`` run
the API server's own session code with the agent as the
:class:`~suanli.apiserver.streaming.PodStreamer` (what the embedded ``suanli up`` runtime serves).

The serving certificate is the agent's own (a CA and certificate under ``<data dir>/kubelet/tls``,
created on first start — upstream's self-signed kubelet certificate); kube-apiserver does not
verify it unless told to (``--kubelet-certificate-authority``), and neither does ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode

import orjson
import uvicorn

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.apiserver.authn.peercert import peer_certificates
from suanli.apiserver.authn.types import AuthenticationError, Credentials
from suanli.apiserver.authn.uvicorn_tls import tls_server_options
from suanli.apiserver.authn.x509 import ClientCertificates
from suanli.apiserver.logs import FileLogBackend, LogOptions, parse_log_options
from suanli.apiserver.portforward import serve_portforward
from suanli.apiserver.remotecommand import deny, serve_remotecommand
from suanli.apiserver.streaming import PodStreamer
from suanli.apiserver.tls import ensure_tls_material, harden_server_context
from suanli.client.protocol import Client
from suanli.runtime.informer import object_key
from suanli.wire import GVR, PODS

__all__ = ["SUBJECT_ACCESS_REVIEWS", "TOKEN_REVIEWS", "KubeletServer", "authorizer_attributes"]

log = logging.getLogger(__name__)

TOKEN_REVIEWS = GVR("authentication.k8s.io", "v1", "tokenreviews", namespaced=False)
SUBJECT_ACCESS_REVIEWS = GVR("authorization.k8s.io", "v1", "subjectaccessreviews", namespaced=False)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_VERBS = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def authorizer_attributes(method: str, path: str) -> tuple[str, str]:
    """(verb, subresource of ``nodes``) kubelet's authorizer checks for a request.

    >>> authorizer_attributes("GET", "/containerLogs/default/web/app")
    ('get', 'proxy')
    >>> authorizer_attributes("GET", "/logs/syslog")
    ('get', 'log')
    >>> authorizer_attributes("POST", "/exec/default/web/app")
    ('create', 'proxy')
    """
    sub = "log" if path == "/logs" or path.startswith("/logs/") else "proxy"
    return _VERBS.get(method.upper(), method.lower()), sub


class _Server(uvicorn.Server):
    """uvicorn leaving signal handling to the agent's process."""

    def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        return contextlib.nullcontext()


class _Denied(Exception):
    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


class KubeletServer:
    """The HTTPS kubelet API of ``agent``'s node (a :class:`~suanli.runtime.component.Component`).

    ``start`` binds ``host:port`` (0 = any free port) and returns the port; ``run`` waits until
    ``stop``. ``running(pod, container)`` says whether the container runs now (a follow ends
    once it does not and its log is drained).
    """

    def __init__(self, client: Client, node_name: str, logs: FileLogBackend, *,
                 running: Callable[[Obj, str], bool], cert_dir: Path, client_ca_pem: bytes | None,
                 host: str = "0.0.0.0", port: int = 10250,  # nosec B104  # upstream kubelet's --address default
                 streamer: PodStreamer | None = None) -> None:
        """``streamer`` (the agent) serves ``/exec`` and ``/attach``; without it they are 404."""
        self.client = client
        self.streamer = streamer
        self.node_name = node_name
        self.logs = logs
        self.running = running
        self.cert_dir = cert_dir
        self.client_ca_pem = client_ca_pem
        self.host = host
        self.port = port
        self._certs = ClientCertificates(client_ca_pem) if client_ca_pem else None
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> int:
        """Bind and serve; the bound port."""
        hosts = [self.node_name, socket.gethostname()]
        material = ensure_tls_material(self.cert_dir, hosts)
        kwargs: dict[str, Any] = {"ssl_certfile": str(material.server_cert), "ssl_keyfile": str(material.server_key)}
        if self.client_ca_pem:
            ca_file = self.cert_dir / "client-ca.crt"
            ca_file.write_bytes(self.client_ca_pem)
            kwargs.update(tls_server_options(str(ca_file)))
            make = kwargs["ssl_context_factory"]
            kwargs["ssl_context_factory"] = lambda config, default: harden_server_context(make(config, default))
        kwargs.setdefault("http", "httptools")
        kwargs.setdefault("ws", "wsproto")
        config = uvicorn.Config(self, host=self.host, port=self.port, loop="none", lifespan="off",
                                log_level="warning", access_log=False, proxy_headers=False,
                                timeout_graceful_shutdown=3, **kwargs)
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises the bind error
                raise OSError(f"kubelet server on {self.host}:{self.port} did not start")
            await asyncio.sleep(0.01)
        sock = self._server.servers[0].sockets[0]
        self.port = int(sock.getsockname()[1])
        return self.port

    async def run(self) -> None:
        await self._stopped.wait()

    async def stop(self) -> None:
        self._stopped.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._task, timeout=10)

    # ------------------------------------------------------------------ ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._serve_websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        try:
            await self._authorize(scope)
            await self._route(scope, receive, send)
        except _Denied as err:
            await _send_text(send, err.code, err.text)
        except ApiError as err:
            await _send(send, err.code, orjson.dumps(err.status()), b"application/json")
        except Exception:
            log.exception("kubelet API: error serving %s", scope.get("path"))
            with contextlib.suppress(Exception):
                await _send_text(send, 500, "Internal Error")

    async def _authenticate(self, scope: Scope) -> Obj:
        """The caller as a ``UserInfo`` object (username, uid, groups, extra); raises 401."""
        certs = peer_certificates(scope)
        if certs and self._certs is not None:
            try:
                got = await self._certs.authenticate(Credentials(peer_certificates=certs))
            except AuthenticationError:
                got = None
            if got is not None:
                u = got.user
                groups = [*u.groups, *(["system:authenticated"] if "system:authenticated" not in u.groups else [])]
                return {"username": u.name, "uid": u.uid, "groups": groups,
                        "extra": {k: list(v) for k, v in u.extra}}
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        auth = headers.get("authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if token:
            try:
                review = await self.client.create(TOKEN_REVIEWS, {
                    "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}})
            except ApiError as err:  # upstream: an authentication error is a 401 (the cause is logged)
                log.warning("kubelet API: TokenReview failed: %s", err)
                raise _Denied(401, "Unauthorized") from None
            status = review.get("status") or {}
            if status.get("authenticated"):
                user: Obj = status.get("user") or {}
                return user
        raise _Denied(401, "Unauthorized")

    async def _serve_websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``/exec`` and ``/attach/{ns}/{pod}/{container}``, ``/portForward/{ns}/{pod}`` over a WebSocket: the
        API server's session protocols (:func:`~suanli.apiserver.remotecommand.serve_remotecommand`,
        :func:`~suanli.apiserver.portforward.serve_portforward`) with the agent as the streamer."""
        if (await receive())["type"] != "websocket.connect":
            return
        try:
            try:
                await self._authorize({**scope, "method": "GET"})  # the upgrade is a GET
            except _Denied as err:
                reason = {401: "Unauthorized", 403: "Forbidden"}.get(err.code, "InternalError")
                raise ApiError(err.code, reason, err.text) from None
            parts = [unquote(p) for p in scope["path"].strip("/").split("/")]
            forward = len(parts) == 3 and parts[0] == "portForward"
            if not (forward or (len(parts) == 4 and parts[0] in ("exec", "attach"))) or self.streamer is None:
                raise ApiError.not_found("", scope["path"])
            pod = await self._pod(parts[1], parts[2])
            if pod is None:
                raise ApiError.not_found("pods", f"{parts[1]}/{parts[2]}")
            if forward:
                await serve_portforward(scope, receive, send, pod=pod, streamer=self.streamer)
                return
            sub, container = parts[0], parts[3]
            qs = scope.get("query_string", b"") + (b"&" if scope.get("query_string") else b"") + \
                urlencode({"container": container}).encode()
            await serve_remotecommand({**scope, "query_string": qs}, receive, send, sub=sub, pod=pod,
                                      streamer=self.streamer)
        except ApiError as err:
            await deny(send, err, scope)

    async def _pod(self, namespace: str, name: str) -> Obj | None:
        """The pod if it is bound to this node."""
        try:
            pod = await self.client.get(PODS, name, namespace)
        except ApiError as err:
            if err.code != 404:
                raise
            return None
        return pod if (pod.get("spec") or {}).get("nodeName") == self.node_name else None

    async def _authorize(self, scope: Scope) -> None:
        user = await self._authenticate(scope)
        verb, sub = authorizer_attributes(scope["method"], scope["path"])
        attrs = f"user={user.get('username', '')}, verb={verb}, resource=nodes, subresource(s)=[{sub}]"
        try:
            sar = await self.client.create(SUBJECT_ACCESS_REVIEWS, {
                "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                "spec": {"user": user.get("username", ""), "uid": user.get("uid", ""),
                         "groups": user.get("groups") or [], "extra": user.get("extra") or {},
                         "resourceAttributes": {"verb": verb, "resource": "nodes", "subresource": sub,
                                                "name": self.node_name}}})
        except ApiError as err:  # upstream: 500 "Authorization error (...)"
            log.warning("kubelet API: SubjectAccessReview failed: %s", err)
            raise _Denied(500, f"Authorization error ({attrs})") from None
        if not (sar.get("status") or {}).get("allowed"):
            raise _Denied(403, f"Forbidden ({attrs})")

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        parts = [unquote(p) for p in scope["path"].strip("/").split("/")]
        if scope["method"] not in ("GET", "HEAD") or len(parts) != 4 or parts[0] != "containerLogs":
            await _send_text(send, 404, "404 page not found")
            return
        _, namespace, name, container = parts
        qs = scope.get("query_string", b"").decode("latin-1")
        query = {k: v[-1] for k, v in parse_qs(qs, keep_blank_values=True).items()}
        pod = await self._pod(namespace, name)
        if pod is None:
            await _send_text(send, 404, f'pod "{namespace}/{name}" does not exist')
            return
        if container not in [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]:
            await _send_text(send, 404, f'container "{container}" not found in pod "{namespace}/{name}"')
            return
        opts = parse_log_options(query, name, datetime.now(UTC))
        previous = query.get("previous") in ("true", "1", "True")
        if previous and not self.logs.has_previous(namespace, name, container):
            raise ApiError.bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
        if previous or query.get("follow") not in ("true", "1", "True"):
            await _send(send, 200, self.logs.read(namespace, name, container, previous=previous, options=opts))
            return
        await self._follow(pod, container, opts, receive, send)

    async def _follow(self, pod: Obj, container: str, options: LogOptions, receive: Receive, send: Send) -> None:
        """Stream the log until the container stops running (and its log is drained) or the client leaves."""
        namespace, name = str(pod["metadata"]["namespace"]), str(pod["metadata"]["name"])
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"), (b"transfer-encoding", b"chunked")]})
        disconnected = asyncio.Event()

        async def watch_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            disconnected.set()

        def done() -> bool:
            return disconnected.is_set() or self._stopped.is_set() or not self.running(pod, container)

        waiter = asyncio.ensure_future(watch_disconnect())
        try:
            async for chunk in self.logs.follow(namespace, name, container, tail_lines=options.tail_lines,
                                                done=done, options=options):
                if disconnected.is_set():
                    break
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        finally:
            waiter.cancel()
        if not disconnected.is_set():
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _send(send: Send, status: int, body: bytes, content_type: bytes = b"text/plain") -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _send_text(send: Send, status: int, text: str) -> None:
    await _send(send, status, text.encode() + b"\n", b"text/plain; charset=utf-8")


def running_in(agent: Any) -> Callable[[Obj, str], bool]:
    """``running(pod, container)`` for a :class:`~suanli.node.agent.process.ProcessAgent`."""
    return lambda pod, container: (object_key(pod), container) in agent.processes()

