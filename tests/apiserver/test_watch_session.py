"""WatchSession timing: bookmarks when asked for, and no busy loop when not."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.apiserver.watch import open_watch
from suanli.kinds.builtin import builtin_resource_types
from suanli.storage import Store


class _CountingWatcher:
    """Delegates to a store watcher, counting ``next`` calls (the stream's wake-ups)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    @property
    def closed(self) -> bool:
        return bool(self.inner.closed)

    async def next(self, timeout: float | None = None) -> Any:
        self.calls += 1
        return await self.inner.next(timeout)

    def idle_revision(self) -> int | None:
        return self.inner.idle_revision()  # type: ignore[no-any-return]

    def close(self) -> None:
        self.inner.close()


CONFIGMAPS = next(rt for rt in builtin_resource_types() if rt.plural == "configmaps")


@pytest.mark.parametrize(("allow_bookmarks", "expect_bookmarks"), [(False, False), (True, True)],
                         ids=["without bookmarks the stream waits quietly",
                              "with bookmarks the idle stream sends them"])
async def test_idle_watch_waits_between_bookmark_ticks(allow_bookmarks: bool, expect_bookmarks: bool) -> None:
    store = Store(None)
    await store.start()
    try:
        session = open_watch(store, CONFIGMAPS, "default", resource_version="", label_selector=None,
                             field_selector=None, send_initial_events=None, allow_bookmarks=allow_bookmarks,
                             timeout=0.5, bookmark_interval=0.05)
        counting = _CountingWatcher(session._watcher)
        session._watcher = counting  # type: ignore[assignment]
        types = [ev.type async for ev in session.events()]  # ends at timeoutSeconds
        calls = counting.calls
        assert (types.count("BOOKMARK") > 0) is expect_bookmarks
        assert set(types) <= {"BOOKMARK"}
        # about one wake-up per 50 ms tick over 0.5 s; a spinning loop makes thousands of calls
        assert calls < 40
    finally:
        await store.stop()
