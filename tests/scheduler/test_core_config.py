"""volcano-scheduler.conf parsing: defaults, switches, errors."""

from __future__ import annotations

import re

import pytest

from suanli.scheduler.core import DEFAULT_CONFIG, ConfigError, parse_config
from suanli.scheduler.core.config import DEFAULT_CONFIG_TEXT, SWITCH_KEYS
from suanli.scheduler.core.yamlish import load

CONF = """
actions: "enqueue, allocate, backfill, preempt, reclaim"
tiers:
- plugins:
  - name: priority
  - name: gang
    enablePreemptable: false
  - name: conformance
- plugins:
  - name: drf
    enableHierarchy: true
  - name: binpack
    arguments:
      binpack.weight: 10
      binpack.resources: nvidia.com/gpu, huawei.com/Ascend910
      binpack.resources.nvidia.com/gpu: 2
configurations:
- name: enqueue
  arguments: {overcommit-factor: 1.5}
"""


def test_default_configuration_is_volcanos() -> None:
    assert DEFAULT_CONFIG.actions == ("enqueue", "allocate", "backfill")
    assert [[p.name for p in t.plugins] for t in DEFAULT_CONFIG.tiers] == [
        ["priority", "gang", "conformance"],
        ["overcommit", "drf", "predicates", "proportion", "nodeorder"],
    ]
    assert parse_config(None) == DEFAULT_CONFIG
    assert parse_config("  ") == DEFAULT_CONFIG


def test_full_document_parses_actions_tiers_arguments_and_switches() -> None:
    cfg = parse_config(CONF)
    assert cfg.actions == ("enqueue", "allocate", "backfill", "preempt", "reclaim")
    gang = cfg.plugin("gang")
    assert gang is not None and not gang.enabled("Preemptable") and gang.enabled("JobOrder")
    binpack = cfg.plugin("binpack")
    assert binpack is not None and binpack.arguments["binpack.weight"] == 10
    assert binpack.arguments["binpack.resources.nvidia.com/gpu"] == 2
    drf = cfg.plugin("drf")
    assert drf is not None and drf.enabled("Hierarchy")
    assert cfg.configurations["enqueue"]["overcommit-factor"] == 1.5
    # Volcano's enqueue action reads no argument: kept, but reported
    assert cfg.warnings == ("configurations[0].arguments: unknown argument 'overcommit-factor' for 'enqueue'; ignored",)


#: Volcano master's ``PluginOption`` fields (pkg/scheduler/conf/scheduler_conf.go) and what
#: ``ApplyPluginConfDefaults`` leaves them at when absent (upstream TestLoadSchedulerConf: all true,
#: except the two it does not default: EnabledHierarchy and EnabledClusterOrder stay nil = off).
UPSTREAM_MASTER_FIELDS = {
    "enableJobOrder": ("JobOrder", True),
    "enableHierarchy": ("Hierarchy", False),
    "enableJobReady": ("JobReady", True),
    "enableJobPipelined": ("JobPipelined", True),
    "enableTaskOrder": ("TaskOrder", True),
    "enablePreemptable": ("Preemptable", True),
    "enableReclaimable": ("Reclaimable", True),
    "enablePreemptive": ("Preemptive", True),
    "enableQueueOrder": ("QueueOrder", True),
    "enabledClusterOrder": ("ClusterOrder", False),
    "enablePredicate": ("Predicate", True),
    "enableBestNode": ("BestNode", True),
    "enableNodeOrder": ("NodeOrder", True),
    "enableTargetJob": ("TargetJob", True),
    "enableReservedNodes": ("ReservedNodes", True),
    "enableJobEnqueued": ("JobEnqueued", True),
    "enabledVictim": ("Victim", True),
    "enableJobStarving": ("JobStarving", True),
    "enabledOverused": ("Overused", True),
    "enabledAllocatable": ("Allocatable", True),
    "enabledHyperNodeOrder": ("HyperNodeOrder", True),
    "enabledSubJobReady": ("SubJobReady", True),
    "enabledSubJobPipelined": ("SubJobPipelined", True),
    "enabledSubJobOrder": ("SubJobOrder", True),
    "enabledHyperNodeGradient": ("HyperNodeGradient", True),
}
ONE_PLUGIN = 'actions: "allocate"\ntiers:\n- plugins:\n  - name: gang\n'


