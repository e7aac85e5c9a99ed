"""Optimistic concurrency against a real `suanli up`: no lost updates, exact 409s, unique names."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

import pytest

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.client.http import HttpClient
from tests.conftest import Server
from tests.e2e._helpers import http_client, make_namespace

pytestmark = pytest.mark.e2e

WRITERS = 20
INCREMENTS = 10
ASYNC_INCREMENTS = 5
CONFIGMAPS = GVR("", "v1", "configmaps")


def test_threads_read_modify_write_lose_no_update(server: Server) -> None:
    """20 threads GET → +1 → PUT with retry on 409; all first GETs see the same version (barrier),
    so at least 19 of the first PUTs must conflict."""
    ns = make_namespace(server, "cas")
    path = f"/api/v1/namespaces/{ns}/configmaps"
    with http_client(server) as c:
        assert c.post(path, json={"metadata": {"name": "counter"}, "data": {"n": "0"}}).status_code == 201
    barrier = threading.Barrier(WRITERS)
    codes: Counter[int] = Counter()
    lock = threading.Lock()
    failures: list[str] = []

    def work() -> None:
        with http_client(server) as c:
            first = True
            for _ in range(INCREMENTS):
                while True:
                    obj = c.get(f"{path}/counter").json()
                    if first:
                        barrier.wait(timeout=30)
                        first = False
                    obj["data"]["n"] = str(int(obj["data"]["n"]) + 1)
                    r = c.put(f"{path}/counter", json=obj)
                    with lock:
                        codes[r.status_code] += 1
                    if r.status_code == 200:
                        break
                    if r.status_code != 409 or r.json().get("reason") != "Conflict":
                        failures.append(f"{r.status_code} {r.text}")
                        return

    threads = [threading.Thread(target=work) for _ in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive()
    assert failures == []
    with http_client(server) as c:
        final = c.get(f"{path}/counter").json()
    assert final["data"]["n"] == str(WRITERS * INCREMENTS)
    assert codes[200] == WRITERS * INCREMENTS
    assert codes[409] >= WRITERS - 1
    assert set(codes) == {200, 409}


async def test_async_json_patches_with_rv_test_lose_no_update(server: Server) -> None:
    """The same with our HttpClient and JSON patches guarded by ``test`` on resourceVersion (422 on a race)."""
    ns = make_namespace(server, "cas-async")
    conflicts = 0
    async with HttpClient.from_kubeconfig(str(server.kubeconfig)) as client:
        await client.create(CONFIGMAPS, {"metadata": {"name": "counter"}, "data": {"n": "0"}}, ns)
        barrier = asyncio.Barrier(WRITERS)

        async def work() -> None:
            nonlocal conflicts
            first = True
            for _ in range(ASYNC_INCREMENTS):
                while True:
                    obj = await client.get(CONFIGMAPS, "counter", ns)
                    if first:  # every task read the same version before anyone writes
                        await barrier.wait()
                        first = False
                    ops = [{"op": "test", "path": "/metadata/resourceVersion",
                            "value": obj["metadata"]["resourceVersion"]},
                           {"op": "replace", "path": "/data/n", "value": str(int(obj["data"]["n"]) + 1)}]
                    try:
                        await client.patch(CONFIGMAPS, "counter", ops, ns, patch_type="json")
                        break
                    except ApiError as exc:
                        assert exc.code == 422, exc
                        conflicts += 1

        async with asyncio.timeout(60):
            await asyncio.gather(*(work() for _ in range(WRITERS)))
        final = await client.get(CONFIGMAPS, "counter", ns)
    assert final["data"]["n"] == str(WRITERS * ASYNC_INCREMENTS)
    assert conflicts >= WRITERS - 1


async def test_concurrent_creates_of_one_name_succeed_exactly_once(server: Server) -> None:
    ns = make_namespace(server, "race")
    async with HttpClient.from_kubeconfig(str(server.kubeconfig)) as client:
        async def create() -> int:
            try:
                await client.create(CONFIGMAPS, {"metadata": {"name": "only"}}, ns)
                return 201
            except ApiError as exc:
                assert exc.reason == "AlreadyExists"
                return exc.code

        results = await asyncio.gather(*(create() for _ in range(WRITERS)))
    assert Counter(results) == {201: 1, 409: WRITERS - 1}


async def test_concurrent_generate_name_creates_are_all_distinct(server: Server) -> None:
    ns = make_namespace(server, "gen")
    async with HttpClient.from_kubeconfig(str(server.kubeconfig)) as client:
        objs = await asyncio.gather(*(client.create(CONFIGMAPS, {"metadata": {"generateName": "g-"}}, ns)
                                      for _ in range(50)))
        listed = await client.list(CONFIGMAPS, ns)
    names = {o["metadata"]["name"] for o in objs}
    assert len(names) == 50 and all(n.startswith("g-") and len(n) == 7 for n in names)
    # kube-root-ca.crt: published in every namespace by the root CA publisher
    assert {o["metadata"]["name"] for o in listed["items"]} - {"kube-root-ca.crt"} == names
    rvs = [int(o["metadata"]["resourceVersion"]) for o in objs]
    assert len(set(rvs)) == 50
