"""The lean HTTP paths: watch bursts written as batched chunks, write responses from the store's bytes.

Driven through :class:`ApiApp` in-process (ASGI scope/receive/send), over a real
:class:`ApiService` and in-memory store.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from suanli.apimachinery.selectors import parse_label_selector
from suanli.apiserver.http import ApiApp
from suanli.apiserver.service import ApiService
from suanli.apiserver.watch import BATCH_LIMIT, Emitted, open_watch
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.registry import Registry
from suanli.storage import Store


class Stack:
    def __init__(self, service: ApiService, app: ApiApp) -> None:
        self.service = service
        self.app = app
        self.pods = service.resource("", "v1", "pods")

    async def request(self, method: str, path: str, body: Any = None, query: bytes = b"") -> tuple[int, bytes]:
        raw = orjson.dumps(body) if body is not None else b""
        scope = {"type": "http", "method": method, "path": path, "query_string": query,
                 "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]}
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": raw, "more_body": False}

        async def send(msg: dict[str, Any]) -> None:
            sent.append(msg)

        await self.app(scope, receive, send)
        return int(sent[0]["status"]), b"".join(m.get("body", b"") for m in sent[1:])


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    registry = Registry()
    registry.add_all(builtin_resource_types())
    store = Store(None, compaction_interval=0)
    await store.start()
    service = ApiService(store, registry)
    ns_rt = service.resource("", "v1", "namespaces")
    await service.create(ns_rt, "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    try:
        yield Stack(service, ApiApp(service, token=None, allow_anonymous=True))
    finally:
        await service.drain_background()
        await store.stop()


def pod(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default", "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


@pytest.mark.parametrize("burst", [1, 10, BATCH_LIMIT + 7], ids=["single event", "burst below the limit",
                                                                  "burst above the limit splits"])
async def test_watch_burst_arrives_complete_in_order_in_batched_chunks(stack: Stack, burst: int) -> None:
    chunks: list[bytes] = []
    got = asyncio.Event()
    stop = asyncio.Event()

    async def send(msg: dict[str, Any]) -> None:
        if msg.get("body"):
            chunks.append(msg["body"])
            if sum(c.count(b"\n") for c in chunks) >= burst:
                got.set()

    async def receive() -> dict[str, Any]:
        await stop.wait()
        return {"type": "http.disconnect"}

    scope = {"type": "http", "method": "GET", "path": "/api/v1/namespaces/default/pods",
             "query_string": b"watch=1", "headers": []}
    task = asyncio.create_task(stack.app(scope, receive, send))
    await asyncio.sleep(0)  # the watch opens at the current revision before the burst
    await asyncio.gather(*(stack.service.create(stack.pods, "default", pod(f"p{i:03d}")) for i in range(burst)))
    async with asyncio.timeout(5):
        await got.wait()
    stop.set()
    await task
    lines = b"".join(chunks).split(b"\n")
    assert lines[-1] == b""
    events = [orjson.loads(line) for line in lines[:-1]]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == \
        [("ADDED", f"p{i:03d}") for i in range(burst)]
    assert all(c.endswith(b"\n") for c in chunks)  # no event is split across chunks
    assert max(c.count(b"\n") for c in chunks) <= BATCH_LIMIT
    if burst > 1:
        assert len(chunks) < burst


async def _collect(it: AsyncIterator[Any], n: int) -> list[Any]:
    out: list[Any] = []
    async with asyncio.timeout(5):
        async for x in it:
            out.append(x)
            if len(out) >= n:
                break
    return out


async def test_batches_flatten_to_the_one_by_one_events_for_selector_transitions(stack: Stack) -> None:
    store = stack.service.store
    selector = parse_label_selector("app=web")

    def session() -> Any:
        return open_watch(store, stack.pods, "default", resource_version=str(store.revision),
                          label_selector=selector, field_selector=None, send_initial_events=None)

    one_by_one, batched = session(), session()
    svc, rt = stack.service, stack.pods
    await svc.create(rt, "default", pod("a", app="web"))       # ADDED
    await svc.create(rt, "default", pod("b", app="db"))        # not shown
    cur = svc.get(rt, "default", "b").obj
    await svc.update(rt, "default", "b", {**cur, "metadata": {**cur["metadata"], "labels": {"app": "web"}}})  # ADDED
    cur = svc.get(rt, "default", "a").obj
    await svc.update(rt, "default", "a", {**cur, "metadata": {**cur["metadata"], "labels": {"app": "db"}}})  # DELETED
    cur = svc.get(rt, "default", "b").obj
    await svc.update(rt, "default", "b", {**cur, "metadata": {**cur["metadata"], "labels": {"app": "web", "v": "2"}}})
    expected = [("ADDED", "a"), ("ADDED", "b"), ("DELETED", "a"), ("MODIFIED", "b")]

    def names(evs: list[Emitted]) -> list[tuple[str, str]]:
        return [(e.type, e.obj.obj["metadata"]["name"]) for e in evs if e.obj is not None]

    flat = await _collect(one_by_one.events(), len(expected))
    batches = await _collect(batched.batches(limit=3), 2)
    one_by_one.close()
    batched.close()
    assert names(flat) == expected
    assert [len(b) for b in batches] == [3, 1]
    assert names([e for b in batches for e in b]) == expected


@pytest.mark.parametrize(("query", "stored"), [(b"", True), (b"dryRun=All", False)],
                         ids=["create answers with the stored bytes", "dry-run create answers without storing"])
async def test_create_response_is_the_created_object(stack: Stack, query: bytes, stored: bool) -> None:
    status, body = await stack.request("POST", "/api/v1/namespaces/default/pods", pod("x", app="web"), query)
    assert status == 201
    obj = orjson.loads(body)
    assert obj["metadata"]["name"] == "x" and obj["metadata"]["labels"] == {"app": "web"}
    so = stack.service.store.get("pods", "default", "x")
    if stored:
        assert so is not None and body == so.raw and obj == so.obj
    else:
        assert so is None and obj["metadata"]["uid"]


async def test_update_response_is_the_new_stored_object(stack: Stack) -> None:
    await stack.request("POST", "/api/v1/namespaces/default/pods", pod("x", app="web"))
    cur = orjson.loads((await stack.request("GET", "/api/v1/namespaces/default/pods/x"))[1])
    cur["metadata"]["labels"]["v"] = "1"
    status, body = await stack.request("PUT", "/api/v1/namespaces/default/pods/x", cur)
    so = stack.service.store.get("pods", "default", "x")
    assert status == 200 and so is not None and body == so.raw
    assert orjson.loads(body)["metadata"]["labels"] == {"app": "web", "v": "1"}
