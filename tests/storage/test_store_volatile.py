"""Volatile buckets: revisioned, listed and watched like others, but never persisted."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from suanli.storage import Store


def _obj(name: str, value: int) -> dict[str, object]:
    return {"metadata": {"name": name}, "value": value}


async def test_volatile_bucket_is_served_but_not_restored(tmp_path: Path) -> None:
    store = Store(tmp_path, compaction_interval=0, ttl_check_interval=0, volatile_buckets={"metrics"})
    await store.start()
    durable = await store.create("nodes", _obj("n1", 1))
    watcher = store.watch("metrics", since_rv=durable.rv)
    created = await store.create("metrics", _obj("n1", 1))
    updated = await store.update("metrics", _obj("n1", 2))
    assert [so.obj["value"] for so in store.list("metrics").items] == [2]
    ev1, ev2 = await watcher.next(), await watcher.next()
    assert ev1 is not None and ev2 is not None
    assert (ev1.type, ev1.rv, ev2.type, ev2.rv) == ("ADDED", created.rv, "MODIFIED", updated.rv)
    last_rev = store.revision
    await store.stop()
    with sqlite3.connect(tmp_path / "store.db") as conn:
        buckets = {row[0] for row in conn.execute("SELECT bucket FROM log")}
    assert buckets == {"nodes"}  # nothing of the volatile bucket reached the log

    again = Store(tmp_path, compaction_interval=0, ttl_check_interval=0, volatile_buckets={"metrics"})
    await again.start()
    try:
        assert again.get("metrics", "", "n1") is None  # not restored
        assert again.get("nodes", "", "n1") is not None  # durable bucket restored
        assert again.revision == last_rev  # revisions are never reused
        nxt = await again.create("metrics", _obj("n2", 3))
        assert nxt.rv == last_rev + 1
    finally:
        await again.stop()
