"""Storage faults under a real `suanli up`: a full disk, an I/O error, a torn log tail after kill -9.

* Disk full: the data directory is a small tmpfs; a filler file takes the rest of its space.
  Writes must be answered (not hang) with a 500 Status naming the fault, reads and ``/readyz``
  keep working, and once the filler is removed writes succeed again without a restart.
* I/O error: ``RLIMIT_FSIZE`` is lowered on the server process (``prlimit``) so every write
  past the store files' current sizes fails with EFBIG, then raised again.
* Torn tail: the server is killed with SIGKILL under concurrent writes and a torn frame is
  appended to ``store.db-wal``; the restart must say so loudly and keep every write it had
  acknowledged.

In every case no acknowledged write is lost, including across a SIGKILL and restart.
"""

from __future__ import annotations

import contextlib
import errno
import resource
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import start_server
from tests.e2e._helpers import http_client, restart, wait_until

pytestmark = pytest.mark.e2e

CM = "/api/v1/namespaces/default/configmaps"
BLOB = "x" * 64 * 1024


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` (the suite runs as root, as in CI)."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path: Path) -> Path:
    """Write ``path`` until the file system is full; returns it (delete it to give the space back)."""
    chunk = b"\0" * (1 << 20)
    with path.open("wb", buffering=0) as f:
        while True:
            try:
                f.write(chunk)
            except OSError as err:
                assert err.errno == errno.ENOSPC
                break
        small = b"\0" * 4096
        while True:
            try:
                f.write(small)
            except OSError:
                return path


def create(c: httpx.Client, name: str) -> httpx.Response:
    return c.post(CM, json={"metadata": {"name": name}, "data": {"blob": BLOB}})


def write_until_refused(c: httpx.Client, prefix: str, acked: dict[str, str]) -> httpx.Response:
    """Create ConfigMaps until one is refused (returned); acknowledged names and rvs go to ``acked``."""
    for i in range(2000):
        r = create(c, f"{prefix}-{i}")
        if r.status_code != 201:
            return r
        acked[f"{prefix}-{i}"] = r.json()["metadata"]["resourceVersion"]
    raise AssertionError("the store never refused a write")


def assert_all_present(c: httpx.Client, acked: dict[str, str]) -> None:
    items = c.get(CM).json()["items"]
    stored = {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in items}
    assert {n: stored.get(n) for n in acked} == acked


def assert_faulty_writes_are_refused_and_reads_served(c: httpx.Client, refused: httpx.Response, fault: str,
                                                      acked: dict[str, str]) -> None:
    assert refused.status_code == 500, refused.text
    body = refused.json()
    assert body["kind"] == "Status" and fault in body["message"], body
    for i in range(3):  # later writes are refused too, each answered
        again = create(c, f"refused-{i}")
        assert again.status_code == 500 and fault in again.json()["message"]
        assert c.get(f"{CM}/refused-{i}").status_code == 404  # rolled back, not half-written
    assert c.get("/readyz").status_code == 200
    assert_all_present(c, acked)


def test_full_disk_refuses_writes_with_a_status_keeps_reads_and_recovers_when_space_returns(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "data", "48m") as data:
        srv = start_server(data, tmp_path / "kubeconfig", extra=["--only", "api"])
        try:
            acked: dict[str, str] = {}
            with http_client(srv) as c:
                filler = fill(data / "filler")
                refused = write_until_refused(c, "full", acked)
                assert_faulty_writes_are_refused_and_reads_served(c, refused, "database or disk is full", acked)
                filler.unlink()  # space returns: the server recovers without a restart
                wait_until(lambda: create(c, "after-0").status_code == 201, timeout=30, what="a write to succeed")
                for i in range(1, 20):
                    r = create(c, f"after-{i}")
                    assert r.status_code == 201, r.text
                    acked[f"after-{i}"] = r.json()["metadata"]["resourceVersion"]
                assert_all_present(c, acked)
            srv.stop(signal.SIGKILL)
            srv = restart(srv)
            with http_client(srv) as c:
                assert_all_present(c, acked)
        finally:
            srv.stop()


def test_io_errors_refuse_writes_with_a_status_and_the_server_recovers_when_they_stop(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data", tmp_path / "kubeconfig", extra=["--only", "api"])
    try:
        acked: dict[str, str] = {}
        with http_client(srv) as c:
            for i in range(5):
                r = create(c, f"before-{i}")
                assert r.status_code == 201
                acked[f"before-{i}"] = r.json()["metadata"]["resourceVersion"]
            sizes = [p.stat().st_size for p in srv.data_dir.glob("store.db*")]
            resource.prlimit(srv.proc.pid, resource.RLIMIT_FSIZE, (max(sizes), resource.RLIM_INFINITY))
            refused = write_until_refused(c, "io", acked)
            assert_faulty_writes_are_refused_and_reads_served(c, refused, "disk I/O error", acked)
            resource.prlimit(srv.proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            wait_until(lambda: create(c, "after-0").status_code == 201, timeout=30, what="a write to succeed")
            r = create(c, "after-1")
            assert r.status_code == 201
            acked["after-1"] = r.json()["metadata"]["resourceVersion"]
        srv.stop(signal.SIGKILL)
        srv = restart(srv)
        with http_client(srv) as c:
            assert_all_present(c, acked)
    finally:
        srv.stop()


def test_torn_log_tail_after_sigkill_is_truncated_loudly_with_no_acknowledged_write_lost(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data", tmp_path / "kubeconfig", extra=["--only", "api"])
    acked: dict[str, str] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def writer(k: int) -> None:
        with http_client(srv, timeout=10) as c:
            i = 0
            while not stop.is_set():
                try:
                    r = c.post(CM, json={"metadata": {"name": f"w{k}-{i}"}, "data": {"v": str(i)}})
                except httpx.HTTPError:
                    return  # the server is gone
                if r.status_code == 201:
                    with lock:
                        acked[f"w{k}-{i}"] = r.json()["metadata"]["resourceVersion"]
                i += 1

    threads = [threading.Thread(target=writer, args=(k,), daemon=True) for k in range(8)]
    try:
        for t in threads:
            t.start()
        wait_until(lambda: len(acked) >= 300, timeout=120, what="300 acknowledged writes")
        srv.stop(signal.SIGKILL)
        stop.set()
        for t in threads:
            t.join(30)
        wal = srv.data_dir / "store.db-wal"
        data = wal.read_bytes()
        page_size = int.from_bytes(data[8:12], "big")
        # a commit frame of this WAL generation whose checksum is wrong, then half of another frame
        torn = b"\0\0\0\1\0\0\0\2" + data[16:24] + b"\xde\xad\xbe\xef" * 2 + b"\x42" * page_size
        wal.write_bytes(data + torn + torn[: len(torn) // 2])
        srv = restart(srv)
        assert "STORE RECOVERY" in srv.log() and "torn or corrupted tail" in srv.log()
        with http_client(srv) as c:
            assert_all_present(c, dict(acked))
            assert c.post(CM, json={"metadata": {"name": "after"}}).status_code == 201
    finally:
        stop.set()
        srv.stop()
