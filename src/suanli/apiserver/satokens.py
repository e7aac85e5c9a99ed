"""Legacy service-account tokens: ES256 JWTs signed with the server's service-account key.

:class:`ServiceAccountTokens` issues the token the token controller writes into a
``kubernetes.io/service-account-token`` Secret (claims as upstream's legacy tokens:
``iss: kubernetes/serviceaccount``, ``sub: system:serviceaccount:<ns>:<name>`` and the
``kubernetes.io/serviceaccount/{namespace,secret.name,service-account.name,service-account.uid}``
claims) and verifies a presented bearer token: the signature must be ours, and — as upstream's
legacy-token lookup — the Secret must still exist holding that token and the ServiceAccount with
that UID must exist. The key (P-256, PEM, 0600) lives in ``<data dir>/sa.key`` so tokens survive
restarts. Authenticated service accounts get the same (full) access as the admin token: the
server has no RBAC yet.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

__all__ = ["ISSUER", "ServiceAccountTokens", "legacy_claims"]

ISSUER = "kubernetes/serviceaccount"
_PREFIX = "kubernetes.io/serviceaccount/"
#: (namespace, name) -> the stored object, or None
Lookup = Callable[[str, str], dict[str, Any] | None]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def legacy_claims(namespace: str, secret: str, account: str, uid: str) -> dict[str, str]:
    """The claims of a legacy token for ServiceAccount ``account`` (UID ``uid``) stored in Secret ``secret``."""
    return {"iss": ISSUER, _PREFIX + "namespace": namespace, _PREFIX + "secret.name": secret,
            _PREFIX + "service-account.name": account, _PREFIX + "service-account.uid": uid,
            "sub": f"system:serviceaccount:{namespace}:{account}"}


class ServiceAccountTokens:
    """Signs and verifies legacy service-account tokens; ``secrets``/``accounts`` look objects up."""

    def __init__(self, data_dir: Path, *, secrets: Lookup, accounts: Lookup) -> None:
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
        self._secrets = secrets
        self._accounts = accounts

    def issue(self, claims: dict[str, str]) -> str:
        header = _b64(json.dumps({"alg": "ES256", "typ": "JWT"}, separators=(",", ":")).encode())
        body = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
        r, s = decode_dss_signature(self._key.sign(f"{header}.{body}".encode(), ec.ECDSA(hashes.SHA256())))
        return f"{header}.{body}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def verify(self, token: str) -> str | None:
        """The user name (``system:serviceaccount:<ns>:<name>``) of a valid, still-backed token, else None."""
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
        if not isinstance(claims, dict) or claims.get("iss") != ISSUER:
            return None
        ns = str(claims.get(_PREFIX + "namespace") or "")
        secret = self._secrets(ns, str(claims.get(_PREFIX + "secret.name") or ""))
        account = self._accounts(ns, str(claims.get(_PREFIX + "service-account.name") or ""))
        if secret is None or account is None:
            return None
        stored = ((secret.get("data") or {}).get("token")) or ""
        try:
            if base64.b64decode(stored).decode() != token:
                return None
        except (ValueError, binascii.Error):
            return None
        if (account.get("metadata") or {}).get("uid") != claims.get(_PREFIX + "service-account.uid"):
            return None
        return str(claims.get("sub"))
