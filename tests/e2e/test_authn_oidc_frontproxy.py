"""OIDC and front-proxy authentication end to end: a real local HTTPS OpenID issuer, the real kubectl
with a token kubeconfig (``kubectl auth whoami``), and a front proxy's client certificate over HTTPS.

One ``suanli up`` runs with kube-apiserver's ``--oidc-*`` and ``--requestheader-*`` flags.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from suanli.apiserver.tls import ensure_tls_material, issue_client_certificate, load_ca
from tests.conftest import Kubectl, Server, kubectl_binary, start_server
from tests.e2e.test_authn import suanli, user_info, whoami
from tests.oidc_issuer import Issuer

pytestmark = pytest.mark.e2e

World = tuple[Server, Kubectl, Issuer, Path]
REVIEW = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("oidc-e2e")
    issuer = Issuer(base / "issuer")
    ensure_tls_material(base / "proxy", [])
    srv = start_server(base / "data", base / "kubeconfig", extra=[
        "--oidc-issuer-url", issuer.url, "--oidc-client-id", "suanli-console", "--oidc-ca-file",
        str(issuer.ca_file), "--oidc-username-claim", "email", "--oidc-groups-claim", "groups",
        "--oidc-groups-prefix", "oidc:", "--oidc-required-claim", "tenant=acme",
        "--requestheader-client-ca-file", str(base / "proxy" / "tls" / "ca.crt"),
        "--requestheader-allowed-names", "front-proxy-client",
        "--requestheader-username-headers", "X-Remote-User", "--requestheader-uid-headers", "X-Remote-Uid",
        "--requestheader-group-headers", "X-Remote-Group", "--requestheader-extra-headers-prefix", "X-Remote-Extra-"])
    yield srv, Kubectl(kubectl_binary(), srv.kubeconfig), issuer, base
    srv.stop()
    issuer.stop()


def token_kubeconfig(srv: Server, path: Path, token: str) -> Path:
    doc = yaml.safe_load(srv.kubeconfig.read_text())
    doc["users"] = [{"name": "oidc", "user": {"token": token}}]
    doc["contexts"][0]["context"]["user"] = "oidc"
    path.write_text(json.dumps(doc))
    return path


def id_token(issuer: Issuer, **claims: Any) -> str:
    return issuer.sign({"iss": issuer.url, "aud": "suanli-console", "exp": int(time.time()) + 600,
                        "tenant": "acme", **claims})


def test_whoami_with_an_oidc_id_token(world: World, tmp_path: Path) -> None:
    srv, kubectl, issuer, _ = world
    kc = token_kubeconfig(srv, tmp_path / "kc", id_token(issuer, email="jane@acme.io", email_verified=True,
                                                          groups=["ml-team", "viewers"]))
    info = user_info(whoami(kubectl, kubeconfig=kc))
    assert (info["username"], info["groups"]) == ("jane@acme.io", ["oidc:ml-team", "oidc:viewers",
                                                                  "system:authenticated"])


def test_oidc_key_rotation_is_picked_up(world: World, tmp_path: Path) -> None:
    srv, kubectl, issuer, _ = world
    issuer.rotate(f"rotated-{time.monotonic_ns()}")
    kc = token_kubeconfig(srv, tmp_path / "kc", id_token(issuer, email="rot@acme.io"))
    info = user_info(whoami(kubectl, kubeconfig=kc))
    assert info["username"] == "rot@acme.io"


@pytest.mark.parametrize("claims", [
    {"email": "jane@acme.io", "email_verified": False},
    {"email": "jane@acme.io", "tenant": "other"},
    {"email": "jane@acme.io", "aud": "someone-else"},
    {"email": "jane@acme.io", "exp": 1},
], ids=["email-not-verified", "required-claim-mismatch", "wrong-audience", "expired"])
def test_invalid_oidc_tokens_get_401(world: World, tmp_path: Path, claims: dict[str, Any]) -> None:
    srv, kubectl, issuer, _ = world
    proc = whoami(kubectl, kubeconfig=token_kubeconfig(srv, tmp_path / "kc", id_token(issuer, **claims)))
    assert proc.returncode != 0
    assert "Unauthorized" in proc.stderr


def _client(srv: Server, tmp_path: Path, ca_dir: Path, cn: str) -> httpx.Client:
    cert, key = issue_client_certificate(load_ca(ca_dir), cn)
    (tmp_path / "c.pem").write_bytes(cert)
    (tmp_path / "k.pem").write_bytes(key)
    ctx = srv.ssl_context()
    assert isinstance(ctx, ssl.SSLContext)
    ctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    return httpx.Client(base_url=srv.url, verify=ctx)


def test_front_proxy_headers_are_believed_from_the_proxy_certificate(world: World, tmp_path: Path) -> None:
    srv, _, _, base = world
    with _client(srv, tmp_path, base / "proxy", "front-proxy-client") as c:
        r = c.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", json=REVIEW, headers=[
            ("X-Remote-User", "proxied-bob"), ("X-Remote-Uid", "u-7"), ("X-Remote-Group", "devs"),
            ("X-Remote-Group", "ops"), ("X-Remote-Extra-Scopes", "read"), ("X-Remote-Extra-Scopes", "write")])
    assert r.status_code == 201, r.text
    assert r.json()["status"]["userInfo"] == {"username": "proxied-bob", "uid": "u-7",
                                              "groups": ["devs", "ops", "system:authenticated"],
                                              "extra": {"scopes": ["read", "write"]}}


@pytest.mark.parametrize("who", ["cluster-ca-user", "proxy-ca-wrong-cn"])
def test_identity_headers_are_ignored_from_anyone_else(world: World, tmp_path: Path, who: str) -> None:
    srv, _, _, base = world
    ca_dir, cn = (srv.data_dir, "carol") if who == "cluster-ca-user" else (base / "proxy", "not-the-proxy")
    with _client(srv, tmp_path, ca_dir, cn) as c:
        r = c.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", json=REVIEW,
                   headers={"X-Remote-User": "system:admin", "X-Remote-Group": "system:masters"})
    if who == "cluster-ca-user":  # the certificate's own identity, never the headers'
        assert r.status_code == 201, r.text
        assert r.json()["status"]["userInfo"]["username"] == "carol"
        assert "system:masters" not in r.json()["status"]["userInfo"]["groups"]
    else:
        assert r.status_code == 401, r.text


def test_extension_apiserver_authentication_configmap(world: World) -> None:
    srv, kubectl, _, base = world
    cm = json.loads(kubectl("-n", "kube-system", "get", "configmap", "extension-apiserver-authentication",
                            "-o", "json"))
    data = cm["data"]
    assert data["client-ca-file"] == (srv.data_dir / "tls" / "ca.crt").read_text()
    assert data["requestheader-client-ca-file"] == (base / "proxy" / "tls" / "ca.crt").read_text()
    assert json.loads(data["requestheader-allowed-names"]) == ["front-proxy-client"]
    assert json.loads(data["requestheader-username-headers"]) == ["X-Remote-User"]
    assert json.loads(data["requestheader-group-headers"]) == ["X-Remote-Group"]
    assert json.loads(data["requestheader-extra-headers-prefix"]) == ["X-Remote-Extra-"]
    # upstream's bootstrap Role lets the scheduler (and extension API servers bound to it) read it
    role = json.loads(kubectl("-n", "kube-system", "get", "role", "extension-apiserver-authentication-reader",
                              "-o", "json"))
    assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"],
                              "resourceNames": ["extension-apiserver-authentication"],
                              "verbs": ["get", "list", "watch"]}]
    for who, want in (("system:kube-scheduler", "yes"), ("bob", "no")):
        got = kubectl.run("-n", "kube-system", "auth", "can-i", "get",
                          "configmap/extension-apiserver-authentication", "--as", who, check=False).stdout.strip()
        assert got == want, who


def test_oidc_issuer_over_http_stops_suanli_up(tmp_path: Path) -> None:
    proc = suanli("up", "--port", "0", "--no-demo", "--data-dir", str(tmp_path / "data"), "--kubeconfig",
                  str(tmp_path / "kc"), "--oidc-issuer-url", "http://issuer.example", "--oidc-client-id", "x")
    assert proc.returncode == 2
    assert "'oidc-issuer-url' (\"http://issuer.example\") has invalid scheme (\"http\"), require 'https'" \
        in proc.stderr


def test_whoami_with_structured_authentication_config(tmp_path: Path) -> None:
    issuer = Issuer(tmp_path / "issuer")
    (tmp_path / "authn.yaml").write_text(yaml.safe_dump({
        "apiVersion": "apiserver.config.k8s.io/v1", "kind": "AuthenticationConfiguration", "jwt": [{
            "issuer": {"url": issuer.url, "audiences": ["console", "cli"], "audienceMatchPolicy": "MatchAny",
                       "certificateAuthority": issuer.ca_file.read_text()},
            "claimValidationRules": [{"expression": "claims.tenant == 'acme'", "message": "acme users only"}],
            "claimMappings": {"username": {"expression": "'acme:' + claims.preferred_username"},
                              "groups": {"claim": "roles", "prefix": "acme:"},
                              "uid": {"claim": "sub"},
                              "extra": [{"key": "acme.io/team", "valueExpression": "claims.team"}]}}]}))
    srv = start_server(tmp_path / "data", tmp_path / "kubeconfig",
                       extra=["--authentication-config", str(tmp_path / "authn.yaml")])
    try:
        kubectl = Kubectl(kubectl_binary(), srv.kubeconfig)
        claims = {"iss": issuer.url, "aud": "cli", "exp": int(time.time()) + 600, "sub": "u-42", "tenant": "acme",
                  "preferred_username": "jane", "roles": ["dev"], "team": "ml", "jti": "t-1"}
        info = user_info(whoami(kubectl, kubeconfig=token_kubeconfig(srv, tmp_path / "kc", issuer.sign(claims))))
        assert info == {"username": "acme:jane", "uid": "u-42", "groups": ["acme:dev", "system:authenticated"],
                        "extra": {"acme.io/team": ["ml"], "authentication.kubernetes.io/credential-id": ["JTI=t-1"]}}
        other = issuer.sign({**claims, "tenant": "globex"})
        refused = whoami(kubectl, kubeconfig=token_kubeconfig(srv, tmp_path / "kc2", other))
        assert refused.returncode != 0 and "Unauthorized" in refused.stderr
    finally:
        srv.stop()
        issuer.stop()


def test_invalid_authentication_config_stops_suanli_up(tmp_path: Path) -> None:
    (tmp_path / "authn.yaml").write_text(yaml.safe_dump({
        "apiVersion": "apiserver.config.k8s.io/v1", "kind": "AuthenticationConfiguration",
        "jwt": [{"issuer": {"url": "https://issuer.example", "audiences": ["a"]},
                 "claimMappings": {"username": {"claim": "sub"}}}]}))
    proc = suanli("up", "--port", "0", "--no-demo", "--data-dir", str(tmp_path / "data"), "--kubeconfig",
                  str(tmp_path / "kc"), "--authentication-config", str(tmp_path / "authn.yaml"))
    assert proc.returncode == 2
    assert "jwt[0].claimMappings.username.prefix: Required value" in proc.stderr
