"""Authentication end to end: the real kubectl 1.37 and the official Python client against `suanli up`.

One server runs with ``--token-auth-file`` and ``--authentication-token-webhook-config-file``
(a tiny real TokenReview webhook in this process). ``kubectl auth whoami`` names each kind of
user — admin token, token-file user, client certificate from ``suanli kubeconfig create``,
bound ServiceAccount token from ``kubectl create token``, legacy Secret token, webhook user —
and wrong, expired and foreign-CA credentials are refused.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kubernetes import client, config

from suanli.apiserver.tls import ensure_tls_material
from tests.conftest import REPO, Kubectl, Server, kubectl_binary, start_server
from tests.e2e.conftest import manifest, pod, wait_until

pytestmark = pytest.mark.e2e

TOKENS = 'alice-token,alice,uid-alice,"dev,ops"\nbob-token,bob,uid-bob\n'
WEBHOOK_USERS = {"hook-token": {"username": "hook-user", "uid": "h1", "groups": ["console-users"]}}


class Webhook:
    """A TokenReview webhook (the console-login hook): knows the tokens in WEBHOOK_USERS."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                user = WEBHOOK_USERS.get(review["spec"]["token"])
                status = {"authenticated": True, "user": user} if user else {"authenticated": False}
                body = json.dumps({**review, "status": status}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tokenreview"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


@pytest.fixture(scope="module")
def authn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Kubectl, Path]]:
    base = tmp_path_factory.mktemp("authn")
    (base / "tokens.csv").write_text(TOKENS)
    hook = Webhook()
    (base / "webhook.yaml").write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "clusters": [{"name": "hook", "cluster": {"server": hook.url}}],
        "users": [{"name": "api", "user": {}}], "contexts": [{"name": "c", "context": {"cluster": "hook",
                                                                                       "user": "api"}}],
        "current-context": "c"}))
    srv = start_server(base / "data", base / "kubeconfig", extra=[
        "--token-auth-file", str(base / "tokens.csv"),
        "--authentication-token-webhook-config-file", str(base / "webhook.yaml")])
    yield srv, Kubectl(kubectl_binary(), srv.kubeconfig), base
    srv.stop()
    hook.server.shutdown()
    hook.server.server_close()


def suanli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "suanli.cli.main", *args], capture_output=True, text=True,
                          cwd=str(REPO), timeout=60)


