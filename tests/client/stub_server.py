"""A test-only Kubernetes-protocol stub serving pods over a real loopback socket.

Just enough of the API for client and informer tests: pods LIST (paged), GET, POST,
PUT, PATCH (merge/strategic/apply as a merge, JSON patch with add/replace/remove/test),
DELETE (DeleteOptions preconditions), ``pods/{name}/binding``, WATCH (replay from a
resourceVersion, live events, BOOKMARKs on demand, an in-stream 410 ERROR when the
resume point is compacted) and legacy discovery. Every request is recorded so tests
can assert on what the client sent. Not a model of the real server's semantics.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson
import uvicorn

from suanli.apimachinery.errors import ApiError, Cause
from suanli.apimachinery.objects import Obj, deep_copy

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

POD_PATH = re.compile(
    r"^/api/v1(?:/namespaces/(?P<ns>[^/]+))?/pods(?:/(?P<name>[^/]+)(?:/(?P<sub>[^/]+))?)?$")

DISCOVERY: dict[str, Any] = {
    "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
        {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
         "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}},
        {"name": "broken.example.com",
         "versions": [{"groupVersion": "broken.example.com/v1", "version": "v1"}],
         "preferredVersion": {"groupVersion": "broken.example.com/v1", "version": "v1"}},
    ]},
    "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
        {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod", "verbs": ["get", "list"]},
        {"name": "pods/status", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]},
        {"name": "nodes", "singularName": "node", "namespaced": False, "kind": "Node", "verbs": ["get"]},
    ]},
    "/apis/apps/v1": {"kind": "APIResourceList", "groupVersion": "apps/v1", "resources": [
        {"name": "deployments", "singularName": "deployment", "namespaced": True, "kind": "Deployment",
         "verbs": ["get", "list"]},
    ]},
}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class _Watcher:
    namespace: str
    bookmarks: bool
    queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=asyncio.Queue)


class StubApiServer:
    """In-memory pods with a global resourceVersion counter and an event log."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.url = ""
        self.objects: dict[tuple[str, str], Obj] = {}
        self.rv = 100
        self.oldest_rv = 0  # watches resuming before this get an in-stream 410
        self.events: list[tuple[int, str, Obj]] = []
        self.requests: list[Recorded] = []
        self.watchers: list[_Watcher] = []
        self.watch_opened = asyncio.Event()
        self.expire_continue_tokens = False
        self._failures: list[tuple[int, dict[str, Any]]] = []

    # -- test controls -------------------------------------------------------------------------

    def seed(self, namespace: str, name: str, **labels: str) -> Obj:
        """Create a pod directly (emits ADDED to open watches)."""
        self.rv += 1
        pod: Obj = {"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}",
                                 "resourceVersion": str(self.rv), "labels": dict(labels)},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
        self.objects[(namespace, name)] = pod
        self._emit("ADDED", pod)
        return pod

    def modify(self, namespace: str, name: str, *, silent: bool = False, **labels: str) -> Obj:
        """Change labels; ``silent`` skips the event log (simulates events lost to compaction)."""
        pod: Obj = deep_copy(self.objects[(namespace, name)])
        pod["metadata"]["labels"].update(labels)
        self.rv += 1
        pod["metadata"]["resourceVersion"] = str(self.rv)
        self.objects[(namespace, name)] = pod
        if not silent:
            self._emit("MODIFIED", pod)
        return pod

    def remove(self, namespace: str, name: str, *, silent: bool = False) -> None:
        pod = self.objects.pop((namespace, name))
        self.rv += 1
        gone = deep_copy(pod)
        gone["metadata"]["resourceVersion"] = str(self.rv)
        if not silent:
            self._emit("DELETED", gone)

    def add_silently(self, namespace: str, name: str) -> None:
        self.rv += 1
        self.objects[(namespace, name)] = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "resourceVersion": str(self.rv), "labels": {}}}

    def compact(self) -> None:
        """Forget history: open watches get an in-stream 410 ERROR and close; resumes below now → 410."""
        self.oldest_rv = self.rv
        self.events.clear()
        status = ApiError.gone("too old resource version: compacted").status()
        for w in self.watchers:
            w.queue.put_nowait({"type": "ERROR", "object": status})
            w.queue.put_nowait(None)

    def bookmark(self) -> None:
        for w in self.watchers:
            if w.bookmarks:
                w.queue.put_nowait({"type": "BOOKMARK", "object": {
                    "kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": str(self.rv)}}})

    def drop_watches(self) -> None:
        """End every open watch stream cleanly (like a server-side timeout)."""
        for w in self.watchers:
            w.queue.put_nowait(None)

    def fail_next(self, error: ApiError) -> None:
        """Answer the next non-watch request with ``error``'s Status."""
        self._failures.append((error.code, error.status()))

    def sent(self, method: str, sub: str = "") -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.endswith(sub)]

    # -- ASGI ----------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        query = dict(parse_qsl(scope["query_string"].decode(), keep_blank_values=True))
        rec = Recorded(scope["method"], scope["path"], query, headers, body)
        self.requests.append(rec)
        if self.token and headers.get("authorization") != f"Bearer {self.token}":
            await _reply(send, 401, ApiError.unauthorized().status())
            return
        if query.get("watch") == "true":
            await self._watch(rec, receive, send)
            return
        if self._failures:
            code, status = self._failures.pop(0)
            await _reply(send, code, status)
            return
        try:
            code, out = self._handle(rec)
        except ApiError as exc:
            code, out = exc.code, exc.status()
        await _reply(send, code, out)

    def _handle(self, rec: Recorded) -> tuple[int, Any]:
        if rec.method == "GET" and rec.path in DISCOVERY:
            return 200, DISCOVERY[rec.path]
        m = POD_PATH.match(rec.path)
        if m is None:
            raise ApiError.no_route(rec.path)
        ns, name, sub = m["ns"] or "", m["name"], m["sub"]
        key = (ns, name or "")
        if rec.method == "GET" and name is None:
            return 200, self._list(ns, rec.query)
        if rec.method == "GET":
            return 200, self._existing(key)
        if rec.method == "POST" and sub == "binding":
            return self._bind(key, rec.json())
        if rec.method == "POST":
            return 201, self._create(ns, rec.json())
        if rec.method == "PUT":
            return 200, self._update(key, rec.json())
        if rec.method == "PATCH":
            return 200, self._patch(key, rec)
        if rec.method == "DELETE":
            return 200, self._delete(key, rec.json() if rec.body else {})
        raise ApiError.method_not_allowed(f"{rec.method} not supported")

    def _existing(self, key: tuple[str, str]) -> Obj:
        if key not in self.objects:
            raise ApiError.not_found("pods", key[1])
        return self.objects[key]

    def _list(self, ns: str, query: dict[str, str]) -> Obj:
        keys = sorted(k for k in self.objects if not ns or k[0] == ns)
        sel = query.get("labelSelector", "")
        if sel:
            want = dict(part.split("=", 1) for part in sel.split(","))
            keys = [k for k in keys if all(self.objects[k]["metadata"]["labels"].get(a) == b
                                           for a, b in want.items())]
        list_rv = str(self.rv)
        token = query.get("continue")
        if token:
            if self.expire_continue_tokens:
                raise ApiError.gone("The provided continue parameter is too old")
            list_rv, last_ns, last_name = base64.b64decode(token).decode().split("/")
            keys = [k for k in keys if k > (last_ns, last_name)]
        limit = int(query.get("limit") or 0)
        meta: dict[str, Any] = {"resourceVersion": list_rv}
        if limit and len(keys) > limit:
            keys = keys[:limit]
            meta["continue"] = base64.b64encode(f"{list_rv}/{keys[-1][0]}/{keys[-1][1]}".encode()).decode()
        items = [self.objects[k] for k in keys]
        return {"kind": "PodList", "apiVersion": "v1", "metadata": meta, "items": items}

    def _create(self, ns: str, obj: Obj) -> Obj:
        name = obj["metadata"]["name"]
        containers = (obj.get("spec") or {}).get("containers")
        if not containers:
            cause = Cause("spec.containers", "Required value", "FieldValueRequired")
            raise ApiError.invalid("Pod", name, [cause])
        if (ns, name) in self.objects:
            raise ApiError.already_exists("pods", name)
        self.rv += 1
        obj["metadata"].update(namespace=ns, resourceVersion=str(self.rv), uid=f"uid-{name}")
        self.objects[(ns, name)] = obj
        self._emit("ADDED", obj)
        return obj

    def _update(self, key: tuple[str, str], obj: Obj) -> Obj:
        cur = self._existing(key)
        if obj["metadata"].get("resourceVersion") != cur["metadata"]["resourceVersion"]:
            raise ApiError.conflict("pods", key[1], "the object has been modified; please apply your "
                                    "changes to the latest version and try again")
        return self._commit(key, obj)

    def _patch(self, key: tuple[str, str], rec: Recorded) -> Obj:
        cur = deep_copy(self._existing(key))
        ctype = rec.headers.get("content-type", "")
        if ctype == "application/json-patch+json":
            for op in rec.json():
                _json_patch_op(cur, op)
        elif ctype == "application/apply-patch+yaml" and not rec.query.get("fieldManager"):
            raise ApiError.bad_request("PATCH requests with apply must have a fieldManager")
        else:
            cur = _merge(cur, rec.json())
        return self._commit(key, cur)

    def _bind(self, key: tuple[str, str], binding: Obj) -> tuple[int, Obj]:
        pod = deep_copy(self._existing(key))
        if pod.setdefault("spec", {}).get("nodeName"):
            raise ApiError.conflict("pods/binding", key[1], f"pod {key[1]} is already assigned")
        pod["spec"]["nodeName"] = binding["target"]["name"]
        self._commit(key, pod)
        return 201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}

    def _delete(self, key: tuple[str, str], opts: Obj) -> Obj:
        cur = self._existing(key)
        want_rv = (opts.get("preconditions") or {}).get("resourceVersion")
        if want_rv and want_rv != cur["metadata"]["resourceVersion"]:
            raise ApiError.conflict("pods", key[1], "Precondition failed: ResourceVersion mismatch")
        self.remove(*key)
        return cur

    def _commit(self, key: tuple[str, str], obj: Obj) -> Obj:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.objects[key] = obj
        self._emit("MODIFIED", obj)
        return obj

    def _emit(self, etype: str, obj: Obj) -> None:
        rv = int(obj["metadata"]["resourceVersion"])
        self.events.append((rv, etype, obj))
        for w in self.watchers:
            if not w.namespace or w.namespace == obj["metadata"].get("namespace"):
                w.queue.put_nowait({"type": etype, "object": obj})

    async def _watch(self, rec: Recorded, receive: Receive, send: Send) -> None:
        m = POD_PATH.match(rec.path)
        ns = (m["ns"] or "") if m else ""
        since = int(rec.query.get("resourceVersion") or 0)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")]})
        if since and since < self.oldest_rv:
            status = ApiError.gone(f"too old resource version: {since} ({self.oldest_rv})").status()
            await _chunk(send, {"type": "ERROR", "object": status}, more=False)
            return
        w = _Watcher(ns, rec.query.get("allowWatchBookmarks") == "true")
        if since == 0:
            for k in sorted(self.objects):
                if not ns or k[0] == ns:
                    w.queue.put_nowait({"type": "ADDED", "object": self.objects[k]})
        else:
            for rv, etype, obj in self.events:
                if rv > since and (not ns or obj["metadata"].get("namespace") == ns):
                    w.queue.put_nowait({"type": etype, "object": obj})
        self.watchers.append(w)
        self.watch_opened.set()

        async def disconnected() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            w.queue.put_nowait(None)

        watcher_task = asyncio.ensure_future(disconnected())
        try:
            while (event := await w.queue.get()) is not None:
                await _chunk(send, event)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self.watchers.remove(w)
            watcher_task.cancel()


