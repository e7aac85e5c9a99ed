"""The JOSE pieces OIDC needs: compact JWS parsing, JWK public keys, signature checks.

Only asymmetric algorithms, as kube-apiserver allows for ``--oidc-signing-algs``: ``RS256/384/512``
(PKCS#1 v1.5), ``PS256/384/512`` (PSS, any salt length) and ``ES256/384/512`` (raw
``r||s`` signatures). :func:`split` decodes a token without trusting it; :func:`public_key` turns a
JWK (``kty`` ``RSA`` or ``EC``) into a key; :func:`verify` checks a signature and says yes or no.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

__all__ = ["SUPPORTED_ALGS", "JoseError", "PublicKey", "Token", "public_key", "split", "verify"]

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
_CURVES: dict[str, ec.EllipticCurve] = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}
#: the algorithms kube-apiserver accepts in --oidc-signing-algs (upstream's allowlist)
SUPPORTED_ALGS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512")


class JoseError(ValueError):
    """A malformed token or key; ``str(err)`` says what (never the token itself)."""


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise JoseError("malformed base64url") from None


def _uint(text: Any) -> int:
    if not isinstance(text, str):
        raise JoseError("malformed JWK: a number is not a string")
    return int.from_bytes(_unb64(text), "big")


@dataclass(frozen=True)
class Token:
    """A compact JWS split into its parts: header, claims, the signed input and the signature."""

    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def split(token: str) -> Token:
    """The parts of a compact JWS (nothing verified); JoseError if it is not one with JSON objects."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JoseError("malformed jwt: expected 3 parts")
    try:
        header, claims = json.loads(_unb64(parts[0])), json.loads(_unb64(parts[1]))
    except ValueError:
        raise JoseError("malformed jwt: a part is not JSON") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JoseError("malformed jwt: a part is not a JSON object")
    return Token(header, claims, f"{parts[0]}.{parts[1]}".encode(), _unb64(parts[2]))


def public_key(jwk: dict[str, Any]) -> PublicKey:
    """The public key of a JWK (``RSA``: ``n``, ``e``; ``EC``: ``crv``, ``x``, ``y``)."""
    kty = jwk.get("kty")
    if kty == "RSA":
        return rsa.RSAPublicNumbers(_uint(jwk.get("e")), _uint(jwk.get("n"))).public_key()
    if kty == "EC":
        curve = _CURVES.get(str(jwk.get("crv")))
        if curve is None:
            raise JoseError(f"unsupported JWK curve {jwk.get('crv')!r}")
        try:
            return ec.EllipticCurvePublicNumbers(_uint(jwk.get("x")), _uint(jwk.get("y")), curve).public_key()
        except ValueError:
            raise JoseError("JWK point is not on its curve") from None
    raise JoseError(f"unsupported JWK key type {kty!r}")


def verify(alg: str, key: PublicKey, signing_input: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is ``key``'s ``alg`` signature of ``signing_input`` (False for a key of another kind)."""
    digest = _HASHES.get(alg[2:])
    if digest is None or alg not in SUPPORTED_ALGS:
        return False
    try:
        if alg.startswith("RS") and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signing_input, padding.PKCS1v15(), digest())
        elif alg.startswith("PS") and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signing_input, padding.PSS(padding.MGF1(digest()), padding.PSS.AUTO), digest())
        elif alg.startswith("ES") and isinstance(key, ec.EllipticCurvePublicKey):
            size = (key.curve.key_size + 7) // 8
            if len(signature) != 2 * size:
                return False
            der = encode_dss_signature(int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big"))
            key.verify(der, signing_input, ec.ECDSA(digest()))
        else:
            return False
    except InvalidSignature:
        return False
    return True
