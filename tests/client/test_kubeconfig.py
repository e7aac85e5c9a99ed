"""Kubeconfig write / merge / load, including $KUBECONFIG and ~/.kube/config resolution."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from suanli.client.kubeconfig import (
    KubeConfigError,
    load_incluster_config,
    load_kubeconfig,
    write_kubeconfig,
)

CA = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def read(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict)
    return doc


def test_write_then_load_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "config"
    write_kubeconfig(path, server="https://127.0.0.1:6443", ca_pem=CA, token="abc")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = read(path)
    assert doc["current-context"] == "suanli"
    assert doc["clusters"] == [{"name": "suanli", "cluster": {
        "server": "https://127.0.0.1:6443", "certificate-authority-data": base64.b64encode(CA).decode()}}]
    assert doc["users"] == [{"name": "suanli", "user": {"token": "abc"}}]
    cfg = load_kubeconfig(path)
    assert (cfg.server, cfg.ca_data, cfg.token, cfg.namespace, cfg.context) == (
        "https://127.0.0.1:6443", CA, "abc", "default", "suanli")
    assert not cfg.insecure_skip_tls_verify


def test_write_merges_into_existing_config(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "prod",
        "clusters": [{"name": "prod", "cluster": {"server": "https://prod:6443"}},
                     {"name": "suanli", "cluster": {"server": "https://stale:1"}}],
        "users": [{"name": "prod", "user": {"token": "p"}}],
        "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "prod", "namespace": "ops"}}],
    }))
    write_kubeconfig(path, server="https://127.0.0.1:7443", ca_pem=None, token="new")
    doc = read(path)
    assert [c["name"] for c in doc["clusters"]] == ["prod", "suanli"]
    assert [u["name"] for u in doc["users"]] == ["prod", "suanli"]
    assert [c["name"] for c in doc["contexts"]] == ["prod", "suanli"]
    assert doc["current-context"] == "suanli"
    assert load_kubeconfig(path).server == "https://127.0.0.1:7443"
    prod = load_kubeconfig(path, context="prod")
    assert (prod.server, prod.token, prod.namespace) == ("https://prod:6443", "p", "ops")


def test_insecure_writes_skip_verify_and_no_ca(tmp_path: Path) -> None:
    path = tmp_path / "config"
    write_kubeconfig(path, server="https://h:1", ca_pem=CA, token=None, insecure=True, context="dev")
    cfg = load_kubeconfig(path)
    assert (cfg.context, cfg.insecure_skip_tls_verify, cfg.ca_data, cfg.token) == ("dev", True, None, None)


def test_relative_files_resolve_against_the_kubeconfig(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.crt").write_bytes(CA)
    (tmp_path / "tok").write_text("from-file\n")
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump({
        "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": "https://k:6443/",
                                               "certificate-authority": "certs/ca.crt"}}],
        "users": [{"name": "u", "user": {"tokenFile": "tok", "client-certificate": "certs/c.crt",
                                         "client-key-data": base64.b64encode(b"KEY").decode()}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
    }))
    cfg = load_kubeconfig(path)
    assert cfg.server == "https://k:6443"
    assert cfg.ca_file == str(tmp_path / "certs" / "ca.crt")
    assert cfg.ca_pem() == CA
    assert cfg.bearer_token() == "from-file"
    assert cfg.client_cert_file == str(tmp_path / "certs" / "c.crt")
    assert cfg.client_key_data == b"KEY"


@pytest.mark.parametrize("entries", [["missing", "second"], ["second", "third"]],
                         ids=["skips-missing-entries", "first-existing-wins"])
def test_kubeconfig_env_uses_first_existing_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  entries: list[str]) -> None:
    write_kubeconfig(tmp_path / "second", server="https://second:1", ca_pem=None, token=None)
    write_kubeconfig(tmp_path / "third", server="https://third:1", ca_pem=None, token=None)
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join(str(tmp_path / e) for e in entries))
    assert load_kubeconfig().server == "https://second:1"


def test_falls_back_to_home_kube_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "nope"))
    monkeypatch.setenv("HOME", str(tmp_path))
    write_kubeconfig(tmp_path / ".kube" / "config", server="https://home:1", ca_pem=None, token=None)
    assert load_kubeconfig().server == "https://home:1"


@pytest.mark.parametrize(("doc", "context", "match"), [
    (None, None, "not found"),
    ({"contexts": []}, None, "no context"),
    ({"current-context": "x", "contexts": []}, None, "no context named 'x'"),
    ({"current-context": "x", "contexts": [{"name": "x", "context": {"cluster": "k"}}],
      "clusters": [{"name": "k", "cluster": {}}]}, None, "has no server"),
    ({"current-context": "x", "contexts": [{"name": "x", "context": {"cluster": "k"}}],
      "clusters": [{"name": "k", "cluster": {"server": "https://k"}}]}, "y", "no context named 'y'"),
], ids=["missing-file", "no-current-context", "unknown-current-context", "cluster-without-server",
        "unknown-explicit-context"])
def test_bad_kubeconfigs_raise(tmp_path: Path, doc: Any, context: str | None, match: str) -> None:
    path = tmp_path / "config"
    if doc is not None:
        path.write_text(yaml.safe_dump(doc))
    with pytest.raises(KubeConfigError, match=match):
        load_kubeconfig(path, context)


def test_incluster_config_reads_service_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "namespace").write_text("team-a")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    cfg = load_incluster_config(tmp_path)
    assert (cfg.server, cfg.namespace) == ("https://10.96.0.1:443", "team-a")
    assert cfg.ca_file == str(tmp_path / "ca.crt")
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    with pytest.raises(KubeConfigError):
        load_incluster_config(tmp_path)
