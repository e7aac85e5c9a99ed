"""Composition of authenticators: kube-apiserver's union, authenticated-group adder, anonymous fallback.

* :class:`Union`: the first authenticator that answers with a :class:`Response` wins; errors from
  the others are collected and raised together only when nobody succeeded (upstream
  ``union.New``). An empty chain authenticates nobody.
* :class:`BearerToken`: runs token authenticators on a presented bearer token; a token nobody
  accepts is an error ("invalid bearer token"), not "not mine" (upstream ``bearertoken``).
* :class:`AudienceAgnostic`: gives a token authenticator that knows nothing of audiences (token
  file, admin token, legacy ServiceAccount tokens) the API server's audiences, and refuses when
  the caller wants none of them (upstream ``WrapAudienceAgnosticToken``).
* :class:`TokenCache`: remembers successful token authentications for a short TTL (10 s, as
  kube-apiserver's ``--token-success-cache-ttl`` wraps its token authenticators); failures and
  errors are not cached. A revoked token (deleted ServiceAccount, Pod...) can so live up to the
  TTL longer, as upstream.
* :class:`AuthenticatedGroup`: adds ``system:authenticated`` to every authenticated user other
  than ``system:anonymous`` that does not carry it yet (upstream ``AuthenticatedGroupAdder``).
* :class:`Anonymous`: ``system:anonymous`` in group ``system:unauthenticated`` for a request that
  nobody authenticated *and* that no authenticator rejected (upstream wraps the chain with
  ``union.NewFailOnError(chain, anonymous)``: a wrong bearer token stays a 401 even with
  ``--anonymous``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from suanli.apiserver.authn.types import AuthenticationError, Authenticator, Credentials, Response
from suanli.apiserver.context import UserInfo

__all__ = ["ANONYMOUS", "AUTHENTICATED", "UNAUTHENTICATED", "Anonymous", "AudienceAgnostic", "AuthenticatedGroup",
           "BearerToken", "TokenCache", "Union"]

AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = UserInfo("system:anonymous", groups=(UNAUTHENTICATED,))


class Union:
    """Ask each authenticator in order; the first success wins (see module docstring)."""

    def __init__(self, authenticators: Sequence[Authenticator]) -> None:
        self.authenticators = tuple(authenticators)

    async def authenticate(self, credentials: Credentials) -> Response | None:
        errors: list[str] = []
        for authenticator in self.authenticators:
            try:
                resp = await authenticator.authenticate(credentials)
            except AuthenticationError as err:
                errors.append(str(err))
                continue
            if resp is not None:
                return resp
        if errors:
            raise AuthenticationError("; ".join(errors) if len(errors) > 1 else errors[0])
        return None


class BearerToken:
    """``inner`` (token authenticators) for requests with a bearer token; None without one."""

    def __init__(self, inner: Authenticator) -> None:
        self.inner = inner

    async def authenticate(self, credentials: Credentials) -> Response | None:
        if not credentials.token:
            return None
        resp = await self.inner.authenticate(credentials)
        if resp is None:
            raise AuthenticationError("invalid bearer token")
        return resp


class AudienceAgnostic:
    """``inner`` valid for the ``implicit`` (API server) audiences only."""

    def __init__(self, implicit: Sequence[str], inner: Authenticator) -> None:
        self.implicit = tuple(implicit)
        self.inner = inner

    async def authenticate(self, credentials: Credentials) -> Response | None:
        if not credentials.audiences:
            return await self.inner.authenticate(credentials)
        wanted = tuple(a for a in self.implicit if a in credentials.audiences)
        if not wanted:
            return None
        resp = await self.inner.authenticate(credentials)
        return None if resp is None else replace(resp, audiences=wanted)


class TokenCache:
    """``inner`` with successful answers cached per (token hash, audiences) for ``ttl`` seconds."""

    MAX_ENTRIES = 8192

    def __init__(self, inner: Authenticator, *, ttl: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.inner = inner
        self.ttl = ttl
        self.clock = clock
        self._hits: dict[tuple[bytes, tuple[str, ...]], tuple[float, Response]] = {}

    async def authenticate(self, credentials: Credentials) -> Response | None:
        if not credentials.token or credentials.peer_certificates:
            return await self.inner.authenticate(credentials)
        key = (hashlib.sha256(credentials.token.encode()).digest(), credentials.audiences)
        now = self.clock()
        hit = self._hits.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        resp = await self.inner.authenticate(credentials)
        if resp is not None:
            if len(self._hits) >= self.MAX_ENTRIES:
                self._hits = {k: v for k, v in self._hits.items() if v[0] > now}
                if len(self._hits) >= self.MAX_ENTRIES:
                    self._hits.clear()
            self._hits[key] = (now + self.ttl, resp)
        return resp


class AuthenticatedGroup:
    """Wraps an authenticator so every authenticated, non-anonymous user is in ``system:authenticated``."""

    def __init__(self, inner: Authenticator) -> None:
        self.inner = inner

    async def authenticate(self, credentials: Credentials) -> Response | None:
        resp = await self.inner.authenticate(credentials)
        if resp is None or resp.user.name == ANONYMOUS.name or AUTHENTICATED in resp.user.groups:
            return resp
        return replace(resp, user=replace(resp.user, groups=(*resp.user.groups, AUTHENTICATED)))


class Anonymous:
    """``inner``, falling back to ``system:anonymous`` when ``inner`` neither accepts nor rejects."""

    def __init__(self, inner: Authenticator) -> None:
        self.inner = inner

    async def authenticate(self, credentials: Credentials) -> Response | None:
        resp = await self.inner.authenticate(credentials)  # an AuthenticationError propagates: fail on error
        return resp if resp is not None else Response(ANONYMOUS)
