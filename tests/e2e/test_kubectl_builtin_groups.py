"""kubectl against the issue-10 built-in groups: storage classes and claims bound by the binder,
a drain blocked by a PodDisruptionBudget, printer columns, APIServices, extended-resource
validation, ReplicationControllers and EndpointSlices."""

from __future__ import annotations

import base64
import json

import pytest

from tests.conftest import Kubectl
from tests.e2e.conftest import K, manifest, unique, wait_until

pytestmark = pytest.mark.e2e


def containing(text: str, part: str) -> str | None:
    return text if part in text else None


def test_default_storage_class_is_listed_as_kubectl_shows_it(kubectl: Kubectl) -> None:
    out = wait_until(lambda: containing(kubectl("get", "storageclass"), "standard"), what="default StorageClass")
    header, row = out.splitlines()[0].split(), out.splitlines()[1].split()
    assert header[:5] == ["NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE", "ALLOWVOLUMEEXPANSION"]
    assert row[:5] == ["standard", "(default)", "suanli.io/local-path", "Delete", "WaitForFirstConsumer"]


@pytest.mark.parametrize("resource", ["storageclasses", "csinodes", "csidrivers", "csistoragecapacities",
                                      "volumeattachments", "persistentvolumes", "replicationcontrollers",
                                      "poddisruptionbudgets", "ingresses", "ingressclasses", "networkpolicies",
                                      "endpointslices", "runtimeclasses", "apiservices",
                                      "certificatesigningrequests", "validatingwebhookconfigurations",
                                      "mutatingwebhookconfigurations", "flowschemas",
                                      "prioritylevelconfigurations"])
def test_resource_is_served(kubectl: Kubectl, resource: str) -> None:
    proc = kubectl.run("get", resource, "-A", check=False)
    assert proc.returncode == 0, proc.stderr


def test_local_apiservices_are_listed(kubectl: Kubectl) -> None:
    out = wait_until(lambda: containing(kubectl("get", "apiservices"), "v1.storage.k8s.io"), what="APIServices")
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert rows["v1.apps"][1:3] == ["Local", "True"]
    assert "v1." in rows


def test_claim_gets_the_default_class_and_is_bound_where_its_pod_runs(k: K) -> None:
    k.apply({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    assert k("get", "pvc", "data", "-o", "jsonpath={.spec.storageClassName}") == "standard"
    assert k("get", "pvc", "data", "-o", "jsonpath={.status.phase}") == "Pending"
    k.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "user"},
             "spec": {"nodeName": "some-node", "containers": [{"name": "c", "image": "busybox"}],
                      "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]}})
    wait_until(lambda: k("get", "pvc", "data", "-o", "jsonpath={.status.phase}") == "Bound", what="claim bound")
    claim = k.json("pvc", "data")
    assert claim["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == "some-node"
    volume = claim["spec"]["volumeName"]
    out = k("get", "pv", volume)
    header, row = out.splitlines()[0].split(), out.splitlines()[1].split()
    assert header[:7] == ["NAME", "CAPACITY", "ACCESS", "MODES", "RECLAIM", "POLICY", "STATUS"]
    assert row[1:6] == ["1Gi", "RWO", "Delete", "Bound", f"{k.ns}/data"]


def test_drain_is_blocked_by_a_disruption_budget(k: K, kubectl: Kubectl) -> None:
    node = unique("drain")
    kubectl("apply", "-f", "-", input=manifest({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}}))
    try:
        for i in range(2):
            name = f"guarded-{i}"
            k.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "guarded"}},
                     "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]}})
            status = {"status": {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}
            k("patch", "pod", name, "--subresource=status", "--type=merge", "-p", json.dumps(status))
        k.apply({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "keep-both"},
                 "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "guarded"}}}})
        wait_until(lambda: k.json("pdb", "keep-both").get("status", {}).get("currentHealthy") == 2,
                   what="PDB status")
        out = k("get", "pdb", "keep-both")
        assert out.splitlines()[0].split() == ["NAME", "MIN", "AVAILABLE", "MAX", "UNAVAILABLE", "ALLOWED",
                                               "DISRUPTIONS", "AGE"]
        assert out.splitlines()[1].split()[1:4] == ["2", "N/A", "0"]
        proc = kubectl.run("drain", node, "--pod-selector=app=guarded", "--force", "--timeout=3s", check=False,
                           timeout=60)
        assert proc.returncode != 0
        assert "Cannot evict pod as it would violate the pod's disruption budget." in proc.stderr
        assert k.exists("pod", "guarded-0") and k.exists("pod", "guarded-1")
    finally:
        kubectl.run("delete", "node", node, "--wait=false", check=False)


def test_gpu_request_without_limit_is_rejected(k: K) -> None:
    proc = k.run("apply", "-f", "-", input=manifest({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "gpu"},
        "spec": {"containers": [{"name": "c", "image": "x", "resources": {"requests": {"nvidia.com/gpu": "1"}}}]}}))
    assert proc.returncode != 0
    assert "spec.containers[0].resources.limits: Required value: Limit must be set for non overcommitable " \
           "resources" in proc.stderr


def test_replication_controller_runs_its_pods(k: K) -> None:
    k.apply({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "rc"},
             "spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": "rc"}},
                                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
    wait_until(lambda: len(k.json("pods", "-l", "app=rc")["items"]) == 2, what="2 RC pods")
    k("scale", "rc", "rc", "--replicas=1")
    wait_until(lambda: len([p for p in k.json("pods", "-l", "app=rc")["items"]
                            if not p["metadata"].get("deletionTimestamp")]) == 1, what="scaled to 1")
    assert k("get", "rc", "rc").splitlines()[0].split()[:4] == ["NAME", "DESIRED", "CURRENT", "READY"]


