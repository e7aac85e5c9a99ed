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

The authenticator runs on a :class:`JWTConfig` — the shape of one ``jwt`` entry of kube-apiserver's
structured ``AuthenticationConfiguration`` (:mod:`.authconfig`): issuer URL, discovery URL, CA,
audiences, claim mappings (``claim`` + ``prefix`` or a CEL ``expression`` over ``claims``, for
username, groups, uid; CEL ``extra`` values), claim validation rules (``claim``/``requiredValue``
or CEL ``expression``/``message``) and user validation rules (CEL over ``user``). The flags are
converted into one (:meth:`OIDCOptions.jwt_config`), as kube-apiserver does. As upstream, a
``jti`` claim becomes the extra ``authentication.kubernetes.io/credential-id: JTI=<jti>``; the
order of checks and the error texts are upstream's (username, groups, uid, extra, required
claims, claim rules, user rules). CEL runs on cel-python (no Kubernetes extension libraries).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import celpy
import httpx
from celpy.adapter import json_to_cel
from celpy.celtypes import BoolType

from suanli.apiserver.authn import jose
from suanli.apiserver.authn.types import AuthenticationError, Credentials, Response
from suanli.apiserver.context import UserInfo

__all__ = ["ClaimMapping", "JWTConfig", "OIDCAuthenticator", "OIDCConfigError", "OIDCOptions"]

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

    def jwt_config(self) -> JWTConfig:
        """The flags as one structured JWT authenticator (kube-apiserver converts them the same way)."""
        self.validate()
        return JWTConfig(self.issuer_url, (self.client_id,),
                         ca_pem=self.ca_file.read_bytes() if self.ca_file is not None else None,
                         signing_algs=self.signing_algs,
                         username=ClaimMapping(self.username_claim, self.effective_username_prefix),
                         groups=ClaimMapping(self.groups_claim, self.groups_prefix),
                         required_claims=tuple(sorted(self.required_claims.items())))


@dataclass(frozen=True)
class ClaimMapping:
    """``claim`` (behind ``prefix``) or a CEL ``expression`` over ``claims``; all empty: unmapped."""

    claim: str = ""
    prefix: str = ""
    expression: str = ""


@dataclass(frozen=True)
class JWTConfig:
    """One JWT authenticator (a ``jwt`` entry of ``AuthenticationConfiguration``; see the module docstring).

    ``extra``: (key, CEL value expression); ``required_claims``: (claim, required value);
    ``claim_rules``/``user_rules``: (CEL expression, message).
    """

    issuer_url: str
    audiences: tuple[str, ...]
    discovery_url: str = ""
    ca_pem: bytes | None = None
    signing_algs: tuple[str, ...] = jose.SUPPORTED_ALGS
    username: ClaimMapping = ClaimMapping("sub")
    groups: ClaimMapping = ClaimMapping()
    uid: ClaimMapping = ClaimMapping()
    extra: tuple[tuple[str, str], ...] = ()
    required_claims: tuple[tuple[str, str], ...] = ()
    claim_rules: tuple[tuple[str, str], ...] = ()
    user_rules: tuple[tuple[str, str], ...] = ()


_CEL = celpy.Environment()
CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"


@lru_cache(maxsize=256)
def _program(expression: str) -> Any:
    return _CEL.program(_CEL.compile(expression))


def _evaluate(expression: str, variables: dict[str, Any]) -> Any:
    """The CEL value of ``expression`` over JSON ``variables``; raises ValueError with the reason."""
    try:
        result = _program(expression).evaluate({k: json_to_cel(v) for k, v in variables.items()})
    except Exception as err:  # cel-python's parse and evaluation errors
        raise ValueError(str(err.args[0]) if err.args else str(err)) from None
    if isinstance(result, Exception):
        raise ValueError(str(result.args[0]) if result.args else str(result))
    return result


def _string_list(value: Any) -> list[str]:
    """Upstream ``convertCELValueToStringList``: a string or list of strings, empties dropped."""
    if value is None:
        return []
    if isinstance(value, str):  # cel-python answers str/list as well as its own types
        return [str(value)] if value else []
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [str(v) for v in value if v]
    raise ValueError("expression must return a string or a list of strings")


def _quoted(items: Any) -> str:
    return json.dumps(list(items), separators=(",", ":"))


