"""SharedInformerFactory over the real in-process API (LocalClient → ApiService → Store).

Sharing, late indexers and handlers, selector/namespace keys, start/stop and release.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj, labels_of, name_of
from suanli.apiserver.service import ApiService
from suanli.client.local import LocalClient
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.registry import Registry
from suanli.runtime.informer import Informer
from suanli.runtime.informer_factory import SharedInformerFactory, informer_key, resolve_factory
from suanli.storage import Store

PODS = GVR("", "v1", "pods")
NODES = GVR("", "v1", "nodes", namespaced=False)
NAMESPACES = GVR("", "v1", "namespaces", namespaced=False)


class CountingClient(LocalClient):
    """LocalClient that counts list and watch calls per resource (to prove one watch is shared)."""

    def __init__(self, service: ApiService) -> None:
        super().__init__(service)
        self.lists: dict[str, int] = {}
        self.watches: dict[str, int] = {}

    async def list(self, gvr: GVR, namespace: str = "", **kw: Any) -> Obj:
        self.lists[gvr.resource] = self.lists.get(gvr.resource, 0) + 1
        return await super().list(gvr, namespace, **kw)

    def watch(self, gvr: GVR, namespace: str = "", **kw: Any) -> Any:
        self.watches[gvr.resource] = self.watches.get(gvr.resource, 0) + 1
        return super().watch(gvr, namespace, **kw)


@pytest.fixture
async def client() -> AsyncIterator[CountingClient]:
    registry = Registry()
    registry.add_all(builtin_resource_types())
    store = Store(None, compaction_interval=0)
    await store.start()
    store.add_index("pods", "spec.nodeName", lambda p: [str((p.get("spec") or {}).get("nodeName") or "")])
    service = ApiService(store, registry)
    c = CountingClient(service)
    for ns in ("a", "b"):
        await c.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    try:
        yield c
    finally:
        await service.drain_background()
        await store.stop()


@pytest.fixture
async def factory(client: CountingClient) -> AsyncIterator[SharedInformerFactory]:
    f = SharedInformerFactory(client)
    try:
        yield f
    finally:
        await f.stop()


def pod(name: str, ns: str = "a", node: str = "", **labels: str) -> Obj:
    spec: Obj = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": spec}


class Recorder:
    """Records (event, name) from informer handlers; tests await a count instead of sleeping."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self._changed = asyncio.Event()

    def attach(self, inf: Informer) -> Any:
        return inf.add_handler(lambda o: self._rec("add", o), lambda _o, n: self._rec("update", n),
                               lambda o: self._rec("delete", o))

    def _rec(self, kind: str, obj: Obj) -> None:
        self.events.append((kind, name_of(obj)))
        self._changed.set()

    async def wait_count(self, n: int) -> list[tuple[str, str]]:
        async with asyncio.timeout(5):
            while len(self.events) < n:
                self._changed.clear()
                await self._changed.wait()
        return self.events


async def test_same_watch_is_one_informer_seen_by_every_consumer(client: CountingClient,
                                                                factory: SharedInformerFactory) -> None:
    first, second = Recorder(), Recorder()
    inf1 = factory.informer(PODS)
    inf2 = factory.informer(GVR("", "v1", "pods"))
    assert inf1 is inf2 and len(factory) == 1
    first.attach(inf1)
    second.attach(inf2)
    factory.start()
    await factory.wait_synced()
    await client.create(PODS, pod("p1"))
    await client.patch(PODS, "p1", {"metadata": {"labels": {"v": "2"}}}, "a")
    await client.delete(PODS, "p1", "a", grace_period_seconds=0)
    expected = [("add", "p1"), ("update", "p1"), ("delete", "p1")]
    assert (await first.wait_count(3))[:3] == expected
    assert (await second.wait_count(3))[:3] == expected
    assert (client.lists.get("pods"), client.watches.get("pods")) == (1, 1)


@pytest.mark.parametrize(
    ("other", "distinct"),
    [
        ((PODS, "", "", ""), False),
        ((PODS, "a", "", ""), True),
        ((PODS, "", "app=web", ""), True),
        ((PODS, "", "", "spec.nodeName=n1"), True),
        ((GVR("", "v2", "pods"), "", "", ""), True),
        ((NODES, "", "", ""), True),
    ],
    ids=["identical-watch-shared", "namespace-distinct", "label-selector-distinct", "field-selector-distinct",
         "version-distinct", "resource-distinct"],
)
def test_informer_identity_follows_the_watch(client: CountingClient, other: tuple[GVR, str, str, str],
                                             distinct: bool) -> None:
    f = SharedInformerFactory(client)
    base = f.informer(PODS)
    gvr, ns, labels, fields = other
    again = f.informer(gvr, ns, label_selector=labels, field_selector=fields)
    assert (again is not base) == distinct
    assert len(f) == (2 if distinct else 1)


def test_cluster_scoped_key_ignores_namespace() -> None:
    assert informer_key(NODES, "a") == informer_key(NODES) == ("", "v1", "nodes", "", "", "")


