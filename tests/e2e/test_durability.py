"""Crash durability: SIGKILL `suanli up` under concurrent writes, restart, check every acknowledged write.

Each writer thread runs create / merge-patch / delete operations on its own
ConfigMaps one at a time, so at most one operation per thread is in flight when the
server dies. An operation counts as *acknowledged* once its 2xx response has been read.
A watcher streams the namespace concurrently and remembers the last resourceVersion it
saw before the kill.

After a restart on the same data directory:

* every acknowledged write is present exactly as acknowledged (same resourceVersion and
  data; acknowledged deletes are absent); only the one in-flight name per writer may
  differ, and then only forward (a newer revision or a completed delete);
* a new write gets a revision above every acknowledged one;
* the watcher resumes from its last resourceVersion without 410 (no compaction ran, and
  the store refills its watch windows from the log tail on start), and its events
  before + after the crash form one strictly increasing sequence containing every
  acknowledged revision, whose replay equals the listed final state.
"""

from __future__ import annotations

import json
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, start_server
from tests.e2e._helpers import http_client, restart, wait_until

pytestmark = pytest.mark.e2e

NS = "default"
WRITERS = 8
ACKED_BEFORE_KILL = 300
CM = f"/api/v1/namespaces/{NS}/configmaps"

Ack = tuple[str, int, str]  # (kind "put"|"deleted", resourceVersion, data.v)
Event = tuple[str, str, int, str]  # (type, name, resourceVersion, data.v)


@dataclass
class Ledger:
    """What the writers know for sure: acknowledged state per name, and in-flight names."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    acked: dict[str, Ack] = field(default_factory=dict)
    in_flight: dict[int, str] = field(default_factory=dict)
    all_rvs: set[int] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    count: int = 0

    def ack(self, name: str, kind: str, rv: int, value: str) -> None:
        with self.lock:
            self.acked[name] = (kind, rv, value)
            self.all_rvs.add(rv)
            self.count += 1


def writer(server: Server, tid: int, ledger: Ledger, stop: threading.Event) -> None:
    with http_client(server, timeout=10) as c:
        i = 0
        while not stop.is_set():
            name, op = f"w{tid}-{i // 3}", i % 3
            ledger.in_flight[tid] = name
            try:
                if op == 0:
                    r = c.post(CM, json={"metadata": {"name": name}, "data": {"v": f"{i}"}})
                elif op == 1:
                    r = c.patch(f"{CM}/{name}", content=json.dumps({"data": {"v": f"{i}"}}).encode(),
                                headers={"Content-Type": "application/merge-patch+json"})
                elif i % 2:  # delete every other object
                    r = c.delete(f"{CM}/{name}")
                else:
                    i += 1
                    continue
            except httpx.TransportError:
                return  # the server died with this operation in flight: outcome unknown
            if r.status_code >= 300:
                ledger.errors.append(f"writer {tid}: {r.status_code} {r.text}")
                return
            rv = int(r.json()["metadata"]["resourceVersion"])
            ledger.ack(name, "deleted" if op == 2 else "put", rv, "" if op == 2 else f"{i}")
            ledger.in_flight.pop(tid, None)
            i += 1


def read_events(resp: httpx.Response, out: list[Event], *, until: str | None = None) -> None:
    for line in resp.iter_lines():
        if not line.strip():
            continue
        ev = json.loads(line)
        if ev["type"] == "ERROR":
            raise AssertionError(f"watch ERROR event: {ev['object']}")
        if ev["type"] == "BOOKMARK":
            continue
        m = ev["object"]["metadata"]
        out.append((ev["type"], m["name"], int(m["resourceVersion"]), (ev["object"].get("data") or {}).get("v", "")))
        if until is not None and m["name"] == until:
            return


def watcher(server: Server, start_rv: str, out: list[Event], started: threading.Event) -> None:
    with http_client(server, timeout=10) as c:
        try:
            with c.stream("GET", CM, params={"watch": "true", "resourceVersion": start_rv},
                          timeout=httpx.Timeout(10, read=None)) as resp:
                assert resp.status_code == 200
                started.set()
                read_events(resp, out)
        except (httpx.TransportError, httpx.StreamError):
            return  # the server was killed


def test_sigkill_under_concurrent_writes_loses_no_acknowledged_write(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data", tmp_path / "kubeconfig")
    ledger = Ledger()
    stop = threading.Event()
    before: list[Event] = []
    try:
        with http_client(srv) as c:
            start_rv = c.get(CM).json()["metadata"]["resourceVersion"]
        started = threading.Event()
        wt = threading.Thread(target=watcher, args=(srv, start_rv, before, started), daemon=True)
        wt.start()
        assert started.wait(10)
        threads = [threading.Thread(target=writer, args=(srv, t, ledger, stop), daemon=True)
                   for t in range(WRITERS)]
        for t in threads:
            t.start()
        wait_until(lambda: ledger.count >= ACKED_BEFORE_KILL, timeout=60, what="acknowledged writes")
        srv.stop(signal.SIGKILL)
        stop.set()
        for t in [*threads, wt]:
            t.join(timeout=20)
            assert not t.is_alive()
    finally:
        srv.stop(signal.SIGKILL)

    srv2 = restart(srv)
    try:
        with http_client(srv2) as c:
            listing = c.get(CM).json()
            final = {o["metadata"]["name"]: (int(o["metadata"]["resourceVersion"]), o.get("data", {}).get("v", ""))
                     for o in listing["items"]
                     if o["metadata"]["name"] != "kube-root-ca.crt"}  # the root CA publisher's, not a writer's
            assert ledger.errors == []
            in_flight = set(ledger.in_flight.values())
            for name, (kind, rv, value) in ledger.acked.items():
                if name in in_flight:
                    if name in final:
                        assert final[name][0] >= rv, name
                    continue
                if kind == "deleted":
                    assert name not in final, f"acknowledged delete of {name} lost"
                else:
                    assert final.get(name) == (rv, value), f"acknowledged write {name}@{rv} lost"
            max_acked = max(ledger.all_rvs)
            assert ledger.count >= ACKED_BEFORE_KILL

            # resume the watch from where it stopped, then end it with a sentinel write
            last_seen = before[-1][2] if before else int(start_rv)
            after: list[Event] = []
            with c.stream("GET", CM, params={"watch": "true", "resourceVersion": str(last_seen),
                                             "timeoutSeconds": "20"},
                          timeout=httpx.Timeout(10, read=None)) as resp:
                assert resp.status_code == 200
                r = c.post(CM, json={"metadata": {"name": "zz-sentinel"}})
                assert r.status_code == 201
                assert int(r.json()["metadata"]["resourceVersion"]) > max_acked
                read_events(resp, after, until="zz-sentinel")
    finally:
        srv2.stop()

    assert after[-1][1] == "zz-sentinel"
    events = before + after[:-1]
    rvs = [e[2] for e in events]
    assert rvs == sorted(set(rvs)), "watch events must be strictly increasing (no duplicate, no reorder)"
    missing = sorted(ledger.all_rvs - set(rvs))
    assert not missing, f"acknowledged revisions missing from the watch: {missing[:5]}"
    replay: dict[str, tuple[int, str]] = {}
    for etype, name, rv, value in events:
        if name == "kube-root-ca.crt":
            continue
        if etype == "DELETED":
            assert replay.pop(name, None) is not None, f"DELETED for unknown {name}"
        else:
            replay[name] = (rv, value)
    assert replay == final
