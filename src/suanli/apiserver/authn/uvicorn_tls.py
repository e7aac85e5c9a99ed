"""uvicorn protocols whose scopes carry the peer certificate, and the TLS settings that request one.

uvicorn builds each request's scope without the peer certificate. :class:`TlsHttpToolsProtocol`
(and, when ``wsproto`` is installed, :class:`TlsWebSocketProtocol`) are uvicorn's own httptools
and wsproto protocols with one addition: on connection they compute
:func:`~suanli.apiserver.authn.peercert.tls_extension` once, and every scope built on that
connection carries it. :func:`tls_server_options` returns the ``uvicorn.Config`` arguments.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from suanli.apiserver.authn.peercert import tls_extension

__all__ = ["TlsHttpToolsProtocol", "tls_server_options"]

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


#: the WebSocket protocol with the TLS extension (None without ``wsproto``: uvicorn picks its own)
WS_PROTOCOL: type[asyncio.Protocol] | None = None

try:
    from uvicorn.protocols.websockets.wsproto_impl import WSProtocol
    from wsproto import events
except ImportError:  # pragma: no cover
    pass
else:

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

    WS_PROTOCOL = TlsWebSocketProtocol


#: OpenSSL's ``X509_V_FLAG_NO_CHECK_TIME`` (not exported by :mod:`ssl`)
_NO_CHECK_TIME = 0x200000


def tls_server_options(ca_cert: str, extra_ca_pem: bytes | None = None) -> dict[str, Any]:
    """``uvicorn.Config`` keyword arguments that request (not require) a client certificate.

    The handshake asks for a certificate with ``ca_cert`` as trust root and exposes the one
    sent through the ASGI TLS extension; requests without one go on to token authentication.
    OpenSSL's time check is off in the handshake so an expired certificate reaches the x509
    authenticator and gets upstream's 401 rather than a TLS alert; a certificate from another
    CA still fails the handshake (Python's ``ssl`` cannot request a certificate without
    verifying it, unlike Go's ``tls.RequestClientCert``). ``extra_ca_pem`` (the front-proxy CA)
    is trusted in the handshake too; which CA signed a certificate is the authenticators' business.
    """

    def factory(_config: Any, default: Any) -> ssl.SSLContext:
        ctx: ssl.SSLContext = default()
        ctx.verify_flags = ssl.VerifyFlags(int(ctx.verify_flags) | _NO_CHECK_TIME)
        if extra_ca_pem:
            ctx.load_verify_locations(cadata=extra_ca_pem.decode())
        return ctx

    options: dict[str, Any] = {"ssl_cert_reqs": ssl.CERT_OPTIONAL, "ssl_ca_certs": ca_cert,
                               "ssl_context_factory": factory, "http": TlsHttpToolsProtocol}
    if WS_PROTOCOL is not None:
        options["ws"] = WS_PROTOCOL
    return options
