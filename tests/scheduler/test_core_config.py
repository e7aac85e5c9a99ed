"""volcano-scheduler.conf parsing: defaults, switches, errors."""

from __future__ import annotations

import pytest

from suanli.scheduler.core import DEFAULT_CONFIG, ConfigError, parse_config
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


@pytest.mark.parametrize(
    ("switch", "default"),
    [
        ("JobOrder", True),
        ("Predicate", True),
        ("NodeOrder", True),
        ("Preemptable", True),
        ("Reclaimable", True),
        ("Overused", True),
        ("Hierarchy", False),
    ],
    ids=[
        "job-order-on",
        "predicate-on",
        "node-order-on",
        "preemptable-on",
        "reclaimable-on",
        "overused-on",
        "hierarchy-off",
    ],
)
def test_switch_defaults_follow_volcano(switch: str, default: bool) -> None:
    opt = parse_config('actions: "allocate"\ntiers:\n- plugins:\n  - name: gang\n').plugin("gang")
    assert opt is not None and opt.enabled(switch) is default


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('actions: "allocate, shuffle-everything"\ntiers: []\n', "unknown action 'shuffle-everything'"),
        ('actions: "allocate"\ntiers:\n- plugins:\n  - name: magic\n', "unknown plugin 'magic'"),
        ("tiers: []\n", "actions: must be"),
        (
            'actions: "allocate"\ntiers:\n- plugins:\n  - name: gang\n    enableJobOrder: maybe\n',
            "must be true or false",
        ),
        ('actions: "allocate"\ntiers:\n- plugins:\n  - name: gang\n    colour: red\n', "unknown field 'colour'"),
        ("- just\n- a list\n", "expected a mapping"),
    ],
    ids=["unknown-action", "unknown-plugin", "missing-actions", "non-bool-switch", "unknown-field", "not-a-mapping"],
)
def test_invalid_documents_raise_config_error(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(")):
        parse_config(text)


def test_mapping_input_is_accepted() -> None:
    cfg = parse_config({"actions": "allocate", "tiers": [{"plugins": [{"name": "binpack", "enableNodeOrder": False}]}]})
    opt = cfg.plugin("binpack")
    assert opt is not None and not opt.enabled("NodeOrder")


def test_yaml_reader_handles_quotes_comments_and_flow() -> None:
    doc = load("a: 'x # not a comment'  # comment\nb: [1, two]\nc:\n  - {k: v}\n  -\n    d: 1.5\n")
    assert doc == {"a": "x # not a comment", "b": [1, "two"], "c": [{"k": "v"}, {"d": 1.5}]}
