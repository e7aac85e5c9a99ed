"""Informer over HttpClient against the loopback protocol stub: list, watch, 410 re-list, indexes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj, labels_of, name_of
from suanli.client.http import HttpClient
from suanli.runtime.clock import FakeClock
from suanli.runtime.informer import Informer
from tests.client.stub_server import StubApiServer

PODS = GVR("", "v1", "pods")
Event = tuple[str, str, str]  # (handler, name, label "v" or "")


class Recorder:
    """Handler callbacks that record (kind, name, labels.v) and let tests wait for a condition."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Event()

    def attach(self, informer: Informer) -> None:
        informer.add_handler(lambda o: self._rec("add", o), lambda old, new: self._rec("update", new),
                             lambda o: self._rec("delete", o))

    def _rec(self, kind: str, obj: Obj) -> None:
        self.events.append((kind, name_of(obj), labels_of(obj).get("v", "")))
        self._changed.set()

    async def wait_for(self, pred: Callable[[list[Event]], bool]) -> None:
        async with asyncio.timeout(5):
            while not pred(self.events):
                self._changed.clear()
                await self._changed.wait()

    async def wait_count(self, n: int) -> list[Event]:
        await self.wait_for(lambda ev: len(ev) >= n)
        return self.events[:n]


def cache_state(inf: Informer) -> dict[str, str]:
    return {name_of(o): labels_of(o).get("v", "") for o in inf.list()}


def server_state(stub: StubApiServer, ns: str = "ns") -> dict[str, str]:
    return {k[1]: o["metadata"]["labels"].get("v", "") for k, o in stub.objects.items() if k[0] == ns}


@pytest.fixture
async def running(client: HttpClient, stub: StubApiServer) -> AsyncIterator[tuple[Informer, Recorder]]:
    for i in range(7):
        stub.seed("ns", f"p{i}", app="web" if i % 2 else "db")
    stub.seed("other", "x")
    inf = Informer(client, PODS, "ns", page_size=3,
                   indexers={"app": lambda o: [labels_of(o)["app"]] if "app" in labels_of(o) else []})
    rec = Recorder()
    rec.attach(inf)
    task = asyncio.create_task(inf.run())
    await inf.wait_synced()
    yield inf, rec
    inf.stop()
    await task


async def test_initial_list_pages_and_fills_cache(running: tuple[Informer, Recorder],
                                                  stub: StubApiServer) -> None:
    inf, rec = running
    assert inf.has_synced
    lists = [r for r in stub.sent("GET") if "watch" not in r.query]
    assert [r.query.get("limit") for r in lists] == ["3", "3", "3"]
    assert [("continue" in r.query) for r in lists] == [False, True, True]
    assert rec.events == [("add", f"p{i}", "") for i in range(7)]
    assert sorted(cache_state(inf)) == [f"p{i}" for i in range(7)]
    assert inf.last_resource_version == str(stub.rv)
    assert inf.get("ns", "p3") is not None and inf.get("other", "x") is None


async def test_watch_resumes_from_list_resource_version(running: tuple[Informer, Recorder],
                                                        stub: StubApiServer) -> None:
    await stub.watch_opened.wait()
    watch = next(r for r in stub.requests if r.query.get("watch") == "true")
    assert watch.query["resourceVersion"] == str(stub.rv)
    assert watch.query["allowWatchBookmarks"] == "true"
    assert watch.path == "/api/v1/namespaces/ns/pods"


async def test_watch_events_are_applied_in_order(running: tuple[Informer, Recorder],
                                                 stub: StubApiServer) -> None:
    inf, rec = running
    stub.seed("ns", "new")
    stub.modify("ns", "p1", v="2")
    stub.remove("ns", "p2")
    stub.modify("ns", "new", v="9")
    stub.seed("other", "y")  # another namespace: not ours
    assert (await rec.wait_count(11))[7:] == [("add", "new", ""), ("update", "p1", "2"),
                                              ("delete", "p2", ""), ("update", "new", "9")]
    assert cache_state(inf) == server_state(stub)
    assert inf.last_resource_version == stub.objects[("ns", "new")]["metadata"]["resourceVersion"]


async def test_bookmark_advances_resource_version_only(running: tuple[Informer, Recorder],
                                                       stub: StubApiServer) -> None:
    inf, rec = running
    await stub.watch_opened.wait()
    stub.seed("other", "elsewhere")  # bumps the global RV without an event for us
    stub.bookmark()
    stub.seed("ns", "marker")
    await rec.wait_count(8)
    assert rec.events[-1] == ("add", "marker", "")
    assert inf.last_resource_version == str(stub.rv)


async def test_410_relists_and_converges(running: tuple[Informer, Recorder], stub: StubApiServer) -> None:
    inf, rec = running
    await stub.watch_opened.wait()
    stub.modify("ns", "p0", silent=True, v="changed")
    stub.remove("ns", "p5", silent=True)
    stub.add_silently("ns", "fresh")
    stub.compact()  # in-stream ERROR 410 to the open watch
    await rec.wait_count(10)
    assert sorted(rec.events[7:]) == [("add", "fresh", ""), ("delete", "p5", ""), ("update", "p0", "changed")]
    assert cache_state(inf) == server_state(stub)
    assert inf.lists == 2
    stub.seed("ns", "after")  # and the new watch works
    assert (await rec.wait_count(11))[-1] == ("add", "after", "")
    assert (inf.lists, inf.failures) == (2, 0)  # one re-list, no backoff


