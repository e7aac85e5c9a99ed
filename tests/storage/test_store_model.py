"""Property test: the store agrees with a plain dict model under random writes."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.storage import AlreadyExistsError, NotFoundError, Store, _index
from tests.storage.conftest import pod

_keys = st.tuples(st.sampled_from(["", "a", "b", "kube"]), st.sampled_from(["x", "y", "z", "x1", "aa"]))
_ops = st.lists(
    st.tuples(st.sampled_from(["create", "update", "delete"]), _keys, st.sampled_from(["n1", "n2"])),
    max_size=40,
)


async def _apply(ops: list[tuple[str, tuple[str, str], str]]) -> None:
    store = Store(None, compaction_interval=0, window_size=1000)
    await store.start()
    try:
        store.add_index("pods", "node", lambda o: [o["spec"]["nodeName"]])
        watcher = store.watch("pods", since_rv=0)
        model: dict[tuple[str, str], str] = {}
        for op, (ns, name), node in ops:
            try:
                if op == "create":
                    await store.create("pods", pod(name, ns, node=node))
                elif op == "update":
                    await store.update("pods", pod(name, ns, node=node))
                else:
                    await store.delete("pods", ns, name)
            except (AlreadyExistsError, NotFoundError):
                exists = (ns, name) in model
                assert exists == (op == "create"), "rejection matches the model"
                continue
            if op == "delete":
                del model[(ns, name)]
            else:
                model[(ns, name)] = node

        def keys(items: list[Any]) -> list[tuple[str, str]]:
            return [(so.obj["metadata"]["namespace"], so.obj["metadata"]["name"]) for so in items]

        assert keys(store.list("pods").items) == sorted(model)
        for node in ("n1", "n2"):
            want = sorted(k for k, v in model.items() if v == node)
            assert keys(store.list("pods", index=("node", node)).items) == want
        paged: list[tuple[str, str]] = []
        after = None
        while True:
            page = store.list("pods", start_after=after, limit=2)
            paged += keys(page.items)
            if not page.remaining:
                break
            after = paged[-1]
        assert paged == sorted(model)

        replayed: dict[tuple[str, str], str] = {}
        last = 0
        while (ev := await watcher.next(timeout=0)) is not None:
            assert ev.rv == last + 1
            last = ev.rv
            k = (ev.obj.obj["metadata"]["namespace"], ev.obj.obj["metadata"]["name"])
            if ev.type == "DELETED":
                del replayed[k]
            else:
                replayed[k] = ev.obj.obj["spec"]["nodeName"]
        assert replayed == model, "replaying the event stream rebuilds the state"
        assert last == store.revision
    finally:
        await store.stop()


@settings(max_examples=60, deadline=None)
@given(_ops)
def test_store_matches_dict_model(ops: list[tuple[str, tuple[str, str], str]]) -> None:
    asyncio.run(_apply(ops))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 60)), max_size=200))
def test_sorted_names_matches_sorted_set(ops: list[tuple[bool, int]]) -> None:
    _index._INSORT_LIMIT, saved = 8, _index._INSORT_LIMIT  # exercise the parked-merge path
    try:
        names, model = _index.SortedNames(), set()
        for add, i in ops:
            name = f"n{i:02d}"
            if add and name not in model:
                names.add(name)
                model.add(name)
            elif not add and name in model:
                names.remove(name)
                model.discard(name)
            assert len(names) == len(model)
        assert names.names() == sorted(model)
    finally:
        _index._INSORT_LIMIT = saved
