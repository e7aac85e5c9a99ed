"""Through the real kubectl: update validation, ServiceAccount admission, PVC/PV protection."""

from __future__ import annotations

from tests.conftest import Kubectl
from tests.e2e.conftest import K, manifest, wait_until
from tests.e2e_controllers.conftest import NODES


def test_node_pod_cidr_cannot_change_once_set(kc: Kubectl) -> None:
    node = NODES[0]
    cidr = wait_until(lambda: kc("get", "node", node, "-o", "jsonpath={.spec.podCIDR}").strip(),
                      what="node IPAM assigned a podCIDR")
    proc = kc.run("patch", "node", node, "--type=merge", "-p",
                  '{"spec":{"podCIDR":"10.99.0.0/24","podCIDRs":["10.99.0.0/24"]}}', check=False)
    assert proc.returncode != 0
    assert (f'The Node "{node}" is invalid: spec.podCIDRs: Forbidden: node updates may not change podCIDR except '
            'from "" to valid') in proc.stderr
    assert kc("get", "node", node, "-o", "jsonpath={.spec.podCIDR}").strip() == cidr


def test_immutable_configmap_rejects_data_changes(k: K) -> None:
    k.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "frozen"}, "data": {"a": "1"},
             "immutable": True})
    proc = k.run("patch", "configmap", "frozen", "--type=merge", "-p", '{"data":{"a":"2"}}', check=False)
    assert proc.returncode != 0
    assert 'The ConfigMap "frozen" is invalid: data: Forbidden: field is immutable when `immutable` is set' \
        in proc.stderr


def _pod(name: str, **spec: object) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}


def test_pods_get_the_service_account_volume_and_missing_accounts_are_refused(k: K) -> None:
    wait_until(lambda: k.exists("serviceaccount", "default"), what="ServiceAccount default")
    k.apply(_pod("web", nodeName=NODES[0]))
    spec = k.json("pod", "web")["spec"]
    assert spec["serviceAccountName"] == "default"
    [vol] = [v for v in spec["volumes"] if v["name"].startswith("kube-api-access-")]
    assert [next(iter(s)) for s in vol["projected"]["sources"]] == ["serviceAccountToken", "configMap", "downwardAPI"]
    assert spec["containers"][0]["volumeMounts"] == [
        {"name": vol["name"], "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]
    proc = k.run("apply", "-f", "-", input=manifest(_pod("lost", serviceAccountName="nobody")), check=False)
    assert proc.returncode != 0
    assert (f'pods "lost" is forbidden: error looking up service account {k.ns}/nobody: serviceaccount "nobody" '
            "not found") in proc.stderr


def test_claim_in_use_waits_for_its_pod_before_it_is_removed(k: K) -> None:
    wait_until(lambda: k.exists("serviceaccount", "default"), what="ServiceAccount default")
    k.apply({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    assert k.json("pvc", "data")["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    k.apply(_pod("user", nodeName=NODES[0],
                 volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]))
    k("delete", "pvc", "data", "--wait=false")
    stuck = k.json("pvc", "data")
    assert stuck["metadata"]["deletionTimestamp"]
    assert "Terminating" in k("get", "pvc", "data")
    k("delete", "pod", "user", "--grace-period=0", "--force")
    wait_until(lambda: not k.exists("pvc", "data"), what="claim removed once its pod is gone")
