"""Shared helpers for the end-to-end tests: raw HTTP access, namespaces, deadlines, offline compaction."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx

from suanli.storage import Store
from tests.conftest import Server, start_server

__all__ = [
    "SAMPLE_CRD_GROUP",
    "ensure_crd",
    "http_client",
    "make_namespace",
    "offline_compact",
    "private_server",
    "restart",
    "sample_crd",
    "unique",
    "wait_until",
]

T = TypeVar("T")
SAMPLE_CRD_GROUP = "e2e.suanli.dev"


def unique(prefix: str) -> str:
    """A DNS-1123 name unique to this call: ``<prefix>-<8 hex>``."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def http_client(server: Server, *, timeout: float = 30.0) -> httpx.Client:
    """A synchronous httpx client trusting the server's CA and sending its bearer token."""
    headers = {"Accept": "application/json", "Authorization": f"Bearer {server.token()}"}
    return httpx.Client(base_url=server.url, verify=server.ssl_context(), headers=headers, timeout=timeout)


def make_namespace(server: Server, prefix: str = "e2e") -> str:
    """Create a fresh namespace on ``server`` and return its name."""
    name = unique(prefix)
    with http_client(server) as c:
        r = c.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": name}})
        assert r.status_code == 201, r.text
    return name


def sample_crd(plural: str, *, group: str = SAMPLE_CRD_GROUP, kind: str | None = None,
               status_subresource: bool = True) -> dict[str, Any]:
    """A namespaced ``apiextensions.k8s.io/v1`` CRD ``<plural>.<group>`` with version ``v1``.

    The schema declares ``spec.size`` (integer), ``spec.message`` (string) and
    ``spec.tags`` (string list); ``status`` preserves unknown fields (kopf writes there).
    """
    kind = kind or plural[:-1].capitalize()
    version: dict[str, Any] = {
        "name": "v1", "served": True, "storage": True,
        "schema": {"openAPIV3Schema": {"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "size": {"type": "integer"},
                "message": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}},
            }},
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        }}},
    }
    if status_subresource:
        version["subresources"] = {"status": {}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {"group": group, "scope": "Namespaced",
                 "names": {"plural": plural, "singular": plural[:-1], "kind": kind, "listKind": f"{kind}List"},
                 "versions": [version]},
    }


def ensure_crd(server: Server, crd: dict[str, Any]) -> None:
    """Create ``crd`` unless it exists, then wait until its resource is served."""
    group, plural = crd["spec"]["group"], crd["spec"]["names"]["plural"]
    with http_client(server) as c:
        r = c.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd)
        assert r.status_code in (201, 409), r.text

        def served() -> bool:
            doc = c.get(f"/apis/{group}/v1")
            return doc.status_code == 200 and any(x["name"] == plural for x in doc.json()["resources"])

        wait_until(served, what=f"CRD {plural}.{group} served")


def wait_until(pred: Callable[[], T], *, timeout: float = 20.0, interval: float = 0.02,
               what: str = "condition") -> T:
    """Poll ``pred`` until it returns a truthy value (returned) or raise AssertionError at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)  # polling another process's state, bounded by the deadline


def offline_compact(data_dir: Path) -> int:
    """Compact a *stopped* server's log down to its latest revision; returns the compact revision.

    Used to force 410 Expired deterministically: after a restart the server's watch
    windows start at the compact revision, so any older resume point is gone.
    """
    async def run() -> int:
        store = Store(data_dir, keep_revisions=0, compaction_interval=0, ttl_check_interval=0)
        await store.start()
        try:
            return await store.compact()
        finally:
            await store.stop()

    with ThreadPoolExecutor(1) as pool:  # callable from async tests too (own event loop, own thread)
        return pool.submit(asyncio.run, run()).result()


@contextmanager
def private_server(base: Path, name: str = "private", extra: list[str] | None = None) -> Iterator[Server]:
    """A `suanli up` of our own on ``base/<name>`` (stopped on exit)."""
    srv = start_server(base / name / "data", base / name / "kubeconfig", extra=extra)
    try:
        yield srv
    finally:
        srv.stop()


def restart(server: Server, **kw: Any) -> Server:
    """Start a new process on the same data dir, kubeconfig and port as the stopped ``server``."""
    return start_server(server.data_dir, server.kubeconfig, port=server.port, **kw)
