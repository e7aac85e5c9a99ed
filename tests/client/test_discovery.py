"""Discovery through the Client protocol: the in-process client and the HTTP client read the same
documents, and preferred versions/verbs select what the GC and the namespace controller follow."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from suanli.apimachinery.errors import ApiError
from suanli.apiserver.service import ApiService
from suanli.client.discovery import APIResource, RESTMapper, preferred_resources, server_resources
from suanli.client.local import LocalClient
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.registry import Registry
from suanli.kinds.volcano import volcano_crds
from suanli.node.nfd.crds import ensure_crds
from suanli.storage import Store


@pytest.fixture
async def local() -> AsyncIterator[LocalClient]:
    registry = Registry()
    registry.add_all(builtin_resource_types())
    store = Store(None, compaction_interval=0)
    await store.start()
    service = ApiService(store, registry)
    try:
        yield LocalClient(service)
    finally:
        await service.drain_background()
        await store.stop()


async def test_local_discovery_lists_builtins_without_subresources(local: LocalClient) -> None:
    resources = await server_resources(local)
    by_name = {(r.group, r.resource): r for r in resources}
    pods = by_name[("", "pods")]
    assert pods.kind == "Pod" and pods.namespaced and {"list", "watch", "delete"} <= pods.verbs
    assert by_name[("apps", "deployments")].api_version == "apps/v1"
    assert not any("/" in r.resource for r in resources)
    assert not by_name[("", "namespaces")].namespaced


async def test_crds_appear_in_discovery_once_created(local: LocalClient) -> None:
    before = {r.group_resource for r in await server_resources(local)}
    assert "jobs.batch.volcano.sh" not in before
    await ensure_crds(local, volcano_crds())
    after = {r.group_resource: r for r in await server_resources(local)}
    assert after["jobs.batch.volcano.sh"].kind == "Job"
    mapper = RESTMapper(list(after.values()))
    found = mapper.resource_for("batch.volcano.sh/v1alpha1", "Job")
    assert found is not None and found.resource == "jobs"
    assert mapper.resource_for("batch.volcano.sh/v1alpha1", "NoSuchKind") is None


async def test_an_unserved_group_version_is_404(local: LocalClient) -> None:
    with pytest.raises(ApiError) as info:
        await local.discovery_document("/apis/nosuch.example.com/v1")
    assert info.value.code == 404


def _res(group: str, version: str, resource: str, verbs: set[str], preferred: bool) -> APIResource:
    return APIResource(group, version, resource, resource.title(), True, frozenset(verbs), preferred)


@pytest.mark.parametrize(("verbs", "expected"), [
    (frozenset(), ["a/v1/foos", "a/v1/bars"]),
    (frozenset({"delete", "list", "watch"}), ["a/v1/foos"]),
], ids=["preferred-versions-only", "and-all-verbs"])
def test_preferred_resources(verbs: frozenset[str], expected: list[str]) -> None:
    resources = [_res("a", "v1", "foos", {"delete", "list", "watch"}, True),
                 _res("a", "v1beta1", "foos", {"delete", "list", "watch"}, False),
                 _res("a", "v1", "bars", {"list", "watch"}, True)]
    assert [f"{r.group}/{r.version}/{r.resource}" for r in preferred_resources(resources, verbs=verbs)] == expected
