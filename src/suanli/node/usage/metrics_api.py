"""``custom.metrics.k8s.io/v1beta2`` and ``external.metrics.k8s.io/v1beta1`` served from the agents'
sample boards, in the shapes prometheus-adapter returns.

Custom metrics (paths under ``/apis/custom.metrics.k8s.io/v1beta2/``):

* ``namespaces/<ns>/pods/<name|*>/<metric>`` — a pod's application metric
  (``suanli.io/sim-metric.<metric>``); ``*`` with ``labelSelector`` lists the matching pods;
* ``namespaces/<ns>/<resource>/<name|*>/<metric>`` — another object (``services``,
  ``deployments.apps``…): its own ``suanli.io/sim-metric.<metric>`` annotation evaluated at the
  platform clock's time, else the sum over the pods its ``spec.selector`` selects;
* ``namespaces/<ns>/metrics/<metric>`` — the namespace: the sum over its pods;
* ``nodes/<name|*>/<metric>`` — the sum over the node's pods.

Every answer is a ``MetricValueList`` (also for one object) whose items carry
``describedObject`` (``apiVersion`` ``<group>/<version>`` as custom-metrics-apiserver's
``helpers.ReferenceFor`` writes it, so ``/v1`` for core kinds; ``kind``, ``name``, ``namespace``), ``metric.name`` (and
``metric.selector`` when ``metricSelector`` was given), ``timestamp`` (the sample time) and
``value`` (milli-precision quantity: ``NewMilliQuantity(int64(v*1000))``). ``metricSelector``
matches the pod's labels (the labels its series carry). An object without the metric answers 404
``the server could not find the metric <metric> for <resource> <name>``.

External metrics (``/apis/external.metrics.k8s.io/v1beta1/namespaces/<ns>/<metric>``): an
``ExternalMetricValueList`` with one item per pod series (``metricName``, ``metricLabels`` = the
pod's labels plus ``namespace`` and ``pod``, ``timestamp``, ``value``), filtered by
``labelSelector`` over ``metricLabels``.

Discovery lists ``pods/<metric>``, ``namespaces/<metric>`` (custom) and ``<metric>``
(external) for every metric some pod currently reports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fractions import Fraction
from typing import Any

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.apimachinery.quantity import format_quantity
from suanli.apimachinery.selectors import EQUALS, IN, LabelSelector, parse_label_selector
from suanli.client.protocol import Client
from suanli.node.agent.status import rfc3339
from suanli.node.usage.board import PodEntry, SampleBoard
from suanli.node.usage.model import ANNOTATION_PREFIX_METRIC, parse_value
from suanli.runtime.clock import Clock
from suanli.wire import NODES, PODS

__all__ = ["CUSTOM_GROUP", "CUSTOM_VERSION", "EXTERNAL_GROUP", "EXTERNAL_VERSION", "MetricsApis", "milli_value"]

CUSTOM_GROUP, CUSTOM_VERSION = "custom.metrics.k8s.io", "v1beta2"
EXTERNAL_GROUP, EXTERNAL_VERSION = "external.metrics.k8s.io", "v1beta1"
#: (resource in the path, resolved GVR and kind); None when the resource is unknown
Resolver = Callable[[str], tuple[GVR, str] | None]


def milli_value(value: float) -> str:
    """prometheus-adapter's value: ``resource.NewMilliQuantity(int64(v*1000), DecimalSI)``.

    Example: 0.5 → ``"500m"``, 2.0 → ``"2"``, 1500.0 → ``"1500"``.
    """
    return format_quantity(Fraction(int(value * 1000.0), 1000))


def _selector_object(sel: LabelSelector) -> Obj:
    """A ``metav1.LabelSelector`` for ``sel`` (``metav1.ParseToLabelSelector``'s form)."""
    match_labels: dict[str, str] = {}
    exprs: list[Obj] = []
    ops = {IN: "In", "notin": "NotIn", "exists": "Exists", "!": "DoesNotExist"}
    for r in sel.requirements:
        if r.op == EQUALS or (r.op == IN and len(r.values) == 1 and r.key not in match_labels):
            match_labels[r.key] = r.values[0]
        elif r.op == "!=":
            exprs.append({"key": r.key, "operator": "NotIn", "values": list(r.values)})
        else:
            e: Obj = {"key": r.key, "operator": ops.get(r.op, r.op)}
            if r.values:
                e["values"] = list(r.values)
            exprs.append(e)
    out: Obj = {}
    if match_labels:
        out["matchLabels"] = match_labels
    if exprs:
        out["matchExpressions"] = exprs
    return out


class MetricsApis:
    """Answers custom and external metrics requests from ``boards()`` (every agent's samples).

    ``resolve`` maps a path resource (``services``, ``deployments.apps``) to its GVR and kind;
    ``clock`` is the platform clock objects' own metric annotations are evaluated at.
    """

    def __init__(self, client: Client, boards: Callable[[], Iterable[SampleBoard]], resolve: Resolver,
                 clock: Clock) -> None:
        self.client = client
        self.boards = boards
        self.resolve = resolve
        self.clock = clock

    # ------------------------------------------------------------------ samples

    def _entries(self) -> Iterable[PodEntry]:
        for board in self.boards():
            yield from board.pods.values()

    def _entry(self, namespace: str, name: str) -> PodEntry | None:
        for board in self.boards():
            e = board.pods.get((namespace, name))
            if e is not None:
                return e
        return None

    def metric_names(self) -> list[str]:
        """Every application metric some pod currently reports, sorted."""
        return sorted({name for e in self._entries() for name, _ in e.sample.metrics})

    def discovery(self, group: str) -> list[Obj]:
        """The APIResourceList ``resources`` of ``group`` (prometheus-adapter's entries)."""
        names = self.metric_names()
        if group == CUSTOM_GROUP:
            out: list[Obj] = []
            for n in names:
                out.append({"name": f"pods/{n}", "singularName": "", "namespaced": True, "kind": "MetricValueList",
                            "verbs": ["get"]})
                out.append({"name": f"namespaces/{n}", "singularName": "", "namespaced": False,
                            "kind": "MetricValueList", "verbs": ["get"]})
            return out
        return [{"name": n, "singularName": "", "namespaced": True, "kind": "ExternalMetricValueList",
                 "verbs": ["get"]} for n in names]

    # ------------------------------------------------------------------ requests

    async def serve(self, group: str, rest: list[str], query: dict[str, str]) -> Obj:
        """The answer to GET ``/apis/<group>/<version>/<rest…>``; raises :class:`ApiError`."""
        label_sel = self._selector(query, "labelSelector")
        metric_sel = self._selector(query, "metricSelector")
        if group == EXTERNAL_GROUP:
            if len(rest) != 3 or rest[0] != "namespaces":
                raise ApiError.no_route("/".join(rest))
            return self._external(rest[1], rest[2], label_sel)
        if len(rest) == 4 and rest[0] == "namespaces" and rest[2] == "metrics":
            return self._list([self._namespace_value(rest[1], rest[3], metric_sel)], rest[3], metric_sel)
        if len(rest) == 5 and rest[0] == "namespaces":
            ns, resource, name, metric = rest[1], rest[2], rest[3], rest[4]
        elif len(rest) == 3:
            ns, resource, name, metric = "", rest[0], rest[1], rest[2]
        else:
            raise ApiError.no_route("/".join(rest))
        if resource == "pods":
            if not ns:
                raise ApiError.not_found("pods", name)
            items = await self._pods(ns, name, metric, label_sel, metric_sel)
        elif resource == "nodes":
            items = await self._nodes(name, metric, label_sel, metric_sel)
        else:
            items = await self._objects(ns, resource, name, metric, label_sel, metric_sel)
        return self._list(items, metric, metric_sel)

    @staticmethod
    def _selector(query: dict[str, str], key: str) -> LabelSelector | None:
        text = query.get(key)
        if not text:
            return None
        try:
            return parse_label_selector(text)
        except ApiError as err:
            raise ApiError.bad_request(f"{key}: Invalid value: {text!r}: {err.message}") from None

    @staticmethod
    def _list(items: list[Obj], metric: str, metric_sel: LabelSelector | None) -> Obj:
        for item in items:
            item["metric"] = {"name": metric}
            if metric_sel is not None:
                item["metric"]["selector"] = _selector_object(metric_sel)
        return {"kind": "MetricValueList", "apiVersion": f"{CUSTOM_GROUP}/{CUSTOM_VERSION}", "metadata": {},
                "items": items}

    @staticmethod
    def _item(api_version: str, kind: str, namespace: str, name: str, value: float, timestamp: float) -> Obj:
        return {"describedObject": {"kind": kind, "namespace": namespace, "name": name, "apiVersion": api_version},
                "timestamp": rfc3339(timestamp), "value": milli_value(value)}

    @staticmethod
    def _not_found(resource: str, metric: str, name: str = "") -> ApiError:
        what = f"{resource} {name}" if name else resource
        return ApiError(404, "NotFound", f"the server could not find the metric {metric} for {what}")

    def _pod_value(self, e: PodEntry | None, metric: str, metric_sel: LabelSelector | None) -> float | None:
        if e is None or (metric_sel is not None and not metric_sel.matches(e.labels)):
            return None
        return e.sample.metric(metric)

    async def _pods(self, ns: str, name: str, metric: str, label_sel: LabelSelector | None,
                    metric_sel: LabelSelector | None) -> list[Obj]:
        if name != "*":
            v = self._pod_value(self._entry(ns, name), metric, metric_sel)
            if v is None:
                raise self._not_found("pods", metric, name)
            e = self._entry(ns, name)
            assert e is not None
            return [self._item("/v1", "Pod", ns, name, v, e.sample.timestamp)]
        pods = await self.client.list(PODS, ns, label_selector=str(label_sel) if label_sel else "")
        items: list[Obj] = []
        for p in pods.get("items") or []:
            pname = str(p["metadata"]["name"])
            e = self._entry(ns, pname)
            v = self._pod_value(e, metric, metric_sel)
            if v is not None and e is not None:
                items.append(self._item("/v1", "Pod", ns, pname, v, e.sample.timestamp))
        if not items:
            raise self._not_found("pods", metric)
        return items

    def _sum(self, entries: Iterable[PodEntry], metric: str, metric_sel: LabelSelector | None
             ) -> tuple[float, float] | None:
        total, stamp, found = 0.0, 0.0, False
        for e in entries:
            v = self._pod_value(e, metric, metric_sel)
            if v is not None:
                total, stamp, found = total + v, max(stamp, e.sample.timestamp), True
        return (total, stamp) if found else None

    def _namespace_value(self, ns: str, metric: str, metric_sel: LabelSelector | None) -> Obj:
        got = self._sum((e for e in self._entries() if e.namespace == ns), metric, metric_sel)
        if got is None:
            raise self._not_found("namespaces", metric, ns)
        return self._item("/v1", "Namespace", "", ns, got[0], got[1])

    async def _nodes(self, name: str, metric: str, label_sel: LabelSelector | None,
                     metric_sel: LabelSelector | None) -> list[Obj]:
        if name != "*":
            names = [name]
        else:
            nodes = await self.client.list(NODES,
                                           label_selector=str(label_sel) if label_sel else "")
            names = [str(n["metadata"]["name"]) for n in nodes.get("items") or []]
        items: list[Obj] = []
        for n in names:
            got = self._sum((e for e in self._entries() if e.node == n), metric, metric_sel)
            if got is not None:
                items.append(self._item("/v1", "Node", "", n, got[0], got[1]))
        if not items:
            raise self._not_found("nodes", metric, "" if name == "*" else name)
        return items

    async def _objects(self, ns: str, resource: str, name: str, metric: str, label_sel: LabelSelector | None,
                       metric_sel: LabelSelector | None) -> list[Obj]:
        resolved = self.resolve(resource)
        if resolved is None:
            raise ApiError.not_found(resource, "")
        gvr, kind = resolved
        if name != "*":
            try:
                objs = [await self.client.get(gvr, name, ns)]
            except ApiError as err:
                if err.code == 404:
                    raise self._not_found(resource, metric, name) from None
                raise
        else:
            objs = list((await self.client.list(gvr, ns, label_selector=str(label_sel) if label_sel else ""))
                        .get("items") or [])
        items: list[Obj] = []
        for obj in objs:
            got = self._object_value(obj, metric, metric_sel)
            if got is not None:
                items.append(self._item(f"{gvr.group}/{gvr.version}", kind, ns, str(obj["metadata"]["name"]),
                                        got[0], got[1]))
        if not items:
            raise self._not_found(resource, metric, "" if name == "*" else name)
        return items

    def _object_value(self, obj: Obj, metric: str, metric_sel: LabelSelector | None) -> tuple[float, float] | None:
        ann = ((obj.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_PREFIX_METRIC + metric)
        if ann is not None:
            now = self.clock.now()
            try:
                parsed = parse_value(str(ann))
                v = float(parsed) if isinstance(parsed, Fraction) else parsed.value(now=now, pod=obj)
            except (ValueError, ZeroDivisionError):
                v = 0.0
            return v, now
        sel = _object_selector(obj)
        if sel is None:
            return None
        ns = str(obj["metadata"].get("namespace") or "")
        return self._sum((e for e in self._entries() if e.namespace == ns and sel.matches(e.labels)), metric,
                         metric_sel)

    def _external(self, ns: str, metric: str, label_sel: LabelSelector | None) -> Obj:
        items: list[Obj] = []
        for e in sorted((e for e in self._entries() if e.namespace == ns), key=lambda e: e.name):
            v = e.sample.metric(metric)
            if v is None:
                continue
            labels = {**e.labels, "namespace": e.namespace, "pod": e.name}
            if label_sel is not None and not label_sel.matches(labels):
                continue
            items.append({"metricName": metric, "metricLabels": labels, "timestamp": rfc3339(e.sample.timestamp),
                          "value": milli_value(v)})
        return {"kind": "ExternalMetricValueList", "apiVersion": f"{EXTERNAL_GROUP}/{EXTERNAL_VERSION}",
                "metadata": {}, "items": items}


def _object_selector(obj: Obj) -> LabelSelector | None:
    """An object's pod selector: ``spec.selector`` as a map (Service) or a LabelSelector."""
    sel: Any = (obj.get("spec") or {}).get("selector")
    if not isinstance(sel, dict) or not sel:
        return None
    if "matchLabels" in sel or "matchExpressions" in sel:
        if sel.get("matchExpressions"):
            return None  # only matchLabels is supported for object metrics
        sel = sel.get("matchLabels") or {}
    parts = [f"{k}={v}" for k, v in sorted(sel.items())]
    return parse_label_selector(",".join(parts)) if parts else None
