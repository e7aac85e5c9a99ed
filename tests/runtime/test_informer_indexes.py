"""Informer indexes stay exact through adds, updates (values kept, changed, emptied, restored) and deletes.

The informer keeps each object's non-empty index values and compares new values with them
instead of recomputing the old object's; these tests check every index against a brute-force
recomputation over the cache after each watch event.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj, labels_of, name_of
from suanli.client.http import HttpClient
from suanli.runtime.informer import IndexFunc, Informer
from tests.client.stub_server import StubApiServer

PODS = GVR("", "v1", "pods")


def by_app(obj: Obj) -> list[str]:
    app = labels_of(obj).get("app", "")
    return [app] if app else []


def app_and_all(obj: Obj) -> list[str]:
    return ["all", *by_app(obj)] if by_app(obj) else []


def tier_or_fail(obj: Obj) -> list[str]:
    tier = labels_of(obj).get("tier", "")
    if tier == "boom":
        raise ValueError("indexer bug")
    return [tier] if tier else []


INDEXERS: dict[str, IndexFunc] = {"app": by_app, "multi": app_and_all, "tier": tier_or_fail}


def expected(inf: Informer, fn: IndexFunc) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for obj in inf.list():
        try:
            values = fn(obj)
        except ValueError:
            values = []
        for v in values:
            out.setdefault(v, []).append(name_of(obj))
    return {v: sorted(names) for v, names in out.items()}


def actual(inf: Informer, index: str) -> dict[str, list[str]]:
    return {v: sorted(name_of(o) for o in inf.by_index(index, v)) for v in inf.index_values(index)}


# (operation, pod, labels) — "add" seeds, "set" modifies labels, "del" removes
Step = tuple[str, str, dict[str, str]]
CASES: list[list[Step]] = [
    [("add", "a", {"app": "web"}), ("set", "a", {"app": "db"}), ("set", "a", {"v": "1"})],
    [("add", "a", {}), ("set", "a", {"app": "web"}), ("set", "a", {"app": ""}), ("set", "a", {"app": "db"})],
    [("add", "a", {"app": "web"}), ("add", "b", {"app": "web"}), ("set", "a", {"app": "db"}),
     ("del", "b", {}), ("del", "a", {})],
    [("add", "a", {"tier": "x"}), ("set", "a", {"tier": "boom"}), ("set", "a", {"tier": "y"}),
     ("set", "a", {"tier": "boom"}), ("del", "a", {})],
]
IDS = ["value-changes-then-unrelated-update", "empty-to-value-to-empty-to-value",
       "two-objects-share-a-value-then-deleted", "failing-indexer-counts-as-no-values"]


@pytest.fixture
async def informer(client: HttpClient) -> AsyncIterator[Informer]:
    inf = Informer(client, PODS, "ns", indexers=INDEXERS)
    task = asyncio.create_task(inf.run())
    await inf.wait_synced()
    yield inf
    inf.stop()
    await task


async def apply(stub: StubApiServer, inf: Informer, step: Step, seen: list[str], changed: asyncio.Event) -> None:
    op, name, labels = step
    before = len(seen)
    if op == "add":
        stub.seed("ns", name, **labels)
    elif op == "set":
        stub.modify("ns", name, **labels)
    else:
        stub.remove("ns", name)
    async with asyncio.timeout(5):
        while len(seen) == before:
            changed.clear()
            await changed.wait()


@pytest.mark.parametrize("steps", CASES, ids=IDS)
async def test_indexes_match_a_recomputation_after_every_event(
        informer: Informer, stub: StubApiServer, steps: list[Step]) -> None:
    seen: list[str] = []
    changed = asyncio.Event()

    def record(obj: Obj) -> None:
        seen.append(name_of(obj))
        changed.set()

    informer.add_handler(record, lambda _o, n: record(n), record)
    for step in steps:
        await apply(stub, informer, step, seen, changed)
        for index, fn in INDEXERS.items():
            assert actual(informer, index) == expected(informer, fn), (step, index)
        namespaces = {"ns": sorted(name_of(o) for o in informer.list())} if len(informer) else {}
        assert actual(informer, "namespace") == namespaces


async def test_indexer_added_late_indexes_cached_objects_and_follows_updates(
        informer: Informer, stub: StubApiServer) -> None:
    seen: list[str] = []
    changed = asyncio.Event()

    def record(obj: Obj) -> None:
        seen.append(name_of(obj))
        changed.set()

    informer.add_handler(record, lambda _o, n: record(n), record)
    await apply(stub, informer, ("add", "a", {"zone": "z1"}), seen, changed)

    def zone(o: Obj) -> list[str]:
        z = labels_of(o).get("zone", "")
        return [z] if z else []

    informer.add_indexers({"zone": zone})
    assert actual(informer, "zone") == {"z1": ["a"]}
    await apply(stub, informer, ("set", "a", {"zone": "z2"}), seen, changed)
    assert actual(informer, "zone") == {"z2": ["a"]}
    await apply(stub, informer, ("del", "a", {}), seen, changed)
    assert actual(informer, "zone") == {}
