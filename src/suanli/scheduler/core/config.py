"""Volcano ``volcano-scheduler.conf`` configuration, read as leniently as Volcano reads it.

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
    configurations:
    - name: preempt
      arguments: {predicateErrorCacheEnable: true}
    metrics: {type: prometheus}

Plugin entries accept every ``PluginOption`` field of Volcano (current master, v1.9 and older
releases; exact upstream spellings, :data:`SWITCH_KEYS`). Switches default to **enabled**,
except ``enableHierarchy`` and ``enabledClusterOrder``, as in Volcano's
``ApplyPluginConfDefaults``.

Leniency follows Volcano (a non-strict YAML decode, and plugins looked up when a session
opens): an unknown key at the top level, in a tier, in a plugin entry or in a
``configurations[].arguments`` mapping, a misspelt switch, and a plugin or action this
scheduler does not implement are **skipped**, each with a message in
:attr:`SchedulerConfig.warnings` (the live adapter logs them and records Warning Events on
the ConfigMap). What Volcano rejects raises :class:`ConfigError`: malformed YAML, no
``actions``, an action name Volcano does not know, a value of the wrong type (e.g. a switch
that is not a boolean), and ``proportion`` together with ``drf`` with ``enableHierarchy``.

One Suanli extension, ignored by Volcano (a configuration entry whose name is no action)::

    configurations:
    - name: suanli
      arguments: {defaultPreemptable: false}

sets :attr:`SchedulerConfig.default_preemptable`: whether a pod with neither a
``volcano.sh/preemptable`` annotation nor label may be a preempt/reclaim victim (default
true, Volcano >= 1.7; false restores the behaviour of Volcano <= 1.6).

With no document, :data:`DEFAULT_CONFIG` applies (Volcano's built-in
``DefaultSchedulerConf``): actions ``enqueue, allocate, backfill``; tier 1 ``priority, gang,
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
    "SUANLI_CONFIGURATION",
    "SWITCHES",
    "SWITCH_KEYS",
    "UPSTREAM_ACTIONS",
    "UPSTREAM_PLUGINS",
    "ConfigError",
    "PluginOption",
    "SchedulerConfig",
    "Tier",
    "parse_config",
]

#: YAML key of each Volcano ``PluginOption`` switch → its canonical name (no enable/enabled prefix).
#: Current master plus keys of older releases (``enableNamespaceOrder`` until v1.7,
#: ``EnabledClusterOrder`` until v1.9, renamed ``enabledClusterOrder`` since).
SWITCH_KEYS: Mapping[str, str] = {
    "enableJobOrder": "JobOrder",
    "enableNamespaceOrder": "NamespaceOrder",
    "enableHierarchy": "Hierarchy",
    "enableJobReady": "JobReady",
    "enableJobPipelined": "JobPipelined",
    "enableTaskOrder": "TaskOrder",
    "enablePreemptable": "Preemptable",
    "enableReclaimable": "Reclaimable",
    "enablePreemptive": "Preemptive",
    "enableQueueOrder": "QueueOrder",
    "enabledClusterOrder": "ClusterOrder",
    "EnabledClusterOrder": "ClusterOrder",
    "enablePredicate": "Predicate",
    "enableBestNode": "BestNode",
    "enableNodeOrder": "NodeOrder",
    "enableTargetJob": "TargetJob",
    "enableReservedNodes": "ReservedNodes",
    "enableJobEnqueued": "JobEnqueued",
    "enabledVictim": "Victim",
    "enableJobStarving": "JobStarving",
    "enabledOverused": "Overused",
    "enabledAllocatable": "Allocatable",
    "enabledHyperNodeOrder": "HyperNodeOrder",
    "enabledSubJobReady": "SubJobReady",
    "enabledSubJobPipelined": "SubJobPipelined",
    "enabledSubJobOrder": "SubJobOrder",
    "enabledHyperNodeGradient": "HyperNodeGradient",
}
#: Canonical switch names, in :data:`SWITCH_KEYS` order.
SWITCHES: tuple[str, ...] = tuple(dict.fromkeys(SWITCH_KEYS.values()))
_OFF_BY_DEFAULT = frozenset({"Hierarchy", "ClusterOrder"})
_CANONICAL_KEY = {canon: key for key, canon in reversed(list(SWITCH_KEYS.items()))}  # current spelling wins

#: Plugins of Volcano master (for the warning's wording: not implemented here vs unknown).
UPSTREAM_PLUGINS = frozenset({
    "binpack", "capacity", "cdp", "conformance", "deviceshare", "drf", "extender", "gang",
    "network-topology-aware", "nodegroup", "nodeorder", "numaaware", "overcommit", "pdb", "predicates",
    "priority", "proportion", "rescheduling", "resource-strategy-fit", "resourcequota", "sla",
    "task-topology", "tdm", "usage",
})
#: ``configurations[].arguments`` keys Volcano master reads, per action (every upstream action).
_ACTION_ARGUMENTS: Mapping[str, frozenset[str]] = {
    "enqueue": frozenset(),
    "shuffle": frozenset(),
    "allocate": frozenset({"predicateErrorCacheEnable"}),
    "backfill": frozenset({"predicateErrorCacheEnable"}),
    "reclaim": frozenset({"predicateErrorCacheEnable"}),
    "preempt": frozenset({"predicateErrorCacheEnable", "enableTopologyAwarePreemption",
                          "topologyAwarePreemptWorkerNum", "minCandidateNodesPercentage",
                          "minCandidateNodesAbsolute", "maxCandidateNodesAbsolute"}),
    "gangpreempt": frozenset({"maxDomains", "allowWholeBundle"}),
    "gangreclaim": frozenset({"maxDomains", "allowWholeBundle"}),
}
#: Actions of Volcano master; those without a Suanli implementation are skipped with a warning.
UPSTREAM_ACTIONS = tuple(_ACTION_ARGUMENTS)
#: Name of the ``configurations`` entry holding Suanli's own settings (Volcano ignores it).
SUANLI_CONFIGURATION = "suanli"
_SUANLI_ARGUMENTS = frozenset({"defaultPreemptable"})
_TOP_LEVEL = frozenset({"actions", "tiers", "configurations", "metrics"})


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
    """Parsed configuration. ``configurations`` maps an action name to its arguments;
    ``warnings`` lists what was skipped (not part of equality)."""

    actions: tuple[str, ...]
    tiers: tuple[Tier, ...]
    configurations: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    metrics: Mapping[str, str] = field(default_factory=dict)
    default_preemptable: bool = True
    warnings: tuple[str, ...] = field(default=(), compare=False)

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


def _switch_hint(key: str) -> str:
    """`` (Volcano spells it 'enableX')`` when ``key`` is a misspelt switch, else ``""``."""
    for prefix in ("enabled", "enable", "Enabled", "Enable"):
        if key.startswith(prefix) and key[len(prefix):] in _CANONICAL_KEY:
            return f" (Volcano spells it {_CANONICAL_KEY[key[len(prefix):]]!r})"
    return ""


def _plugin_option(entry: Mapping[str, Any], where: str, warnings: list[str]) -> PluginOption:
    switches: dict[str, bool] = {}
    for key, value in entry.items():
        if key in ("name", "arguments"):
            continue
        canon = SWITCH_KEYS.get(str(key))
        if canon is None:
            warnings.append(f"{where}: unknown field {key!r}{_switch_hint(str(key))}; ignored")
        elif value is not None:  # YAML null leaves a *bool at its default, as in Go
            if not isinstance(value, bool):
                raise ConfigError(f"{where}.{key}: must be true or false, got {value!r}")
            switches[canon] = value
    args = entry.get("arguments") or {}
    if not isinstance(args, Mapping):
        raise ConfigError(f"{where}.arguments: must be a mapping")
    return PluginOption(entry["name"], dict(args), switches)


def _actions(doc: Mapping[str, Any], known: set[str], warnings: list[str]) -> tuple[str, ...]:
    raw = doc.get("actions")
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError("actions: must be a non-empty comma-separated string")
    out: list[str] = []
    for a in (a.strip() for a in raw.split(",")):
        if not a:
            continue
        if a in known:
            out.append(a)
        elif a in UPSTREAM_ACTIONS:
            warnings.append(f"actions: action {a!r} is not implemented by Suanli; skipped")
        else:
            raise ConfigError(f"actions: unknown action {a!r}; known: {', '.join(sorted(known))}")
    return tuple(out)


def _tiers(doc: Mapping[str, Any], known: set[str], warnings: list[str]) -> tuple[Tier, ...]:
    raw = doc.get("tiers") or []
    if not isinstance(raw, list):
        raise ConfigError("tiers: must be a list")
    tiers: list[Tier] = []
    for ti, tier in enumerate(raw):
        if not isinstance(tier, Mapping) or not isinstance(tier.get("plugins") or [], list):
            raise ConfigError(f"tiers[{ti}]: must be a mapping with a 'plugins' list")
        warnings.extend(f"tiers[{ti}]: unknown field {k!r}; ignored" for k in tier if k != "plugins")
        opts: list[PluginOption] = []
        for pi, entry in enumerate(tier.get("plugins") or []):
            where = f"tiers[{ti}].plugins[{pi}]"
            if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
                raise ConfigError(f"{where}: must be a mapping with a 'name'")
            opt = _plugin_option(entry, where, warnings)
            if opt.name in known:
                opts.append(opt)
            elif opt.name in UPSTREAM_PLUGINS:
                warnings.append(f"{where}: plugin {opt.name!r} is not implemented by Suanli; skipped")
            else:
                warnings.append(f"{where}: unknown plugin {opt.name!r}; skipped")
        tiers.append(Tier(tuple(opts)))
    for tier in tiers:
        names = {p.name for p in tier.plugins}
        drf = next((p for p in tier.plugins if p.name == "drf"), None)
        if "proportion" in names and drf is not None and drf.enabled("Hierarchy"):
            raise ConfigError("tiers: proportion and drf with enableHierarchy conflict (one tier has both)")
    return tuple(tiers)


def _configurations(doc: Mapping[str, Any], actions: Iterable[str],
                    warnings: list[str]) -> dict[str, Mapping[str, Any]]:
    raw = doc.get("configurations") or []
    if not isinstance(raw, list):
        raise ConfigError("configurations: must be a list")
    confs: dict[str, Mapping[str, Any]] = {}
    for ci, c in enumerate(raw):
        where = f"configurations[{ci}]"
        if not isinstance(c, Mapping) or not isinstance(c.get("name"), str):
            raise ConfigError(f"{where}: must be a mapping with a 'name'")
        name, args = c["name"], c.get("arguments") or {}
        if not isinstance(args, Mapping):
            raise ConfigError(f"{where}.arguments: must be a mapping")
        warnings.extend(f"{where}: unknown field {k!r}; ignored" for k in c if k not in ("name", "arguments"))
        known_args = _SUANLI_ARGUMENTS if name == SUANLI_CONFIGURATION else _ACTION_ARGUMENTS.get(name)
        if known_args is None:
            warnings.append(f"{where}: no action {name!r}; ignored")
        elif name not in actions and name != SUANLI_CONFIGURATION:
            warnings.append(f"{where}: action {name!r} is not in 'actions'; its arguments have no effect")
        for key in args:
            if known_args is not None and key not in known_args:
                warnings.append(f"{where}.arguments: unknown argument {key!r} for {name!r}; ignored")
        if name in confs:
            warnings.append(f"{where}: a second entry for {name!r}; ignored (the first one applies)")
        else:
            confs[name] = dict(args)
    return confs


def parse_config(
    source: str | Mapping[str, Any] | None,
    *,
    known_actions: Iterable[str] | None = None,
    known_plugins: Iterable[str] | None = None,
) -> SchedulerConfig:
    """Parse a configuration document; None or empty text → :data:`DEFAULT_CONFIG`.

    ``known_actions``/``known_plugins`` (what this scheduler implements) default to the
    registered names (:mod:`suanli.scheduler.core.registry`). Raises :class:`ConfigError` for
    what Volcano rejects; everything skipped is listed in the result's ``warnings``.
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
    warnings = [f"unknown field {k!r}; ignored" for k in doc if k not in _TOP_LEVEL]
    actions = _actions(doc, set(known_actions), warnings)
    tiers = _tiers(doc, set(known_plugins), warnings)
    confs = _configurations(doc, actions, warnings)
    metrics = doc.get("metrics") or {}
    if not isinstance(metrics, Mapping):
        raise ConfigError("metrics: must be a mapping")
    preemptable = confs.get(SUANLI_CONFIGURATION, {}).get("defaultPreemptable", True)
    if not isinstance(preemptable, bool):
        raise ConfigError(f"configurations[name={SUANLI_CONFIGURATION}].arguments.defaultPreemptable: "
                          f"must be true or false, got {preemptable!r}")
    return SchedulerConfig(actions, tiers, confs, {str(k): str(v) for k, v in metrics.items()}, preemptable,
                           tuple(warnings))


def _default() -> SchedulerConfig:
    return parse_config(
        DEFAULT_CONFIG_TEXT,
        known_actions=("enqueue", "allocate", "backfill"),
        known_plugins=("priority", "gang", "conformance", "overcommit", "drf", "predicates", "proportion", "nodeorder"),
    )


DEFAULT_CONFIG: SchedulerConfig = _default()
