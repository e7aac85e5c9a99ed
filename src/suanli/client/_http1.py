"""A lean HTTP/1.1 keep-alive connection pool for :class:`~suanli.client.http.HttpClient`'s requests.

Ordinary API requests (binds, Events, status writes) are small and many; httpx/httpcore spend
about a millisecond of CPU on each in pool bookkeeping (every request scans every pooled
connection and polls its socket) and write headers and body as two TLS records. This pool keeps
up to ``max_connections`` persistent connections (TLS or plain) to one server and runs one
request at a time on each, so up to ``max_connections`` requests are in flight at once (client-go
keeps a keep-alive pool too; it multiplexes over HTTP/2, which the embedded server does not
speak). A request is one write (head and body together); a response is framed by
``Content-Length`` or chunked encoding. Contract:

* :meth:`Http1Pool.request` returns ``(status, body)`` for any status code;
* a connection the server closed while idle (keep-alive timeout) is noticed and replaced: a
  request that finds its reused connection closed before any response byte arrived is sent
  again once on a new connection (Go's transport retries such requests the same way);
* any other transport failure or a timeout raises :class:`TransportFailure`; the connection is
  dropped;
* ``Connection: close`` in a response, or a response without framing, closes the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from urllib.parse import urlencode

__all__ = ["Http1Pool", "TransportFailure"]

_LIMIT = 1 << 20  # longest header block accepted


class TransportFailure(Exception):
    """The request could not be completed (refused, reset, TLS failure, timeout, bad framing)."""


class _Closed(Exception):
    """The server closed a reused connection before sending any byte of the response."""


class _Conn:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    def usable(self) -> bool:
        return not self.writer.is_closing() and not self.reader.at_eof()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class Http1Pool:
    """Persistent HTTP/1.1 connections to ``host:port`` (TLS when ``ssl_context`` is given)."""

    def __init__(self, host: str, port: int, *, ssl_context: ssl.SSLContext | None, base_path: str = "",
                 headers: dict[str, str] | None = None, max_connections: int = 16, timeout: float = 30.0) -> None:
        self.host, self.port = host, port
        self.ssl_context = ssl_context
        self.base_path = base_path.rstrip("/")
        self.timeout = timeout
        name = f"[{host}]" if ":" in host else host  # an IPv6 literal
        fixed = {"Host": name if port in (80, 443) else f"{name}:{port}", **(headers or {})}
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in fixed.items())
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: deque[_Conn] = deque()
        self._closed = False

    async def request(self, method: str, path: str, *, params: dict[str, str] | None = None, body: bytes | None = None,
                      headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """Send one request; ``(status code, response body)``."""
        target = self.base_path + path + (f"?{urlencode(params)}" if params else "")
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        length = f"Content-Length: {len(body)}\r\n" if body is not None else ""
        data = f"{method} {target} HTTP/1.1\r\n{self._fixed}{extra}{length}\r\n".encode("latin-1") + (body or b"")
        async with self._slots:
            try:
                return await asyncio.wait_for(self._exchange(method, data), self.timeout)
            except TimeoutError as exc:
                raise TransportFailure(f"no response within {self.timeout:g}s") from exc

    async def close(self) -> None:
        """Close every idle connection; later requests fail."""
        self._closed = True
        while self._idle:
            self._idle.pop().close()

    async def _exchange(self, method: str, data: bytes) -> tuple[int, bytes]:
        for _attempt in range(2):
            conn, reused = await self._connection()
            try:
                conn.writer.write(data)
                await conn.writer.drain()
                status, body, keep = await self._response(conn.reader, method, reused)
            except _Closed:
                conn.close()
                continue  # the server had closed it while idle: once more on a new connection
            except (OSError, EOFError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
                conn.close()
                raise TransportFailure(f"{type(exc).__name__}: {exc}") from exc
            except BaseException:
                conn.close()  # cancelled or timed out mid-exchange: the connection is out of sync
                raise
            if keep and not self._closed:
                self._idle.append(conn)
            else:
                conn.close()
            return status, body
        raise TransportFailure("the server closed the connection")

    async def _connection(self) -> tuple[_Conn, bool]:
        while self._idle:
            conn = self._idle.pop()
            if conn.usable():
                return conn, True
            conn.close()
        if self._closed:
            raise TransportFailure("client closed")
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port, ssl=self.ssl_context, limit=_LIMIT,
                                                           server_hostname=self.host if self.ssl_context else None)
        except (OSError, ssl.SSLError) as exc:
            raise TransportFailure(f"{type(exc).__name__}: {exc}") from exc
        return _Conn(reader, writer), False

    @staticmethod
    async def _response(reader: asyncio.StreamReader, method: str, reused: bool) -> tuple[int, bytes, bool]:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if reused and not exc.partial:
                raise _Closed from exc
            raise
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise ValueError(f"not an HTTP/1.x response: {lines[0]!r}")
        status = int(parts[1])
        fields: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                fields[name.strip().lower()] = value.strip()
        keep = fields.get("connection", "").lower() != "close" and parts[0] == "HTTP/1.1"
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return status, b"", keep
        if "chunked" in fields.get("transfer-encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                        pass
                    return status, b"".join(chunks), keep
                chunks.append((await reader.readexactly(size + 2))[:-2])
        if "content-length" in fields:
            return status, await reader.readexactly(int(fields["content-length"])), keep
        return status, await reader.read(), False  # framed by the end of the connection
