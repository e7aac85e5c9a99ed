"""Patch strategy metadata: how each list field of a kind is merged.

Upstream Kubernetes records this in its OpenAPI as ``x-kubernetes-patch-strategy`` /
``x-kubernetes-patch-merge-key`` (strategic merge patch) and ``x-kubernetes-list-type`` /
``x-kubernetes-list-map-keys`` (server-side apply). Here it is a small table of
:class:`Entry` rows, each keyed by a *path suffix* and the kinds it applies to.

**Kind keys.** A kind is named ``"<group>/<Kind>"`` for grouped APIs
(``"apps/Deployment"``, ``"batch/CronJob"``) and by the bare ``Kind`` for the core group
(``"Pod"``, ``"Service"``). :func:`kind_key` builds one from an ``apiVersion`` or group;
``"/Pod"``, ``"core/Pod"`` and ``"v1/Pod"`` are accepted and normalised to ``"Pod"``.

**Paths** are tuples of map field names from the object root; list items are
transparent, so the ``env`` list of every container in a Deployment is at
``("spec", "template", "spec", "containers", "env")``. An entry matches when the path
ends with its suffix and the kind is one of its kinds (``None`` = every kind, custom
resources included); the longest matching suffix wins. Lists with no entry are atomic.

**Custom resources** pass ``extra`` (a :data:`ListMeta` callable) built from the CRD's
OpenAPI v3 schema with :func:`list_meta_from_schema`; ``extra`` is consulted before the
table, so a CRD can describe its own lists while ``metadata.finalizers`` etc. still come
from the table.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "POD_SPEC_KINDS",
    "Entry",
    "ListMeta",
    "ListStrategy",
    "kind_key",
    "kind_key_of",
    "list_map_keys",
    "list_meta_from_schema",
    "register",
    "strategy_for",
]

Path = tuple[str, ...]


@dataclass(frozen=True)
class ListStrategy:
    """How one list field merges.

    * ``list_type == "map"``: items are maps identified by ``merge_key`` (strategic merge
      patch) and by ``map_keys`` (server-side apply; defaults to ``(merge_key,)``).
      ``key_defaults`` gives values for key fields an item may omit (upstream schema
      defaults, e.g. a port's ``protocol`` is ``"TCP"``).
    * ``list_type == "set"``: a list of scalars merged as a set (e.g. ``finalizers``).
    * ``list_type == "atomic"``: replaced whole.
    """

    list_type: Literal["map", "set", "atomic"]
    merge_key: str | None = None
    map_keys: tuple[str, ...] = ()
    key_defaults: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def by_key(cls, merge_key: str, *map_keys: str, **defaults: Any) -> ListStrategy:
        """A list of maps merged by ``merge_key`` (SSA keys ``map_keys`` or just the merge key)."""
        return cls("map", merge_key, tuple(map_keys) or (merge_key,), tuple(sorted(defaults.items())))

    @classmethod
    def set(cls) -> ListStrategy:
        return cls("set")

    @classmethod
    def atomic(cls) -> ListStrategy:
        return cls("atomic")

    @property
    def merges(self) -> bool:
        """True unless the list is replaced whole."""
        return self.list_type != "atomic"

    def identity(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """The SSA key of a list-map item: its ``map_keys`` values, defaults filled in."""
        defaults = dict(self.key_defaults)
        out: dict[str, Any] = {}
        for key in self.map_keys:
            if key in item and item[key] is not None:
                out[key] = item[key]
            elif key in defaults:
                out[key] = defaults[key]
        return out


ListMeta = Callable[[Path], ListStrategy | None]
"""Caller-supplied list metadata for one kind: path → strategy (``None`` = not described)."""


@dataclass(frozen=True)
class Entry:
    """One table row: lists whose path ends with ``suffix`` in ``kinds`` use ``strategy``."""

    suffix: Path
    strategy: ListStrategy
    kinds: frozenset[str] | None = field(default=None)


def kind_key(group_or_api_version: str, kind: str) -> str:
    """``kind_key("apps/v1", "Deployment") == "apps/Deployment"``; ``kind_key("v1", "Pod") == "Pod"``."""
    group = group_or_api_version.split("/")[0] if "/" in group_or_api_version else group_or_api_version
    if group in ("", "core", "v1") or (group.startswith("v") and group[1:2].isdigit() and "." not in group):
        return kind
    return f"{group}/{kind}"


def kind_key_of(obj: Mapping[str, Any]) -> str:
    """Kind key from an object's ``apiVersion`` and ``kind``."""
    return kind_key(str(obj.get("apiVersion") or ""), str(obj.get("kind") or ""))


def _normalise(key: str) -> str:
    if "/" in key:
        group, kind = key.rsplit("/", 1)
        return kind_key(group, kind)
    return key


POD_SPEC_KINDS = frozenset({
    "Pod", "PodTemplate", "ReplicationController", "apps/Deployment", "apps/ReplicaSet",
    "apps/DaemonSet", "apps/StatefulSet", "batch/Job", "batch/CronJob",
})
"""Kinds that embed a PodSpec (``spec``, ``template.spec``, ``spec.template.spec`` or
``spec.jobTemplate.spec.template.spec``); every PodSpec entry matches by suffix."""

_CONDITION_KINDS = frozenset({
    "Pod", "Node", "Namespace", "PersistentVolumeClaim", "ReplicationController", "apps/Deployment",
    "apps/ReplicaSet", "apps/DaemonSet", "apps/StatefulSet", "batch/Job", "batch/CronJob",
    "autoscaling/HorizontalPodAutoscaler", "policy/PodDisruptionBudget",
    "apiextensions.k8s.io/CustomResourceDefinition", "apiregistration.k8s.io/APIService",
    "certificates.k8s.io/CertificateSigningRequest", "storage.k8s.io/VolumeAttachment",
})


def _pod_spec_entries() -> list[Entry]:
    by = ListStrategy.by_key
    rows: list[Entry] = []
    containers = ("containers", "initContainers", "ephemeralContainers")
    for c in containers:
        rows += [
            Entry((c,), by("name")),
            Entry((c, "env"), by("name")),
            Entry((c, "ports"), by("containerPort", "containerPort", "protocol", protocol="TCP")),
            Entry((c, "volumeMounts"), by("mountPath")),
            Entry((c, "volumeDevices"), by("devicePath")),
            Entry((c, "resizePolicy"), ListStrategy.atomic()),
        ]
    rows += [
        Entry(("volumes",), by("name")),
        Entry(("imagePullSecrets",), by("name")),
        Entry(("hostAliases",), by("ip")),
        Entry(("topologySpreadConstraints",),
              by("topologyKey", "topologyKey", "whenUnsatisfiable")),
        Entry(("schedulingGates",), by("name")),
        Entry(("resourceClaims",), by("name")),
        Entry(("status", "podIPs"), by("ip")),
        Entry(("status", "hostIPs"), by("ip")),
    ]
    return [Entry(r.suffix, r.strategy, POD_SPEC_KINDS) for r in rows]


_TABLE: list[Entry] = [
    Entry(("metadata", "ownerReferences"), ListStrategy.by_key("uid")),
    Entry(("metadata", "finalizers"), ListStrategy.set()),
    Entry(("metadata", "managedFields"), ListStrategy.atomic()),
    Entry(("status", "conditions"), ListStrategy.by_key("type"), _CONDITION_KINDS),
    Entry(("status", "addresses"), ListStrategy.by_key("type"), frozenset({"Node"})),
    Entry(("spec", "taints"), ListStrategy.atomic(), frozenset({"Node"})),
    Entry(("spec", "podCIDRs"), ListStrategy.set(), frozenset({"Node"})),
    Entry(("spec", "ports"), ListStrategy.by_key("port", "port", "protocol", protocol="TCP"),
          frozenset({"Service"})),
    Entry(("spec", "ipFamilies"), ListStrategy.atomic(), frozenset({"Service"})),
    *_pod_spec_entries(),
]


def register(suffix: Iterable[str], strategy: ListStrategy, kinds: Iterable[str] | None = None) -> None:
    """Add a table row (later kinds call this at import time)."""
    _TABLE.append(Entry(tuple(suffix), strategy,
                        None if kinds is None else frozenset(_normalise(k) for k in kinds)))
    _table_lookup.cache_clear()


def strategy_for(kind: str, path: Iterable[str], extra: ListMeta | None = None) -> ListStrategy | None:
    """The strategy of the list at ``path`` in objects of ``kind``; ``None`` = atomic/unknown."""
    p = tuple(path)
    if extra is not None:
        found = extra(p)  # nosec B610  # a local callable named extra, not Django
        if found is not None:
            return found
    return _table_lookup(kind, p)


@functools.lru_cache(maxsize=4096)
def _table_lookup(kind: str, p: Path) -> ListStrategy | None:
    k = _normalise(kind)
    best: Entry | None = None
    for entry in _TABLE:
        n = len(entry.suffix)
        if (n <= len(p) and p[len(p) - n:] == entry.suffix and (entry.kinds is None or k in entry.kinds)
                and (best is None or n > len(best.suffix))):
            best = entry
    return best.strategy if best else None


def list_map_keys(kind: str, path: Iterable[str], extra: ListMeta | None = None) -> tuple[str, ...] | None:
    """SSA view: the ``x-kubernetes-list-map-keys`` of a ``list-type: map`` list, else ``None``."""
    s = strategy_for(kind, path, extra)
    return s.map_keys if s is not None and s.list_type == "map" else None


# -- CRD schemas ------------------------------------------------------------------------------


def list_meta_from_schema(schema: Mapping[str, Any] | None) -> ListMeta:
    """Build a :data:`ListMeta` from an OpenAPI v3 (structural) schema of the whole object.

    Reads ``x-kubernetes-list-type`` (``map``/``set``/``atomic``) with
    ``x-kubernetes-list-map-keys``, falling back to ``x-kubernetes-patch-strategy:
    merge`` + ``x-kubernetes-patch-merge-key``. Schema ``default`` values of key fields
    become ``key_defaults``. Map values under ``additionalProperties`` match any key.
    Usage: ``strategic_merge_patch(a, p, "example.com/Widget", extra=list_meta_from_schema(s))``.
    """
    found: list[tuple[Path, ListStrategy]] = []
    if schema:
        _walk_schema(schema, (), found, 0)

    def lookup(path: Path) -> ListStrategy | None:
        for pattern, strategy in found:
            if len(pattern) == len(path) and all(a in ("*", b) for a, b in zip(pattern, path, strict=True)):
                return strategy
        return None

    return lookup


def _strategy_from_schema(node: Mapping[str, Any]) -> ListStrategy | None:
    list_type = node.get("x-kubernetes-list-type")
    merge_key = node.get("x-kubernetes-patch-merge-key")
    patch_strategy = str(node.get("x-kubernetes-patch-strategy") or "")
    raw_items = node.get("items")
    items: Mapping[str, Any] = raw_items if isinstance(raw_items, Mapping) else {}
    raw_props = items.get("properties")
    props: Mapping[str, Any] = raw_props if isinstance(raw_props, Mapping) else {}
    if list_type == "map":
        keys = tuple(str(k) for k in node.get("x-kubernetes-list-map-keys") or ())
        if not keys:
            return None
        defaults = {k: props[k]["default"] for k in keys
                    if isinstance(props.get(k), Mapping) and "default" in props[k]}
        return ListStrategy("map", str(merge_key) if merge_key else keys[0], keys,
                            tuple(sorted(defaults.items())))
    if list_type == "set":
        return ListStrategy.set()
    if list_type == "atomic":
        return ListStrategy.atomic()
    if "merge" in patch_strategy.split(","):
        return ListStrategy.by_key(str(merge_key)) if merge_key else ListStrategy.set()
    return None


def _walk_schema(node: Mapping[str, Any], path: Path, out: list[tuple[Path, ListStrategy]],
                 depth: int) -> None:
    if depth > 64:
        return
    if node.get("type") == "array" or "items" in node:
        strategy = _strategy_from_schema(node)
        if strategy is not None:
            out.append((path, strategy))
        items = node.get("items")
        if isinstance(items, Mapping):
            _walk_schema(items, path, out, depth + 1)
    props = node.get("properties")
    if isinstance(props, Mapping):
        for name, sub in props.items():
            if isinstance(sub, Mapping):
                _walk_schema(sub, (*path, str(name)), out, depth + 1)
    extra = node.get("additionalProperties")
    if isinstance(extra, Mapping):
        _walk_schema(extra, (*path, "*"), out, depth + 1)
    for combo in ("allOf", "anyOf", "oneOf"):
        for sub in node.get(combo) or ():
            if isinstance(sub, Mapping):
                _walk_schema(sub, path, out, depth + 1)
