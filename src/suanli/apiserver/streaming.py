"""The contract between the API server's streaming subresources and node runtimes.

``pods/{name}/exec``, ``attach``, ``portforward`` and ``log`` reach a container only through
the runtime that runs it. A node annotated ``suanli.io/runtime: process`` is the real host
(its runtime implements :class:`PodStreamer`); every other node is simulated, and its pods run
no process — streaming subresources answer 400 saying so (:func:`simulated_pod_error`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.wire import RUNTIME_ANNOTATION

__all__ = ["RUNTIME_ANNOTATION", "PodStreamer", "StreamIO", "simulated_pod_error"]


def simulated_pod_error(pod: Obj, node: Obj | None, what: str) -> ApiError | None:
    """The 400 for ``what`` (e.g. "have no log") on a pod bound to a simulated node, else None."""
    if node is None or (node.get("metadata", {}).get("annotations") or {}).get(RUNTIME_ANNOTATION) == "process":
        return None
    return ApiError.bad_request(f'pod "{pod["metadata"]["name"]}" runs on simulated node '
                                f'"{node["metadata"]["name"]}": simulated containers run no process and {what}')


@dataclass
class StreamIO:
    """One client's streams: ``stdin`` yields bytes then None at end; ``out(stream, data)`` sends output.

    ``stream`` is 1 (stdout) or 2 (stderr). ``resize`` receives terminal sizes (width, height).
    """

    out: Callable[[int, bytes], None]
    stdin: asyncio.Queue[bytes | None] | None = None
    tty: bool = False
    resizes: asyncio.Queue[tuple[int, int]] = field(default_factory=asyncio.Queue)


class PodStreamer(Protocol):
    """What a runtime offers the API server for pods on its node."""

    def serves(self, pod: Obj) -> bool:
        """Whether ``pod`` runs under this runtime."""
        ...

    async def check(self, pod: Obj, container: str, sub: str) -> None:
        """Raise :class:`ApiError` (400) unless ``sub`` (exec/attach/portforward) can reach the container now.

        ``container`` is "" for portforward, which needs any running container of the pod.
        """
        ...

    async def open_port(self, pod: Obj, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A TCP connection to ``port`` in the pod's network namespace.

        Raises :class:`OSError` whose message says why (e.g. nothing listens there).
        """
        ...

    async def exec(self, pod: Obj, container: str, command: list[str], io: StreamIO) -> int:
        """Run ``command`` in the container's environment; return its exit code.

        Raises :class:`ApiError` (400) when the container is not running.
        """
        ...

    async def attach(self, pod: Obj, container: str, io: StreamIO) -> None:
        """Stream the running container's output (and feed ``io.stdin`` to its stdin) until it ends
        or the client's stdin closes."""
        ...
