"""The audit log backend: lumberjack rotation names and pruning, 0600 files, batched writer thread."""

from __future__ import annotations

import datetime as dt
import re
import stat
from pathlib import Path

import orjson

from suanli.apiserver.audit.backend import MEGABYTE, LogBackend, RotatingFile, backup_name

LINE = b"x" * 1023 + b"\n"  # 1 KiB


def test_backup_name_is_lumberjacks() -> None:
    when = dt.datetime(2026, 12, 7, 22, 10, 5, 123456, tzinfo=dt.UTC)
    assert backup_name(Path("/var/log/audit.log"), when) == Path("/var/log/audit-2026-12-07T22-10-05.123.log")
    assert backup_name(Path("/var/log/audit"), when) == Path("/var/log/audit-2026-12-07T22-10-05.123")


def test_a_write_past_max_size_rotates_first(tmp_path: Path) -> None:
    f = RotatingFile(tmp_path / "audit.log", max_size_mb=1)
    for _ in range(1024):  # exactly 1 MiB: fits
        f.write(LINE)
    assert list(tmp_path.iterdir()) == [tmp_path / "audit.log"]
    f.write(LINE)
    f.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 2 and names[1] == "audit.log"
    assert re.fullmatch(r"audit-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}\.log", names[0])
    assert (tmp_path / names[0]).stat().st_size == MEGABYTE
    assert (tmp_path / "audit.log").read_bytes() == LINE
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in tmp_path.iterdir())


def test_appends_to_an_existing_log_and_counts_its_size(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_bytes(LINE * 1024)
    f = RotatingFile(path, max_size_mb=1)
    f.write(LINE)
    f.close()
    assert len(list(tmp_path.iterdir())) == 2 and path.read_bytes() == LINE


def _old_backup(tmp_path: Path, days: float) -> Path:
    p = backup_name(tmp_path / "audit.log", dt.datetime.now(dt.UTC) - dt.timedelta(days=days))
    p.write_bytes(b"old\n")
    return p


def test_max_backups_keeps_the_newest(tmp_path: Path) -> None:
    old = [_old_backup(tmp_path, d) for d in (3, 2, 1)]
    f = RotatingFile(tmp_path / "audit.log", max_backups=2)
    f.write(LINE)
    f.rotate()
    f.close()
    left = {p.name for p in tmp_path.iterdir()}
    assert old[0].name not in left and old[1].name not in left and old[2].name in left
    assert len(left) == 3  # two backups (the rotated one and the 1-day-old one) plus audit.log


def test_max_age_removes_backups_older_than_the_limit(tmp_path: Path) -> None:
    old = _old_backup(tmp_path, 10)
    recent = _old_backup(tmp_path, 2)
    unrelated = tmp_path / "other-2001-01-01T00-00-00.000.log"
    unrelated.write_bytes(b"")
    f = RotatingFile(tmp_path / "audit.log", max_age_days=5)
    f.write(LINE)
    f.rotate()
    f.close()
    assert not old.exists() and recent.exists() and unrelated.exists()


def test_backend_writes_queued_lines_in_order_and_drops_when_full(tmp_path: Path) -> None:
    backend = LogBackend(str(tmp_path / "a.log"), buffer_size=100_000)
    for i in range(2000):
        backend.emit(orjson.dumps({"i": i}) + b"\n")
    assert backend.flush()
    lines = (tmp_path / "a.log").read_bytes().splitlines()
    assert [orjson.loads(x)["i"] for x in lines] == list(range(2000))
    backend.close()
    backend.emit(b"{}\n")  # after close: dropped, never blocks
    assert backend.dropped == 1