async def test_clean_watch_end_rewatches_without_relist(running: tuple[Informer, Recorder],
                                                        stub: StubApiServer) -> None:
    inf, rec = running
    stub.seed("ns", "a")
    await rec.wait_count(8)
    stub.drop_watches()
    stub.seed("ns", "b")  # happens while no watch is open: replayed on resume
    await rec.wait_count(9)
    watches = [r for r in stub.requests if r.query.get("watch") == "true"]
    assert len(watches) == 2
    assert watches[1].query["resourceVersion"] == stub.objects[("ns", "a")]["metadata"]["resourceVersion"]
    assert inf.lists == 1


async def test_indexes_and_namespace_listing(running: tuple[Informer, Recorder], stub: StubApiServer) -> None:
    inf, rec = running
    assert sorted(name_of(o) for o in inf.by_index("app", "web")) == ["p1", "p3", "p5"]
    stub.modify("ns", "p1", app="db")
    await rec.wait_count(8)
    assert sorted(name_of(o) for o in inf.by_index("app", "web")) == ["p3", "p5"]
    assert len(inf.by_index("app", "db")) == 5
    assert len(inf.list("ns")) == 7 and inf.list("other") == []
    with pytest.raises(KeyError):
        inf.by_index("nope", "x")


async def test_late_handler_gets_existing_objects_as_adds(running: tuple[Informer, Recorder]) -> None:
    inf, _ = running
    late = Recorder()
    late.attach(inf)
    assert sorted(late.events) == [("add", f"p{i}", "") for i in range(7)]


async def test_failing_handler_does_not_stop_others(running: tuple[Informer, Recorder],
                                                    stub: StubApiServer) -> None:
    inf, rec = running

    def boom(obj: Obj) -> None:
        raise RuntimeError("handler bug")

    inf.add_handler(on_update=lambda o, n: boom(n))
    stub.modify("ns", "p1", v="1")
    stub.modify("ns", "p1", v="2")
    assert (await rec.wait_count(9))[7:] == [("update", "p1", "1"), ("update", "p1", "2")]


async def test_expired_continue_token_restarts_list_unpaged(client: HttpClient, stub: StubApiServer) -> None:
    for i in range(5):
        stub.seed("ns", f"p{i}")
    stub.expire_continue_tokens = True
    inf = Informer(client, PODS, "ns", page_size=2)
    task = asyncio.create_task(inf.run())
    await inf.wait_synced()
    inf.stop()
    await task
    lists = [r.query for r in stub.sent("GET") if "watch" not in r.query]
    assert [q.get("limit") for q in lists] == ["2", "2", None]
    assert len(inf) == 5


async def test_repeated_failures_back_off_on_the_clock(client: HttpClient, stub: StubApiServer) -> None:
    stub.seed("ns", "a")
    clock = FakeClock()
    for _ in range(3):
        stub.fail_next(ApiError.internal("etcd is sad"))
    inf = Informer(client, PODS, "ns", clock=clock)
    task = asyncio.create_task(inf.run())
    await clock.wait_for_sleepers(1)  # 1st failure re-listed at once, 2nd waits 0.8 s
    assert inf.failures == 2
    assert clock.next_deadline() == pytest.approx(0.8)
    clock.advance(0.8)
    await clock.wait_for_sleepers(1)
    assert inf.failures == 3
    assert clock.next_deadline() == pytest.approx(0.8 + 1.6)
    assert not inf.has_synced
    clock.advance(1.6)
    await inf.wait_synced()
    assert [name_of(o) for o in inf.list()] == ["a"]
    inf.stop()
    await task


async def test_resync_replays_updates_on_the_clock(client: HttpClient, stub: StubApiServer) -> None:
    stub.seed("ns", "a")
    stub.seed("ns", "b")
    clock = FakeClock()
    inf = Informer(client, PODS, "ns", clock=clock, resync_period=30)
    resyncs: list[tuple[str, bool]] = []
    inf.add_handler(on_update=lambda old, new: resyncs.append((name_of(new), old is new)))
    task = asyncio.create_task(inf.run())
    await inf.wait_synced()
    await clock.wait_for_sleepers(1)
    clock.advance(30)
    await clock.wait_for_sleepers(1)  # the resync loop ran and sleeps again
    assert sorted(resyncs) == [("a", True), ("b", True)]
    inf.stop()
    await task


async def test_stop_closes_the_watch(client: HttpClient, stub: StubApiServer) -> None:
    inf = Informer(client, PODS, "ns")
    task = asyncio.create_task(inf.run())
    await stub.watch_opened.wait()
    inf.stop()
    await asyncio.wait_for(task, 5)
    assert task.done() and task.exception() is None


async def test_cluster_wide_informer_keys_by_namespace(client: HttpClient, stub: StubApiServer) -> None:
    stub.seed("a", "same")
    stub.seed("b", "same")
    inf = Informer(client, PODS)
    task = asyncio.create_task(inf.run())
    await inf.wait_synced()
    assert sorted(inf.keys()) == ["a/same", "b/same"]
    assert inf.get("b", "same") is not None
    inf.stop()
    await task
