"""What a simulated pod uses at a given time: CPU and memory per container, its devices, its
application metrics.

Sources, first match wins for CPU and memory of each container (kwok's order, then ours):

1. the ``kwok.x-k8s.io/v1alpha1`` **ResourceUsage** named like the pod in its namespace;
2. the first (by name) **ClusterResourceUsage** whose ``spec.selector`` matches the pod
   (``matchNamespaces`` and ``matchNames``; an absent or empty list matches all);

   in both, the first ``spec.usages[]`` group whose ``containers`` lists the container (or is
   empty) gives ``usage.cpu`` / ``usage.memory`` as a ``value`` (quantity) or an ``expression``
   (CEL, :mod:`.cel`);
3. our pod annotations ``suanli.io/sim-cpu-usage`` / ``sim-memory-usage`` (a quantity or a CEL
   expression: the pod's total, split evenly over its containers);
4. kwok's annotation convention ``kwok.x-k8s.io/usage-cpu`` / ``usage-memory`` (kwok ships it as
   the ClusterResourceUsage "usage-from-annotation"; the pod's value applies to each container);
5. a deterministic 25-75 % of the container's requests (limits when no requests).

Devices (pod annotations, quantity or CEL, applied to every device of that class allocated to the
pod in ``suanli.io/allocated-devices``):

==================================  =========================================================
``suanli.io/sim-gpu-util``          GPU utilisation, percent (DCGM_FI_DEV_GPU_UTIL)
``suanli.io/sim-gpu-memory``        GPU framebuffer used, bytes (DCGM_FI_DEV_FB_USED in MiB)
``suanli.io/sim-npu-util``          NPU AI-core utilisation, percent (npu_chip_info_utilization)
``suanli.io/sim-npu-hbm``           NPU HBM used, bytes (npu_chip_info_hbm_used_memory in MB)
``suanli.io/sim-kae-busy``          KAE engine busy, percent
==================================  =========================================================

Application metrics: ``suanli.io/sim-metric.<name>: <quantity or CEL>`` (e.g.
``http_requests_per_second``), served by the custom metrics API and the node's metrics.

Expressions that fail to evaluate count as 0 (and are logged once per pod and expression).
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from suanli.apimachinery.devices import ALLOCATED_DEVICES
from suanli.apimachinery.objects import Obj
from suanli.apimachinery.quantity import parse_quantity
from suanli.node.usage.cel import UsageExpression, compile_expression

__all__ = [
    "ANNOTATION_PREFIX_METRIC",
    "DEVICE_ANNOTATIONS",
    "KWOK_CPU_ANNOTATION",
    "KWOK_MEMORY_ANNOTATION",
    "SIM_CPU_ANNOTATION",
    "SIM_MEMORY_ANNOTATION",
    "DeviceUsage",
    "PodSample",
    "Usage",
    "UsageModel",
    "device_class_of",
    "parse_value",
]

log = logging.getLogger(__name__)

KWOK_CPU_ANNOTATION = "kwok.x-k8s.io/usage-cpu"
KWOK_MEMORY_ANNOTATION = "kwok.x-k8s.io/usage-memory"
SIM_CPU_ANNOTATION = "suanli.io/sim-cpu-usage"
SIM_MEMORY_ANNOTATION = "suanli.io/sim-memory-usage"
ANNOTATION_PREFIX_METRIC = "suanli.io/sim-metric."
#: device class -> (utilisation annotation, memory annotation or "")
DEVICE_ANNOTATIONS: dict[str, tuple[str, str]] = {
    "gpu": ("suanli.io/sim-gpu-util", "suanli.io/sim-gpu-memory"),
    "npu": ("suanli.io/sim-npu-util", "suanli.io/sim-npu-hbm"),
    "kae": ("suanli.io/sim-kae-busy", ""),
}


def device_class_of(resource: str, classes: Mapping[str, str] | None = None) -> str:
    """The device class (gpu, npu, kae) of an extended resource: from ``classes`` (a hardware
    profile's ``deviceClass``), else by vendor prefix; "" for other resources."""
    if classes and resource in classes:
        return classes[resource]
    if resource.startswith("nvidia.com/"):
        return "gpu"
    if resource.startswith("huawei.com/Ascend"):
        return "npu"
    if resource.startswith("openfuyao.com/kae"):
        return "kae"
    return ""


@dataclass(frozen=True)
class Usage:
    """One container's CPU in nanocores (1 core = 1e9) and memory in bytes."""

    nanocores: int = 0
    memory_bytes: int = 0

    def quantities(self) -> dict[str, str]:
        """metrics-server's form: ``Usage(250_000_000, 512 << 20)`` → ``{"cpu": "250000000n",
        "memory": "524288Ki"}``."""
        return {"cpu": f"{max(0, int(self.nanocores))}n", "memory": f"{max(0, int(self.memory_bytes)) // 1024}Ki"}


@dataclass(frozen=True)
class DeviceUsage:
    """One allocated device: ``resource`` and its ``device_id`` (index as a string), the device
    ``device_class``, utilisation in percent and memory used in bytes."""

    resource: str
    device_id: str
    device_class: str
    utilization: float = 0.0
    memory_bytes: int = 0
    #: the first container requesting the resource (devices are granted per pod)
    container: str = ""


@dataclass(frozen=True)
class PodSample:
    """A pod's usage at ``timestamp``: per container, per allocated device, application metrics."""

    timestamp: float
    containers: dict[str, Usage] = field(default_factory=dict)
    devices: tuple[DeviceUsage, ...] = ()
    metrics: tuple[tuple[str, float], ...] = ()
    #: an expression was evaluated: the sample may change with time alone
    dynamic: bool = False

    def total(self) -> Usage:
        """The pod's CPU and memory (sum over containers)."""
        return Usage(sum(u.nanocores for u in self.containers.values()),
                     sum(u.memory_bytes for u in self.containers.values()))

    def metric(self, name: str) -> float | None:
        """The application metric ``name``, or None when the pod does not report it."""
        return next((v for k, v in self.metrics if k == name), None)


def parse_value(text: str) -> Fraction | UsageExpression:
    """A quantity, else a CEL expression; raises ``ValueError`` when it is neither."""
    try:
        return parse_quantity(text.strip())
    except ValueError:
        return compile_expression(text)


def _ann(obj: Obj) -> dict[str, str]:
    return ((obj.get("metadata") or {}).get("annotations")) or {}


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _ns(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")


class UsageModel:
    """Evaluates pods against the current ResourceUsage / ClusterResourceUsage objects.

    :meth:`set_rules` replaces those objects; :meth:`sample` evaluates one pod at a time ``now``.
    ``seed`` seeds the default usage fraction and ``Rand()``.
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._by_pod: dict[tuple[str, str], Obj] = {}
        self._cluster: list[Obj] = []
        self._warned: set[tuple[str, str]] = set()
        self._dynamic = False
        #: bumped by :meth:`set_rules` when the rules changed (cache key for static samples)
        self.generation = 0

    def set_rules(self, resource_usages: Iterable[Obj], cluster_resource_usages: Iterable[Obj]) -> None:
        by_pod = {(_ns(o), _name(o)): o for o in resource_usages}
        cluster = sorted(cluster_resource_usages, key=_name)
        if by_pod != self._by_pod or cluster != self._cluster:
            self._by_pod, self._cluster = by_pod, cluster
            self.generation += 1

    # ------------------------------------------------------------------ evaluation

    def _value(self, spec: object, now: float, pod: Obj, node: Obj | None, container: Obj | None,
               what: str) -> Fraction | None:
        """``spec`` is a quantity string, an expression string or a ``{value, expression}`` map."""
        if spec is None:
            return None
        try:
            if isinstance(spec, dict):
                if spec.get("expression"):
                    self._dynamic = True
                    expr = compile_expression(str(spec["expression"]))
                    return Fraction(expr.value(now=now, pod=pod, node=node, container=container,
                                               seed=self.seed))
                if spec.get("value") is not None:
                    return parse_quantity(str(spec["value"]))
                return None
            parsed = parse_value(str(spec))
            if isinstance(parsed, Fraction):
                return parsed
            self._dynamic = True
            return Fraction(parsed.value(now=now, pod=pod, node=node, container=container, seed=self.seed))
        except (ValueError, ZeroDivisionError, OverflowError) as err:
            key = (str((pod.get("metadata") or {}).get("uid") or ""), what)
            if key not in self._warned:
                self._warned.add(key)
                log.warning("pod %s/%s: %s: %s", _ns(pod), _name(pod), what, err)
            return Fraction(0)

    def _rule_usage(self, pod: Obj) -> list[Obj] | None:
        own = self._by_pod.get((_ns(pod), _name(pod)))
        if own is not None:
            return list((own.get("spec") or {}).get("usages") or [])
        for cru in self._cluster:
            sel = (cru.get("spec") or {}).get("selector") or {}
            namespaces = sel.get("matchNamespaces") or []
            names = sel.get("matchNames") or []
            if (not namespaces or _ns(pod) in namespaces) and (not names or _name(pod) in names):
                return list((cru.get("spec") or {}).get("usages") or [])
        return None

    def sample(self, pod: Obj, node: Obj | None, now: float, *,
               device_classes: Mapping[str, str] | None = None) -> PodSample:
        """Evaluate ``pod`` (running on ``node``) at ``now`` (epoch seconds)."""
        self._dynamic = False
        containers = (pod.get("spec") or {}).get("containers") or []
        ann = _ann(pod)
        groups = self._rule_usage(pod)
        n = max(len(containers), 1)
        sim_cpu = self._value(ann.get(SIM_CPU_ANNOTATION), now, pod, node, None, SIM_CPU_ANNOTATION)
        sim_mem = self._value(ann.get(SIM_MEMORY_ANNOTATION), now, pod, node, None, SIM_MEMORY_ANNOTATION)
        kwok_cpu = self._value(ann.get(KWOK_CPU_ANNOTATION), now, pod, node, None, KWOK_CPU_ANNOTATION)
        kwok_mem = self._value(ann.get(KWOK_MEMORY_ANNOTATION), now, pod, node, None, KWOK_MEMORY_ANNOTATION)
        frac: Fraction | None = None
        out: dict[str, Usage] = {}
        for c in containers:
            cname = str(c.get("name"))
            rule: dict[str, object] = {}
            for g in groups or []:
                names = g.get("containers") or []
                if not names or cname in names:
                    rule = g.get("usage") or {}
                    break
            values: list[Fraction] = []
            for res, sim, kwok in (("cpu", sim_cpu, kwok_cpu), ("memory", sim_mem, kwok_mem)):
                v = self._value(rule.get(res), now, pod, node, c, f"usage.{res}") if res in rule else None
                if v is None:
                    v = sim / n if sim is not None else kwok
                if v is None:
                    if frac is None:
                        frac = self._default_fraction(pod)
                    req = (c.get("resources") or {}).get("requests") or (c.get("resources") or {}).get("limits") \
                        or {}
                    v = _qty(req.get(res)) * frac
                values.append(max(v, Fraction(0)))
            out[cname] = Usage(int(values[0] * 1_000_000_000), int(values[1]))
        devices = self._devices(pod, node, now, ann, device_classes)
        metrics = self._metrics(pod, node, now, ann)
        return PodSample(now, out, devices, metrics, self._dynamic)

    def _default_fraction(self, pod: Obj) -> Fraction:
        """25-75 %, fixed per (seed, pod uid)."""
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        digest = hashlib.blake2b(f"{self.seed}:usage/{uid}".encode(), digest_size=8).digest()
        return Fraction(0.25 + 0.5 * random.Random(int.from_bytes(digest, "big")).random())  # nosec B311  # seeded simulated usage

    def _devices(self, pod: Obj, node: Obj | None, now: float, ann: Mapping[str, str],
                 classes: Mapping[str, str] | None) -> tuple[DeviceUsage, ...]:
        raw = ann.get(ALLOCATED_DEVICES)
        if not raw:
            return ()
        try:
            alloc = json.loads(raw)
        except ValueError:
            return ()
        if not isinstance(alloc, dict):
            return ()
        out: list[DeviceUsage] = []
        for resource in sorted(alloc):
            cls = device_class_of(resource, classes)
            if cls not in DEVICE_ANNOTATIONS:
                continue
            util_key, mem_key = DEVICE_ANNOTATIONS[cls]
            util = self._value(ann.get(util_key), now, pod, node, None, util_key) or Fraction(0)
            mem = self._value(ann.get(mem_key), now, pod, node, None, mem_key) if mem_key else None
            ids = alloc[resource] if isinstance(alloc[resource], list) else []
            owner = next((str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or []
                          if resource in ((c.get("resources") or {}).get("limits") or {})
                          or resource in ((c.get("resources") or {}).get("requests") or {})), "")
            for dev in ids:
                out.append(DeviceUsage(resource, str(dev), cls, float(min(max(util, Fraction(0)), Fraction(100))),
                                       int(max(mem or Fraction(0), Fraction(0))), owner))
        return tuple(out)

    def _metrics(self, pod: Obj, node: Obj | None, now: float, ann: Mapping[str, str]) -> tuple[tuple[str, float], ...]:
        out: list[tuple[str, float]] = []
        for key in sorted(ann):
            if key.startswith(ANNOTATION_PREFIX_METRIC) and len(key) > len(ANNOTATION_PREFIX_METRIC):
                v = self._value(ann[key], now, pod, node, None, key)
                out.append((key[len(ANNOTATION_PREFIX_METRIC):], float(v or 0)))
        return tuple(out)


def _qty(text: object) -> Fraction:
    if text is None or text == "":
        return Fraction(0)
    try:
        return parse_quantity(str(text))
    except ValueError:
        return Fraction(0)
