"""The client certificate of a TLS connection as the ASGI TLS extension.

:func:`tls_extension` builds ``scope["extensions"]["tls"]`` for a transport from
``ssl_object.getpeercert(binary_form=True)`` (``client_cert_chain``: PEM certificates, leaf
first; Python's ``ssl`` before 3.13 only hands out the leaf); the server's protocols
(:mod:`suanli.apiserver.authn.uvicorn_tls`) put it into every scope. :func:`peer_certificates`
reads it back as DER for the authenticators.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

__all__ = ["peer_certificates", "tls_extension"]


def tls_extension(transport: asyncio.BaseTransport) -> dict[str, Any] | None:
    """The ASGI TLS extension for ``transport`` (None on a plain-TCP connection)."""
    obj = transport.get_extra_info("ssl_object")
    if not isinstance(obj, ssl.SSLObject | ssl.SSLSocket):
        return None
    der = obj.getpeercert(binary_form=True)
    version = obj.version() or ""
    return {"server_cert": None, "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
            "client_cert_name": None, "client_cert_error": None,
            "tls_version": {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}.get(version), "cipher_suite": None}


def peer_certificates(scope: dict[str, Any]) -> tuple[bytes, ...]:
    """The DER client certificates of the request ``scope`` (leaf first; empty without any)."""
    tls = (scope.get("extensions") or {}).get("tls")
    if not tls:
        return ()
    chain = tls.get("client_cert_chain") or ()
    return tuple(ssl.PEM_cert_to_DER_cert(pem) for pem in chain)
