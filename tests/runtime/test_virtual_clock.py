"""VirtualClock: platform time at a rate, with jumps from advance() or an offset file."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from suanli.runtime.clock import VirtualClock


def test_rate_zero_stands_still_until_advanced() -> None:
    clock = VirtualClock(0, start=1_700_000_000.0)
    assert clock.now() == 1_700_000_000.0
    clock.advance(3600)
    assert clock.now() == 1_700_003_600.0 and clock.monotonic() == 3600.0


def test_rate_scales_real_time() -> None:
    clock = VirtualClock(1000, start=0.0)
    real0 = time.monotonic()
    first = clock.now()
    while time.monotonic() - real0 < 0.02:  # spin briefly on the real clock
        pass
    assert clock.now() - first >= 1000 * 0.02 * 0.9


def test_offset_file_moves_time_forward_only(tmp_path: Path) -> None:
    path = tmp_path / "offset"
    clock = VirtualClock(0, start=100.0, offset_file=path)
    assert clock.now() == 100.0  # no file yet
    path.write_text("50")
    assert clock.now() == 150.0
    path.write_text("10")  # smaller: ignored
    import os

    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10_000_000))
    assert clock.now() == 150.0


def test_negative_rate_and_backward_jumps_are_refused() -> None:
    with pytest.raises(ValueError):
        VirtualClock(-1)
    with pytest.raises(ValueError):
        VirtualClock(0).advance(-1)


async def test_sleep_wakes_after_a_jump() -> None:
    clock = VirtualClock(0, poll=0.01)
    task = asyncio.create_task(clock.sleep(60))
    await asyncio.sleep(0.03)
    assert not task.done()
    clock.advance(60)
    await asyncio.wait_for(task, timeout=5)
