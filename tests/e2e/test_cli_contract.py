"""The `suanli` command-line contract: version, kubeconfig, readiness, auth, clean shutdown, restart."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from suanli import __version__
from tests.conftest import start_server

pytestmark = pytest.mark.e2e


def test_version_prints_the_package_version() -> None:
    out = subprocess.run([sys.executable, "-m", "suanli.cli.main", "version"], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == f"suanli {__version__}"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_up_writes_kubeconfig_serves_https_with_token_and_exits_cleanly_on(tmp_path: Path, sig: int) -> None:
    server = start_server(tmp_path / "data", tmp_path / "kube" / "config")
    try:
        cfg = yaml.safe_load(server.kubeconfig.read_text())
        assert cfg["current-context"] == "suanli"
        cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == "suanli")
        assert cluster["server"] == server.url and cluster["server"].startswith("https://127.0.0.1:")
        assert cluster["certificate-authority-data"]
        user = next(u["user"] for u in cfg["users"] if u["name"] == "suanli")
        assert user["token"] == server.token()
        ctx = server.ssl_context()
        with httpx.Client(verify=ctx) as http:
            assert http.get(f"{server.url}/readyz").text == "ok"
            denied = http.get(f"{server.url}/api/v1/namespaces")
            assert denied.status_code == 401
            assert denied.json()["kind"] == "Status" and denied.json()["code"] == 401
            ok = http.get(f"{server.url}/api/v1/namespaces",
                          headers={"Authorization": f"Bearer {server.token()}"})
            assert ok.status_code == 200
            assert {"default", "kube-system"} <= {n["metadata"]["name"] for n in ok.json()["items"]}
        log = server.log()
        assert str(server.kubeconfig) in log and "kubectl" in log
    finally:
        code = server.stop(sig)
    assert code == 0


def test_insecure_http_with_anonymous_access_needs_no_token(tmp_path: Path) -> None:
    # anonymous users hold nothing under RBAC (as upstream): full anonymous access is AlwaysAllow's
    server = start_server(tmp_path / "data", tmp_path / "kubeconfig",
                          extra=["--insecure-http", "--anonymous", "--authorization-mode", "AlwaysAllow"])
    try:
        assert server.url.startswith("http://")
        resp = httpx.get(f"{server.url}/api/v1/namespaces/default")
        assert resp.status_code == 200 and resp.json()["metadata"]["name"] == "default"
    finally:
        assert server.stop() == 0


def test_restart_on_same_data_dir_restores_objects_and_continues_revisions(tmp_path: Path) -> None:
    data, kubeconfig = tmp_path / "data", tmp_path / "kubeconfig"
    server = start_server(data, kubeconfig)
    headers = {"Authorization": f"Bearer {server.token()}"}
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "keep"}, "data": {"a": "1"}}
    with httpx.Client(verify=server.ssl_context(), headers=headers) as http:
        created = http.post(f"{server.url}/api/v1/namespaces/default/configmaps", json=cm).json()
    rv = int(created["metadata"]["resourceVersion"])
    assert server.stop() == 0
    server = start_server(data, kubeconfig, port=server.port)
    try:
        with httpx.Client(verify=server.ssl_context(), headers=headers) as http:
            got = http.get(f"{server.url}/api/v1/namespaces/default/configmaps/keep").json()
            assert got["data"] == {"a": "1"} and got["metadata"]["uid"] == created["metadata"]["uid"]
            cm2 = {**cm, "metadata": {"name": "after"}}
            after = http.post(f"{server.url}/api/v1/namespaces/default/configmaps", json=cm2).json()
        assert int(after["metadata"]["resourceVersion"]) > rv
    finally:
        assert server.stop() == 0
