"""``suanli.runtime.informer.Informer`` over ``HttpClient`` against a real `suanli up`.

The 410 test is deterministic: the informer runs on a :class:`FakeClock` with 1 s
server-side watch timeouts. Two empty watches in a row park it in a clock sleep
*without* a re-list and with no open connection; while parked we change objects,
stop the server, compact its log offline and restart it. Advancing the clock makes
the informer resume its watch from the pre-restart resourceVersion, which the server
answers with a 410 ``ERROR`` event; the informer must re-list and converge.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.client.http import HttpClient
from suanli.runtime.clock import FakeClock
from suanli.runtime.informer import Informer
from tests.conftest import Server, start_server
from tests.e2e._helpers import make_namespace, offline_compact, restart

pytestmark = pytest.mark.e2e

CONFIGMAPS = GVR("", "v1", "configmaps")
Seen = list[tuple[str, str]]


def cm(name: str, app: str, v: str = "0") -> Obj:
    return {"metadata": {"name": name, "labels": {"app": app}}, "data": {"v": v}}


def record(inf: Informer) -> Seen:
    seen: Seen = []
    inf.add_handler(lambda o: seen.append(("add", o["metadata"]["name"])),
                    lambda _old, new: seen.append(("update", new["metadata"]["name"])),
                    lambda o: seen.append(("delete", o["metadata"]["name"])))
    return seen


def cache(inf: Informer) -> dict[str, str]:
    return {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in inf.list()}


async def server_state(client: HttpClient, ns: str) -> dict[str, str]:
    items = (await client.list(CONFIGMAPS, ns))["items"]
    return {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in items}


async def eventually(pred: Callable[[], bool], what: str, timeout: float = 20) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not pred():
                await asyncio.sleep(0.01)  # polling our own informer's cache, bounded by the timeout
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def test_initial_sync_then_live_events_with_index(server: Server) -> None:
    ns = make_namespace(server, "inf")
    async with HttpClient.from_kubeconfig(str(server.kubeconfig)) as client:
        for i in range(7):
            await client.create(CONFIGMAPS, cm(f"c{i}", "web" if i % 2 else "db"), ns)
        inf = Informer(client, CONFIGMAPS, ns, page_size=3,
                       indexers={"app": lambda o: [o["metadata"].get("labels", {}).get("app", "")]})
        seen = record(inf)
        task = asyncio.ensure_future(inf.run())
        try:
            async with asyncio.timeout(20):
                await inf.wait_synced()
            assert cache(inf) == await server_state(client, ns)
            # kube-root-ca.crt: published in every namespace by the root CA publisher
            assert sorted(s for s in seen if s[1] != "kube-root-ca.crt") == sorted(("add", f"c{i}") for i in range(7))
            assert [o["metadata"]["name"] for o in inf.by_index("app", "web")] == ["c1", "c3", "c5"]

            seen.clear()
            await client.create(CONFIGMAPS, cm("new", "web"), ns)
            await client.patch(CONFIGMAPS, "c0", {"metadata": {"labels": {"app": "web"}}}, ns)
            await client.delete(CONFIGMAPS, "c1", ns)
            await eventually(lambda: len(seen) >= 3, "three live events")
            assert seen == [("add", "new"), ("update", "c0"), ("delete", "c1")]
            assert cache(inf) == await server_state(client, ns)
            assert [o["metadata"]["name"] for o in inf.by_index("app", "web")] == ["c0", "c3", "c5", "new"]
            assert inf.lists == 1
        finally:
            inf.stop()
            await task


async def test_converges_after_410_on_resumed_watch(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="suanli.runtime.informer")
    srv: Server = await asyncio.to_thread(start_server, tmp_path / "data", tmp_path / "kubeconfig")
    srv2: Server | None = None
    ns = "default"
    clock = FakeClock()
    try:
        async with HttpClient.from_kubeconfig(str(srv.kubeconfig)) as client:
            for name in ("keep", "change", "drop"):
                await client.create(CONFIGMAPS, cm(name, "x"), ns)
            inf = Informer(client, CONFIGMAPS, ns, clock=clock, watch_timeout_seconds=1)
            seen = record(inf)
            task = asyncio.ensure_future(inf.run())
            try:
                async with asyncio.timeout(30):
                    await inf.wait_synced()
                    await clock.wait_for_sleepers(1)  # two empty watches: parked, nothing open
                stale_rv = inf.last_resource_version
                assert inf.lists == 1
                seen.clear()

                await client.patch(CONFIGMAPS, "change", {"data": {"v": "1"}}, ns)
                await client.delete(CONFIGMAPS, "drop", ns)
                await client.create(CONFIGMAPS, cm("added", "x"), ns)
                # SIGKILL: a graceful stop would wait ~10 s for our idle TLS keep-alive connection
                await asyncio.to_thread(srv.stop, signal.SIGKILL)
                compact_rev = await asyncio.to_thread(offline_compact, srv.data_dir)
                assert compact_rev > int(stale_rv)
                srv2 = await asyncio.to_thread(restart, srv)
                expected = await server_state(client, ns)  # same port, same kubeconfig

                def converged() -> bool:
                    if clock.sleepers:
                        clock.advance(60)
                    return cache(inf) == expected

                await eventually(converged, "the informer to re-list after 410")
                assert inf.lists == 2
                assert sorted(seen) == [("add", "added"), ("delete", "drop"), ("update", "change")]
                gone = [r for r in caplog.records if r.name == "suanli.runtime.informer" and r.levelno == logging.DEBUG
                        and "re-listing" in r.getMessage()]
                assert gone, "the re-list must have been caused by a 410 (logged at DEBUG)"

                seen.clear()  # and it keeps watching the restarted server
                await client.create(CONFIGMAPS, cm("after", "x"), ns)

                def saw_after() -> bool:
                    if clock.sleepers:
                        clock.advance(60)
                    return ("add", "after") in seen

                await eventually(saw_after, "a live event after the re-list")
            finally:
                inf.stop()
                await task
    finally:
        srv.stop(signal.SIGKILL)
        if srv2 is not None:
            await asyncio.to_thread(srv2.stop, signal.SIGKILL)
