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
from suanli.apiserver.authn.union import Anonymous, AudienceAgnostic, AuthenticatedGroup, BearerToken, Union
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
                                                           api_audiences=auds))


class Authentication:
    """The API server's authentication: the request chain, the token chain, and the authn endpoints.

    ``tokens``: audience-aware token authenticators (ServiceAccount tokens, webhook) after the
    audience-agnostic ones (``static_tokens``: admin token, token file), each asked in order.
    ``certificates``: the client-certificate authenticator (None without TLS). ``issuer``: the
    ServiceAccount token issuer serving TokenRequest (None: the subresource answers 404).
    """

    def __init__(self, *, static_tokens: Sequence[Authenticator] = (), tokens: Sequence[Authenticator] = (),
                 certificates: Authenticator | None = None, anonymous: bool = False,
                 api_audiences: Sequence[str] = (DEFAULT_ISSUER,),
                 issuer: ServiceAccountTokenIssuer | None = None) -> None:
        self.api_audiences = tuple(api_audiences)
        token_chain: list[Authenticator] = [AudienceAgnostic(self.api_audiences, a) for a in static_tokens]
        token_chain += tokens
        #: the bearer-token authenticators alone (what TokenReview asks)
        self.tokens: Authenticator = AuthenticatedGroup(BearerToken(Union(token_chain)))
        request_chain: list[Authenticator] = [certificates] if certificates is not None else []
        request_chain.append(BearerToken(Union(token_chain)))
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
        try:
            resp = await self.chain.authenticate(Credentials(token, peer_certificates, self.api_audiences))
        except AuthenticationError:
            resp = None
        if resp is None:
            raise ApiError.unauthorized()
        return resp.user

    async def serve(self, method: str, group: str, version: str, rest: list[str], body: Any,
                    user: UserInfo) -> Obj | None:
        """Answer the request if it is an authentication endpoint (the created object), else None.

        ``rest`` is the path after ``/api/<version>`` or ``/apis/<group>/<version>``; ``body``
        the decoded request body. Raises :class:`ApiError` for bad requests.
        """
        if group == "authentication.k8s.io" and version == "v1" and len(rest) == 1 \
                and rest[0] in ("tokenreviews", "selfsubjectreviews"):
            if method != "POST":
                raise ApiError.method_not_allowed(f"{method} is not allowed on {rest[0]}: only create is")
            if rest[0] == "tokenreviews":
                return await token_review(body, self.tokens, self.api_audiences)
            return self_subject_review(body, user)
        if not group and version == "v1" and len(rest) == 5 and rest[0] == "namespaces" \
                and rest[2] == "serviceaccounts" and rest[4] == "token":
            if method != "POST":
                raise ApiError.method_not_allowed(f"{method} is not allowed on serviceaccounts/token: only create is")
            if self.issuer is None:
                raise ApiError.not_found("serviceaccounts/token", rest[3])
            return self.issuer.token_request(rest[1], rest[3], body)
        return None
