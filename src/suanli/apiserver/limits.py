"""Overload protection: in-flight limits with per-user fair queuing, long-running caps, request deadlines.

The behaviour follows kube-apiserver's ``WithMaxInFlightLimit``, ``WithRequestDeadline`` and
``WithTimeoutForNonLongRunningRequests`` filters, with a small part of API Priority and
Fairness (APF) in front of the in-flight pools:

* **Classification** (:func:`classify`): a request is *read-only* when its verb is get, list
  or watch (``GET``, or ``HEAD`` on a resource path), otherwise *mutating* — so ``HEAD`` on a
  non-resource path counts as mutating, as upstream. It is *long-running* when its verb is
  watch or proxy, or its subresource is attach, exec, proxy, log or portforward
  (kube-apiserver's ``BasicLongRunningRequestCheck`` with its default sets).
* **In-flight pools**: at most ``max_readonly`` read-only and ``max_mutating`` mutating
  non-long-running requests execute at once (``0`` disables a pool, as upstream). A request
  that finds its pool full waits in its *user's* queue; freed seats go to the queued users in
  round robin, so one user flooding the server cannot starve another. A user's queue holds at
  most ``queue_length`` requests and a request waits at most ``queue_wait`` seconds; beyond
  either it is rejected with 429 ``TooManyRequests``, message "Too many requests, please try
  again later.", ``Retry-After: 1`` (upstream's message and header).
* **Exempt**: members of ``system:masters`` (upstream's maxinflight filter serves them past
  the limit, and APF's ``exempt`` FlowSchema matches them) and the probes ``/healthz``,
  ``/livez``, ``/readyz`` (APF's ``probes`` FlowSchema).
* **Long-running** requests take no seat (upstream) but a user may hold at most
  ``max_long_running_per_user`` of them at once (ours: upstream has no such cap); the next one
  is rejected with the same 429.
* **Deadlines**: a non-long-running request must finish within ``request_timeout`` seconds
  of its arrival, or sooner when its ``timeout`` query parameter (a Go duration) asks for less;
  a malformed ``timeout`` is a 400 "invalid timeout specified in the request URL - …". Past
  the deadline the handler is cancelled and the client receives 504 ``Timeout`` "Timeout:
  request did not complete within the allotted timeout" (upstream lets the handler run on
  in the background instead; a store write already queued still commits either way).

:meth:`RequestLimits.serve` wraps one ASGI request; the handler calls
:meth:`RequestLimits.admit` once it knows the user. Everything runs on the event loop thread.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from suanli.apimachinery.duration import parse_duration
from suanli.apimachinery.errors import ApiError
from suanli.apiserver.authz.requestinfo import request_info
from suanli.apiserver.context import UserInfo

__all__ = ["FairPool", "LimitsConfig", "RequestClass", "RequestLimits", "classify", "too_many_requests"]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Handler = Callable[[Scope, Receive, Send], Awaitable[None]]

TOO_MANY_MESSAGE = "Too many requests, please try again later."
TIMEOUT_MESSAGE = "Timeout: request did not complete within the allotted timeout"
#: seconds between deadline checks: a request is cancelled at most this long after its deadline
TICK = 0.1
_PRIVILEGED_GROUP = "system:masters"
_PROBES = frozenset({"/healthz", "/livez", "/readyz"})
_LONG_RUNNING_SUBRESOURCES = frozenset({"attach", "exec", "proxy", "log", "portforward"})
_LONG_RUNNING_VERBS = frozenset({"watch", "proxy"})
_READONLY_VERBS = frozenset({"get", "list", "watch"})


def too_many_requests() -> ApiError:
    """The 429 of a shed request (upstream's message, ``Retry-After: 1``)."""
    return ApiError.too_many_requests(TOO_MANY_MESSAGE, retry_after=1)


@dataclass(frozen=True)
class RequestClass:
    """How the limits see one request."""

    readonly: bool
    long_running: bool


def classify(method: str, path: str, query: dict[str, str]) -> RequestClass:
    """Read-only / long-running as kube-apiserver's RequestInfo + ``BasicLongRunningRequestCheck`` see it.

    >>> classify("GET", "/api/v1/namespaces/a/pods/p/log", {})
    RequestClass(readonly=True, long_running=True)
    """
    info = request_info(method, path, query)
    return RequestClass(readonly=info.verb in _READONLY_VERBS,
                        long_running=info.verb in _LONG_RUNNING_VERBS or (
                            info.resource_request and info.subresource in _LONG_RUNNING_SUBRESOURCES))


class FairPool:
    """``limit`` seats shared by flows (users); waiters queue per flow and are served round robin.

    ``acquire(flow)`` returns holding a seat or raises 429 (flow queue full, or no seat within
    ``queue_wait`` seconds); every successful acquire is paired with one ``release()``.
    """

    def __init__(self, limit: int, queue_length: int, queue_wait: float) -> None:
        self.limit = limit
        self.queue_length = queue_length
        self.queue_wait = queue_wait
        self.executing = 0
        self.rejected = 0
        self._queues: dict[str, deque[asyncio.Future[None]]] = {}
        self._ring: deque[str] = deque()  # flows with waiters, in service order

    def queued(self, flow: str) -> int:
        q = self._queues.get(flow)
        return len(q) if q is not None else 0

    async def acquire(self, flow: str) -> None:
        if self.executing < self.limit and not self._ring:
            self.executing += 1
            return
        q = self._queues.get(flow)
        if q is None:
            q = self._queues[flow] = deque()
        if len(q) >= self.queue_length:
            self.rejected += 1
            raise too_many_requests()
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not q:
            self._ring.append(flow)
        q.append(fut)
        timer = asyncio.get_running_loop().call_later(self.queue_wait, self._expire, flow, fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():  # granted just as the request was cancelled
                self.release()
            else:
                self._forget(flow, fut)
            raise
        finally:
            timer.cancel()

    def release(self) -> None:
        self.executing -= 1
        while self.executing < self.limit and self._ring:
            flow = self._ring.popleft()
            q = self._queues[flow]
            fut = q.popleft()
            if q:
                self._ring.append(flow)
            else:
                del self._queues[flow]
            if fut.done():  # its request was cancelled while queued and has not forgotten it yet
                continue
            fut.set_result(None)
            self.executing += 1

    def _expire(self, flow: str, fut: asyncio.Future[None]) -> None:
        if not fut.done():
            self._forget(flow, fut)
            self.rejected += 1
            fut.set_exception(too_many_requests())

    def _forget(self, flow: str, fut: asyncio.Future[None]) -> None:
        q = self._queues.get(flow)
        if q is None or fut not in q:
            return
        q.remove(fut)
        if not q:
            del self._queues[flow]
            self._ring.remove(flow)


class _Admission:
    """One request's state between :meth:`RequestLimits.serve` and :meth:`RequestLimits.admit`."""

    __slots__ = ("arrived", "deadline", "releases", "task", "timed_out")

    def __init__(self, arrived: float, deadline: float | None, task: asyncio.Task[Any] | None) -> None:
        self.arrived = arrived
        #: loop time after which the request is cancelled; None: no deadline (long-running)
        self.deadline = deadline
        self.task = task
        self.timed_out = False
        self.releases: list[Callable[[], None]] = []


_CURRENT: contextvars.ContextVar[_Admission | None] = contextvars.ContextVar("suanli_admission", default=None)


@dataclass(frozen=True)
class LimitsConfig:
    """The ``suanli up`` flags of the same names; defaults are kube-apiserver's where it has the flag."""

    max_requests_inflight: int = 400
    max_mutating_requests_inflight: int = 200
    request_timeout: float = 60.0
    #: ours: long-running requests (watches, logs, exec …) one user may hold open at once; 0 = no cap
    max_long_running_requests_per_user: int = 200
    #: ours: requests one user may have waiting for a seat per pool (APF's default queueLengthLimit)
    max_queued_requests_per_user: int = 50


class RequestLimits:
    """The server's overload limits (see the module docstring).

    A request waits for a seat at most a quarter of ``request_timeout``; limits of 0 disable a
    pool or the long-running cap.
    """

    def __init__(self, config: LimitsConfig | None = None) -> None:
        cfg = config if config is not None else LimitsConfig()
        wait = cfg.request_timeout / 4
        self.readonly = FairPool(cfg.max_requests_inflight, cfg.max_queued_requests_per_user, wait)
        self.mutating = FairPool(cfg.max_mutating_requests_inflight, cfg.max_queued_requests_per_user, wait)
        self.request_timeout = cfg.request_timeout
        self.max_long_running_per_user = cfg.max_long_running_requests_per_user
        self._long_running: dict[str, int] = {}
        self._inflight: set[_Admission] = set()
        self._ticker: asyncio.TimerHandle | None = None
        self._ticker_loop: asyncio.AbstractEventLoop | None = None

    def long_running(self, user: str) -> int:
        """Long-running requests ``user`` holds open now."""
        return self._long_running.get(user, 0)

    async def serve(self, handler: Handler, scope: Scope, receive: Receive, send: Send) -> None:
        """Run ``handler`` for one request under the deadline :meth:`admit` sets; release its seat after.

        Deadlines are enforced by a ticker (every :data:`TICK` seconds while requests are in
        flight) that cancels the request's task, which is cheaper per request than a timer each.
        """
        loop = asyncio.get_running_loop()
        http = scope["type"] == "http"  # WebSocket upgrades are long-running: no deadline
        now = loop.time()
        adm = _Admission(now, now + self.request_timeout if http else None, asyncio.current_task() if http else None)
        token = _CURRENT.set(adm)
        if http:
            self._inflight.add(adm)
            if self._ticker is None or self._ticker_loop is not loop:
                self._ticker, self._ticker_loop = loop.call_later(TICK, self._tick), loop
        started = False

        async def tracked(msg: dict[str, Any]) -> None:
            nonlocal started
            started = True
            await send(msg)

        try:
            await handler(scope, receive, tracked if http else send)
        except asyncio.CancelledError:
            if not adm.timed_out or adm.task is None:
                raise
            adm.task.uncancel()
            if not started:  # a response under way cannot be replaced; the connection just ends
                await self._send_timeout(send)
        finally:
            _CURRENT.reset(token)
            self._inflight.discard(adm)
            for release in adm.releases:
                release()
            adm.releases.clear()

    def _tick(self) -> None:
        """Cancel every request past its deadline; re-arm while requests are in flight."""
        self._ticker = None
        if not self._inflight:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        for adm in self._inflight:
            if adm.deadline is not None and now >= adm.deadline and not adm.timed_out and adm.task is not None:
                adm.timed_out = True
                adm.task.cancel()
        self._ticker = loop.call_later(TICK, self._tick)

    @staticmethod
    async def _send_timeout(send: Send) -> None:
        body = orjson.dumps(ApiError(504, "Timeout", TIMEOUT_MESSAGE).status())
        await send({"type": "http.response.start", "status": 504,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body)),
                                (b"cache-control", b"no-cache, private")]})
        await send({"type": "http.response.body", "body": body})

    async def admit(self, method: str, path: str, query: dict[str, str], user: UserInfo) -> None:
        """Take a seat for the current request (inside :meth:`serve`) or raise 429 / 400.

        Outside :meth:`serve` (in-process callers, unit tests of the HTTP layer) it does nothing.
        """
        adm = _CURRENT.get()
        if adm is None:
            return
        kind = classify(method, path, query)
        exempt = path in _PROBES or _PRIVILEGED_GROUP in user.groups
        if kind.long_running:
            adm.deadline = None
            cap = self.max_long_running_per_user
            if exempt or cap <= 0:
                return
            held = self._long_running.get(user.name, 0)
            if held >= cap:
                raise too_many_requests()
            self._long_running[user.name] = held + 1
            adm.releases.append(lambda: self._drop_long_running(user.name))
            return
        if adm.deadline is not None and "timeout" in query:
            adm.deadline = adm.arrived + self._timeout_for(query)
        if exempt:
            return
        pool = self.readonly if kind.readonly else self.mutating
        if pool.limit <= 0:
            return
        await pool.acquire(user.name)
        adm.releases.append(pool.release)

    def _timeout_for(self, query: dict[str, str]) -> float:
        """Seconds a request may take: its ``timeout`` parameter when positive and below the server's."""
        text = query.get("timeout", "")
        if not text:
            return self.request_timeout
        try:
            asked = parse_duration(text)
        except ValueError:
            raise ApiError.bad_request(f'invalid timeout specified in the request URL - time: invalid duration '
                                       f'"{text}"') from None
        return asked if 0 < asked < self.request_timeout else self.request_timeout

    def _drop_long_running(self, user: str) -> None:
        held = self._long_running.get(user, 0) - 1
        if held > 0:
            self._long_running[user] = held
        else:
            self._long_running.pop(user, None)
