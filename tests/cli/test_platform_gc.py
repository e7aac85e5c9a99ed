"""The platform's GC tuning: frozen reference cycles are still collected (issue 9, bounded memory)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
import weakref

from suanli.cli.platform import _tune_gc


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


async def test_a_cycle_that_dies_after_being_frozen_is_collected_by_the_periodic_full_collection() -> None:
    tuner = asyncio.create_task(_tune_gc(interval=0.01, full_every=20))
    try:
        a, b = _Node(), _Node()
        a.other, b.other = b, a  # a reference cycle: only the cyclic GC can free it
        alive = weakref.ref(a)
        gc.freeze()  # as the tuner does every interval: the cycle is in the permanent generation
        assert gc.get_freeze_count() > 0
        del a, b
        gc.collect(0)
        assert alive() is not None  # young collections never see frozen objects
        deadline = time.monotonic() + 10.0
        while alive() is not None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert alive() is None
    finally:
        tuner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tuner
        gc.unfreeze()
