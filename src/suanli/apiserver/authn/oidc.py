"""OpenID Connect ID tokens (kube-apiserver ``--oidc-*`` flags; upstream ``token/oidc``).

:class:`OIDCOptions` holds the flags; :meth:`OIDCOptions.validate` refuses what kube-apiserver
refuses at start-up (issuer not ``https``, no client id, an algorithm outside
:data:`~.jose.SUPPORTED_ALGS`). :class:`OIDCAuthenticator` judges a bearer token:

* not a JWT, or its (unverified) ``iss`` is not ``--oidc-issuer-url`` -> not ours (None), so the
  next authenticator is asked (upstream skips tokens of other issuers the same way);
* otherwise the token must be signed with one of ``--oidc-signing-algs`` by a key of the issuer's
  JWKS, name ``--oidc-client-id`` in ``aud``, not be expired (``exp``) nor used before ``nbf``
  (5 minutes of clock skew allowed, as go-oidc), and carry every ``--oidc-required-claim`` with its
  exact value; any failure is an :class:`~.types.AuthenticationError` worded as upstream's.

The user is the ``--oidc-username-claim`` (a string; for ``email``, an ``email_verified`` claim,
when present, must be ``true``) behind ``--oidc-username-prefix``; the groups are the
``--oidc-groups-claim`` (a string or a list of strings) each behind ``--oidc-groups-prefix``.
The default username prefix is kube-apiserver's: none for ``email``, else ``<issuer URL>#``;
``-`` means none.

Keys come from the issuer: its discovery document ``<issuer>/.well-known/openid-configuration``
(whose ``issuer`` must equal the flag) names ``jwks_uri``. Both are fetched at the first token
and the key set is fetched again when a token names a ``kid`` the cached set lacks or fails
every cached key (a key rotation); concurrent refreshes share one fetch (go-oidc's remote key
set: no time-based limit either). ``--oidc-ca-file`` is the CA the issuer's TLS certificate must chain
to (default: the system roots). Distributed claims (``_claim_names``) are not resolved.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from suanli.apiserver.authn import jose
from suanli.apiserver.authn.types import AuthenticationError, Credentials, Response
from suanli.apiserver.context import UserInfo

__all__ = ["OIDCAuthenticator", "OIDCConfigError", "OIDCOptions"]

#: go-oidc's allowance for clocks that disagree (applies to nbf)
CLOCK_SKEW = 300.0
TIMEOUT = 30.0


class OIDCConfigError(ValueError):
    """The ``--oidc-*`` flags cannot work together; the message is kube-apiserver's."""


@dataclass(frozen=True)
class OIDCOptions:
    """The ``--oidc-*`` flags (kube-apiserver's names and defaults).

    ``username_prefix`` None: the flag was not given (kube-apiserver's default applies, see the
    module docstring). ``required_claims``: ``--oidc-required-claim key=value`` pairs.
    """

    issuer_url: str
    client_id: str = ""
    username_claim: str = "sub"
    username_prefix: str | None = None
    groups_claim: str = ""
    groups_prefix: str = ""
    required_claims: Mapping[str, str] = field(default_factory=dict)
    ca_file: Path | None = None
    signing_algs: tuple[str, ...] = ("RS256",)

    def validate(self) -> None:
        """Raise :class:`OIDCConfigError` for what kube-apiserver refuses at start-up."""
        url = urlsplit(self.issuer_url)
        if url.scheme != "https":
            raise OIDCConfigError(f"'oidc-issuer-url' (\"{self.issuer_url}\") has invalid scheme "
                                  f"(\"{url.scheme}\"), require 'https'")
        if not self.client_id:
            raise OIDCConfigError("oidc-issuer-url and oidc-client-id must be specified together when any oidc-* flags "
                                  "are set")
        if not self.username_claim:
            raise OIDCConfigError("no username claim provided")
        for alg in self.signing_algs:
            if alg not in jose.SUPPORTED_ALGS:
                raise OIDCConfigError(f'oidc: unsupported signing alg: "{alg}"')

    @property
    def effective_username_prefix(self) -> str:
        """The prefix usernames get: the flag ("-" = none), else none for email, else ``<issuer>#``."""
        if self.username_prefix is not None:
            return "" if self.username_prefix == "-" else self.username_prefix
        return "" if self.username_claim == "email" else f"{self.issuer_url}#"


def _quoted(items: Any) -> str:
    return json.dumps(list(items), separators=(",", ":"))


