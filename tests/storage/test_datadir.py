"""The data directory is private: 0700 directories, owner-only files, fresh or upgraded."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from suanli.storage import Store
from suanli.storage.datadir import secure_data_dir


def modes(root: Path) -> dict[str, int]:
    out = {".": stat.S_IMODE(root.stat().st_mode)}
    for p in root.rglob("*"):
        out[str(p.relative_to(root))] = stat.S_IMODE(p.lstat().st_mode)
    return out


async def test_fresh_store_directory_is_0700_with_0600_files_and_no_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    old = os.umask(0o022)  # an ordinary umask: privacy must not depend on the caller's
    try:
        store = Store(tmp_path / "data")
        with caplog.at_level(logging.WARNING):
            await store.start()
            await store.create("secrets", {"metadata": {"name": "s", "namespace": "default"}})
            got = modes(tmp_path / "data")
            await store.stop()
    finally:
        os.umask(old)
    assert got["."] == 0o700
    assert {"store.db", "store.db-wal", "store.db-shm", "store.lock"} <= set(got)
    assert {k: v for k, v in got.items() if k != "."} == dict.fromkeys(set(got) - {"."}, 0o600)
    assert "removed group/other access" not in caplog.text


def test_upgraded_directory_is_tightened_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = tmp_path / "data"
    (data / "tls").mkdir(parents=True)
    data.chmod(0o755)
    (data / "tls").chmod(0o755)
    for name, mode in [("store.db", 0o644), ("token", 0o600), ("tls/ca.crt", 0o644), ("run.sh", 0o755)]:
        (data / name).write_text("x")
        (data / name).chmod(mode)
    (data / "link").symlink_to("/etc/hostname")
    with caplog.at_level(logging.WARNING):
        changed = secure_data_dir(data)
    assert modes(data) | {"link": 0} == {".": 0o700, "tls": 0o700, "store.db": 0o600, "token": 0o600,
                                          "tls/ca.crt": 0o600, "run.sh": 0o700, "link": 0}
    assert len(changed) == 5  # ., tls, store.db, tls/ca.crt, run.sh; token already private, link not followed
    assert "removed group/other access from 5 path(s)" in caplog.text
    assert stat.S_IMODE(Path("/etc/hostname").stat().st_mode) & 0o044  # the link target is untouched
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert secure_data_dir(data) == []
    assert caplog.text == ""
