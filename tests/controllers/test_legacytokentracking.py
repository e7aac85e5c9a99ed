"""kube-apiserver's legacy token tracking ConfigMap (cases after upstream's controller_test.go:
create when absent, keep a valid date, repair an invalid or missing one, rate-limited re-creation)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from suanli.apimachinery.gvr import GVR
from suanli.controllers.legacytokentracking import CONFIGMAP_NAME, LegacyTokenTrackingController, valid_since
from suanli.runtime.clock import FakeClock
from tests.controllers.conftest import Api, eventually, running

CONFIGMAPS = GVR("", "v1", "configmaps")
NAMESPACES = GVR("", "v1", "namespaces", namespaced=False)
WALL = 1_700_000_000.0  # 2023-11-14 UTC
TODAY = datetime.fromtimestamp(WALL, UTC).strftime("%Y-%m-%d")


async def since(api: Api) -> str | None:
    items = (await api.client.list(CONFIGMAPS, "kube-system"))["items"]
    cm = next((o for o in items if o["metadata"]["name"] == CONFIGMAP_NAME), None)
    return None if cm is None else (cm.get("data") or {}).get("since")


@pytest.fixture
async def kube_system(api: Api) -> Api:
    await api.client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}})
    return api


@pytest.mark.parametrize(("value", "ok"), [("2023-11-14", True), ("2023-13-01", False), ("invalid", False),
                                           ("", False), (None, False), ("2023-1-14", False)])
def test_since_must_be_a_yyyy_mm_dd_date(value: object, ok: bool) -> None:
    assert valid_since(value) is ok


async def test_created_with_todays_date_when_absent(kube_system: Api) -> None:
    async with running(LegacyTokenTrackingController(kube_system.client, clock=FakeClock(wall_start=WALL))):
        assert await eventually(lambda: since(kube_system), what="tracking ConfigMap") == TODAY


@pytest.mark.parametrize(("data", "expected"), [
    ({"since": "2020-01-01"}, "2020-01-01"),
    ({"since": "invalid"}, TODAY),
    ({}, TODAY),
], ids=["valid-date-never-overwritten", "invalid-date-repaired", "missing-date-set"])
async def test_existing_configmap(kube_system: Api, data: dict[str, str], expected: str) -> None:
    await kube_system.client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "data": data,
                                                 "metadata": {"name": CONFIGMAP_NAME}}, "kube-system")
    ctrl = LegacyTokenTrackingController(kube_system.client, clock=FakeClock(wall_start=WALL))
    async with running(ctrl):
        # synced: the informer holds the ConfigMap and the queue has handed out and finished its key
        await eventually(lambda: ctrl.configmaps.get("kube-system", CONFIGMAP_NAME) is not None
                         and len(ctrl.queue) == 0 and not ctrl.queue._processing, what="first sync")
        assert await eventually(lambda: since(kube_system)) == expected


async def test_recreation_after_delete_waits_for_the_rate_limit(kube_system: Api) -> None:
    clock = FakeClock(wall_start=WALL)
    async with running(LegacyTokenTrackingController(kube_system.client, clock=clock)):
        await eventually(lambda: since(kube_system), what="first creation")
        await kube_system.client.delete(CONFIGMAPS, CONFIGMAP_NAME, "kube-system")
        await eventually(lambda: clock.sleepers > 0, what="re-creation scheduled")
        assert await since(kube_system) is None  # not re-created before 30 minutes have passed
        clock.advance(30 * 60)
        assert await eventually(lambda: since(kube_system), what="re-created") == TODAY
