"""Front-proxy authentication by request headers (kube-apiserver ``--requestheader-*``; upstream
``authenticator/request/headerrequest`` behind ``x509request.NewVerifier``).

A request is authenticated from its headers only when its TLS client certificate is signed by
``--requestheader-client-ca-file`` (valid now, client-auth usage) and, with
``--requestheader-allowed-names``, its common name is one of them. Then:

* the user is the first non-empty value of the ``--requestheader-username-headers`` (in flag
  order); none -> not ours (None), the chain goes on;
* the UID is the first non-empty value of the ``--requestheader-uid-headers``;
* the groups are every value of every ``--requestheader-group-headers`` header, in order;
* each header starting with a ``--requestheader-extra-headers-prefix`` adds its values to the
  extra key named by the rest of the header name, lower-cased, then percent-decoded.

Without a client certificate the authenticator says nothing (None); a certificate the front-proxy
CA did not sign (or a CN not allowed) is an :class:`~.types.AuthenticationError`, so the headers
of such a request are never believed. :class:`RequestHeaderConfig` also renders the
``extension-apiserver-authentication`` ConfigMap data kube-apiserver publishes in ``kube-system``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from suanli.apiserver.authn.types import AuthenticationError, Credentials, Response
from suanli.apiserver.authn.x509 import ClientCertificates
from suanli.apiserver.context import UserInfo

__all__ = ["EXTENSION_AUTH_CONFIGMAP", "RequestHeaderAuthenticator", "RequestHeaderConfig", "extension_auth_data"]

#: (namespace, name) of the ConfigMap telling extension API servers how to authenticate requests
EXTENSION_AUTH_CONFIGMAP = ("kube-system", "extension-apiserver-authentication")


@dataclass(frozen=True)
class RequestHeaderConfig:
    """The ``--requestheader-*`` flags; header names are kept as given (matched case-insensitively)."""

    client_ca_file: Path
    allowed_names: tuple[str, ...] = ()
    username_headers: tuple[str, ...] = ()
    uid_headers: tuple[str, ...] = ()
    group_headers: tuple[str, ...] = ()
    extra_headers_prefix: tuple[str, ...] = ()


class RequestHeaderAuthenticator:
    """Believes the identity headers of requests made by a trusted front proxy (see the module docstring)."""

    def __init__(self, config: RequestHeaderConfig, ca_pem: bytes | None = None) -> None:
        self.config = config
        self.ca_pem = ca_pem if ca_pem is not None else config.client_ca_file.read_bytes()
        self._proxy_certs = ClientCertificates(self.ca_pem)
        self._users = tuple(h.lower() for h in config.username_headers)
        self._uids = tuple(h.lower() for h in config.uid_headers)
        self._groups = tuple(h.lower() for h in config.group_headers)
        self._extras = tuple(p.lower() for p in config.extra_headers_prefix)

    async def authenticate(self, credentials: Credentials) -> Response | None:
        if not credentials.peer_certificates:
            return None
        proxy = await self._proxy_certs.authenticate(credentials)  # raises for a foreign or invalid certificate
        cn = proxy.user.name if proxy is not None else ""
        if self.config.allowed_names and cn not in self.config.allowed_names:
            raise AuthenticationError(f"x509: subject with cn={cn} is not in the allowed list")
        headers = credentials.headers
        name = _first(headers, self._users)
        if not name:
            return None
        groups = tuple(v for h in self._groups for k, v in headers if k == h)
        extra: dict[str, list[str]] = {}
        for key, value in headers:
            prefix = next((p for p in self._extras if key.startswith(p)), None)
            if prefix is not None and len(key) > len(prefix):
                extra.setdefault(unquote(key[len(prefix):]), []).append(value)
        return Response(UserInfo(name, uid=_first(headers, self._uids), groups=groups,
                                 extra=tuple(sorted((k, tuple(v)) for k, v in extra.items()))))


def _first(headers: tuple[tuple[str, str], ...], names: tuple[str, ...]) -> str:
    for name in names:
        for key, value in headers:
            if key == name and value:
                return value
    return ""


def extension_auth_data(client_ca_pem: bytes | None, request_header: RequestHeaderAuthenticator | None
                        ) -> dict[str, str]:
    """kube-apiserver's ``extension-apiserver-authentication`` ConfigMap data: ``client-ca-file``
    (the CA of client certificates) and, with a front proxy, ``requestheader-client-ca-file`` and
    the header flags as JSON lists of strings."""
    data: dict[str, str] = {}
    if client_ca_pem is not None:
        data["client-ca-file"] = client_ca_pem.decode()
    if request_header is not None:
        c = request_header.config
        data.update({
            "requestheader-client-ca-file": request_header.ca_pem.decode(),
            "requestheader-allowed-names": json.dumps(list(c.allowed_names)),
            "requestheader-username-headers": json.dumps(list(c.username_headers)),
            "requestheader-uid-headers": json.dumps(list(c.uid_headers)),
            "requestheader-group-headers": json.dumps(list(c.group_headers)),
            "requestheader-extra-headers-prefix": json.dumps(list(c.extra_headers_prefix)),
        })
    return data
