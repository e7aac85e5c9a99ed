"""`suanli up --only api`: the API server alone, with kube-apiserver's own start-up bootstrapping.

No controllers, scheduler, node agents or demo pool run (even without ``--no-demo``), so a stored
Deployment never gets a ReplicaSet and there are no nodes; what kube-apiserver itself creates at
start-up (system namespaces, system PriorityClasses, local APIServices) is present.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Kubectl, Server, kubectl_binary, start_server
from tests.e2e.conftest import deployment, manifest, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def api_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Kubectl]]:
    base = tmp_path_factory.mktemp("only-api")
    srv = start_server(base / "data", base / "kubeconfig", extra=["--only", "api"], demo=True)
    yield srv, Kubectl(kubectl_binary(), srv.kubeconfig)
    srv.stop()


def _names(kubectl: Kubectl, *args: str) -> set[str]:
    items = json.loads(kubectl("get", *args, "-o", "json"))["items"]
    return {str(i["metadata"]["name"]) for i in items}


@pytest.mark.parametrize(("resource", "expected"), [
    ("namespaces", {"default", "kube-system", "kube-public", "kube-node-lease"}),
    ("priorityclasses", {"system-cluster-critical", "system-node-critical"}),
], ids=["system-namespaces", "system-priorityclasses"])
def test_only_api_keeps_apiserver_bootstrap_objects(api_only: tuple[Server, Kubectl], resource: str,
                                                    expected: set[str]) -> None:
    _, kubectl = api_only
    assert expected <= _names(kubectl, resource)


def test_only_api_registers_local_apiservices(api_only: tuple[Server, Kubectl]) -> None:
    _, kubectl = api_only
    wanted = {"v1.", "v1.apps", "v1.storage.k8s.io", "v1.policy", "v1.coordination.k8s.io"}
    wait_until(lambda: wanted <= _names(kubectl, "apiservices"), what="local APIServices registered")


def test_only_api_runs_no_controllers_nodes_or_demo_pool(api_only: tuple[Server, Kubectl]) -> None:
    server, kubectl = api_only
    kubectl("create", "namespace", "only-api")
    kubectl("apply", "-n", "only-api", "-f", "-", input=manifest(deployment("web", replicas=2)))
    # The local APIService registrar (one of the loops --only api keeps) has finished a pass, so any
    # controller started alongside it has had the same time to act on what existed at start-up.
    wait_until(lambda: "v1.apps" in _names(kubectl, "apiservices"), what="APIService registrar pass")
    stored = json.loads(kubectl("get", "-n", "only-api", "deployment", "web", "-o", "json"))
    assert stored["spec"]["replicas"] == 2
    assert "observedGeneration" not in (stored.get("status") or {})  # no Deployment controller
    assert _names(kubectl, "replicasets", "-n", "only-api") == set()
    assert _names(kubectl, "pods", "-n", "only-api") == set()
    assert _names(kubectl, "nodes") == set()  # no demo pool, no host node, no agents
    assert _names(kubectl, "serviceaccounts", "-n", "default") == set()  # no ServiceAccounts controller
    assert _names(kubectl, "queues.scheduling.volcano.sh") == set()  # no Volcano bootstrap
    assert "Suanli" in server.log() and Path(server.kubeconfig).exists()


@pytest.mark.parametrize("resource", [
    "resourceclaims.resource.k8s.io", "resourceclaimtemplates.resource.k8s.io", "resourceslices.resource.k8s.io",
    "deviceclasses.resource.k8s.io", "volumeattributesclasses.storage.k8s.io", "servicecidrs.networking.k8s.io",
    "ipaddresses.networking.k8s.io", "devicetaintrules.resource.k8s.io",
    "validatingadmissionpolicies.admissionregistration.k8s.io",
    "validatingadmissionpolicybindings.admissionregistration.k8s.io",
])
def test_kinds_the_real_components_watch_are_served(api_only: tuple[Server, Kubectl], resource: str) -> None:
    _, kubectl = api_only
    proc = kubectl.run("get", resource, "-A", check=False)
    assert proc.returncode == 0, proc.stderr


def test_resource_claim_round_trips_and_slices_select_by_node(api_only: tuple[Server, Kubectl]) -> None:
    _, kubectl = api_only
    kubectl("create", "namespace", "dra")
    claim = {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim", "metadata": {"name": "gpu"},
             "spec": {"devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": "gpu.example.com"}}]}}}
    slices = [{"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice", "metadata": {"name": f"s-{node}"},
               "spec": {"driver": "gpu.example.com", "nodeName": node,
                        "pool": {"name": node, "generation": 1, "resourceSliceCount": 1}}}
              for node in ("n1", "n2")]
    kubectl("apply", "-n", "dra", "-f", "-", input=manifest(claim))
    kubectl("apply", "-f", "-", input=manifest(*slices))
    stored = json.loads(kubectl("get", "-n", "dra", "resourceclaim", "gpu", "-o", "json"))
    assert stored["spec"]["devices"]["requests"][0]["exactly"]["deviceClassName"] == "gpu.example.com"
    assert _names(kubectl, "resourceslices", "--field-selector", "spec.nodeName=n2") == {"s-n2"}


_META_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
_META_OBJ = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"


def test_metadata_client_gets_partial_object_metadata(api_only: tuple[Server, Kubectl]) -> None:
    """client-go's metadata client (kube-controller-manager's garbage collector) on list, get and watch."""
    server, kubectl = api_only
    kubectl("create", "namespace", "meta")
    kubectl("create", "configmap", "c1", "-n", "meta", "--from-literal=k=v")
    base = f"{server.url}/api/v1/namespaces/meta/configmaps"
    with httpx.Client(verify=server.ssl_context(), headers={"Authorization": f"Bearer {server.token()}"}) as http:
        listed = http.get(base, headers={"Accept": _META_LIST}).json()
        got = http.get(f"{base}/c1", headers={"Accept": _META_OBJ}).json()
        with http.stream("GET", base, params={"watch": "1", "timeoutSeconds": "1", "allowWatchBookmarks": "true"},
                         headers={"Accept": _META_OBJ}) as resp:
            events = [json.loads(line) for line in resp.iter_lines() if line]
    assert listed["kind"] == "PartialObjectMetadataList" and listed["apiVersion"] == "meta.k8s.io/v1"
    assert [(i["kind"], i["metadata"]["name"]) for i in listed["items"]] == [("PartialObjectMetadata", "c1")]
    assert "data" not in listed["items"][0]
    assert got["kind"] == "PartialObjectMetadata" and got["metadata"]["name"] == "c1" and "data" not in got
    added = [e for e in events if e["type"] == "ADDED"]
    assert [e["object"]["metadata"]["name"] for e in added] == ["c1"]
    assert all(e["object"]["kind"] == "PartialObjectMetadata" and "data" not in e["object"] for e in events)


def test_only_api_creates_the_legacy_token_tracking_configmap(api_only: tuple[Server, Kubectl]) -> None:
    _, kubectl = api_only
    name = "kube-apiserver-legacy-service-account-token-tracking"
    wait_until(lambda: name in _names(kubectl, "configmaps", "-n", "kube-system"), what="tracking ConfigMap")
    since = kubectl("get", "configmap", "-n", "kube-system", name, "-o", "jsonpath={.data.since}")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", since.strip())


def test_only_api_bootstraps_priority_and_fairness_objects(api_only: tuple[Server, Kubectl]) -> None:
    _, kubectl = api_only

    def rows() -> dict[str, list[str]]:
        out = kubectl("get", "flowschemas", "--no-headers")
        return {line.split()[0]: line.split()[1:] for line in out.splitlines()}

    table = wait_until(lambda: (r := rows()) and len(r) == 13 and r["exempt"][-1] == "False" and r,
                       what="13 FlowSchemas with their Dangling status")
    assert table["catch-all"][:3] == ["catch-all", "10000", "ByUser"]
    assert table["probes"][:3] == ["exempt", "2", "<none>"]
    assert _names(kubectl, "prioritylevelconfigurations") == {
        "exempt", "catch-all", "system", "node-high", "leader-election", "workload-high", "workload-low",
        "global-default"}
