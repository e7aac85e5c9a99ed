"""Node agents publish ``metrics.k8s.io`` objects only where the API server takes them from agents
(discovery lists NodeMetrics and PodMetrics with ``create``). A real cluster serves the group
read-only through metrics-server, or not at all: the agent says so once and writes nothing."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from tests.node.test_agent_sim import Stack, fake_node, phase, pod

from suanli.apimachinery.errors import ApiError
from suanli.node.agent.framework import NODES, PODS

READ_ONLY = {"kind": "APIResourceList", "groupVersion": "metrics.k8s.io/v1beta1",
             "resources": [{"name": "nodes", "namespaced": False, "kind": "NodeMetrics", "verbs": ["get", "list"]},
                           {"name": "pods", "namespaced": True, "kind": "PodMetrics", "verbs": ["get", "list"]}]}


def _answer(how: str) -> Any:
    async def discovery(path: str) -> dict[str, Any]:
        if how == "absent":
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if how == "unavailable":
            raise ApiError(503, "ServiceUnavailable", "try again")
        return READ_ONLY
    return discovery


@pytest.mark.parametrize(("how", "expected"), [
    ("served", True), ("absent", False), ("read-only", False), ("unavailable", None),
], ids=["embedded-server-takes-them", "group-not-served", "metrics-server-read-only", "discovery-down-ask-again"])
async def test_metrics_writable_follows_discovery(how: str, expected: bool | None,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    s = Stack()
    if how != "served":
        s.client.discovery_document = _answer(how)  # type: ignore[method-assign]
    await s.start()
    try:
        with caplog.at_level(logging.WARNING):
            assert await s.agent.metrics_writable() is expected
        warned = [r for r in caplog.records if "metrics are not published" in r.getMessage()]
        assert bool(warned) is (expected is False)
    finally:
        await s.stop()


async def test_without_a_writable_metrics_api_the_agent_writes_none_and_warns_once(
        caplog: pytest.LogCaptureFixture) -> None:
    s = Stack()
    s.client.discovery_document = _answer("absent")  # type: ignore[method-assign]
    await s.start()
    try:
        await s.client.create(NODES, fake_node("n1"))
        await s.client.create(PODS, pod("p", "n1", resources={"requests": {"cpu": "1", "memory": "1Gi"}}))
        await s.eventually(lambda: phase(s.pod("p")) == "Running")
        with caplog.at_level(logging.WARNING):
            await s.advance(64, step=4)  # four metrics intervals
        assert s.obj("metrics.k8s.io/nodes", "", "n1") is None
        assert s.obj("metrics.k8s.io/pods", "default", "p") is None
        assert len([r for r in caplog.records if "metrics are not published" in r.getMessage()]) == 1
    finally:
        await s.stop()
