"""HTTP wiring of the usage views: metrics APIs, node proxy ``/metrics`` and simulated pods' ``/metrics``.

:func:`install` registers prefix routes on an :class:`~suanli.apiserver.http.ApiApp` and the
metrics groups in its discovery. Only the embedded server (``suanli up``) has the agents' sample
boards in-process; against a real cluster prometheus-adapter and the exporters serve these paths.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from suanli.apimachinery.devices import parse_unhealthy
from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.apiserver.http import ApiApp
from suanli.client.protocol import Client
from suanli.kinds.registry import Registry
from suanli.node.devices.api import PROFILE_ANNOTATION, UNHEALTHY_ANNOTATION
from suanli.node.profiles.model import HardwareProfile, load_profile
from suanli.node.usage.board import SampleBoard
from suanli.node.usage.exposition import NodeDevice, render_node_metrics, render_pod_metrics, render_resource_metrics
from suanli.node.usage.metrics_api import CUSTOM_GROUP, CUSTOM_VERSION, EXTERNAL_GROUP, EXTERNAL_VERSION, MetricsApis
from suanli.runtime.clock import Clock
from suanli.wire import NODES

__all__ = ["install", "node_devices"]

TEXT = "text/plain; version=0.0.4; charset=utf-8"


def node_devices(node: Obj, profiles: Callable[[str], HardwareProfile] = load_profile) -> list[NodeDevice]:
    """The node's devices from its hardware profile (``suanli.io/hardware-profile``), with health."""
    ann = (node.get("metadata") or {}).get("annotations") or {}
    name = ann.get(PROFILE_ANNOTATION)
    if not name:
        return []
    try:
        profile = profiles(str(name))
    except KeyError:
        return []
    out: list[NodeDevice] = []
    for d in profile.devices:
        bad = parse_unhealthy(ann.get(UNHEALTHY_ANNOTATION), d.resource_name)
        out += [NodeDevice(d.resource_name, d.device_class or "", i, d.model, d.memory_mib << 20, i not in bad)
                for i in range(d.count)]
    return out


def _resolver(registry: Registry) -> Callable[[str], tuple[GVR, str] | None]:
    def resolve(resource: str) -> tuple[GVR, str] | None:
        plural, _, group = resource.partition(".")
        for rt in registry.all():
            if rt.plural == plural and rt.group == group:
                return GVR(rt.group, rt.version, rt.plural, rt.namespaced), rt.kind
        return None

    return resolve


def install(app: ApiApp, client: Client, registry: Registry, boards: Callable[[], Iterable[SampleBoard]],
            clock: Clock) -> MetricsApis:
    """Serve the custom/external metrics APIs and the node / pod ``/metrics`` paths on ``app``."""
    apis = MetricsApis(client, boards, _resolver(registry), clock)
    app.discovery.external[(CUSTOM_GROUP, CUSTOM_VERSION)] = lambda: apis.discovery(CUSTOM_GROUP)
    app.discovery.external[(EXTERNAL_GROUP, EXTERNAL_VERSION)] = lambda: apis.discovery(EXTERNAL_GROUP)

    def metrics_api(group: str, version: str) -> Any:
        prefix = f"/apis/{group}/{version}/"

        async def handler(path: str, query: dict[str, str]) -> tuple[str, bytes | dict[str, Any]] | None:
            if not path.startswith(prefix) or len(path) == len(prefix):
                return None
            return "application/json", await apis.serve(group, path[len(prefix):].split("/"), query)

        return handler

    async def node_proxy(path: str, query: dict[str, str]) -> tuple[str, bytes | dict[str, Any]] | None:
        parts = path.split("/")  # ['', 'api', 'v1', 'nodes', name, 'proxy', 'metrics', ...]
        if len(parts) < 7 or parts[5] != "proxy" or parts[6] != "metrics":
            return None
        node_name = parts[4].split(":", 1)[0]
        node = await client.get(NODES, node_name)
        board = next((b for b in boards() if node_name in b.nodes), SampleBoard())
        sub = "/".join(parts[7:])
        if sub == "":
            return TEXT, render_node_metrics(node, board, node_devices(node)).encode()
        if sub == "resource":
            return TEXT, render_resource_metrics(node, board).encode()
        raise ApiError.not_found("nodes/proxy", path)

    async def pod_proxy(path: str, query: dict[str, str]) -> tuple[str, bytes | dict[str, Any]] | None:
        parts = path.split("/")  # ['', 'api', 'v1', 'namespaces', ns, 'pods', name[:port], 'proxy', 'metrics']
        if len(parts) != 9 or parts[5] != "pods" or parts[7] != "proxy" or parts[8] != "metrics":
            return None
        ns, name = parts[4], parts[6].split(":", 1)[0]
        entry = next((e for b in boards() if (e := b.pods.get((ns, name))) is not None), None)
        if entry is None or not entry.sample.metrics:
            return None  # not a simulated pod with metrics: resource routing answers (404 or proxy)
        return TEXT, render_pod_metrics(entry).encode()

    app.add_prefix_route(f"/apis/{CUSTOM_GROUP}/", metrics_api(CUSTOM_GROUP, CUSTOM_VERSION))
    app.add_prefix_route(f"/apis/{EXTERNAL_GROUP}/", metrics_api(EXTERNAL_GROUP, EXTERNAL_VERSION))
    app.add_prefix_route("/api/v1/nodes/", node_proxy)
    app.add_prefix_route("/api/v1/namespaces/", pod_proxy)
    return apis
