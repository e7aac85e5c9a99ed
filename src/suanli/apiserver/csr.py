"""CertificateSigningRequests signed with the cluster CA (kube-controller-manager's ``csrsigning``).

Pure functions over PEM/DER, used by ``controllers/csrsigning.py``:

* :func:`signer_validation_error` — upstream's per-signer checks (``pkg/controller/certificates/signer``):

  - ``kubernetes.io/kube-apiserver-client``: usages only ``digital signature``, ``key encipherment``,
    ``client auth``, and ``client auth`` required;
  - ``kubernetes.io/kube-apiserver-client-kubelet``: organization exactly ``system:nodes``, no
    DNS/email/IP/URI SANs, common name ``system:node:<name>``, usages exactly
    {digital signature, key encipherment, client auth} or {digital signature, client auth};
  - ``kubernetes.io/kubelet-serving``: organization ``system:nodes``, common name
    ``system:node:…``, no email/URI SANs, at least one DNS or IP SAN, usages
    {digital signature, key encipherment, server auth} or {digital signature, server auth};
  - ``kubernetes.io/legacy-unknown``: anything;

  (messages worded as upstream's, e.g. ``subject organization is not system:nodes``);
* :func:`certificate_ttl` — ``spec.expirationSeconds`` honoured between 10 minutes and the
  signer's maximum (one year, kube-controller-manager's ``--cluster-signing-duration`` default);
* :func:`sign` — an X.509 certificate for the request's public key, subject and SANs, key and
  extended key usages from ``spec.usages``, valid from ``now`` minus a backdate (5 minutes, scaled
  down for certificates shorter than 8 hours) until ``now + ttl`` (never past the CA's expiry),
  issued by the CA.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["KNOWN_SIGNERS", "MAX_TTL", "MIN_TTL", "certificate_ttl", "parse_csr", "sign",
           "signer_validation_error"]

CLIENT = "kubernetes.io/kube-apiserver-client"
KUBELET_CLIENT = "kubernetes.io/kube-apiserver-client-kubelet"
KUBELET_SERVING = "kubernetes.io/kubelet-serving"
LEGACY_UNKNOWN = "kubernetes.io/legacy-unknown"
KNOWN_SIGNERS = frozenset({CLIENT, KUBELET_CLIENT, KUBELET_SERVING, LEGACY_UNKNOWN})
MIN_TTL = dt.timedelta(minutes=10)
MAX_TTL = dt.timedelta(days=365)
_BACKDATE = dt.timedelta(minutes=5)
_SHORT = dt.timedelta(hours=8)

_KUBELET_CLIENT_USAGES = ({"digital signature", "key encipherment", "client auth"},
                          {"digital signature", "client auth"})
_KUBELET_SERVING_USAGES = ({"digital signature", "key encipherment", "server auth"},
                           {"digital signature", "server auth"})

CaKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def parse_csr(pem: bytes) -> x509.CertificateSigningRequest:
    """The PEM ``CERTIFICATE REQUEST`` in ``pem``; ValueError (upstream's wording) otherwise."""
    if b"-----BEGIN CERTIFICATE REQUEST-----" not in pem:
        raise ValueError("PEM block type must be CERTIFICATE REQUEST")
    csr = x509.load_pem_x509_csr(pem)
    if not csr.is_signature_valid:
        raise ValueError("x509: CSR signature is invalid")
    return csr


def _sans(csr: x509.CertificateSigningRequest) -> x509.SubjectAlternativeName | None:
    try:
        return csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None


def _attr(name: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(a.value) for a in name.get_attributes_for_oid(oid)]


def _kubelet_identity_error(csr: x509.CertificateSigningRequest) -> str:
    if _attr(csr.subject, NameOID.ORGANIZATION_NAME) != ["system:nodes"]:
        return "subject organization is not system:nodes"
    return ""


def signer_validation_error(signer: str, csr: x509.CertificateSigningRequest, usages: list[str]) -> str:
    """Why signer ``signer`` refuses the request ("" = acceptable)."""
    sans = _sans(csr)
    dns = sans.get_values_for_type(x509.DNSName) if sans else []
    emails = sans.get_values_for_type(x509.RFC822Name) if sans else []
    ips = sans.get_values_for_type(x509.IPAddress) if sans else []
    uris = sans.get_values_for_type(x509.UniformResourceIdentifier) if sans else []
    common_names = _attr(csr.subject, NameOID.COMMON_NAME)
    cn = common_names[0] if common_names else ""
    if signer == CLIENT:
        for usage in usages:
            if usage not in ("digital signature", "key encipherment", "client auth"):
                return f"invalid usage for client certificate: {usage}"
        return "" if "client auth" in usages else "missing required usage for client certificate: client auth"
    if signer == KUBELET_CLIENT:
        problem = _kubelet_identity_error(csr)
        for values, what in ((dns, "DNS"), (emails, "Email"), (ips, "IP"), (uris, "URI")):
            if not problem and values:
                problem = f"{what} subjectAltNames are not allowed"
        if not problem and not cn.startswith("system:node:"):
            problem = "subject common name does not begin with system:node:"
        if not problem and set(usages) not in _KUBELET_CLIENT_USAGES:
            problem = "usages did not match [client auth digital signature key encipherment]"
        return problem
    if signer == KUBELET_SERVING:
        problem = _kubelet_identity_error(csr)
        if not problem and (emails or uris):
            problem = "Email subjectAltNames are not allowed" if emails else "URI subjectAltNames are not allowed"
        if not problem and not dns and not ips:
            problem = "DNS or IP subjectAltName is required"
        if not problem and not cn.startswith("system:node:"):
            problem = "subject common name does not begin with system:node:"
        if not problem and set(usages) not in _KUBELET_SERVING_USAGES:
            problem = "usages did not match [digital signature key encipherment server auth]"
        return problem
    return ""


def certificate_ttl(expiration_seconds: int | None) -> dt.timedelta:
    """Upstream ``signer.duration``: the request's duration clamped to [10 min, one year]."""
    if expiration_seconds is None:
        return MAX_TTL
    return min(MAX_TTL, max(MIN_TTL, dt.timedelta(seconds=expiration_seconds)))


def sign(csr: x509.CertificateSigningRequest, usages: list[str], ttl: dt.timedelta, ca_cert: x509.Certificate,
         ca_key: CaKey, now: dt.datetime) -> bytes:
    """The PEM certificate for ``csr`` (see the module docstring)."""
    backdate = _BACKDATE if ttl >= _SHORT else _BACKDATE * (ttl / _SHORT)
    not_after = min(now + ttl, ca_cert.not_valid_after_utc)
    key_usage = {u: u in usages for u in ("digital signature", "key encipherment", "content commitment",
                                         "data encipherment", "key agreement")}
    extended = [oid for name, oid in (("client auth", ExtendedKeyUsageOID.CLIENT_AUTH),
                                      ("server auth", ExtendedKeyUsageOID.SERVER_AUTH),
                                      ("code signing", ExtendedKeyUsageOID.CODE_SIGNING),
                                      ("email protection", ExtendedKeyUsageOID.EMAIL_PROTECTION))
                if name in usages]
    builder = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca_cert.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - backdate)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=key_usage["digital signature"], content_commitment=key_usage["content commitment"],
            key_encipherment=key_usage["key encipherment"], data_encipherment=key_usage["data encipherment"],
            key_agreement=key_usage["key agreement"], key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
    )
    if extended:
        builder = builder.add_extension(x509.ExtendedKeyUsage(extended), critical=False)
    sans = _sans(csr)
    if sans is not None and len(sans):
        builder = builder.add_extension(sans, critical=False)
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                                        critical=False)
    except x509.ExtensionNotFound:
        pass
    cert = builder.sign(ca_key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM)
