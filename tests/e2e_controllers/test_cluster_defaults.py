"""Per-namespace defaults and built-in PriorityClasses through the real kubectl."""

from __future__ import annotations

import base64

from tests.conftest import Kubectl, Server
from tests.e2e.conftest import K, wait_until


def test_new_namespace_gets_default_service_account_and_root_ca(k: K, ctl_server: Server) -> None:
    wait_until(lambda: k.exists("serviceaccount", "default"), what="ServiceAccount default")
    wait_until(lambda: k.exists("configmap", "kube-root-ca.crt"), what="ConfigMap kube-root-ca.crt")
    ca = k("get", "configmap", "kube-root-ca.crt", "-o", "jsonpath={.data.ca\\.crt}")
    assert ca.strip() == (ctl_server.data_dir / "tls" / "ca.crt").read_text().strip()
    k("delete", "serviceaccount", "default")
    wait_until(lambda: k.exists("serviceaccount", "default"), what="ServiceAccount default recreated")


def test_system_priority_classes_are_listed_and_cannot_be_deleted(kc: Kubectl) -> None:
    out = kc("get", "priorityclasses", "-o", "custom-columns=NAME:.metadata.name,VALUE:.value", "--no-headers")
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()}
    assert rows["system-node-critical"] == "2000001000"
    assert rows["system-cluster-critical"] == "2000000000"
    proc = kc.run("delete", "priorityclass", "system-node-critical", check=False)
    assert proc.returncode != 0
    assert "this is a system priority class and cannot be deleted" in proc.stderr
    proc = kc.run("create", "priorityclass", "system-mine", "--value=5", check=False)
    assert proc.returncode != 0 and "metadata.name" in proc.stderr


def test_service_account_token_secret_is_filled_and_authenticates(k: K, kc: Kubectl) -> None:
    k("create", "serviceaccount", "robot")
    k.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {
        "name": "robot-token", "annotations": {"kubernetes.io/service-account.name": "robot"}},
        "type": "kubernetes.io/service-account-token"})
    secret = wait_until(lambda: (s := k.json("secret", "robot-token")).get("data", {}).get("token") and s,
                        what="the token controller to fill the secret")
    assert base64.b64decode(secret["data"]["namespace"]).decode() == k.ns
    uid = k.json("serviceaccount", "robot")["metadata"]["uid"]
    assert secret["metadata"]["annotations"]["kubernetes.io/service-account.uid"] == uid
    token = base64.b64decode(secret["data"]["token"]).decode()
    # under RBAC the account may only do what it is granted (upstream gives it nothing)
    assert "(Forbidden)" in k.run("get", "pods", "--token", token, check=False).stderr
    k("create", "role", "pod-lister", "--verb", "list", "--resource", "pods")
    k("create", "rolebinding", "robot-lists", "--role", "pod-lister", "--serviceaccount", f"{k.ns}:robot")
    assert k.run("get", "pods", "--token", token).returncode == 0
    k("delete", "secret", "robot-token")
    # revoked within the API server's token success cache TTL (10 s, as kube-apiserver)
    denied = wait_until(lambda: (d := k.run("get", "pods", "--token", token, check=False)).returncode != 0 and d,
                        timeout=40, what="the deleted secret's token to stop authenticating")
    assert "Unauthorized" in denied.stderr
