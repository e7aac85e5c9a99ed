"""Simulated pod IPs come from the node's spec.podCIDR, wait for it when required, and never collide
after an agent restart (adopted pods keep theirs; new pods avoid them)."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator

import pytest
from tests.node.test_agent_sim import SEED, Stack, fake_node, phase, pod

from suanli.node.agent import AgentConfig, SimAgent
from suanli.node.agent.framework import NODES, PODS


def with_cidr(name: str, cidr: str) -> dict[str, object]:
    node = fake_node(name)
    node["spec"] = {"podCIDR": cidr, "podCIDRs": [cidr]}
    return node


async def restart_agent(stack: Stack) -> None:
    await stack.agent.stop()
    if stack.task is not None:
        await stack.task
    stack.agent = SimAgent(stack.client, clock=stack.clock, config=AgentConfig(seed=SEED, workers=4,
                                                                               require_pod_cidr=True))
    stack.task = asyncio.create_task(stack.agent.run())
    await asyncio.wait_for(stack.agent.ready.wait(), 5)


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    s = Stack()
    s.agent = SimAgent(s.client, clock=s.clock, config=AgentConfig(seed=SEED, workers=4, require_pod_cidr=True))
    await s.start()
    yield s
    await s.stop()


def ips(stack: Stack, names: list[str]) -> dict[str, str]:
    return {n: (stack.pod(n) or {}).get("status", {}).get("podIP", "") for n in names}


async def test_pod_ips_come_from_the_node_pod_cidr_and_survive_a_restart(stack: Stack) -> None:
    await stack.client.create(NODES, with_cidr("n1", "10.244.7.0/24"))
    first = [f"a{i}" for i in range(3)]
    for n in first:
        await stack.client.create(PODS, pod(n, "n1"))
    await stack.eventually(lambda: all(phase(stack.pod(n)) == "Running" for n in first))
    before = ips(stack, first)
    assert len(set(before.values())) == 3
    assert all(ipaddress.IPv4Address(ip) in ipaddress.IPv4Network("10.244.7.0/24") for ip in before.values())

    await restart_agent(stack)
    second = [f"b{i}" for i in range(3)]
    for n in second:
        await stack.client.create(PODS, pod(n, "n1"))
    await stack.eventually(lambda: all(phase(stack.pod(n)) == "Running" for n in second))
    await stack.idle()
    after = ips(stack, first + second)
    assert {n: after[n] for n in first} == before  # adopted pods keep their addresses
    assert len(set(after.values())) == 6, after  # and new pods never reuse one


async def test_pods_wait_for_the_node_pod_cidr_when_required(stack: Stack) -> None:
    await stack.client.create(NODES, fake_node("bare"))
    await stack.client.create(PODS, pod("w", "bare"))
    await stack.advance(2)
    assert not (stack.pod("w") or {}).get("status", {}).get("podIP")
    await stack.client.patch(NODES, "bare", {"spec": {"podCIDR": "10.244.9.0/24", "podCIDRs": ["10.244.9.0/24"]}})

    def started() -> str | None:
        return (stack.pod("w") or {}).get("status", {}).get("podIP") or None
    ip = await stack.eventually(started, timeout=10)
    assert ipaddress.IPv4Address(ip) in ipaddress.IPv4Network("10.244.9.0/24")
