"""Front-proxy (request-header) authentication: upstream ``headerrequest`` table (requestheader_test.go)
behind the x509 verifier (front-proxy CA, allowed names), plus the extension-apiserver-authentication data."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from suanli.apiserver.authn.requestheader import RequestHeaderAuthenticator, RequestHeaderConfig, extension_auth_data
from suanli.apiserver.authn.types import AuthenticationError, Credentials
from suanli.apiserver.context import UserInfo
from suanli.apiserver.tls import ensure_tls_material, issue_client_certificate, load_ca


def _der(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def cas(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("fp")
    ensure_tls_material(base / "proxy", [])
    ensure_tls_material(base / "cluster", [])
    return base / "proxy", base / "cluster"


def proxy_cert(data_dir: Path, cn: str = "front-proxy-client") -> bytes:
    return _der(issue_client_certificate(load_ca(data_dir), cn)[0])


def auth(proxy_dir: Path, **kw: tuple[str, ...]) -> RequestHeaderAuthenticator:
    return RequestHeaderAuthenticator(RequestHeaderConfig(proxy_dir / "tls" / "ca.crt", **kw))


def headers(pairs: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((k.lower(), v) for k, v in pairs)


def run(a: RequestHeaderAuthenticator, cert: bytes | None, pairs: list[tuple[str, str]]) -> UserInfo | None:
    resp = asyncio.run(a.authenticate(Credentials(peer_certificates=(cert,) if cert else (), headers=headers(pairs))))
    return None if resp is None else resp.user


TABLE: list[tuple[str, dict[str, tuple[str, ...]], list[tuple[str, str]], UserInfo | None]] = [
    ("nothing", {"username_headers": ("X-Remote-User",)}, [], None),
    ("user", {"username_headers": ("X-Remote-User",)}, [("X-Remote-User", "Bob")], UserInfo("Bob")),
    ("user-with-uid", {"username_headers": ("X-Remote-User",), "uid_headers": ("X-Remote-Uid",)},
     [("X-Remote-User", "Bob"), ("X-Remote-Uid", "uid-bob")], UserInfo("Bob", uid="uid-bob")),
    ("second-header-when-the-first-is-missing", {"username_headers": ("X-Remote-User", "A-Second-X-Remote-User")},
     [("A-Second-X-Remote-User", "Bob")], UserInfo("Bob")),
    ("first-header-in-flag-order-wins", {"username_headers": ("X-Remote-User", "A-Second-X-Remote-User")},
     [("A-Second-X-Remote-User", "Alice"), ("X-Remote-User", "Bob")], UserInfo("Bob")),
    ("empty-first-header-skipped", {"username_headers": ("X-Remote-User", "A-Second-X-Remote-User")},
     [("X-Remote-User", ""), ("A-Second-X-Remote-User", "Bob")], UserInfo("Bob")),
    ("groups-in-flag-order", {"username_headers": ("X-Remote-User",),
                              "group_headers": ("X-Remote-Group", "A-Second-X-Remote-Group",
                                                "Another-X-Remote-Group")},
     [("X-Remote-User", "Bob"), ("Another-X-Remote-Group", "three-a"), ("X-Remote-Group", "one-a"),
      ("A-Second-X-Remote-Group", "two-a"), ("X-Remote-Group", "one-b"), ("A-Second-X-Remote-Group", "two-b")],
     UserInfo("Bob", groups=("one-a", "one-b", "two-a", "two-b", "three-a"))),
    ("extra-prefix-matches-case-insensitive", {"username_headers": ("X-Remote-User",),
                                               "extra_headers_prefix": ("X-Remote-Extra-1-", "X-Remote-Extra-2-")},
     [("X-Remote-User", "Bob"), ("X-Remote-Extra-1-Key1", "alfa"), ("X-Remote-Extra-1-Key1", "bravo"),
      ("X-Remote-Extra-1-Key2", "charlie"), ("X-Remote-extra-2-key1", "foxtrot")],
     UserInfo("Bob", extra=(("key1", ("alfa", "bravo", "foxtrot")), ("key2", ("charlie",))))),
    ("escaped-extra-keys", {"username_headers": ("X-Remote-User",), "extra_headers_prefix": ("X-Remote-Extra-",)},
     [("X-Remote-User", "Bob"), ("X-Remote-Extra-Alpha", "alphabetical"),
      ("X-Remote-Extra-Alph4num3r1c", "alphanumeric"), ("X-Remote-Extra-Percent%20encoded", "percent encoded"),
      ("X-Remote-Extra-Almost%zzpercent%xxencoded", "not quite percent encoded"),
      ("X-Remote-Extra-Example.com%2fpercent%2520encoded", "url encoded"),
      ("X-Remote-Extra-Example.com%2Fpercent%2520encoded", "upper-case escape")],
     UserInfo("Bob", extra=(("almost%zzpercent%xxencoded", ("not quite percent encoded",)),
                            ("alph4num3r1c", ("alphanumeric",)), ("alpha", ("alphabetical",)),
                            ("example.com/percent%20encoded", ("url encoded", "upper-case escape")),
                            ("percent encoded", ("percent encoded",))))),
]


@pytest.mark.parametrize(("flags", "pairs", "want"), [t[1:] for t in TABLE], ids=[t[0] for t in TABLE])
def test_headers_of_a_trusted_proxy(cas: tuple[Path, Path], flags: dict[str, tuple[str, ...]],
                                    pairs: list[tuple[str, str]], want: UserInfo | None) -> None:
    proxy, _ = cas
    assert run(auth(proxy, **flags), proxy_cert(proxy), pairs) == want


def test_without_a_client_certificate_headers_are_not_believed(cas: tuple[Path, Path]) -> None:
    proxy, _ = cas
    assert run(auth(proxy, username_headers=("X-Remote-User",)), None, [("X-Remote-User", "admin")]) is None


def test_a_certificate_of_another_ca_is_refused(cas: tuple[Path, Path]) -> None:
    proxy, cluster = cas
    with pytest.raises(AuthenticationError, match="signed by unknown authority"):
        run(auth(proxy, username_headers=("X-Remote-User",)), proxy_cert(cluster), [("X-Remote-User", "admin")])


@pytest.mark.parametrize(("cn", "allowed"), [("front-proxy-client", True), ("someone-else", False)],
                         ids=["allowed-name", "name-not-allowed"])
def test_allowed_names(cas: tuple[Path, Path], cn: str, allowed: bool) -> None:
    proxy, _ = cas
    a = auth(proxy, username_headers=("X-Remote-User",), allowed_names=("front-proxy-client",))
    if allowed:
        assert run(a, proxy_cert(proxy, cn), [("X-Remote-User", "Bob")]) == UserInfo("Bob")
    else:
        with pytest.raises(AuthenticationError, match=f"x509: subject with cn={cn} is not in the allowed list"):
            run(a, proxy_cert(proxy, cn), [("X-Remote-User", "Bob")])


def test_extension_apiserver_authentication_data(cas: tuple[Path, Path]) -> None:
    proxy, cluster = cas
    a = auth(proxy, allowed_names=("front-proxy-client",), username_headers=("X-Remote-User",),
             uid_headers=("X-Remote-Uid",), group_headers=("X-Remote-Group",),
             extra_headers_prefix=("X-Remote-Extra-",))
    client_ca = (cluster / "tls" / "ca.crt").read_bytes()
    data = extension_auth_data(client_ca, a)
    assert data["client-ca-file"] == client_ca.decode()
    assert data["requestheader-client-ca-file"] == (proxy / "tls" / "ca.crt").read_text()
    assert {k: json.loads(v) for k, v in data.items() if not k.endswith("-file")} == {
        "requestheader-allowed-names": ["front-proxy-client"], "requestheader-username-headers": ["X-Remote-User"],
        "requestheader-uid-headers": ["X-Remote-Uid"], "requestheader-group-headers": ["X-Remote-Group"],
        "requestheader-extra-headers-prefix": ["X-Remote-Extra-"]}
    assert extension_auth_data(client_ca, None) == {"client-ca-file": client_ca.decode()}
