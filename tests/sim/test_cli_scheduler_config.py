"""``suanli sim replay --scheduler-config``: parsed as leniently as the live scheduler, skipped entries on stderr."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from suanli.sim.cli import _volcano_config


def test_skipped_entries_are_reported_and_the_rest_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "scheduler.conf"
    conf.write_text('actions: "allocate"\ntiers:\n- plugins:\n  - name: gang\n  - name: sla\n')
    config = _volcano_config(argparse.Namespace(scheduler_config=conf, policy=None))
    assert config is not None and [p.name for t in config.tiers for p in t.plugins] == ["gang"]
    assert capsys.readouterr().err == (
        f"warning: {conf}: tiers[0].plugins[1]: plugin 'sla' is not implemented by Suanli; skipped\n")


def test_what_volcano_rejects_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "scheduler.conf"
    conf.write_text('actions: "allocate, teleport"\ntiers: []\n')
    assert _volcano_config(argparse.Namespace(scheduler_config=conf, policy=None)) is None
    assert capsys.readouterr().err.startswith(f"error: {conf}: actions: unknown action 'teleport'")
