"""OffsetClock: the real clock moved forward by the seconds written to a file (e2e tests' CronJob clock)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from suanli.runtime.clock import OffsetClock


def write(path: Path, text: str) -> None:
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # a distinct mtime even on coarse clocks


def test_offset_follows_the_file_and_never_goes_back(tmp_path: Path) -> None:
    path = tmp_path / "offset"
    clock = OffsetClock(path)
    assert abs(clock.now() - time.time()) < 1  # no file: the real clock
    write(path, "3600")
    assert 3599 < clock.now() - time.time() < 3601
    write(path, "60")  # smaller: ignored
    assert clock.offset() == 3600
    write(path, "garbage")
    assert clock.offset() == 3600


async def test_a_jump_wakes_sleepers(tmp_path: Path) -> None:
    path = tmp_path / "offset"
    clock = OffsetClock(path, poll=0.01)
    task = asyncio.create_task(clock.sleep(600))
    await asyncio.sleep(0.05)
    assert not task.done()
    write(path, "601")
    await asyncio.wait_for(task, timeout=5)
