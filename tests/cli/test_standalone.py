"""``suanli scheduler|controllers|agent`` argument handling (the processes themselves run in
tests/e2e_production)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from suanli.cli.standalone import agent_name, enabled
from tests.conftest import REPO

NAMES = ["garbage-collector", "namespace", "deployment", "queue"]


@pytest.mark.parametrize(("spec", "expected"), [
    ("*", NAMES),
    ("*,-namespace", ["garbage-collector", "deployment", "queue"]),
    ("queue,deployment", ["deployment", "queue"]),
    ("-queue", []),
    ("*,queue", NAMES),
], ids=["all", "all-but-one", "only-named", "disable-only-enables-nothing", "star-and-name"])
def test_controllers_flag_follows_kube_controller_manager(spec: str, expected: list[str]) -> None:
    assert enabled(NAMES, spec) == expected


def test_controllers_flag_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match=r"unknown controller.*nosuch"):
        enabled(NAMES, "*,-nosuch")


@pytest.mark.parametrize(("args", "message"), [
    (["scheduler"], "not running in a cluster: KUBERNETES_SERVICE_HOST is unset"),
    (["controllers", "--kubeconfig", "/nonexistent/kubeconfig"], "kubeconfig not found"),
    (["scheduler", "--kubeconfig", "/nonexistent", "--leader-elect", "--leader-elect-lease-duration", "5s",
      "--leader-elect-renew-deadline", "10s"], "leaseDuration must be greater than renewDeadline"),
], ids=["no-kubeconfig-outside-a-cluster", "missing-kubeconfig", "inconsistent-leader-timings"])
def test_start_up_errors_exit_2_with_a_message(args: list[str], message: str, tmp_path: object) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "suanli.cli.main", *args, "--health-port", "-1"],
                          capture_output=True, text=True, env=env, cwd=str(REPO), timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr


def test_agent_requires_a_mode() -> None:
    proc = subprocess.run([sys.executable, "-m", "suanli.cli.main", "agent"], capture_output=True, text=True,
                          cwd=str(REPO), timeout=60)
    assert proc.returncode == 2 and "one of the arguments --sim-nodes --host is required" in proc.stderr


@pytest.mark.parametrize(("given", "env", "expected"), [
    ("alpha", "", "alpha"),
    ("Rack_7.Host", "", "rack-7-host"),
    (None, "worker-3", "worker-3"),
    ("--x--", "", "x"),
    ("a" * 60, "", "a" * 40),
], ids=["as-given", "lowered-and-dashed", "from-NODE_NAME", "edges-trimmed", "at-most-40-characters"])
def test_agent_name_is_a_valid_label_value_and_node_name_prefix(given: str | None, env: str, expected: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODE_NAME", env)
    assert agent_name(given) == expected


def test_agent_name_without_letters_or_digits_is_refused() -> None:
    with pytest.raises(ValueError, match="--agent-name"):
        agent_name("__..__")
