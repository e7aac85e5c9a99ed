"""Volcano ``volcano-scheduler.conf`` configuration.

Accepted shape (YAML text or an already parsed mapping)::

    actions: "enqueue, allocate, backfill"
    tiers:
    - plugins:
      - name: priority
      - name: gang
        enablePreemptable: false
    - plugins:
      - name: binpack
        arguments: {binpack.weight: 10}

Per-plugin switches (``enableJobOrder``, ``enablePredicate``, ``enableNodeOrder``,
``enablePreemptable``, ``enableReclaimable``, ``enabledOverused``, …; both the
``enable`` and ``enabled`` spellings are accepted) default to **enabled**,
except ``enableHierarchy`` which defaults to disabled, as in Volcano's
``ApplyPluginConfDefaults``. Unknown action or plugin names, or a malformed
document, raise :class:`ConfigError`. With no document, :data:`DEFAULT_CONFIG`
applies: actions ``enqueue, allocate, backfill``; tier 1 ``priority, gang,
conformance``; tier 2 ``overcommit, drf, predicates, proportion, nodeorder``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from suanli.scheduler.core import yamlish

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_CONFIG_TEXT",
    "SWITCHES",
    "ConfigError",
    "PluginOption",
    "SchedulerConfig",
    "Tier",
    "parse_config",
]

#: Canonical switch names (Volcano PluginOption fields, without the enable/enabled prefix).
SWITCHES = (
    "JobOrder",
    "NamespaceOrder",
    "Hierarchy",
    "JobReady",
    "JobPipelined",
    "TaskOrder",
    "Preemptable",
    "Reclaimable",
    "Preemptive",
    "QueueOrder",
    "Predicate",
    "BestNode",
    "NodeOrder",
    "TargetJob",
    "ReservedNodes",
    "JobEnqueued",
    "Victim",
    "JobStarving",
    "Overused",
    "Allocatable",
)
_OFF_BY_DEFAULT = frozenset({"Hierarchy"})


class ConfigError(ValueError):
    """The scheduler configuration is invalid; the message names the offending entry."""


@dataclass(frozen=True, slots=True)
class PluginOption:
    """One plugin entry of a tier: its name, arguments and explicit switches."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    switches: Mapping[str, bool] = field(default_factory=dict)

    def enabled(self, switch: str) -> bool:
        """Whether extension point ``switch`` (e.g. ``"NodeOrder"``) is on for this plugin."""
        return self.switches.get(switch, switch not in _OFF_BY_DEFAULT)


@dataclass(frozen=True, slots=True)
class Tier:
    plugins: tuple[PluginOption, ...]


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    """Parsed configuration. ``configurations`` maps an action name to its arguments."""

    actions: tuple[str, ...]
    tiers: tuple[Tier, ...]
    configurations: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def plugin(self, name: str) -> PluginOption | None:
        """The first option for plugin ``name``, or None."""
        for tier in self.tiers:
            for p in tier.plugins:
                if p.name == name:
                    return p
        return None


DEFAULT_CONFIG_TEXT = """\
actions: "enqueue, allocate, backfill"
tiers:
- plugins:
  - name: priority
  - name: gang
  - name: conformance
- plugins:
  - name: overcommit
  - name: drf
  - name: predicates
  - name: proportion
  - name: nodeorder
"""


def _switches(entry: Mapping[str, Any], where: str) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for key, value in entry.items():
        if key in ("name", "arguments"):
            continue
        for prefix in ("enabled", "enable"):
            if key.startswith(prefix) and key[len(prefix) :] in SWITCHES:
                if not isinstance(value, bool):
                    raise ConfigError(f"{where}.{key}: must be true or false, got {value!r}")
                out[key[len(prefix) :]] = value
                break
        else:
            raise ConfigError(f"{where}: unknown field {key!r}")
    return out


def parse_config(
    source: str | Mapping[str, Any] | None,
    *,
    known_actions: Iterable[str] | None = None,
    known_plugins: Iterable[str] | None = None,
) -> SchedulerConfig:
    """Parse a configuration document; None or empty text → :data:`DEFAULT_CONFIG`.

    ``known_actions``/``known_plugins`` default to the registered names
    (:mod:`suanli.scheduler.core.registry`).
    """
    if source is None or (isinstance(source, str) and not source.strip()):
        source = DEFAULT_CONFIG_TEXT
    if isinstance(source, str):
        try:
            doc = yamlish.load(source)
        except ValueError as e:
            raise ConfigError(f"volcano-scheduler.conf: {e}") from None
    else:
        doc = source
    if not isinstance(doc, Mapping):
        raise ConfigError("volcano-scheduler.conf: expected a mapping with 'actions' and 'tiers'")
    if known_actions is None or known_plugins is None:
        from suanli.scheduler.core import registry

        known_actions = registry.action_names() if known_actions is None else known_actions
        known_plugins = registry.plugin_names() if known_plugins is None else known_plugins
    actions_set, plugins_set = set(known_actions), set(known_plugins)

    raw_actions = doc.get("actions")
    if not isinstance(raw_actions, str) or not raw_actions.strip():
        raise ConfigError("actions: must be a non-empty comma-separated string")
    actions = tuple(a.strip() for a in raw_actions.split(",") if a.strip())
    for a in actions:
        if a not in actions_set:
            raise ConfigError(f"actions: unknown action {a!r}; known: {', '.join(sorted(actions_set))}")

    raw_tiers = doc.get("tiers") or []
    if not isinstance(raw_tiers, list):
        raise ConfigError("tiers: must be a list")
    tiers: list[Tier] = []
    for ti, tier in enumerate(raw_tiers):
        if not isinstance(tier, Mapping) or not isinstance(tier.get("plugins") or [], list):
            raise ConfigError(f"tiers[{ti}]: must be a mapping with a 'plugins' list")
        opts: list[PluginOption] = []
        for pi, entry in enumerate(tier.get("plugins") or []):
            where = f"tiers[{ti}].plugins[{pi}]"
            if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
                raise ConfigError(f"{where}: must be a mapping with a 'name'")
            name = entry["name"]
            if name not in plugins_set:
                raise ConfigError(f"{where}: unknown plugin {name!r}; known: {', '.join(sorted(plugins_set))}")
            args = entry.get("arguments") or {}
            if not isinstance(args, Mapping):
                raise ConfigError(f"{where}.arguments: must be a mapping")
            opts.append(PluginOption(name, dict(args), _switches(entry, where)))
        tiers.append(Tier(tuple(opts)))

    confs: dict[str, Mapping[str, Any]] = {}
    for ci, c in enumerate(doc.get("configurations") or []):
        if not isinstance(c, Mapping) or not isinstance(c.get("name"), str):
            raise ConfigError(f"configurations[{ci}]: must be a mapping with a 'name'")
        confs[c["name"]] = dict(c.get("arguments") or {})
    return SchedulerConfig(actions, tuple(tiers), confs)


def _default() -> SchedulerConfig:
    return parse_config(
        DEFAULT_CONFIG_TEXT,
        known_actions=("enqueue", "allocate", "backfill"),
        known_plugins=("priority", "gang", "conformance", "overcommit", "drf", "predicates", "proportion", "nodeorder"),
    )


DEFAULT_CONFIG: SchedulerConfig = _default()