def _rfc3339(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


class OIDCAuthenticator:
    """Authenticates ID tokens of one OIDC issuer (see the module docstring)."""

    def __init__(self, options: OIDCOptions, *, clock: Callable[[], float] = time.time) -> None:
        options.validate()
        self.options = options
        self.clock = clock
        verify: ssl.SSLContext | bool = True
        if options.ca_file is not None:
            verify = ssl.create_default_context(cafile=str(options.ca_file))
        self._client = httpx.AsyncClient(verify=verify, timeout=TIMEOUT)
        self._keys: list[tuple[str | None, jose.PublicKey]] = []
        #: how many key sets were fetched when the current one arrived (0: none yet)
        self._generation = 0
        self._lock = asyncio.Lock()
        #: key-set fetches so far (discovery + JWKS): lets tests see caching and refreshes
        self.fetches = 0

    async def close(self) -> None:
        await self._client.aclose()

    # ------------------------------------------------------------------ keys

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            answer = await self._client.get(url)
        except httpx.HTTPError as err:
            raise AuthenticationError(f"oidc: get {url}: {err}") from None
        if answer.status_code != 200:
            raise AuthenticationError(f"oidc: get {url}: {answer.status_code} {answer.reason_phrase}")
        try:
            doc = answer.json()
        except ValueError:
            raise AuthenticationError(f"oidc: get {url}: the answer is not JSON") from None
        if not isinstance(doc, dict):
            raise AuthenticationError(f"oidc: get {url}: the answer is not a JSON object")
        return doc

    async def _refresh(self, seen: int) -> None:
        """Fetch discovery and the key set, unless another request did since generation ``seen``."""
        async with self._lock:
            if self._generation != seen:
                return  # another request refreshed while we waited
            issuer = self.options.issuer_url
            discovery = await self._get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
            if discovery.get("issuer") != issuer:
                raise AuthenticationError(f'oidc: issuer did not match the issuer returned by provider, expected '
                                          f'"{issuer}" got "{discovery.get("issuer")}"')
            jwks_uri = discovery.get("jwks_uri")
            if not isinstance(jwks_uri, str) or not jwks_uri:
                raise AuthenticationError("oidc: the provider's discovery document has no jwks_uri")
            doc = await self._get_json(jwks_uri)
            keys: list[tuple[str | None, jose.PublicKey]] = []
            for jwk in doc.get("keys") or ():
                if not isinstance(jwk, dict) or jwk.get("use") not in (None, "sig"):
                    continue
                try:
                    keys.append((jwk.get("kid") if isinstance(jwk.get("kid"), str) else None, jose.public_key(jwk)))
                except jose.JoseError:
                    continue  # go-jose skips keys it cannot use
            self.fetches += 1
            self._keys = keys
            self._generation += 1

    def _check_signature(self, token: jose.Token) -> bool:
        kid = token.header.get("kid")
        alg = str(token.header.get("alg"))
        return any(jose.verify(alg, key, token.signing_input, token.signature)
                   for key_id, key in self._keys if not kid or key_id is None or key_id == kid)

    async def _verify_signature(self, token: jose.Token) -> None:
        if self._generation == 0:
            await self._refresh(0)
        if self._check_signature(token):
            return
        await self._refresh(self._generation)  # a rotated key: ask the issuer once more
        if not self._check_signature(token):
            raise AuthenticationError("oidc: verify token: failed to verify signature: no keys matches jwk keyid"
                                      if token.header.get("kid") and
                                      all(k != token.header.get("kid") for k, _ in self._keys)
                                      else "oidc: verify token: failed to verify signature: failed to verify id "
                                           "token signature")

    # ------------------------------------------------------------------ tokens

    async def authenticate(self, credentials: Credentials) -> Response | None:
        if not credentials.token:
            return None
        try:
            token = jose.split(credentials.token)
        except jose.JoseError:
            return None
        if token.claims.get("iss") != self.options.issuer_url:
            return None
        alg = token.header.get("alg")
        if alg not in self.options.signing_algs:
            raise AuthenticationError(f"oidc: verify token: oidc: id token signed with unsupported algorithm, "
                                      f"expected {_quoted(self.options.signing_algs)} got \"{alg}\"")
        await self._verify_signature(token)
        return Response(self.user_of(token.claims))

    def user_of(self, claims: dict[str, Any]) -> UserInfo:
        """The identity of verified-signature ``claims``: audience, times, required claims, mappings."""
        o = self.options
        aud = claims.get("aud")
        auds = [aud] if isinstance(aud, str) else [a for a in aud if isinstance(a, str)] if isinstance(aud, list) \
            else []
        if o.client_id not in auds:
            raise AuthenticationError(f'oidc: verify token: oidc: expected audience "{o.client_id}" got '
                                      f"{_quoted(auds)}")
        now = self.clock()
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise AuthenticationError("oidc: verify token: oidc: malformed claim: exp is required")
        if now > exp:
            raise AuthenticationError(f"oidc: verify token: oidc: token is expired (Token Expiry: {_rfc3339(exp)})")
        nbf = claims.get("nbf")
        if isinstance(nbf, int | float) and not isinstance(nbf, bool) and now < nbf - CLOCK_SKEW:
            raise AuthenticationError(f"oidc: verify token: oidc: current time {_rfc3339(now)} before the nbf "
                                      f"(not before) time: {_rfc3339(nbf)}")
        for key, want in o.required_claims.items():
            if key not in claims:
                raise AuthenticationError(f"oidc: required claim {key} not present in ID token")
            got = claims[key]
            if got != want:
                raise AuthenticationError(f"oidc: required claim {key} value does not match. Got = {got}, "
                                          f"want = {want}")
        if o.username_claim not in claims:
            raise AuthenticationError(f'oidc: parse username claims "{o.username_claim}": claim not present')
        username = claims[o.username_claim]
        if not isinstance(username, str):
            raise AuthenticationError(f'oidc: parse username claims "{o.username_claim}": json: cannot unmarshal '
                                      f"{_json_type(username)} into Go value of type string")
        if o.username_claim == "email" and "email_verified" in claims:
            verified = claims["email_verified"]
            if not isinstance(verified, bool):
                raise AuthenticationError("oidc: parse 'email_verified' claim: json: cannot unmarshal "
                                          f"{_json_type(verified)} into Go value of type bool")
            if not verified:
                raise AuthenticationError("oidc: email not verified")
        groups: list[str] = []
        if o.groups_claim and o.groups_claim in claims:
            raw = claims[o.groups_claim]
            if isinstance(raw, str):
                groups = [raw]
            elif isinstance(raw, list) and all(isinstance(g, str) for g in raw):
                groups = list(raw)
            else:
                raise AuthenticationError(f'oidc: parse groups claim "{o.groups_claim}": json: cannot unmarshal '
                                          f"{_json_type(raw)} into Go value of type string")
        return UserInfo(o.effective_username_prefix + username, groups=tuple(o.groups_prefix + g for g in groups))


def _json_type(value: Any) -> str:
    """Go's name for a JSON value's type in unmarshal errors."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "null"
