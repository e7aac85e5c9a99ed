"""Pure helpers of the node agents: durations, jitter, env expansion, status shapes, the timer wheel."""

from __future__ import annotations

import asyncio

import pytest

from suanli.node.agent.envvars import EnvError, expand, resolve_env
from suanli.node.agent.metrics import Usage
from suanli.node.agent.status import ContainerState, PodState, pod_phase
from suanli.node.agent.timing import TimerWheel, jittered, parse_duration, parse_percent, seeded_random
from suanli.runtime.clock import FakeClock


@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30.0), ("1m30s", 90.0), ("1.5h", 5400.0), ("300ms", 0.3), ("0", 0.0), ("2us", 2e-6),
], ids=["seconds", "compound", "fractional-hours", "millis", "bare-zero", "micros"])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "30", "1d", "s", "1m-3s"], ids=["empty", "no-unit", "days-unknown",
                                                                     "no-number", "inner-sign"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_jitter_is_bounded_and_reproducible() -> None:
    assert parse_percent("10%") == pytest.approx(0.1)
    draws = [jittered(100.0, 0.1, seeded_random(1, f"uid-{i}")) for i in range(200)]
    assert all(90.0 <= d < 110.0 for d in draws)
    assert len(set(draws)) > 150
    assert draws == [jittered(100.0, 0.1, seeded_random(1, f"uid-{i}")) for i in range(200)]
    assert jittered(100.0, 0.1, seeded_random(2, "uid-0")) != draws[0]  # the seed matters


@pytest.mark.parametrize(("text", "env", "out"), [
    ("$(A)-x", {"A": "1"}, "1-x"),
    ("$(MISSING)", {}, "$(MISSING)"),
    ("$$(A)", {"A": "1"}, "$(A)"),
    ("a$b", {}, "a$b"),
], ids=["expands-known", "keeps-unknown", "double-dollar-escapes", "plain-dollar-untouched"])
def test_expand(text: str, env: dict[str, str], out: str) -> None:
    assert expand(text, env) == out


async def test_resolve_env_sources() -> None:
    pod = {"metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"app": "web"}},
           "spec": {"nodeName": "n"}}
    container = {"resources": {"limits": {"cpu": "1500m", "memory": "1Gi"}}, "env": [
        {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
        {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
        {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
        {"name": "CM", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}},
        {"name": "OPT", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k", "optional": True}}},
    ]}

    async def lookup(kind: str, ns: str, name: str, key: str) -> str | None:
        return f"{kind}:{ns}/{name}/{key}" if kind == "configmap" else None

    env = await resolve_env(pod, container, pod_ip="1.2.3.4", host_ip="1.2.3.4", base={"X": "y"}, lookup=lookup)
    assert env == {"X": "y", "APP": "web", "CPU": "2", "MEM": "1024", "CM": "configmap:ns/cfg/k"}
    container["env"] = [{"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]
    with pytest.raises(EnvError):
        await resolve_env(pod, container, pod_ip="", host_ip="", base={}, lookup=lookup)


def _ps(*states: ContainerState, admission: str = "") -> PodState:
    return PodState("ns/p", "ns", "p", "u", "n", containers=list(states), admission_error=admission)


@pytest.mark.parametrize(("states", "admission", "phase"), [
    ((ContainerState("a"),), "", "Pending"),
    ((ContainerState("a", state="running"), ContainerState("b")), "", "Pending"),
    ((ContainerState("a", state="running"),), "", "Running"),
    ((ContainerState("a", state="terminated"), ContainerState("b", state="running")), "", "Running"),
    ((ContainerState("a", state="waiting", restart_at=5.0, restart_count=1),), "", "Running"),
    ((ContainerState("a", state="terminated"), ContainerState("b", state="terminated")), "", "Succeeded"),
    ((ContainerState("a", state="terminated"), ContainerState("b", state="terminated", exit_code=2)), "",
     "Failed"),
    ((ContainerState("a"),), "no devices", "Failed"),
], ids=["not-started", "one-not-started", "running", "one-still-running", "in-backoff", "all-exit-zero",
        "one-nonzero", "admission-error"])
def test_pod_phase(states: tuple[ContainerState, ...], admission: str, phase: str) -> None:
    assert pod_phase(_ps(*states, admission=admission)) == phase


def test_usage_quantities() -> None:
    assert Usage(250_000_000, 512 << 20).quantities() == {"cpu": "250000000n", "memory": "524288Ki"}


async def test_timer_wheel_fires_in_deadline_order_and_reschedules() -> None:
    clock = FakeClock()
    fired: list[str] = []
    wheel = TimerWheel(clock, lambda k: fired.append(str(k)))
    task = asyncio.create_task(wheel.run())
    wheel.schedule("b", 20)
    wheel.schedule("a", 10)
    wheel.schedule("c", 30)
    wheel.schedule("c", 5)  # rescheduling replaces the later deadline
    wheel.cancel("b")
    times: list[float] = []
    while len(wheel):
        await clock.wait_for_sleepers(1)
        clock.advance_to_next()
        for _ in range(5):
            await asyncio.sleep(0)
        times.append(clock.monotonic())
    assert fired == ["c", "a"]
    assert times == [5.0, 10.0]
    assert len(wheel) == 0
    wheel.stop()
    await task


async def test_timer_wheel_heap_stays_proportional_to_live_timers_under_churn() -> None:
    clock = FakeClock()
    fired: list[str] = []
    wheel = TimerWheel(clock, lambda k: fired.append(str(k)))
    wheel.schedule("node", 300)  # one long-lived timer
    for i in range(20_000):  # pods come and go, each with a far deadline that is then cancelled
        wheel.schedule(("pod", i), 250 + i % 50)
        wheel.schedule(("pod", i), 200)  # rescheduled once
        wheel.cancel(("pod", i))
    assert len(wheel) == 1
    assert wheel.heap_size() <= 4 * len(wheel) + 1024 + 1
    task = asyncio.create_task(wheel.run())
    await clock.wait_for_sleepers(1)
    clock.advance(300)
    for _ in range(5):
        await asyncio.sleep(0)
    assert fired == ["node"]  # compaction kept the live deadline and dropped only stale ones
    wheel.stop()
    await task


class _GatedMetricsClient:
    """Just enough of a Client for MetricsWriter: objects by key; updates wait for ``gate``."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], object] = {}
        self.gate = asyncio.Event()
        self.writing = asyncio.Event()

    async def update(self, gvr: object, obj: dict[str, object], namespace: str = "") -> object:
        from suanli.apimachinery.errors import ApiError

        self.writing.set()
        await self.gate.wait()
        key = (namespace, str(obj["metadata"]["name"]))  # type: ignore[index]
        if key not in self.objects:
            raise ApiError(404, "NotFound", "not found")
        self.objects[key] = obj
        return obj

    async def create(self, gvr: object, obj: dict[str, object], namespace: str = "") -> object:
        self.objects[(namespace, str(obj["metadata"]["name"]))] = obj  # type: ignore[index]
        return obj

    async def delete(self, gvr: object, name: str, namespace: str = "") -> object:
        self.objects.pop((namespace, name), None)
        return {}


async def test_pod_metrics_forgotten_during_their_write_are_deleted_not_left_behind() -> None:
    from suanli.node.agent.metrics import MetricsWriter

    client = _GatedMetricsClient()
    writer = MetricsWriter(client, FakeClock())  # type: ignore[arg-type]
    writer.pod("default", "p", {"c": Usage(1, 1)}, {})
    flushing = asyncio.create_task(writer.flush())
    await client.writing.wait()
    writer.forget_pod("default", "p")  # the pod is deleted while its first metrics write is in flight
    client.gate.set()
    await flushing
    assert ("default", "p") in client.objects  # the in-flight write created it after the pod went
    await writer.flush()
    assert client.objects == {}
    assert not writer._written and not writer._staged and not writer._deletes and not writer._inflight
