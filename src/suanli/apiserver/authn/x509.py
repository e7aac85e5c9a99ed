"""X.509 client certificates signed by the cluster CA (upstream ``authenticator/request/x509``).

A request whose TLS handshake presented a client certificate is authenticated when the leaf
certificate is signed by the cluster CA, is inside its validity window, and — if it has an
extended-key-usage extension — allows client authentication. The user is the subject's common
name (``CN``); the groups are its organisations (``O``), in order (upstream
``CommonNameUserConversion``); the extra ``authentication.kubernetes.io/credential-id`` is
``X509SHA256=<hex SHA-256 of the DER certificate>``. A certificate with an empty CN is not
ours to judge (None); an invalid one is an :class:`AuthenticationError`. Verified certificates
are remembered (up to :data:`CACHE_SIZE`) until they expire, so the ECDSA check runs once per
certificate, not per request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import OrderedDict
from collections.abc import Callable

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from suanli.apiserver.authn.types import AuthenticationError, Credentials, Response
from suanli.apiserver.context import UserInfo

__all__ = ["CACHE_SIZE", "CREDENTIAL_ID", "ClientCertificates", "user_of"]

CACHE_SIZE = 1024
CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"


def user_of(cert: x509.Certificate, der: bytes) -> UserInfo | None:
    """The identity a certificate names (CN, O...), None when its CN is empty."""
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    name = str(cns[0].value) if cns else ""
    if not name:
        return None
    groups = tuple(str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
    return UserInfo(name, groups=groups,
                    extra=((CREDENTIAL_ID, (f"X509SHA256={hashlib.sha256(der).hexdigest()}",)),))


class ClientCertificates:
    """Authenticates TLS client certificates against the CA certificate(s) in ``ca_pem``."""

    def __init__(self, ca_pem: bytes, *, now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
        self.cas = x509.load_pem_x509_certificates(ca_pem)
        self._now = now
        self._verified: OrderedDict[bytes, tuple[UserInfo, dt.datetime, dt.datetime]] = OrderedDict()

    async def authenticate(self, credentials: Credentials) -> Response | None:
        if not credentials.peer_certificates:
            return None
        der = credentials.peer_certificates[0]
        now = self._now()
        hit = self._verified.get(der)
        if hit is not None and hit[1] <= now <= hit[2]:
            return Response(hit[0])
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError as err:
            raise AuthenticationError(f"x509: malformed certificate: {err}") from None
        self._verify(cert, now)
        user = user_of(cert, der)
        if user is None:
            return None
        self._verified[der] = (user, cert.not_valid_before_utc, cert.not_valid_after_utc)
        if len(self._verified) > CACHE_SIZE:
            self._verified.popitem(last=False)
        return Response(user)

    def _verify(self, cert: x509.Certificate, now: dt.datetime) -> None:
        after, before = now > cert.not_valid_after_utc, now < cert.not_valid_before_utc
        if after or before:
            bound = cert.not_valid_after_utc if after else cert.not_valid_before_utc
            raise AuthenticationError(f"x509: certificate has expired or is not yet valid: current time "
                                      f"{now:%Y-%m-%dT%H:%M:%SZ} is {'after' if after else 'before'} "
                                      f"{bound:%Y-%m-%dT%H:%M:%SZ}")
        if not any(self._signed_by(cert, ca) for ca in self.cas):
            raise AuthenticationError("x509: certificate signed by unknown authority")
        try:
            usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            return
        if ExtendedKeyUsageOID.CLIENT_AUTH not in usage and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in usage:
            raise AuthenticationError("x509: certificate specifies an incompatible key usage")

    @staticmethod
    def _signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            return False
        return True
