"""Resource types the API serves, and the registry that looks them up.

A :class:`ResourceType` is everything the API server needs to serve one resource:
names for discovery, scope, subresources, its OpenAPI schema, printer columns and
selectable fields. Built-in kinds are registered at start-up; CRDs add and remove
types at run time (:meth:`Registry.add` / :meth:`Registry.remove`), and listeners are
told so discovery and OpenAPI caches can be rebuilt at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from suanli.kinds.strategy_base import DEFAULT_STRATEGY, Strategy

__all__ = ["PrinterColumn", "Registry", "ResourceType", "ScaleSpec"]

VERBS_ALL = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class PrinterColumn:
    """A ``kubectl get`` column: name, type, JSONPath (CRD style), priority (1 = wide only)."""

    name: str
    type: str
    json_path: str
    priority: int = 0
    format: str = ""
    description: str = ""


@dataclass(frozen=True)
class ScaleSpec:
    """Where a resource keeps its scale (CRD ``subresources.scale`` semantics)."""

    spec_replicas_path: str = ".spec.replicas"
    status_replicas_path: str = ".status.replicas"
    label_selector_path: str | None = ".status.selector"


@dataclass
class ResourceType:
    """One served resource (a group/version/plural).

    ``schema`` is the OpenAPI v3 schema of the whole object (``None`` = accept anything).
    ``strategy`` is the kind's :class:`~suanli.kinds.strategy_base.Strategy` (defaults, validation,
    create/update preparation, printer); a built-in type left with the default one resolves to its
    resource's (:func:`suanli.kinds.strategy.resource_strategy`).
    ``storage_key`` names the store bucket: two versions or groups that share storage
    (e.g. core and events.k8s.io Events) use the same key.
    """

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = VERBS_ALL
    subresources: tuple[str, ...] = ()
    scale: ScaleSpec | None = None
    schema: dict[str, Any] | None = None
    printer_columns: tuple[PrinterColumn, ...] = ()
    selectable_fields: tuple[str, ...] = ()
    list_kind: str = ""
    builtin: bool = True
    has_spec_generation: bool = True
    preserve_unknown_fields: bool = False
    storage_key: str = ""
    crd_name: str = ""
    #: the kind's write and print rules (kube-apiserver's REST strategy and table convertor)
    strategy: Strategy = DEFAULT_STRATEGY

    def __post_init__(self) -> None:
        if self.builtin and self.strategy is DEFAULT_STRATEGY:
            # deferred: the built-in strategies import kinds (crd.py) that import this module
            from suanli.kinds.strategy import resource_strategy

            self.strategy = resource_strategy(self.group, self.plural)
        if not self.list_kind:
            self.list_kind = self.kind + "List"
        if not self.storage_key:
            self.storage_key = f"{self.group}/{self.plural}" if self.group else self.plural

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_version(self) -> str:
        return self.group_version

    @property
    def qualified(self) -> str:
        """``plural.group`` as used in error messages (``deployments.apps``)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path_prefix(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"


@dataclass
class Registry:
    """Mutable set of served resource types, indexed for lookups."""

    _by_gvr: dict[tuple[str, str, str], ResourceType] = field(default_factory=dict)
    _listeners: list[Callable[[], None]] = field(default_factory=list)
    generation: int = 0

    def add(self, rt: ResourceType) -> None:
        self._by_gvr[(rt.group, rt.version, rt.plural)] = rt
        self._changed()

    def add_all(self, rts: Iterable[ResourceType]) -> None:
        for rt in rts:
            self._by_gvr[(rt.group, rt.version, rt.plural)] = rt
        self._changed()

    def remove(self, group: str, version: str, plural: str) -> None:
        if self._by_gvr.pop((group, version, plural), None) is not None:
            self._changed()

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def _changed(self) -> None:
        self.generation += 1
        for listener in list(self._listeners):
            listener()

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_gvr.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        for rt in self._by_gvr.values():
            if rt.group == group and rt.version == version and rt.kind == kind:
                return rt
        return None

    def all(self) -> list[ResourceType]:
        return list(self._by_gvr.values())

    def group_versions(self) -> dict[str, list[str]]:
        """Map group name → served versions (core group is ``""``)."""
        out: dict[str, list[str]] = {}
        for rt in self._by_gvr.values():
            versions = out.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        return out

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [rt for rt in self._by_gvr.values() if rt.group == group and rt.version == version]
