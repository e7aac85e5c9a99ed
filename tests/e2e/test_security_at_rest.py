"""Data at rest, audit and TLS through a real `suanli up` and the real kubectl.

* the data directory is 0700 with owner-only files, fresh and after an "upgrade" from 0755/0644;
* a Secret is not in ``store.db`` (nor its WAL) with encryption on, and stays readable through
  upstream's key-rotation procedure (add key second, restart, put it first, restart, rewrite every
  Secret with ``kubectl get secrets -A -o json | kubectl replace -f -``, remove the old key, restart);
* audit events for a create by a user and by an impersonator carry the user, impersonated user,
  source IP, user agent, object, status and decision, and never the Secret's data or a token;
* TLS below 1.2 and non-AEAD TLS 1.2 ciphers are refused.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, Kubectl, Server, kubectl_binary, start_server
from tests.e2e.conftest import wait_until

EXAMPLES = REPO / "examples" / "security"
KEY1 = base64.b64encode(b"k" * 32).decode()
KEY2 = base64.b64encode(b"K" * 32).decode()
SECRET_VALUE = "TOPSECRET-at-rest-4f1c"
SECRET_B64 = base64.b64encode(SECRET_VALUE.encode()).decode()


def enc_config(path: Path, *keys: tuple[str, str], identity: bool = True) -> Path:
    providers: list[dict[str, Any]] = [{"aescbc": {"keys": [{"name": n, "secret": s} for n, s in keys]}}]
    if identity:
        providers.append({"identity": {}})
    path.write_text(json.dumps({"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
                                "resources": [{"resources": ["secrets"], "providers": providers}]}))
    return path


def stored_bytes(data_dir: Path) -> bytes:
    """Every byte of the store: the database, its write-ahead log and shared memory file."""
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob("store.db*")))


def secret_value(k: Kubectl, name: str, ns: str = "default") -> str:
    out = k("get", "secret", name, "-n", ns, "-o", "jsonpath={.data.v}")
    return base64.b64decode(out).decode()


def loose_paths(data_dir: Path) -> dict[str, str]:
    """Paths under ``data_dir`` (itself included) that are not 0700 directories or owner-only files."""
    bad = {}
    for p in [data_dir, *data_dir.rglob("*")]:
        st = p.lstat()
        mode = stat.S_IMODE(st.st_mode)
        if (stat.S_ISDIR(st.st_mode) and mode != 0o700) or (stat.S_ISREG(st.st_mode) and mode & 0o077):
            bad[str(p.relative_to(data_dir))] = oct(mode)
    return bad


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return tmp_path


def test_fresh_data_directory_is_private_and_an_upgraded_one_is_tightened(base: Path) -> None:
    data = base / "data"
    os.mkdir(data, 0o700)  # what `suanli up` creates itself; start_server would otherwise pre-create it 0755
    audit_log = data / "audit" / "audit.log"
    srv = start_server(data, base / "kubeconfig", extra=[
        "--audit-policy-file", str(EXAMPLES / "audit-policy.yaml"), "--audit-log-path", str(audit_log)])
    k = Kubectl(kubectl_binary(), srv.kubeconfig)
    try:
        k("create", "secret", "generic", "s1", f"--from-literal=v={SECRET_VALUE}")
        wait_until(lambda: audit_log.exists() and audit_log.stat().st_size > 0, what="audit log written")
        names = {str(p.relative_to(data)) for p in data.rglob("*")}
        assert {"store.db", "store.db-wal", "token", "sa.key", "tls/ca.key", "tls/server.crt",
                "audit/audit.log"} <= names
        assert loose_paths(data) == {}
    finally:
        srv.stop()
    assert "removed group/other access" not in srv.log()
    # an installation from before this release: world-readable directory and files
    for p in [data, *data.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    assert loose_paths(data)
    srv = start_server(data, base / "kubeconfig", extra=[
        "--audit-policy-file", str(EXAMPLES / "audit-policy.yaml"), "--audit-log-path", str(audit_log)])
    try:
        assert secret_value(k, "s1") == SECRET_VALUE
        assert loose_paths(data) == {}
    finally:
        srv.stop()
    assert "removed group/other access from" in srv.log()


def test_secret_is_encrypted_in_the_store_and_survives_key_rotation(base: Path) -> None:
    data = base / "data"
    kubeconfig = base / "kubeconfig"
    k = Kubectl(kubectl_binary(), kubeconfig)

    def up(config: Path) -> Server:
        return start_server(data, kubeconfig, extra=["--encryption-provider-config", str(config)])

    srv = up(enc_config(base / "1.yaml", ("key1", KEY1)))
    try:
        k("create", "secret", "generic", "s1", f"--from-literal=v={SECRET_VALUE}")
        k("create", "configmap", "c1", "--from-literal=v=PLAIN-CONFIG-VALUE-9e2")
        raw = stored_bytes(data)
        assert b"PLAIN-CONFIG-VALUE-9e2" in raw  # the check can see plaintext: ConfigMaps are not encrypted
        assert SECRET_VALUE.encode() not in raw and SECRET_B64.encode() not in raw
        assert b"k8s:enc:aescbc:v1:key1:" in raw
        assert secret_value(k, "s1") == SECRET_VALUE
    finally:
        srv.stop()
    # 1. add the new key second; restart: still written with key1, both read
    srv = up(enc_config(base / "2.yaml", ("key1", KEY1), ("key2", KEY2)))
    try:
        assert secret_value(k, "s1") == SECRET_VALUE
    finally:
        srv.stop()
    # 2. make the new key first; restart; 3. rewrite every Secret
    srv = up(enc_config(base / "3.yaml", ("key2", KEY2), ("key1", KEY1)))
    try:
        listed = k("get", "secrets", "-A", "-o", "json")
        # upstream's command; --validate=false because kubectl validates a v1 List against /openapi/v2,
        # which suanli does not serve (docs/architecture.md, "Security: data at rest and audit")
        k("replace", "--validate=false", "-f", "-", input=listed)
        assert b"k8s:enc:aescbc:v1:key2:" in stored_bytes(data)
    finally:
        srv.stop()
    # 4. remove the old key (and identity); restart: the Secret reads with key2 alone
    srv = up(enc_config(base / "4.yaml", ("key2", KEY2), identity=False))
    try:
        assert secret_value(k, "s1") == SECRET_VALUE
        k("create", "secret", "generic", "s2", f"--from-literal=v={SECRET_VALUE}")
        assert SECRET_VALUE.encode() not in stored_bytes(data) and SECRET_B64.encode() not in stored_bytes(data)
    finally:
        srv.stop()


@pytest.fixture
def audited(base: Path) -> Iterator[tuple[Server, Path, Kubectl]]:
    (base / "tokens.csv").write_text('alice-token-7d3f9,alice,u-alice,"devs"\n')
    log = base / "audit.log"
    srv = start_server(base / "data", base / "kubeconfig", extra=[
        "--audit-policy-file", str(EXAMPLES / "audit-policy.yaml"), "--audit-log-path", str(log),
        "--token-auth-file", str(base / "tokens.csv")])
    yield srv, log, Kubectl(kubectl_binary(), srv.kubeconfig)
    srv.stop()


def events(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def find(log: Path, **match: Any) -> dict[str, Any]:
    def one() -> dict[str, Any] | None:
        for ev in events(log):
            ref = ev.get("objectRef") or {}
            if all((ref.get(k[4:]) if k.startswith("ref_") else ev.get(k)) == v for k, v in match.items()):
                return ev
        return None
    return wait_until(one, timeout=20, what=f"audit event {match}")


def test_audit_events_for_a_user_and_an_impersonator_without_secret_data_or_tokens(
        audited: tuple[Server, Path, Kubectl]) -> None:
    srv, log, k = audited
    k("create", "namespace", "team")
    k("create", "rolebinding", "alice-edit", "-n", "team", "--clusterrole=edit", "--user=alice")
    alice = ("--token", "alice-token-7d3f9")
    k("create", "secret", "generic", "by-alice", "-n", "team", f"--from-literal=v={SECRET_VALUE}", *alice)
    k("create", "secret", "generic", "by-admin-as-alice", "-n", "team", f"--from-literal=v={SECRET_VALUE}",
      "--as", "alice")
    denied = k.run("create", "secret", "generic", "nope", "-n", "default", "--from-literal=v=x", *alice, check=False)
    assert denied.returncode != 0

    ev = find(log, verb="create", stage="ResponseComplete", ref_name="by-alice")
    assert ev["apiVersion"] == "audit.k8s.io/v1" and ev["kind"] == "Event" and ev["level"] == "Metadata"
    assert ev["user"]["username"] == "alice" and ev["user"]["uid"] == "u-alice"
    assert set(ev["user"]["groups"]) == {"devs", "system:authenticated"}
    assert "impersonatedUser" not in ev
    assert ev["objectRef"] == {"resource": "secrets", "namespace": "team", "name": "by-alice", "apiVersion": "v1"}
    assert ev["requestURI"].startswith("/api/v1/namespaces/team/secrets")
    assert ev["sourceIPs"] == ["127.0.0.1"] and ev["userAgent"].startswith("kubectl")
    assert ev["responseStatus"]["code"] == 201
    assert ev["annotations"] == {"authorization.k8s.io/decision": "allow"}
    assert "requestObject" not in ev and "responseObject" not in ev
    assert ev["requestReceivedTimestamp"] <= ev["stageTimestamp"]

    imp = find(log, verb="create", stage="ResponseComplete", ref_name="by-admin-as-alice")
    assert imp["user"]["username"] == "system:admin"
    assert imp["impersonatedUser"]["username"] == "alice"
    assert imp["responseStatus"]["code"] == 201

    forbid = find(log, verb="create", stage="ResponseComplete", ref_namespace="default", ref_resource="secrets")
    assert forbid["user"]["username"] == "alice"
    assert forbid["annotations"] == {"authorization.k8s.io/decision": "forbid"}
    assert forbid["responseStatus"]["code"] == 403 and forbid["responseStatus"]["reason"] == "Forbidden"

    ns = find(log, verb="create", stage="ResponseComplete", ref_resource="namespaces", ref_name="team")
    assert ns["level"] == "Request" and ns["requestObject"]["metadata"]["name"] == "team"  # Request level works

    assert not [e for e in events(log) if e["stage"] == "RequestReceived"]  # omitStages
    text = log.read_text()
    for leak in (SECRET_VALUE, SECRET_B64, "alice-token-7d3f9", srv.token()):
        assert leak not in text


def test_tls_below_1_2_and_non_aead_ciphers_are_refused(audited: tuple[Server, Path, Kubectl]) -> None:
    srv = audited[0]

    def s_client(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{srv.port}", *args],
                              input="", capture_output=True, text=True, timeout=30)

    good = s_client("-tls1_2")
    assert good.returncode == 0, good.stderr
    assert "Protocol  : TLSv1.2" in good.stdout and ("GCM" in good.stdout or "CHACHA20" in good.stdout)
    # the client side is allowed to offer old protocols and ciphers (security level 0): refusal is the server's
    old = s_client("-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0")
    assert old.returncode != 0 and "Cipher is (NONE)" in old.stdout, old.stdout  # no session was agreed
    cbc = s_client("-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA:AES128-SHA:@SECLEVEL=0")
    assert cbc.returncode != 0 and "Cipher is (NONE)" in cbc.stdout, cbc.stdout
