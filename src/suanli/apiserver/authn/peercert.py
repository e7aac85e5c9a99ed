"""The client certificate of a TLS connection, exposed to the ASGI app (uvicorn does not do it).

uvicorn builds each request's scope without the peer certificate. :class:`TlsHttpToolsProtocol`
and :class:`TlsWebSocketProtocol` are uvicorn's own httptools and wsproto protocols
with one addition: on connection they read ``ssl_object.getpeercert(binary_form=True)`` from the
transport, and put it in every scope built on that connection as the ASGI TLS extension
(``scope["extensions"]["tls"]["client_cert_chain"]``: PEM certificates, leaf first; Python's
``ssl`` module before 3.13 only hands out the leaf). :func:`peer_certificates` reads it back as
DER. Pass the classes as ``uvicorn.Config(http=..., ws=...)``.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.wsproto_impl import WSProtocol
from wsproto import events

__all__ = ["TlsHttpToolsProtocol", "TlsWebSocketProtocol", "peer_certificates", "tls_extension"]


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


class TlsHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol whose request scopes carry the ASGI TLS extension."""

    _tls: dict[str, Any] | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._tls = tls_extension(transport)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._tls is not None:
            self.scope["extensions"] = {"tls": self._tls}  # type: ignore[dict-item]


class TlsWebSocketProtocol(WSProtocol):
    """uvicorn's wsproto WebSocket protocol whose scopes carry the ASGI TLS extension."""

    _tls: dict[str, Any] | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._tls = tls_extension(transport)

    def handle_connect(self, event: events.Request) -> None:
        super().handle_connect(event)  # builds self.scope and schedules the app, which runs later
        if self._tls is not None:
            self.scope["extensions"]["tls"] = self._tls  # type: ignore[assignment]


#: OpenSSL's ``X509_V_FLAG_NO_CHECK_TIME`` (not exported by :mod:`ssl`)
_NO_CHECK_TIME = 0x200000


def tls_server_options(ca_cert: str) -> dict[str, Any]:
    """``uvicorn.Config`` keyword arguments that request (not require) a client certificate.

    The handshake asks for a certificate with ``ca_cert`` as trust root and exposes the one
    sent through the ASGI TLS extension; requests without one go on to token authentication.
    OpenSSL's time check is off in the handshake so an expired certificate reaches the x509
    authenticator and gets upstream's 401 rather than a TLS alert; a certificate from another
    CA still fails the handshake (Python's ``ssl`` cannot request a certificate without
    verifying it, unlike Go's ``tls.RequestClientCert``).
    """

    def factory(_config: Any, default: Any) -> ssl.SSLContext:
        ctx: ssl.SSLContext = default()
        ctx.verify_flags = ssl.VerifyFlags(int(ctx.verify_flags) | _NO_CHECK_TIME)
        return ctx

    return {"ssl_cert_reqs": ssl.CERT_OPTIONAL, "ssl_ca_certs": ca_cert, "ssl_context_factory": factory,
            "http": TlsHttpToolsProtocol, "ws": TlsWebSocketProtocol}