async def test_selectors_and_namespaces_filter_each_informer(client: CountingClient,
                                                             factory: SharedInformerFactory) -> None:
    all_pods = factory.informer(PODS)
    in_b = factory.informer(PODS, "b")
    web = factory.informer(PODS, label_selector="app=web")
    on_n1 = factory.informer(PODS, field_selector="spec.nodeName=n1")
    await client.create(PODS, pod("w", "a", app="web"))
    await client.create(PODS, pod("x", "b", node="n1"))
    await client.create(PODS, pod("y", "b", app="web", node="n2"))
    factory.start()
    await factory.wait_synced()

    def names(inf: Informer) -> list[str]:
        return sorted(name_of(o) for o in inf.list())

    assert (names(all_pods), names(in_b), names(web), names(on_n1)) == (["w", "x", "y"], ["x", "y"], ["w", "y"],
                                                                      ["x"])


async def test_late_indexer_indexes_existing_and_follows_changes(client: CountingClient,
                                                                 factory: SharedInformerFactory) -> None:
    for name, app in (("p1", "web"), ("p2", "db"), ("p3", "web")):
        await client.create(PODS, pod(name, app=app))
    inf = factory.informer(PODS)
    factory.start()
    await factory.wait_synced()
    rec = Recorder()
    rec.attach(inf)

    def by_app(o: Obj) -> list[str]:
        return [labels_of(o)["app"]] if "app" in labels_of(o) else []

    factory.informer(PODS, indexers={"app": by_app})  # a second consumer brings the index
    assert sorted(name_of(o) for o in inf.by_index("app", "web")) == ["p1", "p3"]
    await client.patch(PODS, "p1", {"metadata": {"labels": {"app": "db"}}}, "a")
    await rec.wait_count(4)
    assert [name_of(o) for o in inf.by_index("app", "web")] == ["p3"]
    assert [name_of(o) for o in inf.by_index("app", "db")] == ["p1", "p2"]


def test_indexer_name_clash_with_another_function_is_an_error(client: CountingClient) -> None:
    f = SharedInformerFactory(client)

    def first(o: Obj) -> list[str]:
        return []

    def second(o: Obj) -> list[str]:
        return ["x"]

    inf = f.informer(PODS, indexers={"idx": first})
    f.informer(PODS, indexers={"idx": first})  # same function again: fine
    with pytest.raises(ValueError, match="idx"):
        f.informer(PODS, indexers={"other": second, "idx": second})
    assert sorted(inf.indexer_names()) == ["idx", "namespace"]  # nothing of the failed call was added


async def test_handler_added_after_sync_gets_existing_objects(client: CountingClient,
                                                              factory: SharedInformerFactory) -> None:
    await client.create(PODS, pod("early"))
    factory.start()
    inf = factory.informer(PODS)  # requested after start: runs at once
    await factory.wait_synced([inf])
    rec = Recorder()
    rec.attach(inf)
    assert rec.events == [("add", "early")]


async def test_start_is_idempotent_and_stop_ends_every_informer(client: CountingClient) -> None:
    f = SharedInformerFactory(client)
    pods, nodes = f.informer(PODS), f.informer(NODES)
    f.start()
    f.start()
    await f.wait_synced()
    assert (client.watches.get("pods"), client.lists.get("nodes")) == (1, 1)
    rec = Recorder()
    rec.attach(pods)
    await f.stop()
    assert f.stopped
    await client.create(PODS, pod("after-stop"))
    assert rec.events == [] and pods.get("a", "after-stop") is None
    late = f.informer(GVR("apps", "v1", "deployments"))
    f.start()
    assert not late.has_synced and client.lists.get("deployments") is None
    assert nodes.has_synced


async def test_removed_handler_gets_no_more_events(client: CountingClient, factory: SharedInformerFactory) -> None:
    inf = factory.informer(PODS)
    kept, removed = Recorder(), Recorder()
    kept.attach(inf)
    registration = removed.attach(inf)
    factory.start()
    await factory.wait_synced()
    inf.remove_handler(registration)
    inf.remove_handler(registration)  # idempotent
    await client.create(PODS, pod("p"))
    await kept.wait_count(1)
    assert removed.events == []


@pytest.mark.parametrize(
    ("claims", "releases", "survives"),
    [(2, 1, True), (1, 1, False), (3, 3, False)],
    ids=["still-claimed-keeps-running", "last-release-stops-and-forgets", "all-claims-released"],
)
async def test_release_stops_an_informer_nobody_uses(client: CountingClient, factory: SharedInformerFactory,
                                                     claims: int, releases: int, survives: bool) -> None:
    infs = [factory.informer(PODS) for _ in range(claims)]
    factory.start()
    await factory.wait_synced()
    for inf in infs[:releases]:
        factory.release(inf)
    again = factory.informer(PODS)
    assert (again is infs[0]) == survives
    if not survives:  # a fresh informer is started and lists on its own
        await factory.wait_synced([again])
        assert client.lists["pods"] == 2


async def test_failing_consumer_handler_does_not_affect_other_consumers(
        client: CountingClient, factory: SharedInformerFactory) -> None:
    inf = factory.informer(PODS)

    def boom(_: Obj) -> None:
        raise RuntimeError("consumer bug")

    inf.add_handler(boom)
    rec = Recorder()
    rec.attach(inf)
    factory.start()
    await client.create(PODS, pod("p"))
    assert await rec.wait_count(1) == [("add", "p")]



@pytest.mark.parametrize("given", [True, False], ids=["shared-factory-is-borrowed", "none-gives-private-owned"])
def test_resolve_factory(client: CountingClient, given: bool) -> None:
    shared = SharedInformerFactory(client)
    factory, owned = resolve_factory(client, shared if given else None)
    assert (factory is shared, owned) == (given, not given)