def user_kubeconfig(srv: Server, base: Path, user: str, *groups: str, expiry: str = "1h") -> Path:
    out = base / f"{user}.kubeconfig"
    proc = suanli("kubeconfig", "create", "--user", user, *[a for g in groups for a in ("--group", g)],
                  "--expiry", expiry, "--data-dir", str(srv.data_dir), "--kubeconfig", str(srv.kubeconfig),
                  "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


def whoami(kubectl: Kubectl, *args: str, kubeconfig: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {"KUBECONFIG": str(kubeconfig)} if kubeconfig else None
    return kubectl.run(*args, "auth", "whoami", "-o", "json", check=False, env=env)


def user_info(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout)["status"]["userInfo"])


@pytest.mark.parametrize(("args", "username", "groups"), [
    ((), "system:admin", ["system:masters", "system:authenticated"]),
    (("--token", "alice-token"), "alice", ["dev", "ops", "system:authenticated"]),
    (("--token", "bob-token"), "bob", ["system:authenticated"]),
    (("--token", "hook-token"), "hook-user", ["console-users", "system:authenticated"]),
], ids=["admin-token", "token-file-user-with-groups", "token-file-user", "webhook-user"])
def test_whoami_for_token_users(authn: tuple[Server, Kubectl, Path], args: tuple[str, ...], username: str,
                                groups: list[str]) -> None:
    _, kubectl, _ = authn
    info = user_info(whoami(kubectl, *args))
    assert (info["username"], info["groups"]) == (username, groups)


def test_whoami_for_a_certificate_user(authn: tuple[Server, Kubectl, Path]) -> None:
    srv, kubectl, base = authn
    kc = user_kubeconfig(srv, base, "carol", "team-a", "team-b")
    info = user_info(whoami(kubectl, kubeconfig=kc))
    assert (info["username"], info["groups"]) == ("carol", ["team-a", "team-b", "system:authenticated"])
    assert info["extra"]["authentication.kubernetes.io/credential-id"][0].startswith("X509SHA256=")
    # the certificate's O fields are groups RBAC binds to: team-b may read namespaces once bound
    denied = kubectl.run("get", "namespaces", "default", "-o", "name", env={"KUBECONFIG": str(kc)}, check=False)
    assert 'User "carol" cannot get resource "namespaces"' in denied.stderr
    kubectl("create", "clusterrole", "namespace-reader", "--verb", "get,list", "--resource", "namespaces")
    kubectl("create", "clusterrolebinding", "team-b-namespaces", "--clusterrole", "namespace-reader",
            "--group", "team-b")
    got = wait_until(lambda: kubectl.run("get", "namespaces", "default", "-o", "name", env={"KUBECONFIG": str(kc)},
                                         check=False).stdout.strip() or None, what="carol reading namespaces")
    assert got == "namespace/default"


def test_create_token_and_whoami_as_the_service_account(authn: tuple[Server, Kubectl, Path]) -> None:
    _, kubectl, _ = authn
    kubectl("create", "namespace", "authn-sa")
    kubectl("-n", "authn-sa", "create", "serviceaccount", "robot")
    kubectl("-n", "authn-sa", "apply", "-f", "-", input=manifest(pod("web")))
    pod_uid = kubectl("-n", "authn-sa", "get", "pod", "web", "-o", "jsonpath={.metadata.uid}")
    token = kubectl("-n", "authn-sa", "create", "token", "robot", "--bound-object-kind", "Pod",
                    "--bound-object-name", "web").strip()
    info = user_info(whoami(kubectl, "--token", token))
    assert info["username"] == "system:serviceaccount:authn-sa:robot"
    assert info["groups"] == ["system:serviceaccounts", "system:serviceaccounts:authn-sa", "system:authenticated"]
    assert info["extra"]["authentication.kubernetes.io/pod-name"] == ["web"]
    assert info["extra"]["authentication.kubernetes.io/pod-uid"] == [pod_uid]
    assert info["extra"]["authentication.kubernetes.io/credential-id"][0].startswith("JTI=")
    # the token dies with the object it is bound to
    kubectl("-n", "authn-sa", "delete", "pod", "web", "--grace-period=0", "--force", "--wait=false")
    wait_until(lambda: whoami(kubectl, "--token", token).returncode != 0, timeout=60,
               what="the pod-bound token to stop authenticating")
    assert "Unauthorized" in whoami(kubectl, "--token", token).stderr


def test_legacy_secret_token_authenticates(authn: tuple[Server, Kubectl, Path]) -> None:
    _, kubectl, _ = authn
    kubectl("create", "namespace", "authn-legacy")
    kubectl("-n", "authn-legacy", "create", "serviceaccount", "builder")
    kubectl("-n", "authn-legacy", "apply", "-f", "-", input=manifest({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
        "metadata": {"name": "builder-token", "annotations": {"kubernetes.io/service-account.name": "builder"}}}))
    encoded = wait_until(lambda: kubectl("-n", "authn-legacy", "get", "secret", "builder-token", "-o",
                                         "jsonpath={.data.token}"), timeout=60, what="the token controller")
    info = user_info(whoami(kubectl, "--token", base64.b64decode(encoded).decode()))
    assert info["username"] == "system:serviceaccount:authn-legacy:builder"


@pytest.mark.parametrize(("args", "message"), [
    (("--duration", "1m"), "may not specify a duration less than 10 minutes"),
    (("--bound-object-kind", "Pod", "--bound-object-name", "ghost"), 'pods "ghost" not found'),
], ids=["duration-below-minimum", "bound-object-missing"])
def test_create_token_refusals(authn: tuple[Server, Kubectl, Path], args: tuple[str, ...], message: str) -> None:
    _, kubectl, _ = authn
    kubectl.run("create", "namespace", "authn-refusals", check=False)
    kubectl.run("-n", "authn-refusals", "create", "serviceaccount", "robot", check=False)
    proc = kubectl.run("-n", "authn-refusals", "create", "token", "robot", *args, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr


@pytest.mark.parametrize("args", [("--token", "wrong"), ("--token", "alice-token-x")], ids=["unknown", "near-miss"])
def test_wrong_tokens_get_401(authn: tuple[Server, Kubectl, Path], args: tuple[str, ...]) -> None:
    _, kubectl, _ = authn
    proc = whoami(kubectl, *args)
    assert proc.returncode != 0
    assert "You must be logged in to the server (Unauthorized)" in proc.stderr


def test_expired_certificate_gets_401(authn: tuple[Server, Kubectl, Path]) -> None:
    srv, kubectl, base = authn
    kc = user_kubeconfig(srv, base, "shortlived", expiry="1s")
    proc = wait_until(lambda: (p := whoami(kubectl, kubeconfig=kc)).returncode != 0 and p, timeout=30,
                      what="the 1 s certificate to expire")
    assert "Unauthorized" in proc.stderr


def test_foreign_ca_certificate_is_refused(authn: tuple[Server, Kubectl, Path], tmp_path: Path) -> None:
    srv, kubectl, _ = authn
    ensure_tls_material(tmp_path / "other", [])
    forged = tmp_path / "forged.kubeconfig"
    proc = suanli("kubeconfig", "create", "--user", "mallory", "--group", "system:masters", "--data-dir",
                  str(tmp_path / "other"), "--server", srv.url, "--out", str(forged))
    assert proc.returncode == 0, proc.stderr
    doc = yaml.safe_load(forged.read_text())
    # trust the real server, present the certificate from the other CA
    real = yaml.safe_load(srv.kubeconfig.read_text())
    doc["clusters"][0]["cluster"]["certificate-authority-data"] = \
        real["clusters"][0]["cluster"]["certificate-authority-data"]
    forged.write_text(json.dumps(doc))
    result = whoami(kubectl, kubeconfig=forged)
    assert result.returncode != 0
    assert "mallory" not in result.stdout  # refused in the TLS handshake (see docs: deviation from upstream's 401)


def test_official_python_client_with_a_client_certificate(authn: tuple[Server, Kubectl, Path]) -> None:
    srv, kubectl, base = authn
    kc = user_kubeconfig(srv, base, "pyuser", "py-group")
    kubectl("create", "clusterrole", "py-namespace-reader", "--verb", "get,list", "--resource", "namespaces")
    kubectl("create", "clusterrolebinding", "py-group-namespaces", "--clusterrole", "py-namespace-reader",
            "--group", "py-group")
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(kc), client_configuration=cfg)
    with client.ApiClient(cfg) as api:
        review = client.AuthenticationV1Api(api).create_self_subject_review(
            client.V1SelfSubjectReview(api_version="authentication.k8s.io/v1", kind="SelfSubjectReview"))
        assert review.status.user_info.username == "pyuser"
        assert review.status.user_info.groups == ["py-group", "system:authenticated"]
        names = {ns.metadata.name for ns in client.CoreV1Api(api).list_namespace().items}
        assert "default" in names


def test_token_review_over_http(authn: tuple[Server, Kubectl, Path]) -> None:
    srv, kubectl, _ = authn
    kubectl.run("create", "namespace", "authn-review", check=False)
    kubectl.run("-n", "authn-review", "create", "serviceaccount", "robot", check=False)
    token = kubectl("-n", "authn-review", "create", "token", "robot", "--audience", "vault").strip()
    with httpx.Client(base_url=srv.url, verify=srv.ssl_context(),
                      headers={"Authorization": f"Bearer {srv.token()}"}) as c:
        r = c.post("/apis/authentication.k8s.io/v1/tokenreviews", json={
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
            "spec": {"token": token, "audiences": ["vault"]}})
        assert r.status_code == 201, r.text
        status = r.json()["status"]
        assert status["authenticated"] is True and status["audiences"] == ["vault"]
        assert status["user"]["username"] == "system:serviceaccount:authn-review:robot"
        jwks = c.get("/openid/v1/jwks").json()
        discovery = c.get("/.well-known/openid-configuration").json()
    assert jwks["keys"][0]["alg"] == "ES256"
    assert discovery["jwks_uri"].endswith("/openid/v1/jwks")
    # a token for "vault" is not accepted by the API server itself
    assert whoami(kubectl, "--token", token).returncode != 0


def test_no_anonymous_without_the_flag(authn: tuple[Server, Kubectl, Path]) -> None:
    srv, _, _ = authn
    with httpx.Client(base_url=srv.url, verify=srv.ssl_context()) as c:
        r = c.get("/api/v1/namespaces")
    assert r.status_code == 401
    assert r.json()["reason"] == "Unauthorized"


@pytest.mark.parametrize(("args", "message"), [
    (("--user", "x", "--data-dir", "/nonexistent/suanli", "--server", "https://127.0.0.1:1"), "ca.crt"),
    (("--user", "x", "--expiry", "soon", "--server", "https://127.0.0.1:1"), "invalid duration"),
    (("--user", "x", "--expiry", "0s", "--server", "https://127.0.0.1:1"), "expiry: Invalid value"),
], ids=["no-cluster-ca", "bad-expiry", "zero-expiry"])
def test_kubeconfig_create_rejects_bad_input(authn: tuple[Server, Kubectl, Path], tmp_path: Path,
                                             args: tuple[str, ...], message: str) -> None:
    srv, _, _ = authn
    full = [*args] if "--data-dir" in args else [*args, "--data-dir", str(srv.data_dir)]
    proc = suanli("kubeconfig", "create", *full, "--out", str(tmp_path / "out.kubeconfig"))
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and message in proc.stderr
    assert not (tmp_path / "out.kubeconfig").exists()


def test_malformed_token_file_stops_suanli_up(tmp_path: Path) -> None:
    (tmp_path / "tokens.csv").write_text("only-a-token\n")
    proc = suanli("up", "--port", "0", "--no-demo", "--data-dir", str(tmp_path / "data"), "--kubeconfig",
                  str(tmp_path / "kc"), "--token-auth-file", str(tmp_path / "tokens.csv"))
    assert proc.returncode == 2
    assert "must have at least 3 columns" in proc.stderr


def test_anonymous_only_with_the_flag(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data", tmp_path / "kubeconfig", extra=["--anonymous"])
    try:
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        with httpx.Client(base_url=srv.url, verify=srv.ssl_context()) as c:
            # as upstream, RBAC grants system:unauthenticated nothing beyond the public-info paths
            refused = c.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", json=review)
            admin = Kubectl(kubectl_binary(), srv.kubeconfig)
            admin("apply", "-f", "-", input=json.dumps({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": {"name": "anonymous-whoami"},
                "rules": [{"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"],
                           "verbs": ["create"]}]}))
            admin("create", "clusterrolebinding", "anonymous-whoami", "--clusterrole", "anonymous-whoami",
                  "--group", "system:unauthenticated")
            anonymous = wait_until(lambda: ((r := c.post("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                                        json=review)).status_code == 201 and r) or None,
                                   what="the anonymous SelfSubjectReview allowed")
            wrong = c.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", json=review,
                           headers={"Authorization": "Bearer wrong"})
    finally:
        srv.stop()
    assert refused.status_code == 403 and 'User \\"system:anonymous\\" cannot create' in refused.text, refused.text
    assert anonymous.json()["status"]["userInfo"] == {"username": "system:anonymous",
                                                      "groups": ["system:unauthenticated"]}
    assert wrong.status_code == 401  # a wrong credential is refused, not downgraded to anonymous
