"""The one authenticator contract (kube-apiserver's ``authenticator.Request``/``Token`` folded together).

An :class:`Authenticator` looks at the :class:`Credentials` of a request — the bearer token, the
verified-by-nobody-yet client certificate chain from the TLS handshake, and the audiences the
caller accepts — and answers in one of three ways, like upstream's ``(response, ok, err)``:

* a :class:`Response`: the credentials are its kind and valid (``ok``);
* ``None``: not its kind of credential, or a token it does not know (``!ok``, no error): the
  chain asks the next authenticator;
* raise :class:`AuthenticationError`: its kind of credential but invalid (expired, wrong
  signature, audience mismatch, backing object gone, webhook failure): the chain records the
  error and still asks the next authenticator (upstream's union does not stop on errors).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from suanli.apiserver.context import UserInfo

__all__ = ["AuthenticationError", "Authenticator", "Credentials", "Response"]


@dataclass(frozen=True)
class Credentials:
    """What a request presents.

    ``token``: the ``Authorization: Bearer`` value (None without one). ``peer_certificates``:
    DER certificates the client sent in the TLS handshake, leaf first (empty without TLS or
    without a client certificate). ``audiences``: the audiences the token must be meant for —
    the API server's own audiences for a request, ``spec.audiences`` for a TokenReview; empty
    means "whatever the authenticator considers its own" (upstream: no audiences in the context).
    ``headers``: the request headers as (lower-cased name, value) pairs, repeated names kept in
    order (what the front-proxy authenticator reads; empty for a TokenReview).
    """

    token: str | None = None
    peer_certificates: tuple[bytes, ...] = ()
    audiences: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Response:
    """An authenticated identity and the audiences (of those requested) the credential is valid for."""

    user: UserInfo
    audiences: tuple[str, ...] = ()


class AuthenticationError(Exception):
    """The credential is of the authenticator's kind but not valid; ``str(err)`` says why (kept out of 401 bodies)."""


class Authenticator(Protocol):
    """Turns credentials into an identity; see the module docstring for the three outcomes."""

    async def authenticate(self, credentials: Credentials) -> Response | None:
        """The identity behind ``credentials``, None when they are not this authenticator's to judge."""
        ...
