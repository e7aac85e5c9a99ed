"""Fixtures for the tenant (department) end-to-end suite: a fresh `suanli up` demo platform per
module with the two example departments of examples/tenants applied and their quotas synced."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.conftest import Kubectl, Server
from tests.e2e.conftest import wait_until
from tests.e2e_hardware.conftest import EXAMPLES, fresh_demo_server, kc

__all__ = ["DEPARTMENTS", "TENANTS", "departments", "kc", "quota_used"]

TENANTS = EXAMPLES / "tenants"
DEPARTMENTS = ("dept-a", "dept-b")
ASCEND = "huawei.com/Ascend910"


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A fresh demo platform per module (queues, policies and node labels are cluster-wide)."""
    yield from fresh_demo_server(tmp_path_factory)


def quota_used(kc: Kubectl, ns: str, name: str = "compute") -> dict[str, str]:
    """``status.used`` of a quota ({} until the quota controller has synced it)."""
    quota = json.loads(kc("get", "resourcequota", name, "-n", ns, "-o", "json"))
    return dict((quota.get("status") or {}).get("used") or {})


@pytest.fixture
def departments(kc: Kubectl) -> None:
    """Both example departments applied, with NPUs online on the Ascend demo nodes and the
    quotas' status.used synced by the controller (admission refuses pods until then)."""
    kc("apply", "-f", str(EXAMPLES / "nfd-rules-ascend-kae.yaml"), "-f", str(EXAMPLES / "npu-cluster-policy.yaml"))
    kc("apply", "-f", str(TENANTS / "department-a.yaml"), "-f", str(TENANTS / "department-b.yaml"))

    def npus_online() -> bool:
        nodes = json.loads(kc("get", "nodes", "-o", "json"))["items"]
        return sum(1 for n in nodes if (n.get("status") or {}).get("allocatable", {}).get(ASCEND) == "8") == 2

    wait_until(npus_online, timeout=60, what="both Ascend demo nodes advertising 8 NPUs")
    for ns in DEPARTMENTS:
        wait_until(lambda ns=ns: "requests.cpu" in quota_used(kc, ns), timeout=30, what=f"{ns} quota synced")
