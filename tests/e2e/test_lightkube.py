"""lightkube's async client against a real `suanli up`: list, watch, server-side apply, generic resources."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from lightkube import ApiError, AsyncClient, KubeConfig
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.apps_v1 import DeploymentSpec
from lightkube.models.core_v1 import Container, PodSpec, PodTemplateSpec
from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import ConfigMap
from lightkube.types import OnErrorAction, OnErrorResult, PatchType

from tests.conftest import Server
from tests.e2e._helpers import (
    SAMPLE_CRD_GROUP,
    ensure_crd,
    make_namespace,
    offline_compact,
    private_server,
    restart,
    sample_crd,
)

pytestmark = pytest.mark.e2e

GADGETS = "gadgets"
Gadget = create_namespaced_resource(SAMPLE_CRD_GROUP, "v1", "Gadget", GADGETS)


@pytest.fixture
async def lk(server: Server) -> AsyncIterator[AsyncClient]:
    c = AsyncClient(KubeConfig.from_file(str(server.kubeconfig)))
    yield c
    await c.close()


@pytest.fixture(scope="module")
def ns(server: Server) -> str:
    return make_namespace(server, "lightkube")


def cm(name: str, ns: str, **data: str) -> ConfigMap:
    return ConfigMap(metadata=ObjectMeta(name=name, namespace=ns, labels={"app": "lk"}), data=dict(data))


async def test_list_with_labels_and_chunks(lk: AsyncClient, ns: str) -> None:
    for i in range(5):
        await lk.create(cm(f"l{i}", ns, v=str(i)))
    await lk.create(ConfigMap(metadata=ObjectMeta(name="unlabelled", namespace=ns)))
    names = [c.metadata.name async for c in lk.list(ConfigMap, namespace=ns, labels={"app": "lk"}, chunk_size=2)]
    assert names == [f"l{i}" for i in range(5)]
    everything = [c.metadata.name async for c in lk.list(ConfigMap, namespace=ns)]
    assert "unlabelled" in everything and len(everything) >= 6


async def test_watch_from_resource_version_sees_later_events(lk: AsyncClient, server: Server) -> None:
    ns = make_namespace(server, "lkwatch")
    await lk.create(cm("old", ns))
    listing = lk.list(ConfigMap, namespace=ns)
    _ = [c async for c in listing]
    rv = listing.resourceVersion
    await lk.create(cm("new", ns, v="1"))
    await lk.patch(ConfigMap, "new", {"data": {"v": "2"}}, namespace=ns)
    await lk.delete(ConfigMap, "old", namespace=ns)
    await lk.create(cm("zz-end", ns))
    seen: list[tuple[str, str]] = []
    async for etype, obj in lk.watch(ConfigMap, namespace=ns, resource_version=rv, server_timeout=10):
        seen.append((etype, obj.metadata.name))
        if obj.metadata.name == "zz-end":
            break
    assert seen == [("ADDED", "new"), ("MODIFIED", "new"), ("DELETED", "old"), ("ADDED", "zz-end")]


async def test_apply_creates_then_removes_dropped_fields(lk: AsyncClient, ns: str) -> None:
    first = await lk.apply(ConfigMap(metadata=ObjectMeta(name="ssa", namespace=ns, labels={"a": "1", "b": "2"}),
                                     data={"x": "1", "y": "2"}), field_manager="lk-test")
    assert first.data == {"x": "1", "y": "2"}
    managers = [m.manager for m in first.metadata.managedFields or []]
    assert "lk-test" in managers
    second = await lk.apply(ConfigMap(metadata=ObjectMeta(name="ssa", namespace=ns, labels={"a": "1"}),
                                      data={"x": "10"}), field_manager="lk-test")
    assert second.data == {"x": "10"}
    assert second.metadata.labels == {"a": "1"}
    assert int(second.metadata.resourceVersion) > int(first.metadata.resourceVersion)


async def test_apply_keeps_fields_owned_by_another_manager(lk: AsyncClient, ns: str) -> None:
    await lk.apply(ConfigMap(metadata=ObjectMeta(name="ssa2", namespace=ns), data={"mine": "1"}),
                   field_manager="one")
    await lk.apply(ConfigMap(metadata=ObjectMeta(name="ssa2", namespace=ns), data={"theirs": "1"}),
                   field_manager="two")
    out = await lk.apply(ConfigMap(metadata=ObjectMeta(name="ssa2", namespace=ns), data={}),
                         field_manager="one")
    assert out.data == {"theirs": "1"}


async def test_apply_deployment_merges_containers_by_name(lk: AsyncClient, ns: str) -> None:
    def dep(*containers: Container) -> Deployment:
        return Deployment(metadata=ObjectMeta(name="ssa-dep", namespace=ns),
                          spec=DeploymentSpec(selector=LabelSelector(matchLabels={"app": "d"}),
                                              template=PodTemplateSpec(metadata=ObjectMeta(labels={"app": "d"}),
                                                                       spec=PodSpec(containers=list(containers)))))

    await lk.apply(dep(Container(name="a", image="img:1")), field_manager="alpha")
    await lk.apply(dep(Container(name="b", image="img:2")), field_manager="beta")
    got = await lk.get(Deployment, "ssa-dep", namespace=ns)
    assert sorted(c.name for c in got.spec.template.spec.containers) == ["a", "b"]


async def test_generic_resource_for_a_crd(lk: AsyncClient, server: Server, ns: str) -> None:
    ensure_crd(server, sample_crd(GADGETS))
    created = await lk.create(Gadget(metadata=ObjectMeta(name="g1", namespace=ns), spec={"size": 1}))
    assert created.spec == {"size": 1}
    applied = await lk.apply(Gadget(metadata=ObjectMeta(name="g2", namespace=ns), spec={"size": 2, "tags": ["x"]}),
                             field_manager="lk-test")
    assert applied.spec == {"size": 2, "tags": ["x"]}
    applied = await lk.apply(Gadget(metadata=ObjectMeta(name="g2", namespace=ns), spec={"size": 3}),
                             field_manager="lk-test")
    assert applied.spec == {"size": 3}
    with pytest.raises(ApiError) as smp:  # strategic merge patch is for built-in kinds only
        await lk.patch(Gadget.Status, "g1", {"status": {"phase": "Done"}}, namespace=ns)
    assert smp.value.status.code == 415
    status = await lk.patch(Gadget.Status, "g1", {"status": {"phase": "Done"}}, namespace=ns,
                            patch_type=PatchType.MERGE)
    assert status.status == {"phase": "Done"}
    names = sorted([g.metadata.name async for g in lk.list(Gadget, namespace=ns)])
    assert names == ["g1", "g2"]
    await lk.delete(Gadget, "g1", namespace=ns)
    with pytest.raises(ApiError) as exc:
        await lk.get(Gadget, "g1", namespace=ns)
    assert exc.value.status.code == 404


async def test_watch_resets_after_410_and_replays_state(tmp_path: Path) -> None:
    """lightkube's retry handler drops the resourceVersion on 410 and re-watches from the current state."""
    with private_server(tmp_path, "lk410") as srv:
        async with AsyncClient(KubeConfig.from_file(str(srv.kubeconfig))) as c:
            await c.create(cm("a", "default"))
            listing = c.list(ConfigMap, namespace="default")
            _ = [x async for x in listing]
            old_rv = listing.resourceVersion
            await c.create(cm("b", "default"))
    offline_compact(srv.data_dir)
    srv2 = restart(srv)
    errors: list[int] = []

    def retry(exc: Exception, count: int) -> OnErrorResult:
        errors.append(exc.status.code if isinstance(exc, ApiError) else -1)
        return OnErrorResult(OnErrorAction.RETRY if count < 3 else OnErrorAction.RAISE)

    try:
        async with AsyncClient(KubeConfig.from_file(str(srv2.kubeconfig))) as c:
            seen: list[tuple[str, str]] = []
            async for etype, obj in c.watch(ConfigMap, namespace="default", resource_version=old_rv,
                                            on_error=retry, server_timeout=10):
                seen.append((etype, obj.metadata.name))
                if len(seen) == 2:
                    break
            assert errors == [410]
            assert sorted(seen) == [("ADDED", "a"), ("ADDED", "b")]
            with pytest.raises(ApiError) as exc:  # the default handler raises the 410 instead
                async for _ in c.watch(ConfigMap, namespace="default", resource_version=old_rv):
                    pytest.fail("no event may precede the 410")
            assert exc.value.status.code == 410
    finally:
        srv2.stop()
