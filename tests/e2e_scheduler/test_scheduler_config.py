"""``suanli up --scheduler-config`` with Volcano's own default configurations, the scheduler ConfigMap
``suanli up`` creates, and lenient reloads of it (each test runs its own `suanli up` processes).

The configurations are Volcano's helm-chart defaults, verbatim (tests/scheduler/data, sources in
SOURCES.json): master and v1.9.0.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from suanli.scheduler.core.config import DEFAULT_CONFIG_TEXT
from tests.conftest import REPO, Kubectl, Server, kubectl_binary, start_server
from tests.e2e.conftest import manifest, pod, wait_until
from tests.e2e_hardware.conftest import get_json

pytestmark = pytest.mark.e2e

DATA = REPO / "tests" / "scheduler" / "data"
NS = "volcano-system"
CM = "volcano-scheduler-configmap"
KEY = "volcano-scheduler.conf"
LENIENT = """\
actions: "enqueue, allocate, shuffle, backfill"
colour: blue
tiers:
- plugins:
  - name: priority
  - name: gang
    enablePreemptable: false
    enabledHyperNodeOrder: true
    enabledSubJobReady: true
    enabledSubJobPipelined: false
    enabledSubJobOrder: true
    enabledHyperNodeGradient: true
  - name: sla
  - name: no-such-plugin
- plugins:
  - name: predicates
  - name: binpack
configurations:
- name: allocate
  arguments:
    predicateErrorCacheEnable: true
    shinyNewKnob: 3
"""


def kubectl(server: Server) -> Kubectl:
    return Kubectl(kubectl_binary(), server.kubeconfig)


def conf_text(kc: Kubectl) -> str:
    return str(get_json(kc, "configmap", "-n", NS, CM)["data"][KEY])


def event_messages(kc: Kubectl, reason: str) -> list[str]:
    items = get_json(kc, "events", "-n", NS, "--field-selector", f"reason={reason}")["items"]
    return [str(e["message"]) for e in items if e["involvedObject"]["name"] == CM]


def replace_conf(kc: Kubectl, text: str) -> None:
    """What a user does: edit the ConfigMap's volcano-scheduler.conf (kubectl replace of the fetched object)."""
    cm = get_json(kc, "configmap", "-n", NS, CM)
    cm["data"][KEY] = text
    kc("replace", "-f", "-", input=manifest(cm))


@pytest.mark.parametrize("name", ["volcano-scheduler.master.conf", "volcano-scheduler.v1.9.0.conf"],
                         ids=["volcano-master", "volcano-v1.9.0"])
def test_suanli_up_runs_volcanos_default_configuration_verbatim(name: str, tmp_path: Path) -> None:
    conf = DATA / name
    srv = start_server(tmp_path / "data", tmp_path / "kubeconfig", extra=["--scheduler-config", str(conf)],
                       demo=True)
    try:
        kc = kubectl(srv)
        assert conf_text(kc) == conf.read_text()  # the ConfigMap holds the file, as the helm chart renders it
        loaded = wait_until(lambda: event_messages(kc, "ConfigurationLoaded"), what="ConfigurationLoaded")
        assert loaded == ["actions: enqueue, allocate, backfill; plugins: priority, gang, conformance, overcommit, "
                          "drf, predicates, proportion, nodeorder, binpack; 0 ignored entries"]
        kc("apply", "-f", "-", input=manifest(pod("probe", image="busybox:1.36", namespace="default")))
        wait_until(lambda: kc("get", "pod", "probe", "-n", "default", "-o", "jsonpath={.spec.nodeName}"),
                   what="the pod to be scheduled")
        assert event_messages(kc, "IgnoredConfiguration") == []
    finally:
        srv.stop()


