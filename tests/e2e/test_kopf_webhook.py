"""kopf runs an operator with a validating webhook against `suanli up`; the official Python client
sees the webhook's verdict (AdmissionReview v1 over HTTPS, caBundle from kopf's configuration)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from suanli.apiserver.tls import ensure_tls_material
from tests.conftest import Server
from tests.e2e._helpers import make_namespace, wait_until

pytestmark = pytest.mark.e2e

OPERATOR = Path(__file__).parent / "kopf_operator" / "webhook_operator.py"
CONFIG = "suanli-e2e.kopf.dev"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def core(server: Server) -> client.CoreV1Api:
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(server.kubeconfig), client_configuration=cfg)
    return client.CoreV1Api(client.ApiClient(cfg))


@pytest.fixture(scope="module")
def operator(server: Server, core: client.CoreV1Api, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("kopf-webhook")
    ensure_tls_material(base, [])
    ns = make_namespace(server, "kopf-webhook")
    env = dict(os.environ, KUBECONFIG=str(server.kubeconfig), PYTHONUNBUFFERED="1",
               WEBHOOK_PORT=str(_free_port()), WEBHOOK_TLS=str(base / "tls"))
    log_path = base / "kopf.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "kopf"), "run", "--standalone", "-A",
                                 "--verbose", str(OPERATOR)], stdout=log, stderr=subprocess.STDOUT, env=env)
    admission = client.AdmissionregistrationV1Api(core.api_client)

    def registered() -> bool:
        try:
            cfg = admission.read_validating_webhook_configuration(CONFIG)
        except ApiException:
            return False
        return bool(cfg.webhooks)

    try:
        wait_until(registered, timeout=60, what="kopf to register its webhook configuration")
        yield ns
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        admission.delete_validating_webhook_configuration(CONFIG, _preload_content=False)
    text = log_path.read_text(errors="replace")
    assert "Traceback" not in text, text[-5000:]


def cm(name: str, data: dict[str, str], labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": data}


def test_webhook_configuration_as_kopf_registered_it(core: client.CoreV1Api, operator: str) -> None:
    cfg = client.AdmissionregistrationV1Api(core.api_client).read_validating_webhook_configuration(CONFIG)
    hook = cfg.webhooks[0]
    assert hook.client_config.url.startswith("https://127.0.0.1:")
    assert hook.client_config.ca_bundle
    assert hook.failure_policy in ("Fail", "Ignore") and hook.timeout_seconds


def test_webhook_rejects_guarded_configmaps(core: client.CoreV1Api, operator: str) -> None:
    with pytest.raises(ApiException) as info:
        core.create_namespaced_config_map(operator, cm("bad", {"forbidden": "x"}, {"guard": "on"}))
    assert info.value.status == 422
    assert "denied the request: the forbidden key is not allowed" in info.value.body


@pytest.mark.parametrize(
    ("data", "labels"),
    [pytest.param({"fine": "x"}, {"guard": "on"}, id="allowed-by-the-handler"),
     pytest.param({"forbidden": "x"}, {"guard": "off"}, id="not-selected-by-the-handler")],
)
def test_webhook_admits_other_configmaps(core: client.CoreV1Api, operator: str, data: dict[str, str],
                                         labels: dict[str, str]) -> None:
    name = f"ok-{labels['guard']}-{next(iter(data))}"
    created = core.create_namespaced_config_map(operator, cm(name, data, labels))
    assert created.metadata.name == name
