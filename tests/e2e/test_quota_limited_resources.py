"""ResourceQuota ``limitedResources`` end to end: ``suanli up --admission-control-config-file`` with the
kube-apiserver AdmissionConfiguration that makes NPUs consumable only under a covering quota, driven by
the real kubectl."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Kubectl, Server, kubectl_binary, start_server
from tests.e2e.conftest import manifest, wait_until
from tests.e2e.test_authn import suanli

pytestmark = pytest.mark.e2e

NPU = "huawei.com/Ascend910"
ADMISSION = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "AdmissionConfiguration", "plugins": [{
    "name": "ResourceQuota", "configuration": {
        "apiVersion": "apiserver.config.k8s.io/v1", "kind": "ResourceQuotaConfiguration",
        "limitedResources": [{"resource": "pods", "matchContains": [NPU]}]}}]}


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Kubectl]]:
    base = tmp_path_factory.mktemp("limited")
    (base / "admission.yaml").write_text(json.dumps(ADMISSION))
    srv = start_server(base / "data", base / "kubeconfig",
                       extra=["--admission-control-config-file", str(base / "admission.yaml")])
    yield srv, Kubectl(kubectl_binary(), srv.kubeconfig)
    srv.stop()


def npu_pod(name: str, npus: str = "1") -> str:
    res = {"limits": {NPU: npus}, "requests": {NPU: npus}} if npus else {}
    return manifest({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                     "spec": {"containers": [{"name": "main", "image": "x", "resources": res}]}})


def test_npus_need_a_covering_quota(limited: tuple[Server, Kubectl]) -> None:
    _, kubectl = limited
    kubectl("create", "namespace", "team-a")
    refused = kubectl.run("-n", "team-a", "apply", "-f", "-", input=npu_pod("trainer"), check=False)
    assert refused.returncode != 0
    assert (f'pods "trainer" is forbidden: insufficient quota to consume: requests.{NPU}') in refused.stderr
    # a pod without NPUs is not limited
    kubectl("-n", "team-a", "apply", "-f", "-", input=npu_pod("web", npus=""))
    kubectl("-n", "team-a", "create", "quota", "npus", f"--hard=requests.{NPU}=4")
    # admitted once the quota controller has synced the covering quota's status
    wait_until(lambda: kubectl.run("-n", "team-a", "apply", "-f", "-", input=npu_pod("trainer"),
                                   check=False).returncode == 0, what="the NPU pod admitted under the quota")
    used = json.loads(kubectl("-n", "team-a", "get", "quota", "npus", "-o", "json"))["status"]["used"]
    assert used == {f"requests.{NPU}": "1"}


def test_a_malformed_admission_configuration_stops_suanli_up(tmp_path: Path) -> None:
    bad = {**ADMISSION, "plugins": [{"name": "ResourceQuota", "configuration": {
        "apiVersion": "apiserver.config.k8s.io/v1", "kind": "ResourceQuotaConfiguration",
        "limitedResources": [{"matchContains": ["cpu"]}]}}]}
    (tmp_path / "admission.yaml").write_text(json.dumps(bad))
    proc = suanli("up", "--port", "0", "--no-demo", "--data-dir", str(tmp_path / "data"), "--kubeconfig",
                  str(tmp_path / "kc"), "--admission-control-config-file", str(tmp_path / "admission.yaml"))
    assert proc.returncode == 2
    assert "limitedResources[0].resource: Required value" in proc.stderr
