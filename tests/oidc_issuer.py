"""A real local OpenID issuer for tests: HTTPS discovery + JWKS, ID tokens signed with ``cryptography``.

:class:`Issuer` serves ``/.well-known/openid-configuration`` and ``/keys`` over TLS (certificate
from :func:`suanli.apiserver.tls.ensure_tls_material`, so ``ca_file`` is what ``--oidc-ca-file``
takes) on a free port, counts the requests it answers and can rotate to a new key. :meth:`Issuer.sign`
makes a compact JWS of any claims with any supported algorithm.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from suanli.apiserver.tls import ensure_tls_material

__all__ = ["Issuer", "b64"]

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
_HASH = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
_CURVE = {"ES256": (ec.SECP256R1(), "P-256"), "ES384": (ec.SECP384R1(), "P-384"), "ES512": (ec.SECP521R1(), "P-521")}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int(n: int) -> str:
    return b64(n.to_bytes((n.bit_length() + 7) // 8 or 1, "big"))


def new_key(alg: str) -> PrivateKey:
    if alg.startswith("ES"):
        return ec.generate_private_key(_CURVE[alg][0])
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(key: PrivateKey, kid: str) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        nums = key.public_key().public_numbers()
        return {"kty": "RSA", "kid": kid, "use": "sig", "n": _int(nums.n), "e": _int(nums.e)}
    pub = key.public_key().public_numbers()
    size = (key.curve.key_size + 7) // 8
    crv = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[key.curve.name]
    return {"kty": "EC", "kid": kid, "use": "sig", "crv": crv, "x": b64(pub.x.to_bytes(size, "big")),
            "y": b64(pub.y.to_bytes(size, "big"))}


def sign(key: PrivateKey, alg: str, claims: dict[str, Any], kid: str | None) -> str:
    header: dict[str, Any] = {"alg": alg, "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}".encode()
    digest = _HASH[alg[2:]]()
    if isinstance(key, rsa.RSAPrivateKey):
        pad: padding.AsymmetricPadding = padding.PKCS1v15() if alg.startswith("RS") else \
            padding.PSS(padding.MGF1(_HASH[alg[2:]]()), digest.digest_size)
        sig = key.sign(signing_input, pad, digest)
    else:
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(digest)))
        size = (key.curve.key_size + 7) // 8
        sig = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return f"{signing_input.decode()}.{b64(sig)}"


class Issuer:
    """An HTTPS OpenID issuer on 127.0.0.1 (see the module docstring); ``stop()`` when done."""

    def __init__(self, tls_dir: Path, *, alg: str = "RS256", issuer_path: str = "") -> None:
        material = ensure_tls_material(tls_dir, [])
        self.ca_file = material.ca_cert
        self.alg = alg
        self.keys: dict[str, PrivateKey] = {"k1": new_key(alg)}
        self.current = "k1"
        self.requests: list[str] = []
        #: what discovery says the issuer is (tests may lie)
        self.discovered_issuer: str | None = None
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.requests.append(self.path)
                if self.path.endswith("/.well-known/openid-configuration"):
                    doc: dict[str, Any] = {"issuer": issuer.discovered_issuer or issuer.url,
                                           "jwks_uri": issuer.url + "/keys"}
                elif self.path.endswith("/keys"):
                    doc = {"keys": [jwk(k, kid) for kid, k in issuer.keys.items()]}
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                body = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(material.server_cert, material.server_key)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}{issuer_path}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def sign(self, claims: dict[str, Any], *, alg: str | None = None, kid: str | None = "",
             key: PrivateKey | None = None) -> str:
        """``claims`` signed with the current key (or ``key``) as ``alg``; ``kid=""``: the current kid, None: none."""
        return sign(key or self.keys[self.current], alg or self.alg, claims,
                    self.current if kid == "" else kid)

    def rotate(self, kid: str) -> None:
        """Publish a new key ``kid`` (keeping the old ones) and sign with it from now on."""
        self.keys[kid] = new_key(self.alg)
        self.current = kid

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