async def _reply(send: Send, code: int, body: Any) -> None:
    data = orjson.dumps(body)
    await send({"type": "http.response.start", "status": code,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


async def _chunk(send: Send, event: dict[str, Any], more: bool = True) -> None:
    await send({"type": "http.response.body", "body": orjson.dumps(event) + b"\n", "more_body": more})


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = _merge(out.get(k), v)
    return out


def _json_patch_op(doc: Obj, op: dict[str, Any]) -> None:
    *parents, last = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
    cur: Any = doc
    for p in parents:
        cur = cur[p]
    if op["op"] == "test":
        if cur.get(last) != op["value"]:
            raise ApiError.unprocessable(f"the server rejected our request due to an error in our request: "
                                         f"test failed at {op['path']}")
    elif op["op"] in ("add", "replace"):
        cur[last] = op["value"]
    elif op["op"] == "remove":
        cur.pop(last, None)


@contextlib.asynccontextmanager
async def run_stub(*, token: str | None = None, certfile: str | None = None,
                   keyfile: str | None = None) -> AsyncIterator[StubApiServer]:
    """Serve a fresh :class:`StubApiServer` on 127.0.0.1 (HTTPS when a cert is given)."""
    stub = StubApiServer(token)
    # Let uvicorn bind port 0 itself: handing it a pre-bound socket loses TCP_NODELAY
    # (~40 ms per response from delayed ACKs).
    config = uvicorn.Config(stub, host="127.0.0.1", port=0, lifespan="off", log_level="warning",
                            access_log=False, ssl_certfile=certfile, ssl_keyfile=keyfile)
    server = uvicorn.Server(config)
    config.load()
    server.lifespan = config.lifespan_class(config)
    await server.startup()  # listening and serving once this returns
    port = server.servers[0].sockets[0].getsockname()[1]
    stub.url = f"{'https' if certfile else 'http'}://127.0.0.1:{port}"
    try:
        yield stub
    finally:
        # A quick shutdown (uvicorn's own one polls every 0.1 s): end watches, stop
        # accepting, close idle keep-alive connections, wait for in-flight requests.
        stub.drop_watches()
        for listener in server.servers:
            listener.close()
        for conn in list(server.server_state.connections):
            conn.shutdown()
        if server.server_state.tasks:
            await asyncio.wait(list(server.server_state.tasks), timeout=5)
        for listener in server.servers:
            await listener.wait_closed()
