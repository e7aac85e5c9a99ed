"""Fixtures: a Kubernetes-protocol stub on a loopback socket and an HttpClient pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from suanli.client.http import HttpClient
from suanli.client.kubeconfig import KubeConfig
from tests.client.stub_server import StubApiServer, run_stub


@pytest.fixture
async def stub() -> AsyncIterator[StubApiServer]:
    async with run_stub() as server:
        yield server


@pytest.fixture
async def client(stub: StubApiServer) -> AsyncIterator[HttpClient]:
    async with HttpClient(KubeConfig(server=stub.url)) as c:
        yield c