def test_endpoint_slice_follows_the_service(k: K) -> None:
    k.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
             "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    k.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-0", "labels": {"app": "web"}},
             "spec": {"nodeName": "n", "containers": [{"name": "c", "image": "nginx"}]}})
    k("patch", "pod", "web-0", "--subresource=status", "--type=merge", "-p",
      json.dumps({"status": {"phase": "Running", "podIP": "10.9.0.7"}}))
    wait_until(lambda: "10.9.0.7" in k("get", "endpointslices", "-l", "kubernetes.io/service-name=web"),
               what="EndpointSlice with the pod IP")
    wait_until(lambda: "10.9.0.7" in k("get", "endpoints", "web", "-o", "json"), what="Endpoints")


def _csr_pem() -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    req = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "e2e-user")])).sign(key, hashes.SHA256())
    return base64.b64encode(req.public_bytes(serialization.Encoding.PEM)).decode()


def test_certificate_signing_request_is_approved_and_signed_by_the_cluster_ca(kubectl: Kubectl) -> None:
    name = unique("csr")
    kubectl("apply", "-f", "-", input=manifest({
        "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": {"name": name},
        "spec": {"request": _csr_pem(), "signerName": "kubernetes.io/kube-apiserver-client",
                 "usages": ["client auth"]}}))
    assert kubectl("get", "csr", name).splitlines()[1].split()[-1] == "Pending"
    kubectl("certificate", "approve", name)
    conditions = json.loads(kubectl("get", "csr", name, "-o", "json"))["status"]["conditions"]
    assert [(c["type"], c["status"]) for c in conditions] == [("Approved", "True")]
    # the csrsigning controller issues the certificate with the cluster CA
    wait_until(lambda: kubectl("get", "csr", name).splitlines()[1].split()[-1] == "Approved,Issued",
               what="certificate issued")
    from cryptography import x509

    pem = base64.b64decode(kubectl("get", "csr", name, "-o", "jsonpath={.status.certificate}"))
    cert = x509.load_pem_x509_certificate(pem)
    assert cert.subject.rfc4514_string() == "CN=e2e-user"
    ca = json.loads(kubectl("config", "view", "--raw", "-o", "json"))["clusters"][0]["cluster"]
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(base64.b64decode(ca["certificate-authority-data"])))
    kubectl("delete", "csr", name)