@pytest.mark.parametrize(("key", "expected"), list(UPSTREAM_MASTER_FIELDS.items()), ids=list(UPSTREAM_MASTER_FIELDS))
def test_every_upstream_switch_defaults_like_volcano_when_absent(key: str, expected: tuple[str, bool]) -> None:
    switch, default = expected
    opt = parse_config(ONE_PLUGIN).plugin("gang")
    assert opt is not None and opt.enabled(switch) is default


@pytest.mark.parametrize("key", [*UPSTREAM_MASTER_FIELDS, "enableNamespaceOrder", "EnabledClusterOrder"])
def test_every_upstream_switch_is_accepted_and_honoured(key: str) -> None:
    switch = SWITCH_KEYS[key]
    for value in (True, False):
        cfg = parse_config(f"{ONE_PLUGIN}    {key}: {str(value).lower()}\n")
        opt = cfg.plugin("gang")
        assert opt is not None and opt.enabled(switch) is value
        assert cfg.warnings == ()


def test_switch_keys_cover_volcano_master() -> None:
    assert set(UPSTREAM_MASTER_FIELDS) <= set(SWITCH_KEYS)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('actions: "allocate, shuffle-everything"\ntiers: []\n', "unknown action 'shuffle-everything'"),
        ("tiers: []\n", "actions: must be"),
        (ONE_PLUGIN + "    enableJobOrder: maybe\n", "tiers[0].plugins[0].enableJobOrder: must be true or false"),
        ("- just\n- a list\n", "expected a mapping"),
        (ONE_PLUGIN + "    arguments: [1, 2]\n", "tiers[0].plugins[0].arguments: must be a mapping"),
        ('actions: "allocate"\ntiers:\n- plugins:\n  - name: drf\n    enableHierarchy: true\n'
         "  - name: proportion\n", "proportion and drf with enableHierarchy conflict"),
        ('actions: "allocate"\ntiers: []\nconfigurations:\n- name: suanli\n  arguments: {defaultPreemptable: 3}\n',
         "defaultPreemptable: must be true or false"),
        ('actions: "allocate"\ntiers: []\nmetrics: [a]\n', "metrics: must be a mapping"),
        ('actions: "allocate"\ntiers:\n\tplugins: []\n', "tabs are not allowed"),
    ],
    ids=["unknown-action", "missing-actions", "non-bool-switch", "not-a-mapping", "arguments-not-a-mapping",
         "proportion-with-hierarchical-drf", "non-bool-default-preemptable", "metrics-not-a-mapping", "bad-yaml"],
)
def test_what_volcano_rejects_raises_config_error(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        parse_config(text)


@pytest.mark.parametrize(
    ("text", "warning", "plugins"),
    [
        ('actions: "allocate"\ntiers: []\nfancy: 1\n', "unknown field 'fancy'; ignored", []),
        ('actions: "allocate"\ntiers:\n- plugins: []\n  weight: 2\n', "tiers[0]: unknown field 'weight'", []),
        (ONE_PLUGIN + "    colour: red\n", "tiers[0].plugins[0]: unknown field 'colour'; ignored", ["gang"]),
        (ONE_PLUGIN + "  - name: magic\n  - name: binpack\n", "tiers[0].plugins[1]: unknown plugin 'magic'; skipped",
         ["gang", "binpack"]),
        (ONE_PLUGIN + "  - name: sla\n", "plugin 'sla' is not implemented by Suanli; skipped", ["gang"]),
        ('actions: "enqueue, shuffle, allocate"\ntiers: []\n', "action 'shuffle' is not implemented by Suanli",
         []),
        ('actions: "preempt"\ntiers: []\nconfigurations:\n- name: preempt\n  arguments:\n'
         "    minCandidateNodesPercentage: 10\n    colour: red\n",
         "configurations[0].arguments: unknown argument 'colour' for 'preempt'; ignored", []),
        ('actions: "allocate"\ntiers: []\nconfigurations:\n- name: nothing\n  arguments: {a: 1}\n',
         "configurations[0]: no action 'nothing'; ignored", []),
        ('actions: "allocate"\ntiers: []\nconfigurations:\n- name: preempt\n  arguments: {}\n',
         "action 'preempt' is not in 'actions'", []),
        ('actions: "allocate"\ntiers: []\nconfigurations:\n- name: allocate\n  arguments: {}\n'
         "- name: allocate\n  arguments: {predicateErrorCacheEnable: true}\n",
         "configurations[1]: a second entry for 'allocate'; ignored (the first one applies)", []),
    ],
    ids=["unknown-top-level-key", "unknown-tier-key", "unknown-plugin-key", "unknown-plugin-skipped",
         "upstream-plugin-not-implemented-skipped", "upstream-action-not-implemented-skipped",
         "unknown-action-argument", "configuration-for-no-action", "configuration-for-unused-action",
         "second-configuration-for-an-action"],
)
def test_unknown_entries_are_skipped_with_a_warning(text: str, warning: str, plugins: list[str]) -> None:
    cfg = parse_config(text)
    assert any(warning in w for w in cfg.warnings), cfg.warnings
    assert [p.name for t in cfg.tiers for p in t.plugins] == plugins


def test_first_configuration_entry_of_an_action_applies_like_volcano() -> None:
    cfg = parse_config('actions: "allocate"\ntiers: []\nconfigurations:\n- name: allocate\n  arguments: {}\n'
                       "- name: allocate\n  arguments: {predicateErrorCacheEnable: true}\n")
    assert cfg.configurations == {"allocate": {}}


def test_upstream_only_action_is_dropped_and_the_rest_keep_their_order() -> None:
    assert parse_config('actions: "enqueue, shuffle, allocate"\ntiers: []\n').actions == ("enqueue", "allocate")


@pytest.mark.parametrize(("key", "canonical"), [("enabledPreemptable", "enablePreemptable"),
                                                ("enableOverused", "enabledOverused"),
                                                ("enableHyperNodeOrder", "enabledHyperNodeOrder")])
def test_misspelt_switch_is_ignored_like_volcano_and_the_warning_names_the_spelling(key: str,
                                                                                   canonical: str) -> None:
    cfg = parse_config(f"{ONE_PLUGIN}    {key}: false\n")
    opt = cfg.plugin("gang")
    assert opt is not None and opt.enabled(SWITCH_KEYS[canonical])  # Go's yaml decode ignores the key
    assert cfg.warnings == (f"tiers[0].plugins[0]: unknown field {key!r} (Volcano spells it {canonical!r}); ignored",)


def test_null_switch_keeps_the_default() -> None:
    opt = parse_config(f"{ONE_PLUGIN}    enablePreemptable:\n").plugin("gang")
    assert opt is not None and opt.enabled("Preemptable")


def test_metrics_and_configurations_are_kept() -> None:
    cfg = parse_config('actions: "allocate, preempt"\ntiers: []\nmetrics:\n  type: prometheus\n'
                       "  interval: 30s\nconfigurations:\n- name: preempt\n  arguments:\n"
                       "    predicateErrorCacheEnable: true\n")
    assert cfg.metrics == {"type": "prometheus", "interval": "30s"}
    assert cfg.configurations == {"preempt": {"predicateErrorCacheEnable": True}}
    assert cfg.warnings == ()


@pytest.mark.parametrize(("arguments", "expected"), [("", True), ("{defaultPreemptable: false}", False),
                                                     ("{defaultPreemptable: true}", True)],
                         ids=["absent-means-volcano-default-true", "false", "true"])
def test_suanli_configuration_sets_the_default_preemptable(arguments: str, expected: bool) -> None:
    extra = f"configurations:\n- name: suanli\n  arguments: {arguments}\n" if arguments else ""
    cfg = parse_config('actions: "allocate"\ntiers: []\n' + extra)
    assert cfg.default_preemptable is expected and cfg.warnings == ()


def test_warnings_do_not_take_part_in_equality() -> None:
    assert parse_config(DEFAULT_CONFIG_TEXT + "extra: 1\n") == DEFAULT_CONFIG


def test_mapping_input_is_accepted() -> None:
    cfg = parse_config({"actions": "allocate", "tiers": [{"plugins": [{"name": "binpack", "enableNodeOrder": False}]}]})
    opt = cfg.plugin("binpack")
    assert opt is not None and not opt.enabled("NodeOrder")


def test_yaml_reader_handles_quotes_comments_and_flow() -> None:
    doc = load("a: 'x # not a comment'  # comment\nb: [1, two]\nc:\n  - {k: v}\n  -\n    d: 1.5\n")
    assert doc == {"a": "x # not a comment", "b": [1, "two"], "c": [{"k": "v"}, {"d": 1.5}]}
