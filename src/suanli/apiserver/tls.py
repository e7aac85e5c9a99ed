"""Self-managed TLS material and bearer token for the embedded API server (k3s-style).

:func:`ensure_tls_material` creates, on first start, a self-signed CA (10 years) and a
serving certificate signed by it, under ``<data_dir>/tls/``:

=================  ====================================  ======
file               content                               mode
=================  ====================================  ======
``ca.crt``         CA certificate (PEM)                  0600
``ca.key``         CA private key (PEM, ECDSA P-256)     0600
``server.crt``     serving certificate (PEM)             0600
``server.key``     serving private key (PEM)             0600
=================  ====================================  ======

Later starts reuse the files. The serving certificate is re-issued with the same CA
when it does not cover every requested host, is not signed by the CA, or expires
within 30 days. The serving certificate always names ``localhost``, ``127.0.0.1`` and
``::1``; IP literals become IP SANs, anything else a DNS SAN. Unspecified bind
addresses (``0.0.0.0``, ``::``) are skipped.

:func:`ensure_token` keeps one random bearer token in ``<data_dir>/token`` (0600).

:func:`issue_client_certificate` signs a client certificate with the CA (``CN`` = user, ``O`` =
groups, extended key usage client auth): what the x509 authenticator accepts and
``suanli kubeconfig create`` hands out.

:func:`harden_server_context` restricts a serving context to TLS 1.2 and 1.3 and, for TLS 1.2, to
:data:`SERVER_CIPHERS`: ECDHE key exchange with AEAD ciphers only (AES-GCM, ChaCha20-Poly1305), the
TLS 1.2 part of Go's secure default list that kube-apiserver serves (no CBC, no RSA key exchange).
TLS 1.3 suites are all AEAD and stay as OpenSSL sets them.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "SERVER_CIPHERS",
    "TlsMaterial",
    "ensure_tls_material",
    "ensure_token",
    "harden_server_context",
    "issue_client_certificate",
    "load_ca",
    "parse_ca",
    "required_sans",
]

CA_VALIDITY = dt.timedelta(days=3650)
SERVER_VALIDITY = dt.timedelta(days=365)
RENEW_BEFORE = dt.timedelta(days=30)
DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")

SanValue = str | ipaddress.IPv4Address | ipaddress.IPv6Address

#: TLS 1.2 cipher suites a server offers (OpenSSL names)
SERVER_CIPHERS = ":".join((
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
))


def harden_server_context(ctx: ssl.SSLContext) -> ssl.SSLContext:
    """Restrict ``ctx`` to TLS 1.2+ and :data:`SERVER_CIPHERS` (see the module docstring); returns it."""
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(SERVER_CIPHERS)
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_NO_RENEGOTIATION
    return ctx


@dataclass(frozen=True)
class TlsMaterial:
    """Paths of the CA and serving key pairs, plus the CA certificate as PEM bytes."""

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    ca_pem: bytes


def required_sans(hosts: Iterable[str]) -> set[SanValue]:
    """SAN values a serving certificate needs for ``hosts`` plus the loopback defaults.

    >>> sorted(map(str, required_sans(["Node-1", "10.0.0.5", "0.0.0.0"])))
    ['10.0.0.5', '127.0.0.1', '::1', 'localhost', 'node-1']
    """
    out: set[SanValue] = set()
    for raw in [*DEFAULT_HOSTS, *hosts]:
        host = raw.strip().strip("[]")
        if not host:
            continue
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            out.add(host.lower())
            continue
        if not ip.is_unspecified:
            out.add(ip)
    return out


def ensure_tls_material(data_dir: Path, hosts: list[str]) -> TlsMaterial:
    """Create or reuse the CA and serving certificate under ``data_dir/tls``."""
    tls_dir = Path(data_dir) / "tls"
    tls_dir.mkdir(parents=True, exist_ok=True)
    ca_cert_p, ca_key_p = tls_dir / "ca.crt", tls_dir / "ca.key"
    srv_cert_p, srv_key_p = tls_dir / "server.crt", tls_dir / "server.key"
    now = dt.datetime.now(dt.UTC)

    ca = _load_ca(ca_cert_p, ca_key_p, now)
    fresh_ca = ca is None
    if ca is None:
        ca = _new_ca(now)
        _write(ca_key_p, _key_pem(ca[1]), 0o600)
        _write(ca_cert_p, ca[0].public_bytes(serialization.Encoding.PEM), 0o600)
    ca_cert, ca_key = ca

    wanted = required_sans(hosts)
    if fresh_ca or not _server_cert_ok(srv_cert_p, srv_key_p, ca_cert, wanted, now):
        key = ec.generate_private_key(ec.SECP256R1())
        # keep hosts from an older certificate so adding a host never drops another
        sans = wanted if fresh_ca else (wanted | _existing_sans(srv_cert_p))
        cert = _new_server_cert(key, sans, ca_cert, ca_key, now)
        _write(srv_key_p, _key_pem(key), 0o600)
        _write(srv_cert_p, cert.public_bytes(serialization.Encoding.PEM), 0o600)

    return TlsMaterial(ca_cert_p, ca_key_p, srv_cert_p, srv_key_p, ca_cert_p.read_bytes())


def ensure_token(data_dir: Path) -> str:
    """Return the bearer token in ``data_dir/token``, creating a random one (0600) if absent."""
    path = Path(data_dir) / "token"
    if path.exists():
        token = path.read_text().strip()
        if token:
            return token
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    _write(path, (token + "\n").encode(), 0o600)
    return token


def parse_ca(cert_pem: bytes, key_pem: bytes) -> CaPair:
    """A CA certificate and its EC private key from PEM; ``ValueError`` if unreadable or not a pair."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    key = serialization.load_pem_private_key(key_pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or cert.public_key() != key.public_key():
        raise ValueError("ca.key is not the key of ca.crt")
    return cert, key


