"""Authentication: the authenticator chain of the API server (issue 11).

:class:`Authentication` assembles, in kube-apiserver's order, the request authenticators

1. X.509 client certificates signed by the cluster CA (:mod:`.x509`);
2. bearer tokens (:class:`~.union.BearerToken`), asking in turn the generated admin token and
   the ``--token-auth-file`` users (:mod:`.static`), ServiceAccount tokens (:mod:`.serviceaccount`)
   and the ``--authentication-token-webhook-config-file`` webhook (:mod:`.webhook`);

joined by a :class:`~.union.Union` (first success wins), wrapped so every authenticated user is
in ``system:authenticated`` and, only with ``--anonymous``, falling back to ``system:anonymous``.
It also serves the endpoints that belong to authentication: TokenReview, SelfSubjectReview
(:mod:`.reviews`), the ServiceAccount TokenRequest subresource and ServiceAccount issuer
discovery. See :mod:`.types` for the contract every authenticator keeps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.apiserver.authn.reviews import self_subject_review, token_review
from suanli.apiserver.authn.serviceaccount import (
    DEFAULT_ISSUER,
    Lookup,
    ServiceAccountAuthenticator,
    ServiceAccountTokenIssuer,
)
from suanli.apiserver.authn.static import AdminToken, TokenFile
from suanli.apiserver.authn.types import AuthenticationError, Authenticator, Credentials, Response
from suanli.apiserver.authn.union import (
    Anonymous,
    AudienceAgnostic,
    AuthenticatedGroup,
    BearerToken,
    TokenCache,
    Union,
)
from suanli.apiserver.authn.webhook import DEFAULT_CACHE_TTL, WebhookTokenAuthenticator
from suanli.apiserver.authn.x509 import ClientCertificates
from suanli.apiserver.context import UserInfo
from suanli.apiserver.satokens import ServiceAccountTokens

__all__ = [
    "Authentication",
    "AuthenticationError",
    "Authenticator",
    "AuthnOptions",
    "Credentials",
    "Response",
    "build_authentication",
]


@dataclass(frozen=True)
class AuthnOptions:
    """The ``suanli up`` flags of authentication (kube-apiserver's names).

    ``token_auth_file``: ``--token-auth-file``; ``webhook_config_file``/``webhook_cache_ttl``:
    ``--authentication-token-webhook-config-file``/``-cache-ttl``; ``anonymous``:
    ``--anonymous`` (upstream ``--anonymous-auth``, off by default here); ``issuer``:
    ``--service-account-issuer``; ``api_audiences``: ``--api-audiences`` (default: the issuer).
    """

    token_auth_file: Path | None = None
    webhook_config_file: Path | None = None
    webhook_cache_ttl: float = DEFAULT_CACHE_TTL
    anonymous: bool = False
    issuer: str = DEFAULT_ISSUER
    api_audiences: tuple[str, ...] = ()
    #: seconds a successful token authentication is remembered (kube-apiserver: 10 s; no flag)
    token_cache_ttl: float = 10.0

    @property
    def audiences(self) -> tuple[str, ...]:
        return self.api_audiences or (self.issuer,)


def build_authentication(options: AuthnOptions, *, admin_token: str, sa_tokens: ServiceAccountTokens, lookup: Lookup,
                         ca_pem: bytes | None, token_file: TokenFile | None = None) -> Authentication:
    """The full chain for ``suanli up``; ``token_file`` (already loaded, so errors surface before
    start-up) overrides reading ``options.token_auth_file``; ``ca_pem`` None (plain HTTP) disables
    client certificates. Raises ``OSError``/``ValueError`` for unreadable or malformed files."""
    if token_file is None and options.token_auth_file is not None:
        token_file = TokenFile.load(options.token_auth_file)
    auds = options.audiences
    static: list[Authenticator] = [AdminToken(admin_token)]
    if token_file is not None:
        static.append(token_file)
    tokens: list[Authenticator] = [ServiceAccountAuthenticator(sa_tokens, lookup, issuer=options.issuer,
                                                               api_audiences=auds)]
    if options.webhook_config_file is not None:
        tokens.append(WebhookTokenAuthenticator.from_config(options.webhook_config_file, implicit_audiences=auds,
                                                            cache_ttl=options.webhook_cache_ttl))
    return Authentication(static_tokens=static, tokens=tokens,
                          certificates=ClientCertificates(ca_pem) if ca_pem is not None else None,
                          anonymous=options.anonymous, api_audiences=auds,
                          issuer=ServiceAccountTokenIssuer(sa_tokens, lookup, issuer=options.issuer,
                                                           api_audiences=auds),
                          token_cache_ttl=options.token_cache_ttl)


class Authentication:
    """The API server's authentication: the request chain, the token chain, and the authn endpoints.

    ``tokens``: audience-aware token authenticators (ServiceAccount tokens, webhook) after the
    audience-agnostic ones (``static_tokens``: admin token, token file), each asked in order.
    ``certificates``: the client-certificate authenticator (None without TLS). ``issuer``: the
    ServiceAccount token issuer serving TokenRequest (None: the subresource answers 404).
    ``token_cache_ttl``: how long a successful token authentication is remembered.
    """

    def __init__(self, *, static_tokens: Sequence[Authenticator] = (), tokens: Sequence[Authenticator] = (),
                 certificates: Authenticator | None = None, anonymous: bool = False,
                 api_audiences: Sequence[str] = (DEFAULT_ISSUER,),
                 issuer: ServiceAccountTokenIssuer | None = None, token_cache_ttl: float = 10.0) -> None:
        self.api_audiences = tuple(api_audiences)
        token_chain: list[Authenticator] = [AudienceAgnostic(self.api_audiences, a) for a in static_tokens]
        token_chain += tokens
        #: the bearer-token authenticators alone (what TokenReview asks), successes cached
        self.tokens: Authenticator = TokenCache(AuthenticatedGroup(BearerToken(Union(token_chain))),
                                                ttl=token_cache_ttl)
        request_chain: list[Authenticator] = [certificates] if certificates is not None else []
        request_chain.append(self.tokens)
        chain: Authenticator = AuthenticatedGroup(Union(request_chain))
        #: the whole request chain (what every API request goes through)
        self.chain: Authenticator = Anonymous(chain) if anonymous else chain
        self.issuer = issuer
        self._parts = (*static_tokens, *tokens)

    async def close(self) -> None:
        """Release what the authenticators hold (the webhook's HTTP connections)."""
        for part in self._parts:
            if isinstance(part, WebhookTokenAuthenticator):
                await part.close()

    @classmethod
    def admin_only(cls, token: str, *, anonymous: bool = False) -> Authentication:
        """Only the admin bearer token (and ``system:anonymous`` when ``anonymous``)."""
        return cls(static_tokens=[AdminToken(token)], anonymous=anonymous)

    async def authenticate(self, token: str | None, peer_certificates: tuple[bytes, ...] = ()) -> UserInfo:
        """The identity of a request presenting ``token`` and ``peer_certificates``; ApiError 401 if none."""
        credentials = Credentials(token, peer_certificates, self.api_audiences)
        try:
            # without a client certificate the x509 step has nothing to say: go to the tokens directly
            chain = self.tokens if token and not peer_certificates else self.chain
            resp = await chain.authenticate(credentials)
        except AuthenticationError:
            resp = None
        if resp is None:
            raise ApiError.unauthorized()
        return resp.user

    @staticmethod
    def endpoint(group: str, version: str, rest: list[str]) -> str | None:
        """The authentication endpoint a path addresses (``tokenreviews``, ``selfsubjectreviews``,
        ``serviceaccounts/token``), or None; ``rest`` is the path after ``/api/<version>`` or
        ``/apis/<group>/<version>``."""
        if group == "authentication.k8s.io" and version == "v1" and len(rest) == 1 \
                and rest[0] in ("tokenreviews", "selfsubjectreviews"):
            return rest[0]
        if not group and version == "v1" and len(rest) == 5 and rest[0] == "namespaces" \
                and rest[2] == "serviceaccounts" and rest[4] == "token":
            return "serviceaccounts/token"
        return None

    async def serve(self, method: str, endpoint: str, rest: list[str], body: Any, user: UserInfo) -> Obj:
        """Answer a request to ``endpoint`` (from :meth:`endpoint`) with the created object.

        ``body`` is the decoded request body (None unless POST). Raises :class:`ApiError` for bad
        requests and for any method but POST (405: the endpoints are create-only).
        """
        if method != "POST":
            raise ApiError.method_not_allowed(f"{method} is not allowed on {endpoint}: only create is")
        if endpoint == "tokenreviews":
            return await token_review(body, self.tokens, self.api_audiences)
        if endpoint == "selfsubjectreviews":
            return self_subject_review(body, user)
        if self.issuer is None:
            raise ApiError.not_found("serviceaccounts/token", rest[3])
        return self.issuer.token_request(rest[1], rest[3], body)