def test_configmap_is_created_with_the_default_and_user_edits_survive_restarts(tmp_path: Path) -> None:
    data, kubeconfig = tmp_path / "data", tmp_path / "kubeconfig"
    srv = start_server(data, kubeconfig)
    try:
        kc = kubectl(srv)
        assert get_json(kc, "namespace", NS)["status"]["phase"] == "Active"
        assert conf_text(kc) == DEFAULT_CONFIG_TEXT
        edited = DEFAULT_CONFIG_TEXT.replace("  - name: nodeorder\n", "  - name: binpack\n")
        replace_conf(kc, edited)
    finally:
        srv.stop()
    srv = start_server(data, kubeconfig)  # no flag: the edit stays
    try:
        assert conf_text(kubectl(srv)) == edited
    finally:
        srv.stop()
    srv = start_server(data, kubeconfig, extra=["--scheduler-config", str(DATA / "volcano-scheduler.master.conf")])
    try:  # a file does not overwrite an edit either: it says so
        kc = kubectl(srv)
        assert conf_text(kc) == edited
        notes = wait_until(lambda: event_messages(kc, "ConfigurationNotApplied"), what="ConfigurationNotApplied")
        assert "volcano-scheduler.master.conf was not applied" in notes[0]
        kc("delete", "configmap", "-n", NS, CM)
    finally:
        srv.stop()
    srv = start_server(data, kubeconfig, extra=["--scheduler-config", str(DATA / "volcano-scheduler.v1.9.0.conf")])
    try:  # once the edited ConfigMap is gone, the file is applied
        assert conf_text(kubectl(srv)) == (DATA / "volcano-scheduler.v1.9.0.conf").read_text()
    finally:
        srv.stop()


def test_an_unedited_configmap_follows_the_scheduler_config_file(tmp_path: Path) -> None:
    data, kubeconfig = tmp_path / "data", tmp_path / "kubeconfig"
    srv = start_server(data, kubeconfig)
    srv.stop()
    ci = DATA / "volcano-scheduler-ci.master.conf"
    srv = start_server(data, kubeconfig, extra=["--scheduler-config", str(ci)])
    try:
        kc = kubectl(srv)
        assert conf_text(kc) == ci.read_text()
        ignored = wait_until(lambda: event_messages(kc, "IgnoredConfiguration"), what="IgnoredConfiguration")
        assert sorted(ignored) == [
            "tiers[0].plugins[3]: plugin 'sla' is not implemented by Suanli; skipped",
            "tiers[1].plugins[6]: plugin 'network-topology-aware' is not implemented by Suanli; skipped",
        ]
    finally:
        srv.stop()
    srv = start_server(data, kubeconfig)  # no flag again: back to the default, nobody edited it
    try:
        assert conf_text(kubectl(srv)) == DEFAULT_CONFIG_TEXT
    finally:
        srv.stop()


def test_editing_the_configmap_reloads_leniently_and_reports_what_was_skipped(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data", tmp_path / "kubeconfig")
    try:
        kc = kubectl(srv)
        wait_until(lambda: event_messages(kc, "ConfigurationLoaded"), what="the default configuration loaded")
        replace_conf(kc, LENIENT)
        lenient = ("actions: enqueue, allocate, backfill; plugins: priority, gang, predicates, binpack; "
                   "5 ignored entries")
        wait_until(lambda: lenient in event_messages(kc, "ConfigurationLoaded"), what="the edited configuration loaded")

        def five_ignored() -> list[str] | None:
            got = event_messages(kc, "IgnoredConfiguration")
            return got if len(got) >= 5 else None

        ignored = wait_until(five_ignored, what="five IgnoredConfiguration events")
        assert sorted(ignored) == sorted([
            "unknown field 'colour'; ignored",
            "actions: action 'shuffle' is not implemented by Suanli; skipped",
            "tiers[0].plugins[2]: plugin 'sla' is not implemented by Suanli; skipped",
            "tiers[0].plugins[3]: unknown plugin 'no-such-plugin'; skipped",
            "configurations[0].arguments: unknown argument 'shinyNewKnob' for 'allocate'; ignored",
        ])
        assert "unknown plugin 'no-such-plugin'; skipped" in srv.log()  # and logged
        # an invalid edit is refused and reported; the lenient configuration stays in force
        replace_conf(kc, 'actions: "enqueue, allocate, no-such-action"\n')
        invalid = wait_until(lambda: event_messages(kc, "InvalidConfiguration"), what="InvalidConfiguration")
        assert len(invalid) == 1 and invalid[0].startswith("actions: unknown action 'no-such-action'; known: ")
        assert srv.proc.poll() is None
    finally:
        srv.stop()


def test_an_invalid_scheduler_config_file_stops_suanli_up_with_a_message_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.conf"
    bad.write_text('actions: "enqueue, allocate"\ntiers:\n- plugins:\n  - name: gang\n    enableJobOrder: maybe\n')
    proc = subprocess.run([sys.executable, "-m", "suanli.cli.main", "up", "--port", "0", "--no-demo",
                           "--data-dir", str(tmp_path / "data"), "--kubeconfig", str(tmp_path / "kubeconfig"),
                           "--scheduler-config", str(bad)], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"error: --scheduler-config {bad}: "
                                   "tiers[0].plugins[0].enableJobOrder: must be true or false, got 'maybe'")
