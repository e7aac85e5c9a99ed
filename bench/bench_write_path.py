"""Server CPU per API write: pod create, Event create, bind, and pod create over the ASGI app.

Runs one embedded ApiService + Store (SQLite log in a temp dir) in this process and times
the *main thread's* CPU (``time.thread_time``) per operation, so the figures exclude the
store's writer thread and are not disturbed by other processes on the machine. Writes are
issued in concurrent batches (as the HTTP server sees them), so commits are grouped.

Phases per repeat (each on ``--n`` fresh pods):

* ``create``: ``ApiService.create`` of the scheduler benchmark's pod (one container,
  requests 100m CPU / 500Mi), field manager as an HTTP client would send it;
* ``bind``: ``LocalClient.bind`` of each pod to a node (the scheduler's bind);
* ``event``: ``EventRecorder.record`` of the scheduler's ``Scheduled`` Event for each pod;
* ``http``: the same pod create as an HTTP request through the ASGI app (decode, route,
  service, encode), without sockets;
* ``local``: the same pod create through ``LocalClient.create`` (the in-process client
  copies the input and hands back a private copy of the result);
* ``get``: ``LocalClient.get`` of each pod (a private copy of the stored pod).

Usage: ``python -m bench.bench_write_path [--n 2000] [--repeats 5] [--json]``; prints the
median and spread of µs per operation for each phase.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from suanli.apiserver.admission_volcano import store_queue_lookup, volcano_admission
from suanli.apiserver.context import RequestContext
from suanli.apiserver.http import ApiApp
from suanli.apiserver.service import ApiService
from suanli.client.local import LocalClient
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.registry import Registry
from suanli.runtime.events import EventRecorder
from suanli.storage import Store
from suanli.wire import PODS

BATCH = 64
PHASES = ("create", "bind", "event", "http", "local", "get")


def pod(name: str, ns: str) -> dict[str, Any]:
    """The scheduler benchmark's pod body (``bench_scheduler.pod_body`` with its requests)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.9",
                                 "resources": {"requests": {"cpu": "100m", "memory": "500Mi"}}}]},
    }


class Rig:
    """An ApiService wired as the platform wires it (registry, store, Volcano admission)."""

    def __init__(self, data_dir: Path) -> None:
        self.registry = Registry()
        self.registry.add_all(builtin_resource_types())
        self.store = Store(data_dir, ttl_buckets={"events": 3600.0}, compaction_interval=0)
        self.service = ApiService(self.store, self.registry)
        mutating, validating = volcano_admission(store_queue_lookup(self.store))
        for m in mutating:
            self.service.admission.add_mutating(m)
        for v in validating:
            self.service.admission.add_validating(v)
        self.client = LocalClient(self.service, field_manager="bench")
        self.events = EventRecorder(self.client, "suanli-scheduler")
        self.app = ApiApp(self.service, token=None, allow_anonymous=True)
        self.pods = self.service.resource("", "v1", "pods")

    async def start(self) -> None:
        await self.store.start()
        self.store.add_index("pods", "spec.nodeName", lambda p: [str((p.get("spec") or {}).get("nodeName") or "")])

    async def namespace(self, name: str) -> None:
        rt = self.service.resource("", "v1", "namespaces")
        await self.service.create(rt, "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    async def create(self, ns: str, i: int) -> None:
        ctx = RequestContext(field_manager="python-requests", field_validation="Strict")
        await self.service.create(self.pods, ns, pod(f"pod-{i}", ns), ctx)

    async def bind(self, ns: str, i: int) -> None:
        await self.client.bind(f"pod-{i}", ns, f"node-{i % 5000:05d}")

    async def event(self, ns: str, i: int) -> None:
        so = self.store.get("pods", ns, f"pod-{i}")
        assert so is not None
        await self.events.record(so.obj, "Normal", "Scheduled",
                                 f"Successfully assigned {ns}/pod-{i} to node-{i % 5000:05d}")

    async def local_create(self, ns: str, i: int) -> None:
        await self.client.create(PODS, pod(f"l-{i}", ns), ns)

    async def get(self, ns: str, i: int) -> None:
        await self.client.get(PODS, f"pod-{i}", ns)

    async def http_create(self, ns: str, i: int) -> None:
        body = orjson.dumps(pod(f"h-{i}", ns))
        scope = {"type": "http", "method": "POST", "path": f"/api/v1/namespaces/{ns}/pods", "query_string": b"",
                 "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                             (b"user-agent", b"bench/1.0")]}
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(msg: dict[str, Any]) -> None:
            sent.append(msg)

        await self.app(scope, receive, send)
        if sent[0]["status"] != 201:
            raise RuntimeError(f"HTTP create failed: {sent[0]['status']} {sent[1]['body'][:300]!r}")


async def timed(n: int, op: Callable[[int], Awaitable[None]]) -> float:
    """Main-thread CPU µs per op for ``n`` ops issued in concurrent batches of :data:`BATCH`.

    The cyclic GC is tuned as the platform tunes it (survivors frozen, gen-0 threshold 50k),
    so collections of the growing store do not dominate the figures.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    t0 = time.thread_time()
    for start in range(0, n, BATCH):
        await asyncio.gather(*(op(i) for i in range(start, min(n, start + BATCH))))
    return (time.thread_time() - t0) / n * 1e6


async def run(n: int, repeats: int) -> dict[str, list[float]]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-write-"))
    rig = Rig(tmp / "data")
    await rig.start()
    out: dict[str, list[float]] = {p: [] for p in PHASES}
    try:
        await rig.namespace("warm")
        for i in range(200):  # warm caches (compiled schemas, interned strings)
            await rig.create("warm", i)
            await rig.bind("warm", i)
            await rig.event("warm", i)
            await rig.http_create("warm", i)
            await rig.local_create("warm", i)
            await rig.get("warm", i)
        for rep in range(repeats):
            ns = f"r{rep}"
            await rig.namespace(ns)
            out["create"].append(await timed(n, partial(rig.create, ns)))
            out["bind"].append(await timed(n, partial(rig.bind, ns)))
            out["event"].append(await timed(n, partial(rig.event, ns)))
            out["http"].append(await timed(n, partial(rig.http_create, ns)))
            out["local"].append(await timed(n, partial(rig.local_create, ns)))
            out["get"].append(await timed(n, partial(rig.get, ns)))
    finally:
        await rig.store.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--n", type=int, default=2000, help="operations per phase and repeat")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="print the raw samples as JSON")
    args = ap.parse_args(argv)
    samples = asyncio.run(run(args.n, args.repeats))
    if args.json:
        print(orjson.dumps(samples).decode())
        return 0
    print(f"main-thread CPU per operation, n={args.n}, {args.repeats} repeats (median [min-max] µs)")
    for phase in PHASES:
        xs = samples[phase]
        print(f"  {phase:<7} {statistics.median(xs):8.1f}  [{min(xs):.1f}-{max(xs):.1f}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
