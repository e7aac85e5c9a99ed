"""Writes, revisions, reads, indexes and paging of the store (in-memory SQLite log)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from suanli.apimachinery.objects import deep_copy
from suanli.storage import (
    AlreadyExistsError,
    ConflictError,
    NotFoundError,
    Store,
    StoreError,
)
from tests.storage.conftest import pod


def names(items: list[Any]) -> list[tuple[str, str]]:
    return [(so.obj["metadata"]["namespace"], so.obj["metadata"]["name"]) for so in items]


async def test_writes_get_consecutive_revisions_and_resource_version(store: Store) -> None:
    a = await store.create("pods", pod("a"))
    b = await store.create("pods", pod("b"))
    upd = deep_copy(a.obj)
    upd["spec"]["nodeName"] = "n1"
    a2 = await store.update("pods", upd)
    gone = await store.delete("pods", "default", "b")

    assert [a.rv, b.rv, a2.rv, gone.rv] == [1, 2, 3, 4]
    assert a2.obj["metadata"]["resourceVersion"] == "3"
    assert store.get("pods", "default", "a") is a2
    assert store.get("pods", "default", "b") is None
    assert gone.obj["metadata"]["resourceVersion"] == "4"
    assert b.obj["metadata"]["resourceVersion"] == "2", "delete must not mutate the shared object"
    assert store.revision == store.committed_revision == 4


async def test_raw_is_the_json_of_the_stored_object(store: Store) -> None:
    import orjson

    so = await store.create("pods", pod("a"))
    assert orjson.loads(so.raw) == so.obj


async def _create_twice(s: Store) -> None:
    await s.create("pods", pod("a"))


async def _update_missing(s: Store) -> None:
    await s.update("pods", pod("zz"))


async def _delete_missing(s: Store) -> None:
    await s.delete("pods", "default", "zz")


async def _update_stale(s: Store) -> None:
    await s.update("pods", pod("a"), expected_rv=0)


async def _delete_stale(s: Store) -> None:
    await s.delete("pods", "default", "a", expected_rv=999)


async def _update_other_namespace(s: Store) -> None:
    await s.update("pods", pod("a", ns="other"))


@pytest.mark.parametrize(
    ("op", "error"),
    [
        (_create_twice, AlreadyExistsError),
        (_update_missing, NotFoundError),
        (_delete_missing, NotFoundError),
        (_update_stale, ConflictError),
        (_delete_stale, ConflictError),
        (_update_other_namespace, NotFoundError),
    ],
    ids=[
        "create-existing-key-already-exists",
        "update-missing-key-not-found",
        "delete-missing-key-not-found",
        "update-with-stale-rv-conflicts",
        "delete-with-stale-rv-conflicts",
        "same-name-other-namespace-is-another-key",
    ],
)
async def test_rejected_writes_raise_and_consume_no_revision(
    store: Store, op: Callable[[Store], Awaitable[None]], error: type[Exception]
) -> None:
    await store.create("pods", pod("a"))
    with pytest.raises(error):
        await op(store)
    assert store.revision == 1
    assert store.get("pods", "default", "a") is not None


async def test_matching_expected_rv_succeeds(store: Store) -> None:
    a = await store.create("pods", pod("a"))
    a2 = await store.update("pods", deep_copy(a.obj), expected_rv=a.rv)
    gone = await store.delete("pods", "default", "a", expected_rv=a2.rv)
    assert gone.rv == 3


async def test_list_is_sorted_by_namespace_then_name_for_any_insert_order(store: Store) -> None:
    keys = [(f"ns{i % 7}", f"p{i:05d}") for i in range(6000)]  # > insort limit per namespace
    random.Random(7).shuffle(keys)
    await asyncio.gather(*(store.create("pods", pod(n, ns)) for ns, n in keys))
    await store.delete("pods", "ns3", "p00003")
    keys.remove(("ns3", "p00003"))
    result = store.list("pods")
    assert names(result.items) == sorted(keys)
    assert result.remaining == 0
    assert result.revision == store.revision
    assert store.count("pods") == len(keys)
    assert store.count("pods", "ns0") == sum(1 for ns, _ in keys if ns == "ns0")


async def test_list_filters_by_namespace_and_predicate(store: Store) -> None:
    for ns, n, tier in [("b", "x", "web"), ("a", "y", "db"), ("a", "x", "web"), ("c", "z", "web")]:
        await store.create("pods", pod(n, ns, tier=tier))
    assert names(store.list("pods", "a").items) == [("a", "x"), ("a", "y")]
    web = store.list("pods", predicate=lambda o: o["metadata"]["labels"]["tier"] == "web")
    assert names(web.items) == [("a", "x"), ("b", "x"), ("c", "z")]
    assert store.list("pods", "nope").items == []
    assert store.list("nothing").items == []


async def test_index_tracks_creates_updates_and_deletes(store: Store) -> None:
    await store.create("pods", pod("early", node="n1"))
    store.add_index("pods", "node", lambda o: [o["spec"]["nodeName"]] if o["spec"].get("nodeName") else [])
    await store.create("pods", pod("b", node="n1"))
    await store.create("pods", pod("c", ns="kube", node="n2"))
    moved = deep_copy(store.get("pods", "default", "b").obj)  # type: ignore[union-attr]
    moved["spec"]["nodeName"] = "n2"
    await store.update("pods", moved)

    assert names(store.list("pods", index=("node", "n1")).items) == [("default", "early")]
    assert names(store.list("pods", index=("node", "n2")).items) == [("default", "b"), ("kube", "c")]
    assert names(store.list("pods", "kube", index=("node", "n2")).items) == [("kube", "c")]
    await store.delete("pods", "default", "early")
    assert store.list("pods", index=("node", "n1")).items == []
    with pytest.raises(StoreError):
        store.list("pods", index=("missing", "x"))


@pytest.mark.parametrize(
    ("namespace", "use_index", "use_predicate"),
    [(None, False, False), ("ns1", False, False), (None, True, False), (None, False, True)],
    ids=["all-namespaces", "one-namespace", "by-index", "with-predicate"],
)
async def test_paging_with_start_after_reassembles_the_full_list(
    store: Store, namespace: str | None, use_index: bool, use_predicate: bool
) -> None:
    store.add_index("pods", "node", lambda o: [o["spec"].get("nodeName", "")])
    for i in range(53):
        await store.create("pods", pod(f"p{i:03d}", f"ns{i % 3}", node="n1" if i % 2 else "n2"))
    kwargs: dict[str, Any] = {}
    if use_index:
        kwargs["index"] = ("node", "n1")
    if use_predicate:
        kwargs["predicate"] = lambda o: o["metadata"]["name"].endswith(("1", "5"))
    expected = names(store.list("pods", namespace, **kwargs).items)
    assert expected

    got: list[tuple[str, str]] = []
    after: tuple[str, str] | None = None
    while True:
        page = store.list("pods", namespace, start_after=after, limit=4, **kwargs)
        got += names(page.items)
        if not use_predicate:
            assert page.remaining == len(expected) - len(got), "remaining is exact without a predicate"
        if page.remaining == 0:
            break
        after = got[-1]
    assert got == expected


async def test_buckets_lists_non_empty_buckets(store: Store) -> None:
    await store.create("pods", pod("a"))
    await store.create("apps/deployments", pod("d"))
    await store.create("nodes", pod("n", ns=""))
    await store.delete("nodes", "", "n")
    assert store.buckets() == ["apps/deployments", "pods"]


async def test_concurrent_writers_get_distinct_revisions_committed_in_order(store: Store) -> None:
    watcher = store.watch("pods", since_rv=0)
    assert store._log is not None
    store._log.batch_sizes = []
    created = await asyncio.gather(*(store.create("pods", pod(f"p{i}")) for i in range(300)))
    updated = await asyncio.gather(*(store.update("pods", deep_copy(so.obj)) for so in created))
    revs = [so.rv for so in created + updated]
    assert sorted(revs) == list(range(1, 601))
    seen = []
    while (ev := await watcher.next(timeout=0)) is not None:
        seen.append(ev.rv)
    assert seen == list(range(1, 601)), "publication (commit) order equals revision order"
    assert sum(store._log.batch_sizes) == 600
    assert len(store._log.batch_sizes) < 600, "concurrent writes share commits"


async def test_writes_after_stop_raise_store_error() -> None:
    s = Store(None, compaction_interval=0)
    await s.start()
    await s.create("pods", pod("a"))
    await s.stop()
    with pytest.raises(StoreError):
        await s.create("pods", pod("b"))
    with pytest.raises(StoreError):
        await s.delete("pods", "default", "a")
    assert s.get("pods", "default", "a") is not None, "reads still serve the last state"


async def test_stop_flushes_writes_queued_before_it() -> None:
    s = Store(None, compaction_interval=0)
    await s.start()
    writes = [asyncio.ensure_future(s.create("pods", pod(f"p{i}"))) for i in range(50)]
    await asyncio.sleep(0)  # let every write enqueue its row
    await s.stop()
    assert all(w.done() and not w.exception() for w in writes)
    assert s.committed_revision == 50


async def test_object_without_name_is_rejected(store: Store) -> None:
    with pytest.raises(StoreError):
        await store.create("pods", {"metadata": {"namespace": "default"}})
    assert store.revision == 0
