"""Overload limits (:mod:`suanli.apiserver.limits`).

The in-flight tests port kube-apiserver's maxinflight_test.go (TestMaxInFlightNonMutating,
TestMaxInFlightMutating, TestMaxInFlightSkipsMasters: limits of 3, long-running requests not
accounted, rejected requests answered at once, recovery after release) with a per-user queue
length of 0, which is upstream's no-queue behaviour; the fairness, long-running cap and deadline
tests cover what we add. Requests run through :class:`ApiApp` over ASGI, with the real
``RequestLimits.serve`` wrapper and a handler blocked on an event the test controls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest

from suanli.apimachinery.errors import ApiError
from suanli.apiserver.context import ADMIN, UserInfo
from suanli.apiserver.limits import LimitsConfig, RequestClass, RequestLimits, classify

ALICE = UserInfo("alice", groups=("system:authenticated",))
BOB = UserInfo("bob", groups=("system:authenticated",))


# method, path, query, readonly, long-running — rows from upstream requestinfo_test.go and
# BasicLongRunningRequestCheck(watch, proxy; attach, exec, proxy, log, portforward)
CLASSES = [
    ("GET", "/api/v1/namespaces/other/pods", {}, True, False),
    ("GET", "/api/v1/namespaces/other/pods/foo", {}, True, False),
    ("HEAD", "/api/v1/namespaces/other/pods/foo", {}, True, False),
    ("GET", "/api/v1/watch/pods", {}, True, True),
    ("GET", "/api/v1/pods", {"watch": "true"}, True, True),
    ("GET", "/api/v1/pods", {"watch": "false"}, True, False),
    ("GET", "/api/v1/namespaces/other/pods", {"watch": "1"}, True, True),
    ("GET", "/api/v1/proxy/namespaces/other/pods/foo", {}, False, True),
    ("GET", "/api/v1/namespaces/other/pods/foo/proxy/subpath", {}, True, True),
    ("GET", "/api/v1/namespaces/other/pods/foo/log", {}, True, True),
    ("GET", "/api/v1/namespaces/other/pods/foo/status", {}, True, False),
    ("POST", "/api/v1/namespaces/other/pods/foo/exec", {}, False, True),
    ("POST", "/api/v1/namespaces/other/pods/foo/attach", {}, False, True),
    ("POST", "/api/v1/namespaces/other/pods/foo/portforward", {}, False, True),
    ("POST", "/api/v1/namespaces/other/pods/foo/eviction", {}, False, False),
    ("POST", "/api/v1/namespaces/other/pods", {}, False, False),
    ("PUT", "/api/v1/namespaces/other/status", {}, False, False),
    ("PATCH", "/api/v1/namespaces/other/pods/foo", {}, False, False),
    ("DELETE", "/api/v1/namespaces/other/pods/foo", {}, False, False),
    ("DELETE", "/api/v1/namespaces/other/pods", {}, False, False),
    ("GET", "/apis/apps/v1/namespaces/other/deployments", {}, True, False),
    ("GET", "/healthz", {}, True, False),
    ("GET", "/api", {}, True, False),
    ("HEAD", "/healthz", {}, False, False),  # non-resource HEAD: verb "head", counted as mutating upstream
]


@pytest.mark.parametrize(("method", "path", "query", "readonly", "long_running"), CLASSES,
                         ids=[f"{m} {p}{'?' + next(iter(q)) + '=' + next(iter(q.values())) if q else ''}"
                              for m, p, q, _r, _l in CLASSES])
def test_requests_are_classified_like_kube_apiserver(method: str, path: str, query: dict[str, str],
                                                     readonly: bool, long_running: bool) -> None:
    assert classify(method, path, query) == RequestClass(readonly=readonly, long_running=long_running)


class Harness:
    """``RequestLimits.serve`` around a handler that admits, then waits until released."""

    def __init__(self, limits: RequestLimits) -> None:
        self.limits = limits
        self.release = asyncio.Event()
        self.entered = 0

    async def handler(self, scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]],
                      send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        user: UserInfo = scope["user"]
        query = dict(x.split("=", 1) for x in scope["query_string"].decode().split("&") if x)
        try:
            await self.limits.admit(scope["method"], scope["path"], query, user)
        except ApiError as err:
            headers = [(b"retry-after", str(err.retry_after_seconds).encode())] if err.retry_after_seconds else []
            await send({"type": "http.response.start", "status": err.code, "headers": headers})
            await send({"type": "http.response.body", "body": orjson.dumps(err.status())})
            return
        self.entered += 1
        if "dontwait" not in scope["path"] and scope["path"] != "/readyz":
            await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def call(self, method: str, path: str, user: UserInfo = ALICE,
                   query: str = "") -> tuple[int, dict[bytes, bytes], bytes]:
        scope = {"type": "http", "method": method, "path": path, "query_string": query.encode(), "user": user,
                 "headers": []}
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(msg: dict[str, Any]) -> None:
            sent.append(msg)

        await self.limits.serve(self.handler, scope, receive, send)
        return int(sent[0]["status"]), dict(sent[0]["headers"]), b"".join(m.get("body", b"") for m in sent[1:])

    def start(self, method: str, path: str, user: UserInfo = ALICE,
              query: str = "") -> asyncio.Task[tuple[int, dict[bytes, bytes], bytes]]:
        return asyncio.ensure_future(self.call(method, path, user, query))

    async def until_entered(self, n: int) -> None:
        async with asyncio.timeout(10):
            while self.entered < n:
                await asyncio.sleep(0)


def upstream(readonly: int, mutating: int) -> Harness:
    return Harness(RequestLimits(LimitsConfig(max_requests_inflight=readonly, max_mutating_requests_inflight=mutating,
                                              max_queued_requests_per_user=0)))


async def test_max_inflight_non_mutating() -> None:
    h = upstream(3, 1)
    watches = [h.start("GET", "/api/v1/namespaces/default/pods", query="watch=true") for _ in range(3)]
    assert (await h.call("GET", "/dontwait"))[0] == 200  # not saturated by unaccounted watches
    held = [h.start("GET", "/api/v1/namespaces/default/pods") for _ in range(3)]
    await h.until_entered(6 + 1)
    for _ in range(2):  # rejected at once, not blocked
        status, headers, body = await h.call("GET", "/api/v1/namespaces/default/pods")
        assert (status, headers[b"retry-after"]) == (429, b"1")
        assert orjson.loads(body)["reason"] == "TooManyRequests"
        assert orjson.loads(body)["message"] == "Too many requests, please try again later."
    assert (await h.call("GET", "/api/v1/watch/namespaces/default/dontwait"))[0] == 200
    assert (await h.call("POST", "/dontwait"))[0] == 200  # the mutating pool is separate
    h.release.set()
    assert [(await t)[0] for t in watches + held] == [200] * 6
    assert (await h.call("GET", "/api/v1/namespaces/default/pods"))[0] == 200


async def test_max_inflight_mutating() -> None:
    h = upstream(1, 3)
    held = [h.start("POST", "/foo/bar") for _ in range(3)]
    await h.until_entered(3)
    for _ in range(2):
        assert (await h.call("POST", "/foo/bar/"))[0] == 429
    assert (await h.call("GET", "/dontwait"))[0] == 200
    h.release.set()
    assert [(await t)[0] for t in held] == [200] * 3
    h.release.clear()
    h.release.set()
    assert (await h.call("POST", "/foo/bar"))[0] == 200


async def test_max_inflight_skips_masters_and_probes() -> None:
    h = upstream(1, 3)
    held = [h.start("POST", "/foo/bar") for _ in range(3)]
    await h.until_entered(3)
    for _ in range(2):
        assert (await h.call("POST", "/dontwait", ADMIN))[0] == 200
    assert (await h.call("POST", "/dontwait"))[0] == 429
    blocker = h.start("GET", "/api/v1/pods")
    await h.until_entered(6)
    assert (await h.call("GET", "/readyz"))[0] == 200  # the probes are exempt
    assert (await h.call("GET", "/readyz/dontwait"))[0] == 429  # only the probe paths themselves
    h.release.set()
    assert [(await t)[0] for t in [*held, blocker]] == [200] * 4


async def test_a_queued_user_gets_the_next_free_seat_before_the_flooding_user() -> None:
    h = Harness(RequestLimits(LimitsConfig(max_mutating_requests_inflight=2, max_queued_requests_per_user=3)))
    running = [h.start("POST", "/api/v1/namespaces/a/configmaps") for _ in range(2)]
    await h.until_entered(2)
    queued = [h.start("POST", "/api/v1/namespaces/a/configmaps") for _ in range(3)]
    await asyncio.sleep(0)
    assert h.limits.mutating.queued("alice") == 3
    shed = await h.call("POST", "/api/v1/namespaces/a/configmaps")
    assert shed[0] == 429  # alice's queue is full
    bob = h.start("POST", "/api/v1/namespaces/b/configmaps", BOB)
    await asyncio.sleep(0)
    assert h.limits.mutating.queued("bob") == 1
    order: list[str] = []
    for name, task in [("alice", t) for t in queued] + [("bob", bob)]:
        task.add_done_callback(lambda _t, n=name: order.append(n))
    h.release.set()
    assert [(await t)[0] for t in [*running, *queued, bob]] == [200] * 6
    assert order.index("bob") <= 1  # served round robin: at most one queued alice request before bob


async def test_a_request_that_waits_too_long_for_a_seat_is_shed() -> None:
    h = Harness(RequestLimits(LimitsConfig(max_mutating_requests_inflight=1, request_timeout=0.2)))
    running = h.start("POST", "/api/v1/namespaces/a/configmaps")
    await h.until_entered(1)
    status, headers, _ = await h.call("POST", "/api/v1/namespaces/a/configmaps")
    assert (status, headers[b"retry-after"]) == (429, b"1")
    assert h.limits.mutating.queued("alice") == 0
    h.release.set()
    assert (await running)[0] in (200, 504)


async def test_long_running_requests_are_capped_per_user() -> None:
    h = Harness(RequestLimits(LimitsConfig(max_long_running_requests_per_user=2)))
    watches = [h.start("GET", "/api/v1/pods", query="watch=true") for _ in range(2)]
    await h.until_entered(2)
    assert h.limits.long_running("alice") == 2
    assert (await h.call("GET", "/api/v1/namespaces/a/pods/p/log"))[0] == 429
    bob = h.start("GET", "/api/v1/pods", BOB, query="watch=true")
    admin = h.start("GET", "/api/v1/pods", ADMIN, query="watch=true")
    await h.until_entered(4)
    h.release.set()
    assert [(await t)[0] for t in [*watches, bob, admin]] == [200] * 4
    assert h.limits.long_running("alice") == 0


@pytest.mark.parametrize(("query", "timeout"), [("", 0.3), ("timeout=50ms", 0.05), ("timeout=10m", 0.3),
                                                ("timeout=0s", 0.3)],
                         ids=["server timeout", "shorter timeout parameter wins",
                              "longer parameter is capped by the server", "zero parameter means the server's"])
async def test_requests_past_their_deadline_get_504(query: str, timeout: float) -> None:
    h = Harness(RequestLimits(LimitsConfig(request_timeout=0.3)))
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    status, _, body = await h.call("GET", "/api/v1/pods", query=query)
    elapsed = loop.time() - t0
    assert status == 504
    assert orjson.loads(body) | {"metadata": {}} == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "code": 504, "reason": "Timeout",
        "message": "Timeout: request did not complete within the allotted timeout"} | (
        {"details": orjson.loads(body)["details"]} if "details" in orjson.loads(body) else {})
    assert timeout <= elapsed < timeout + 5
    assert h.limits.readonly.executing == 0  # the seat came back


async def test_long_running_requests_have_no_deadline() -> None:
    h = Harness(RequestLimits(LimitsConfig(request_timeout=0.05)))
    watch = h.start("GET", "/api/v1/pods", query="watch=true")
    await h.until_entered(1)
    assert (await h.call("GET", "/api/v1/pods"))[0] == 504  # a short one on the same limits times out
    assert not watch.done()
    h.release.set()
    assert (await watch)[0] == 200


def test_a_malformed_timeout_parameter_is_a_400() -> None:
    limits = RequestLimits()
    with pytest.raises(ApiError) as err:
        limits._timeout_for({"timeout": "foo"})
    assert err.value.code == 400
    assert err.value.message == 'invalid timeout specified in the request URL - time: invalid duration "foo"'


async def test_a_request_cancelled_while_queued_gives_its_place_to_the_next() -> None:
    h = Harness(RequestLimits(LimitsConfig(max_mutating_requests_inflight=1, max_queued_requests_per_user=2)))
    running = h.start("POST", "/api/v1/namespaces/a/configmaps")
    await h.until_entered(1)
    gone = h.start("POST", "/api/v1/namespaces/a/configmaps")  # a client that goes away while queued
    waiting = h.start("POST", "/api/v1/namespaces/b/configmaps", BOB)
    await asyncio.sleep(0)
    h.release.set()  # the seat frees before the cancelled request's task has run again
    gone.cancel()
    assert (await running)[0] == 200
    assert (await waiting)[0] == 200
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert (h.limits.mutating.executing, h.limits.mutating.queued("alice"), h.limits.mutating.queued("bob")) == (
        0, 0, 0)
