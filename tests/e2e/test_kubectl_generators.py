"""kubectl's typed generator commands (`create <kind>`, `run`, `expose`).

kubectl 1.37 sends these request bodies as protobuf (`application/vnd.kubernetes.protobuf`), so
these tests exercise the server's protobuf decoding of built-in kinds.
"""

from __future__ import annotations

import base64
import json

import pytest

from tests.conftest import Kubectl
from tests.e2e.conftest import K, unique

pytestmark = pytest.mark.e2e


def test_create_deployment_generator(k: K) -> None:
    out = k("create", "deployment", "web", "--image=nginx:1.27", "--replicas=2", "--port=80")
    assert out.strip() == "deployment.apps/web created"
    dep = k.json("deployment", "web")
    assert dep["spec"]["replicas"] == 2
    assert dep["spec"]["selector"]["matchLabels"] == {"app": "web"}
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.27" and container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]


def test_create_configmap_from_literals(k: K) -> None:
    out = k("create", "configmap", "cfg", "--from-literal=a=1", "--from-literal=b=two words")
    assert out.strip() == "configmap/cfg created"
    assert k.json("configmap", "cfg")["data"] == {"a": "1", "b": "two words"}


def test_create_secret_generic_stores_base64(k: K) -> None:
    out = k("create", "secret", "generic", "creds", "--from-literal=user=admin", "--from-literal=pass=s3cr=t")
    assert out.strip() == "secret/creds created"
    secret = k.json("secret", "creds")
    assert secret["type"] == "Opaque"
    assert {key: base64.b64decode(v).decode() for key, v in secret["data"].items()} == {
        "user": "admin",
        "pass": "s3cr=t",
    }


def test_create_namespace_generator(kubectl: Kubectl) -> None:
    name = unique("e2e-gen-ns")
    try:
        assert kubectl("create", "namespace", name).strip() == f"namespace/{name} created"
        ns = json.loads(kubectl("get", "namespace", name, "-o", "json"))
        assert ns["status"]["phase"] == "Active"
    finally:
        kubectl.run("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


def test_create_job_generator(k: K) -> None:
    out = k("create", "job", "once", "--image=busybox:1.36", "--", "echo", "hello")
    assert out.strip() == "job.batch/once created"
    container = k.json("job", "once")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "busybox:1.36" and container["command"] == ["echo", "hello"]


def test_run_creates_a_pod_with_labels_and_env(k: K) -> None:
    out = k("run", "solo", "--image=nginx:1.27", "--labels=app=solo,tier=web", "--env=MODE=fast", "--port=8080")
    assert out.strip() == "pod/solo created"
    pod = k.json("pod", "solo")
    assert pod["metadata"]["labels"] == {"app": "solo", "tier": "web"}
    container = pod["spec"]["containers"][0]
    assert container["image"] == "nginx:1.27" and container["env"] == [{"name": "MODE", "value": "fast"}]
    assert container["ports"][0]["containerPort"] == 8080


def test_run_dry_run_server_does_not_persist(k: K) -> None:
    out = k("run", "ghost", "--image=nginx:1.27", "--dry-run=server", "-o", "json")
    assert json.loads(out)["metadata"]["name"] == "ghost"
    assert not k.exists("pod", "ghost")


def test_expose_deployment_creates_service(k: K) -> None:
    k("create", "deployment", "web", "--image=nginx:1.27", "--port=80")
    assert k("expose", "deployment", "web", "--port=8080", "--target-port=80").strip() == "service/web exposed"
    svc = k.json("service", "web")
    assert svc["spec"]["selector"] == {"app": "web"}
    assert svc["spec"]["ports"][0]["port"] == 8080 and svc["spec"]["ports"][0]["targetPort"] == 80
