"""The API server's ServiceAccount token signer: ES256 JWTs signed with ``<data dir>/sa.key``.

:class:`ServiceAccountTokens` owns the key (P-256, PEM, 0600, created on first start so tokens
survive restarts). It signs claims (:meth:`ServiceAccountTokens.issue`), checks a presented
token's signature and returns its claims (:meth:`ServiceAccountTokens.claims`), and publishes
the public key as a JWK (:meth:`ServiceAccountTokens.jwks`, the ``/openid/v1/jwks`` document).

:func:`legacy_claims` are the claims of the token the token controller writes into a
``kubernetes.io/service-account-token`` Secret (upstream's legacy tokens: ``iss:
kubernetes/serviceaccount``, ``sub: system:serviceaccount:<ns>:<name>`` and the
``kubernetes.io/serviceaccount/{namespace,secret.name,service-account.name,service-account.uid}``
claims). Who may use a token (the Secret, ServiceAccount and bound object must still exist) is
the authenticator's business: :mod:`suanli.apiserver.authn.serviceaccount`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

__all__ = ["ISSUER", "LEGACY_PREFIX", "ServiceAccountTokens", "legacy_claims"]

#: the ``iss`` of legacy (Secret-stored) tokens
ISSUER = "kubernetes/serviceaccount"
LEGACY_PREFIX = "kubernetes.io/serviceaccount/"


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JOSE uses it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def legacy_claims(namespace: str, secret: str, account: str, uid: str) -> dict[str, str]:
    """The claims of a legacy token for ServiceAccount ``account`` (UID ``uid``) stored in Secret ``secret``."""
    return {"iss": ISSUER, LEGACY_PREFIX + "namespace": namespace, LEGACY_PREFIX + "secret.name": secret,
            LEGACY_PREFIX + "service-account.name": account, LEGACY_PREFIX + "service-account.uid": uid,
            "sub": f"system:serviceaccount:{namespace}:{account}"}


class ServiceAccountTokens:
    """Signs ES256 JWTs with the server's service-account key and checks their signatures."""

    def __init__(self, data_dir: Path) -> None:
        path = Path(data_dir) / "sa.key"
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            assert isinstance(key, ec.EllipticCurvePrivateKey)
        else:
            key = ec.generate_private_key(ec.SECP256R1())
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
            path.chmod(0o600)
        self._key = key
        der = key.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
        #: upstream's key id: base64url(SHA-256(DER public key))
        self.key_id = b64url(hashlib.sha256(der).digest())

    def issue(self, claims: dict[str, Any]) -> str:
        """A compact JWS of ``claims`` (header ``alg: ES256``, ``kid`` = :attr:`key_id`)."""
        header = b64url(json.dumps({"alg": "ES256", "kid": self.key_id}, separators=(",", ":")).encode())
        body = b64url(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
        r, s = decode_dss_signature(self._key.sign(f"{header}.{body}".encode(), ec.ECDSA(hashes.SHA256())))
        return f"{header}.{body}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def claims(self, token: str) -> dict[str, Any] | None:
        """The claims of ``token`` when it is a JWS signed by our key, else None (expiry is not checked here)."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            sig = _unb64(parts[2])
            if len(sig) != 64:
                return None
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
            self._key.public_key().verify(der, f"{parts[0]}.{parts[1]}".encode(), ec.ECDSA(hashes.SHA256()))
            claims = json.loads(_unb64(parts[1]))
        except (InvalidSignature, ValueError, binascii.Error):
            return None
        return claims if isinstance(claims, dict) else None

    def jwks(self) -> dict[str, Any]:
        """The public key as a JSON Web Key Set (``/openid/v1/jwks``)."""
        numbers = self._key.public_key().public_numbers()
        return {"keys": [{"use": "sig", "kty": "EC", "kid": self.key_id, "crv": "P-256", "alg": "ES256",
                          "x": b64url(numbers.x.to_bytes(32, "big")),
                          "y": b64url(numbers.y.to_bytes(32, "big"))}]}
