"""The metrics writer records every sample on its board and rewrites PodMetrics when any figure changes."""

from __future__ import annotations

from typing import Any

from suanli.node.agent.metrics import MetricsWriter
from suanli.node.usage.model import PodSample, Usage
from suanli.runtime.clock import FakeClock, VirtualClock


class _Client:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.writes = 0

    async def update(self, gvr: object, obj: dict[str, Any], namespace: str = "") -> object:
        from suanli.apimachinery.errors import ApiError

        key = (namespace, str(obj["metadata"]["name"]))
        if key not in self.objects:
            raise ApiError(404, "NotFound", "not found")
        self.objects[key] = obj
        self.writes += 1
        return obj

    async def create(self, gvr: object, obj: dict[str, Any], namespace: str = "") -> object:
        self.objects[(namespace, str(obj["metadata"]["name"]))] = obj
        self.writes += 1
        return obj

    async def delete(self, gvr: object, name: str, namespace: str = "") -> object:
        self.objects.pop((namespace, name), None)
        return {}


async def test_application_metric_change_rewrites_and_dates_the_pod_metrics() -> None:
    client = _Client()
    usage_clock = VirtualClock(0, start=1_700_000_000.0)
    writer = MetricsWriter(client, FakeClock(), sample_clock=usage_clock)  # type: ignore[arg-type]
    containers = {"main": Usage(100_000_000, 1 << 20)}
    writer.pod("ns", "p", containers, {}, node="n1", sample=PodSample(usage_clock.now(), containers,
                                                                       metrics=(("rps", 1.0),)))
    await writer.flush()
    usage_clock.advance(3600)
    writer.pod("ns", "p", containers, {}, node="n1", sample=PodSample(usage_clock.now(), containers,
                                                                       metrics=(("rps", 2.0),)))
    await writer.flush()
    assert client.writes == 2  # same CPU and memory, but the application metric moved
    assert client.objects[("ns", "p")]["timestamp"] == "2023-11-14T23:13:20Z"  # the sample's (virtual) time
    entry = writer.board.pods[("ns", "p")]
    assert (entry.node, entry.sample.metric("rps")) == ("n1", 2.0)
    assert writer.board.pods_on("n1") == [entry]
    writer.pod("ns", "p", containers, {}, node="n1", sample=PodSample(usage_clock.now(), containers,
                                                                       metrics=(("rps", 2.0),)))
    await writer.flush()
    assert client.writes == 2  # nothing changed: no write
    writer.forget_pod("ns", "p")
    await writer.flush()
    assert writer.board.pods == {} and client.objects == {}


async def test_samples_without_a_runtime_sample_are_stamped_by_the_sample_clock() -> None:
    usage_clock = VirtualClock(0, start=1_000.0)
    writer = MetricsWriter(_Client(), FakeClock(), sample_clock=usage_clock)  # type: ignore[arg-type]
    writer.pod("ns", "host-pod", {"c": Usage(5, 6)}, {"app": "x"}, node="host")
    sample = writer.board.pods[("ns", "host-pod")].sample
    assert (sample.timestamp, sample.containers, sample.metrics) == (1_000.0, {"c": Usage(5, 6)}, ())