def load_ca(data_dir: Path) -> CaPair:
    """The cluster CA of ``data_dir`` (``tls/ca.crt``, ``tls/ca.key``); ``OSError``/``ValueError`` if unusable."""
    tls_dir = Path(data_dir) / "tls"
    try:
        return parse_ca((tls_dir / "ca.crt").read_bytes(), (tls_dir / "ca.key").read_bytes())
    except ValueError as err:
        raise ValueError(f"{tls_dir}: {err}") from err


def issue_client_certificate(ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], user: str,
                             groups: Iterable[str] = (), *, validity: dt.timedelta = dt.timedelta(days=365),
                             now: dt.datetime | None = None) -> tuple[bytes, bytes]:
    """A new key and a client certificate for ``user`` in ``groups`` signed by ``ca``: (cert PEM, key PEM).

    The certificate never outlives the CA; ``validity`` must be positive (``ValueError``).
    """
    if not user:
        raise ValueError("user: Required value")
    if validity <= dt.timedelta(0):
        raise ValueError(f"expiry: Invalid value: {validity}: must be positive")
    now = now or dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
    subject.append(x509.NameAttribute(NameOID.COMMON_NAME, user))
    cert = _leaf_certificate(x509.Name(subject), key.public_key(), ca, ExtendedKeyUsageOID.CLIENT_AUTH,
                             not_before=now - dt.timedelta(minutes=5), not_after=now + validity)
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


# -- internals ---------------------------------------------------------------------------------

CaPair = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


def _write(path: Path, data: bytes, mode: int) -> None:
    """Atomically replace ``path`` with ``data`` at permission ``mode``."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _load_ca(cert_p: Path, key_p: Path, now: dt.datetime) -> CaPair | None:
    if not (cert_p.exists() and key_p.exists()):
        return None
    try:
        cert, key = parse_ca(cert_p.read_bytes(), key_p.read_bytes())
    except ValueError:
        return None
    if cert.not_valid_after_utc <= now + RENEW_BEFORE:
        return None
    return cert, key


def _new_ca(now: dt.datetime) -> CaPair:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"suanli-ca@{int(now.timestamp())}")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _san_entries(sans: set[SanValue]) -> list[x509.GeneralName]:
    ips = sorted((v for v in sans if not isinstance(v, str)), key=lambda ip: (ip.version, int(ip)))
    dns = sorted(v for v in sans if isinstance(v, str))
    return [*(x509.DNSName(d) for d in dns), *(x509.IPAddress(ip) for ip in ips)]


def _new_server_cert(key: ec.EllipticCurvePrivateKey, sans: set[SanValue], ca_cert: x509.Certificate,
                     ca_key: ec.EllipticCurvePrivateKey, now: dt.datetime) -> x509.Certificate:
    return _leaf_certificate(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "suanli-apiserver")]),
                             key.public_key(), (ca_cert, ca_key), ExtendedKeyUsageOID.SERVER_AUTH,
                             not_before=now - dt.timedelta(hours=1), not_after=now + SERVER_VALIDITY,
                             extensions=[x509.SubjectAlternativeName(_san_entries(sans))])


def _leaf_certificate(subject: x509.Name, public_key: ec.EllipticCurvePublicKey,
                      ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], usage: x509.ObjectIdentifier, *,
                      not_before: dt.datetime, not_after: dt.datetime,
                      extensions: Iterable[x509.ExtensionType] = ()) -> x509.Certificate:
    """A non-CA certificate for ``subject`` signed by ``ca`` for one extended key ``usage``
    (client or server auth); it never outlives the CA. ``extensions`` are added non-critical."""
    ca_cert, ca_key = ca
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(min(not_after, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, key_cert_sign=False,
                                     crl_sign=False, content_commitment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False),
                       critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
    )
    for ext in extensions:
        builder = builder.add_extension(ext, critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def _existing_sans(cert_p: Path) -> set[SanValue]:
    try:
        cert = x509.load_pem_x509_certificate(cert_p.read_bytes())
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return set()
    out: set[SanValue] = {d.lower() for d in ext.get_values_for_type(x509.DNSName)}
    for ip in ext.get_values_for_type(x509.IPAddress):
        if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address):
            out.add(ip)
    return out


def _server_cert_ok(cert_p: Path, key_p: Path, ca_cert: x509.Certificate, wanted: set[SanValue],
                    now: dt.datetime) -> bool:
    if not (cert_p.exists() and key_p.exists()):
        return False
    try:
        cert = x509.load_pem_x509_certificate(cert_p.read_bytes())
        key = serialization.load_pem_private_key(key_p.read_bytes(), password=None)
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    if cert.public_key() != key.public_key():
        return False
    if cert.not_valid_after_utc <= now + RENEW_BEFORE:
        return False
    return wanted <= _existing_sans(cert_p)
