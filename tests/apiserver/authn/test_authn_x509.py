"""Client certificates: upstream x509 authenticator semantics (``request/x509/x509_test.go`` cases that apply:
CN → user, O → groups, expired / not-yet-valid / foreign CA / wrong key usage rejected, no certificate → not mine)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from suanli.apiserver.authn.types import AuthenticationError, Credentials
from suanli.apiserver.authn.x509 import CREDENTIAL_ID, ClientCertificates
from suanli.apiserver.tls import ensure_tls_material, issue_client_certificate, load_ca

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
Ca = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]
World = tuple[ClientCertificates, Ca, Ca]


def _der(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


def _cert(ca: Ca, *, cn: str = "alice", orgs: tuple[str, ...] = (),
          usage: list[x509.ObjectIdentifier] | None = None, not_before: dt.datetime = NOW - dt.timedelta(days=1),
          not_after: dt.datetime = NOW + dt.timedelta(days=1)) -> bytes:
    """A DER certificate signed by ``ca`` with the given subject, validity and extended key usage."""
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    if cn:
        names.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    builder = (x509.CertificateBuilder().subject_name(x509.Name(names)).issuer_name(ca[0].subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after))
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usage), critical=False)
    return builder.sign(ca[1], hashes.SHA256()).public_bytes(serialization.Encoding.DER)


@pytest.fixture
def cas(tmp_path: Path) -> World:
    """The authenticator trusting cluster CA one, that CA, and a foreign CA two."""
    material = ensure_tls_material(tmp_path / "one", [])
    ensure_tls_material(tmp_path / "two", [])
    auth = ClientCertificates(material.ca_pem, now=lambda: NOW)
    return auth, load_ca(tmp_path / "one"), load_ca(tmp_path / "two")


CLIENT = [ExtendedKeyUsageOID.CLIENT_AUTH]
SERVER = [ExtendedKeyUsageOID.SERVER_AUTH]


@pytest.mark.parametrize(("make", "outcome"), [
    (lambda ca, _: _cert(ca, cn="alice", usage=CLIENT), ("alice", ())),
    (lambda ca, _: _cert(ca, cn="bob", orgs=("team-a", "team-b"), usage=CLIENT), ("bob", ("team-a", "team-b"))),
    (lambda ca, _: _cert(ca, cn="carol"), ("carol", ())),
    (lambda ca, _: _cert(ca, cn="dave", usage=[ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE]), ("dave", ())),
    (lambda ca, _: _cert(ca, cn="", orgs=("team-a",), usage=CLIENT), None),
    (lambda ca, _: _cert(ca, usage=SERVER), "incompatible key usage"),
    (lambda ca, _: _cert(ca, usage=CLIENT, not_after=NOW - dt.timedelta(seconds=1)), "has expired"),
    (lambda ca, _: _cert(ca, usage=CLIENT, not_before=NOW + dt.timedelta(hours=1)), "not yet valid"),
    (lambda _, other: _cert(other, usage=CLIENT), "unknown authority"),
], ids=["client-auth", "organizations-are-groups", "no-eku-allows-any-use", "any-eku", "empty-cn-not-mine",
        "server-auth-only-rejected", "expired-rejected", "not-yet-valid-rejected", "foreign-ca-rejected"])
async def test_client_certificate(cas: World, make: Callable[[Ca, Ca], bytes], outcome: object) -> None:
    auth, ca, other = cas
    der = make(ca, other)
    if isinstance(outcome, str):
        with pytest.raises(AuthenticationError, match=outcome):
            await auth.authenticate(Credentials(peer_certificates=(der,)))
        return
    resp = await auth.authenticate(Credentials(peer_certificates=(der,)))
    if outcome is None:
        assert resp is None
        return
    assert resp is not None
    assert (resp.user.name, resp.user.groups) == outcome
    assert dict(resp.user.extra)[CREDENTIAL_ID] == (f"X509SHA256={hashlib.sha256(der).hexdigest()}",)


async def test_no_certificate_is_not_mine(cas: World) -> None:
    assert await cas[0].authenticate(Credentials(token="whatever")) is None


async def test_a_cached_certificate_still_expires(tmp_path: Path) -> None:
    material = ensure_tls_material(tmp_path, [])
    ca = load_ca(tmp_path)
    clock = [NOW]
    auth = ClientCertificates(material.ca_pem, now=lambda: clock[0])
    der = _cert(ca, not_after=NOW + dt.timedelta(minutes=1))
    assert await auth.authenticate(Credentials(peer_certificates=(der,))) is not None
    clock[0] = NOW + dt.timedelta(minutes=2)
    with pytest.raises(AuthenticationError, match="expired"):
        await auth.authenticate(Credentials(peer_certificates=(der,)))


def test_issued_client_certificate_names_user_and_groups(tmp_path: Path) -> None:
    ensure_tls_material(tmp_path, [])
    ca = load_ca(tmp_path)
    pem, key_pem = issue_client_certificate(ca, "alice", ["dev", "ops"], validity=dt.timedelta(hours=2))
    cert = x509.load_pem_x509_certificate(pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice"
    assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == ["dev", "ops"]
    assert ExtendedKeyUsageOID.CLIENT_AUTH in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(hours=2) <= lifetime <= dt.timedelta(hours=2, minutes=6)
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert key.public_key() == cert.public_key()


@pytest.mark.parametrize(("user", "validity", "message"), [
    ("", dt.timedelta(hours=1), "user"),
    ("alice", dt.timedelta(0), "expiry"),
], ids=["empty-user", "non-positive-expiry"])
def test_issue_client_certificate_rejects_bad_input(tmp_path: Path, user: str, validity: dt.timedelta,
                                                    message: str) -> None:
    ensure_tls_material(tmp_path, [])
    with pytest.raises(ValueError, match=message):
        issue_client_certificate(load_ca(tmp_path), user, validity=validity)
