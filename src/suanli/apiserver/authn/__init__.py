"""Authentication: the authenticator chain of the API server (issue 11).

:class:`Authentication` assembles, in kube-apiserver's order, the request authenticators

1. front-proxy request headers, believed only from a client certificate of the
   ``--requestheader-client-ca-file`` CA (:mod:`.requestheader`);
2. X.509 client certificates signed by the cluster CA (:mod:`.x509`);
3. bearer tokens (:class:`~.union.BearerToken`), asking in turn the generated admin token and
   the ``--token-auth-file`` users (:mod:`.static`), ServiceAccount tokens (:mod:`.serviceaccount`)
   OpenID Connect ID tokens of ``--oidc-issuer-url`` (:mod:`.oidc`) and the
   ``--authentication-token-webhook-config-file`` webhook (:mod:`.webhook`);

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
from typing import TYPE_CHECKING, Any

from cryptography.x509 import load_pem_x509_certificates

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.apiserver.authn.authconfig import load_authentication_config
from suanli.apiserver.authn.oidc import JWTConfig, OIDCAuthenticator, OIDCOptions
from suanli.apiserver.authn.requestheader import (
    EXTENSION_AUTH_CONFIGMAP,
    RequestHeaderAuthenticator,
    RequestHeaderConfig,
    extension_auth_data,
)
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

if TYPE_CHECKING:
    from suanli.apiserver.service import ApiService

__all__ = [
    "Authentication",
    "AuthenticationError",
    "Authenticator",
    "AuthnOptions",
    "Credentials",
    "Response",
    "build_authentication",
    "jwt_configs",
    "load_front_proxy_ca",
    "publish_authentication_info",
]


@dataclass(frozen=True)
class AuthnOptions:
    """The ``suanli up`` flags of authentication (kube-apiserver's names).

    ``token_auth_file``: ``--token-auth-file``; ``webhook_config_file``/``webhook_cache_ttl``:
    ``--authentication-token-webhook-config-file``/``-cache-ttl``; ``anonymous``:
    ``--anonymous`` (upstream ``--anonymous-auth``, off by default here); ``issuer``:
    ``--service-account-issuer``; ``api_audiences``: ``--api-audiences`` (default: the issuer);
    ``oidc``: the ``--oidc-*`` flags (None without ``--oidc-issuer-url``); ``authentication_config``:
    ``--authentication-config`` (structured JWT authenticators; exclusive with ``oidc``); ``request_header``:
    the ``--requestheader-*`` flags (None without ``--requestheader-client-ca-file``).
    """

    token_auth_file: Path | None = None
    webhook_config_file: Path | None = None
    webhook_cache_ttl: float = DEFAULT_CACHE_TTL
    anonymous: bool = False
    issuer: str = DEFAULT_ISSUER
    api_audiences: tuple[str, ...] = ()
    #: seconds a successful token authentication is remembered (kube-apiserver: 10 s; no flag)
    token_cache_ttl: float = 10.0
    oidc: OIDCOptions | None = None
    authentication_config: Path | None = None
    request_header: RequestHeaderConfig | None = None

    @property
    def audiences(self) -> tuple[str, ...]:
        return self.api_audiences or (self.issuer,)


def jwt_configs(options: AuthnOptions) -> tuple[JWTConfig, ...]:
    """The JWT (OIDC) authenticators ``options`` configure: the ``--authentication-config`` file's or
    the ``--oidc-*`` flags'. ``ValueError`` (naming the file/flag and field) for invalid ones or both."""
    if options.authentication_config is not None and options.oidc is not None:
        raise ValueError("authentication-config file and oidc-* flags are mutually exclusive")
    if options.authentication_config is not None:
        return load_authentication_config(options.authentication_config)
    return (options.oidc.jwt_config(),) if options.oidc is not None else ()


def build_authentication(options: AuthnOptions, *, admin_token: str, sa_tokens: ServiceAccountTokens, lookup: Lookup,
                         ca_pem: bytes | None, token_file: TokenFile | None = None,
                         front_proxy_ca: bytes | None = None, jwt: Sequence[JWTConfig] | None = None
                         ) -> Authentication:
    """The full chain for ``suanli up``; ``token_file`` and ``front_proxy_ca`` (already loaded, so
    errors surface before start-up) override reading ``options.token_auth_file`` and
    ``options.request_header.client_ca_file``, ``jwt`` (see :func:`jwt_configs`) the OIDC
    options; ``ca_pem`` None (plain HTTP) disables client certificates and the front proxy.
    Raises ``OSError``/``ValueError`` for unreadable or malformed files."""
    if token_file is None and options.token_auth_file is not None:
        token_file = TokenFile.load(options.token_auth_file)
    auds = options.audiences
    static: list[Authenticator] = [AdminToken(admin_token)]
    if token_file is not None:
        static.append(token_file)
    tokens: list[Authenticator] = [ServiceAccountAuthenticator(sa_tokens, lookup, issuer=options.issuer,
                                                               api_audiences=auds)]
    for config in jwt_configs(options) if jwt is None else jwt:  # audience-agnostic, like upstream's
        tokens.append(AudienceAgnostic(auds, OIDCAuthenticator(config)))
    if options.webhook_config_file is not None:
        tokens.append(WebhookTokenAuthenticator.from_config(options.webhook_config_file, implicit_audiences=auds,
                                                            cache_ttl=options.webhook_cache_ttl))
    front_proxy = RequestHeaderAuthenticator(options.request_header, front_proxy_ca) \
        if options.request_header is not None and ca_pem is not None else None
    return Authentication(static_tokens=static, tokens=tokens, front_proxy=front_proxy,
                          certificates=ClientCertificates(ca_pem) if ca_pem is not None else None,
                          anonymous=options.anonymous, api_audiences=auds,
                          issuer=ServiceAccountTokenIssuer(sa_tokens, lookup, issuer=options.issuer,
                                                           api_audiences=auds),
                          token_cache_ttl=options.token_cache_ttl)


def load_front_proxy_ca(config: RequestHeaderConfig) -> bytes:
    """The PEM of ``--requestheader-client-ca-file``; ``ValueError`` naming the flag unless it holds certificates."""
    pem = config.client_ca_file.read_bytes()
    try:
        load_pem_x509_certificates(pem)
    except ValueError as err:
        raise ValueError(f"--requestheader-client-ca-file {config.client_ca_file}: {err}") from None
    return pem


async def publish_authentication_info(service: ApiService, client_ca_pem: bytes | None,
                                      front_proxy: RequestHeaderAuthenticator | None) -> None:
    """Create or refresh ``kube-system/extension-apiserver-authentication`` (kube-apiserver's
    post-start hook does the same) with :func:`~.requestheader.extension_auth_data`."""
    rt = service.registry.get("", "v1", "configmaps")
    assert rt is not None
    namespace, name = EXTENSION_AUTH_CONFIGMAP
    data = extension_auth_data(client_ca_pem, front_proxy)
    body: Obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
                 "data": data}
    current = service.store.get(rt.storage_key, namespace, name)
    if current is None:
        await service.create(rt, namespace, body)
    elif current.obj.get("data") != data:
        body["metadata"]["resourceVersion"] = str(current.rv)
        await service.update(rt, namespace, name, body)