def _rfc3339(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


class OIDCAuthenticator:
    """Authenticates ID tokens of one OIDC issuer (see the module docstring)."""

    def __init__(self, config: JWTConfig | OIDCOptions, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config.jwt_config() if isinstance(config, OIDCOptions) else config
        self.clock = clock
        verify: ssl.SSLContext | bool = True
        if self.config.ca_pem is not None:
            verify = ssl.create_default_context(cadata=self.config.ca_pem.decode())
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
            issuer = self.config.issuer_url
            discovery = await self._get_json(self.config.discovery_url or
                                             issuer.rstrip("/") + "/.well-known/openid-configuration")
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
        if token.claims.get("iss") != self.config.issuer_url:
            return None
        alg = token.header.get("alg")
        if alg not in self.config.signing_algs:
            raise AuthenticationError(f"oidc: verify token: oidc: id token signed with unsupported algorithm, "
                                      f"expected {_quoted(self.config.signing_algs)} got \"{alg}\"")
        await self._verify_signature(token)
        return Response(self.user_of(token.claims))

    def _verify_claims(self, claims: dict[str, Any]) -> None:
        """go-oidc's checks: audience, expiry, not-before."""
        c = self.config
        aud = claims.get("aud")
        auds = [aud] if isinstance(aud, str) else [a for a in aud if isinstance(a, str)] if isinstance(aud, list) \
            else []
        if not set(c.audiences) & set(auds):
            want = f'"{c.audiences[0]}"' if len(c.audiences) == 1 else f"in {_quoted(c.audiences)}"
            raise AuthenticationError(f"oidc: verify token: oidc: expected audience {want} got {_quoted(auds)}")
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

    def _username(self, claims: dict[str, Any]) -> str:
        m = self.config.username
        if m.expression:
            try:
                value = _evaluate(m.expression, {"claims": claims})
            except ValueError as err:
                raise AuthenticationError(f"oidc: error evaluating username claim expression: {err}") from None
            if not isinstance(value, str):
                raise AuthenticationError("oidc: error evaluating username claim expression: username claim "
                                          "expression must return a string")
            if not value:
                raise AuthenticationError("oidc: empty username via CEL expression is not allowed")
            return str(value)
        if m.claim not in claims:
            raise AuthenticationError(f'oidc: parse username claims "{m.claim}": claim not present')
        username = claims[m.claim]
        if not isinstance(username, str):
            raise AuthenticationError(f'oidc: parse username claims "{m.claim}": json: cannot unmarshal '
                                      f"{_json_type(username)} into Go value of type string")
        if m.claim == "email" and "email_verified" in claims:
            verified = claims["email_verified"]
            if not isinstance(verified, bool):
                raise AuthenticationError("oidc: parse 'email_verified' claim: json: cannot unmarshal "
                                          f"{_json_type(verified)} into Go value of type bool")
            if not verified:
                raise AuthenticationError("oidc: email not verified")
        return m.prefix + username

    def _groups(self, claims: dict[str, Any]) -> list[str]:
        m = self.config.groups
        if m.claim and m.claim in claims:
            raw = claims[m.claim]
            if isinstance(raw, str):
                groups = [raw]
            elif isinstance(raw, list) and all(isinstance(g, str) for g in raw):
                groups = list(raw)
            else:
                raise AuthenticationError(f'oidc: parse groups claim "{m.claim}": json: cannot unmarshal '
                                          f"{_json_type(raw)} into Go value of type string")
            return [m.prefix + g for g in groups]
        if not m.expression:
            return []
        try:
            return _string_list(_evaluate(m.expression, {"claims": claims}))
        except ValueError as err:
            raise AuthenticationError(f"oidc: error evaluating group claim expression: {err}") from None

    def _uid(self, claims: dict[str, Any]) -> str:
        m = self.config.uid
        if m.claim:
            raw = claims.get(m.claim)
            if m.claim not in claims:
                raise AuthenticationError(f'oidc: parse uid claim "{m.claim}": claim not present')
            if not isinstance(raw, str):
                raise AuthenticationError(f'oidc: parse uid claim "{m.claim}": json: cannot unmarshal '
                                          f"{_json_type(raw)} into Go value of type string")
            return raw
        if not m.expression:
            return ""
        try:
            value = _evaluate(m.expression, {"claims": claims})
        except ValueError as err:
            raise AuthenticationError(f"oidc: error evaluating uid claim expression: {err}") from None
        if not isinstance(value, str):
            raise AuthenticationError("oidc: error evaluating uid claim expression: uid claim expression must "
                                      "return a string")
        return str(value)

    def _extra(self, claims: dict[str, Any]) -> dict[str, tuple[str, ...]]:
        extra: dict[str, tuple[str, ...]] = {}
        jti = claims.get("jti")
        if isinstance(jti, str) and jti:
            extra[CREDENTIAL_ID] = (f"JTI={jti}",)
        for key, expression in self.config.extra:
            try:
                values = _string_list(_evaluate(expression, {"claims": claims}))
            except ValueError as err:
                raise AuthenticationError(f"oidc: error evaluating extra claim expression: {expression}: "
                                          f"{err}") from None
            if values:
                extra[key] = tuple(values)
        return extra

    def _rules(self, rules: tuple[tuple[str, str], ...], variables: dict[str, Any], what: str) -> None:
        for expression, message in rules:
            try:
                value = _evaluate(expression, variables)
            except ValueError as err:
                raise AuthenticationError(f"oidc: error evaluating {what}: {err}") from None
            if not isinstance(value, bool | BoolType):
                raise AuthenticationError(f"oidc: error evaluating {what}: validation expression must return a "
                                          "boolean")
            if not value:
                raise AuthenticationError(f"oidc: error evaluating {what}: validation expression '{expression}' "
                                          f"failed: {message}")

    def user_of(self, claims: dict[str, Any]) -> UserInfo:
        """The identity of verified-signature ``claims`` (checks in upstream's order, see the module docstring)."""
        self._verify_claims(claims)
        name = self._username(claims)
        groups = self._groups(claims)
        uid = self._uid(claims)
        extra = self._extra(claims)
        for key, want in self.config.required_claims:
            if key not in claims:
                raise AuthenticationError(f"oidc: required claim {key} not present in ID token")
            got = claims[key]
            if got != want:
                raise AuthenticationError(f"oidc: required claim {key} value does not match. Got = {got}, "
                                          f"want = {want}")
        self._rules(self.config.claim_rules, {"claims": claims}, "claim validation expression")
        user = UserInfo(name, uid=uid, groups=tuple(groups), extra=tuple(sorted(extra.items())))
        if self.config.user_rules:
            self._rules(self.config.user_rules, {"user": {"username": name, "uid": uid, "groups": groups,
                                                          "extra": {k: list(v) for k, v in extra.items()}}},
                        "user info validation rule")
        return user


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
