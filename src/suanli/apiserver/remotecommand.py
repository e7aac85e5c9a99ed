"""``pods/{name}/exec`` and ``pods/{name}/attach`` over WebSocket, as kubectl speaks them.

kubectl (client-go ``tools/remotecommand``) opens a WebSocket offering the subprotocols
``v5.channel.k8s.io`` … ``channel.k8s.io``; we accept ``v5`` or ``v4``. Every binary message
starts with a channel byte: 0 stdin (client → server), 1 stdout, 2 stderr, 3 error (one
``Status`` JSON when the command ends: ``Success``, or ``Failure``/``NonZeroExitCode`` with the
exit code as an ``ExitCode`` cause), 4 terminal resize (``{"Width":…,"Height":…}``); ``v5``
adds 255 "close" whose payload names the channel the client closed (0: end of stdin).

A request that cannot be served (pod or container missing, pod on a simulated node, no
acceptable subprotocol) is answered before the upgrade with a plain HTTP ``Status`` (ASGI
WebSocket denial response), so kubectl prints the server's message. A SPDY upgrade (older
clients, and kubectl's fallback) is answered 400 naming the WebSocket protocols.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import orjson

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.apiserver.streaming import PodStreamer, StreamIO

__all__ = ["CHANNEL_PROTOCOLS", "exit_status", "serve_remotecommand"]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

#: Subprotocols we speak, best first.
CHANNEL_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


def exit_status(code: int, command: list[str]) -> Obj:
    """The error-channel ``Status`` for a finished command (upstream remotecommand's shape)."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command {command}, "
                       f"exit code {code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def _flag(query: dict[str, list[str]], name: str) -> bool:
    return (query.get(name) or ["false"])[-1] in ("true", "1", "True")


def pick_container(pod: Obj, requested: str) -> str:
    """The container a request means: the named one, else the default-container annotation or the only one."""
    names = [str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or []]
    name = pod["metadata"]["name"]
    if requested:
        if requested not in names:
            raise ApiError.bad_request(f"container {requested} is not valid for pod {name}")
        return requested
    default = ((pod["metadata"].get("annotations") or {}).get("kubectl.kubernetes.io/default-container"))
    if default in names:
        return str(default)
    if len(names) == 1:
        return names[0]
    raise ApiError.bad_request(f"a container name must be specified for pod {name}, choose one of: "
                               f"[{' '.join(names)}]")


async def deny(send: Send, err: ApiError, scope: Scope) -> None:
    """Refuse a WebSocket handshake with ``err`` as an HTTP Status (or a bare close without the extension)."""
    if "websocket.http.response" in (scope.get("extensions") or {}):
        body = orjson.dumps(err.status())
        await send({"type": "websocket.http.response.start", "status": err.code,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008, "reason": err.message[:120]})


async def serve_remotecommand(scope: Scope, receive: Receive, send: Send, *, sub: str, pod: Obj,
                              streamer: PodStreamer) -> None:
    """Run one exec/attach session for ``pod`` through ``streamer`` (the handshake is not yet accepted)."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    offered = [p.strip() for p in scope.get("subprotocols") or []]
    protocol = next((p for p in CHANNEL_PROTOCOLS if p in offered), None)
    if protocol is None:
        raise ApiError.bad_request(f"unable to upgrade connection: no subprotocol in {offered} is supported; "
                                   f"supported: {list(CHANNEL_PROTOCOLS)}")
    container = pick_container(pod, (query.get("container") or [""])[-1])
    command = [c for c in query.get("command") or [] if c]
    if sub == "exec" and not command:
        raise ApiError.bad_request("you must specify at least 1 command")
    want_stdin, tty = _flag(query, "stdin"), _flag(query, "tty")
    if not (want_stdin or _flag(query, "stdout") or _flag(query, "stderr")):
        raise ApiError.bad_request("you must specify at least 1 of stdin, stdout, stderr")
    await streamer.check(pod, container, sub)
    await send({"type": "websocket.accept", "subprotocol": protocol})
    outq: asyncio.Queue[bytes | None] = asyncio.Queue()
    io = StreamIO(out=lambda ch, data: outq.put_nowait(bytes([ch]) + data),
                  stdin=asyncio.Queue() if want_stdin else None, tty=tty)
    outq.put_nowait(bytes([STDOUT]))  # an empty first message tells the client the streams are up

    async def pump_out() -> None:
        while (msg := await outq.get()) is not None:
            await send({"type": "websocket.send", "bytes": msg})

    async def pump_in() -> None:
        while True:
            msg = await receive()
            if msg["type"] == "websocket.disconnect":
                if io.stdin is not None:
                    io.stdin.put_nowait(None)
                raise ConnectionError("client went away")
            data: bytes = msg.get("bytes") or (msg.get("text") or "").encode()
            if not data:
                continue
            channel, payload = data[0], data[1:]
            if channel == STDIN and io.stdin is not None and payload:
                io.stdin.put_nowait(payload)
            elif channel == CLOSE and payload[:1] == bytes([STDIN]) and io.stdin is not None:
                io.stdin.put_nowait(None)
            elif channel == RESIZE:
                with contextlib.suppress(ValueError, TypeError, KeyError):
                    size = json.loads(payload)
                    io.resizes.put_nowait((int(size["Width"]), int(size["Height"])))

    sender = asyncio.ensure_future(pump_out())
    reader = asyncio.ensure_future(pump_in())
    work: asyncio.Future[int | None]
    if sub == "exec":
        work = asyncio.ensure_future(streamer.exec(pod, container, command, io))
    else:
        work = asyncio.ensure_future(_attach(streamer, pod, container, io))
    await asyncio.wait([work, reader], return_when=asyncio.FIRST_COMPLETED)
    if not work.done():  # the client went away: stop the command
        work.cancel()
        with contextlib.suppress(BaseException):
            await work
        sender.cancel()
        return
    reader.cancel()
    try:
        code = work.result()
        status = exit_status(code, command) if code is not None else {"metadata": {}, "status": "Success"}
    except ApiError as err:
        status = err.status()
    outq.put_nowait(bytes([ERROR]) + orjson.dumps(status))
    outq.put_nowait(None)
    with contextlib.suppress(Exception):
        await sender
        await send({"type": "websocket.close", "code": 1000})


async def _attach(streamer: PodStreamer, pod: Obj, container: str, io: StreamIO) -> int | None:
    await streamer.attach(pod, container, io)
    return None