class Authentication:
    """The API server's authentication: the request chain, the token chain, and the authn endpoints.

    ``tokens``: audience-aware token authenticators (ServiceAccount tokens, webhook) after the
    audience-agnostic ones (``static_tokens``: admin token, token file), each asked in order.
    ``certificates``: the client-certificate authenticator (None without TLS). ``front_proxy``:
    the request-header authenticator, asked first (None without a front proxy). ``issuer``: the
    ServiceAccount token issuer serving TokenRequest (None: the subresource answers 404).
    ``token_cache_ttl``: how long a successful token authentication is remembered.
    """

    def __init__(self, *, static_tokens: Sequence[Authenticator] = (), tokens: Sequence[Authenticator] = (),
                 certificates: Authenticator | None = None, front_proxy: RequestHeaderAuthenticator | None = None,
                 anonymous: bool = False,
                 api_audiences: Sequence[str] = (DEFAULT_ISSUER,),
                 issuer: ServiceAccountTokenIssuer | None = None, token_cache_ttl: float = 10.0) -> None:
        self.api_audiences = tuple(api_audiences)
        token_chain: list[Authenticator] = [AudienceAgnostic(self.api_audiences, a) for a in static_tokens]
        token_chain += tokens
        #: the bearer-token authenticators alone (what TokenReview asks), successes cached
        self.tokens: Authenticator = TokenCache(AuthenticatedGroup(BearerToken(Union(token_chain))),
                                                ttl=token_cache_ttl)
        #: the front-proxy authenticator (its config feeds the extension-apiserver-authentication ConfigMap)
        self.front_proxy = front_proxy
        request_chain: list[Authenticator] = [front_proxy] if front_proxy is not None else []
        if certificates is not None:
            request_chain.append(certificates)
        request_chain.append(self.tokens)
        chain: Authenticator = AuthenticatedGroup(Union(request_chain))
        #: the whole request chain (what every API request goes through)
        self.chain: Authenticator = Anonymous(chain) if anonymous else chain
        self.issuer = issuer
        self._parts = (*static_tokens, *tokens)

    async def close(self) -> None:
        """Release what the authenticators hold (the webhook's HTTP connections)."""
        for part in self._parts:
            if isinstance(part, AudienceAgnostic):
                part = part.inner
            if isinstance(part, WebhookTokenAuthenticator | OIDCAuthenticator):
                await part.close()

    @classmethod
    def admin_only(cls, token: str, *, anonymous: bool = False) -> Authentication:
        """Only the admin bearer token (and ``system:anonymous`` when ``anonymous``)."""
        return cls(static_tokens=[AdminToken(token)], anonymous=anonymous)

    async def authenticate(self, token: str | None, peer_certificates: tuple[bytes, ...] = (),
                           headers: tuple[tuple[str, str], ...] = ()) -> UserInfo:
        """The identity of a request presenting ``token``, ``peer_certificates`` and ``headers``
        ((lower-cased name, value) pairs); ApiError 401 if none."""
        credentials = Credentials(token, peer_certificates, self.api_audiences, headers)
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
