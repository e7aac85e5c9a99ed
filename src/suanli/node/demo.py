"""The demo pool: a handful of simulated nodes of different hardware profiles.

Each node follows kwok conventions (annotation ``kwok.x-k8s.io/node: fake``, label
``type: kwok``) and names its profile with ``suanli.io/hardware-profile``; it is created with
the profile's base ``status`` (cpu, memory, pods, ephemeral-storage, ``nodeInfo``) so
``kubectl get nodes`` is meaningful before any agent runs. Device resources are *not* in
that status: they appear once the device operators run (device plugins advertise them).

kwok's own setups usually add the taint ``kwok.x-k8s.io/node=fake:NoSchedule`` to fake
nodes; the demo pool deliberately does not, so ordinary demo pods schedule onto it.
"""

from __future__ import annotations

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.client.protocol import Client
from suanli.node.nfd.controller import KWOK_NODE_ANNOTATION, PROFILE_ANNOTATION
from suanli.node.profiles import load_profile
from suanli.wire import NODES

__all__ = ["DEMO_POOL", "demo_nodes", "ensure_demo_pool", "simulated_node"]


#: (node name, hardware profile) of the default demo pool.
DEMO_POOL: tuple[tuple[str, str], ...] = (
    ("demo-ascend-0", "ascend-910b"),
    ("demo-ascend-1", "ascend-910b"),
    ("demo-kae-0", "kunpeng-920-kae"),
    ("demo-a100-0", "nvidia-a100"),
    ("demo-gpushare-0", "gpushare-t4"),
    ("demo-manycore-0", "manycore-256"),
)

_BASE_RESOURCES = ("cpu", "memory", "pods", "ephemeral-storage")


def simulated_node(name: str, profile: str, *, labels: dict[str, str] | None = None,
                   annotations: dict[str, str] | None = None) -> Obj:
    """A kwok-style Node object for hardware profile ``profile`` (KeyError if unknown).

    Labels: the profile's, ``kubernetes.io/hostname``, ``kubernetes.io/os=linux``, ``type=kwok``
    and ``labels``; annotations: the kwok marker, the profile name and ``annotations``.
    """
    p = load_profile(profile)
    capacity = {k: v for k, v in p.capacity.items() if k in _BASE_RESOURCES}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/os": "linux", **p.labels, "kubernetes.io/hostname": name, "type": "kwok",
                       **(labels or {})},
            "annotations": {KWOK_NODE_ANNOTATION: "fake", PROFILE_ANNOTATION: profile, **(annotations or {})},
        },
        "spec": {},
        "status": {
            "capacity": dict(capacity),
            "allocatable": dict(capacity),
            "nodeInfo": dict(p.node_info),
        },
    }


def demo_nodes() -> list[Obj]:
    """The Node objects of :data:`DEMO_POOL` (fresh objects, in that order)."""
    return [simulated_node(name, profile) for name, profile in DEMO_POOL]


async def ensure_demo_pool(client: Client, nodes: list[Obj] | None = None) -> list[str]:
    """Create those of ``nodes`` (default :func:`demo_nodes`) that do not exist; existing
    nodes are left as they are. Returns the names created (idempotent: ``[]`` the second time)."""
    created: list[str] = []
    for node in demo_nodes() if nodes is None else nodes:
        try:
            await client.create(NODES, node)
        except ApiError as err:
            if err.code != 409:
                raise
            continue
        created.append(node["metadata"]["name"])
    return created
