"""Structured authentication (``--authentication-config``): upstream's AuthenticationConfiguration
validation cases (pkg/apis/apiserver/validation) and the structured JWT authenticator cases of
oidc_test.go (CEL claim mappings, claim and user validation rules) against a real local issuer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.oidc_issuer import Issuer

from suanli.apiserver.authn import AuthnOptions, jwt_configs
from suanli.apiserver.authn.authconfig import load_authentication_config, parse_authentication_config
from suanli.apiserver.authn.oidc import OIDCAuthenticator, OIDCOptions
from suanli.apiserver.authn.types import AuthenticationError, Credentials
from suanli.apiserver.context import UserInfo

NOW = 1_800_000_000.0
VALID = int(NOW + 3600)
JWT = "apiserver.config.k8s.io/v1"


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Issuer]:
    iss = Issuer(tmp_path_factory.mktemp("authconfig"))
    yield iss
    iss.stop()


def config(*jwt: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": JWT, "kind": "AuthenticationConfiguration", "jwt": list(jwt)}


def entry(url: str = "https://issuer.example", *, audiences: list[str] | None = None, ca: str = "",
          **rest: Any) -> dict[str, Any]:
    issuer: dict[str, Any] = {"url": url, "audiences": audiences if audiences is not None else ["my-client"]}
    if ca:
        issuer["certificateAuthority"] = ca
    rest.setdefault("claimMappings", {"username": {"claim": "username", "prefix": ""}})
    return {"issuer": issuer, **rest}


INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("issuer-url-not-https", entry("http://issuer.example"),
     'jwt[0].issuer.url: Invalid value: "http://issuer.example": URL scheme must be https'),
    ("issuer-url-with-query", entry("https://issuer.example?x=1"),
     'jwt[0].issuer.url: Invalid value: "https://issuer.example?x=1": URL must not contain a query'),
    ("no-audiences", entry(audiences=[]),
     "jwt[0].issuer.audiences: Required value: at least one jwt[0].issuer.audiences is required"),
    ("multiple-audiences-without-match-any", entry(audiences=["a", "b"]),
     'jwt[0].issuer.audienceMatchPolicy: Invalid value: "": audienceMatchPolicy must be MatchAny for multiple '
     "audiences"),
    ("duplicate-audience", {**entry(audiences=["a", "a"]), "issuer": {"url": "https://issuer.example",
                                                                     "audiences": ["a", "a"],
                                                                     "audienceMatchPolicy": "MatchAny"}},
     'jwt[0].issuer.audiences[1]: Duplicate value: "a"'),
    ("discovery-url-equals-url", {"issuer": {"url": "https://issuer.example", "audiences": ["a"],
                                             "discoveryURL": "https://issuer.example/"},
                                  "claimMappings": {"username": {"claim": "sub", "prefix": ""}}},
     'jwt[0].issuer.discoveryURL: Invalid value: "https://issuer.example/": discoveryURL must be different from URL'),
    ("username-required", entry(claimMappings={}),
     "jwt[0].claimMappings.username: Required value: claim or expression is required"),
    ("username-claim-and-expression", entry(claimMappings={"username": {"claim": "sub", "expression": "claims.sub",
                                                                        "prefix": ""}}),
     "jwt[0].claimMappings.username: Invalid value: \"\": claim and expression can't both be set"),
    ("username-claim-without-prefix", entry(claimMappings={"username": {"claim": "sub"}}),
     "jwt[0].claimMappings.username.prefix: Required value: required when claim is set. It can be set to an empty "
     "string to disable prefixing"),
    ("username-expression-with-prefix", entry(claimMappings={"username": {"expression": "claims.sub",
                                                                          "prefix": "x:"}}),
     'jwt[0].claimMappings.username.prefix: Invalid value: "x:": may not be specified when expression is set'),
    ("email-without-email-verified", entry(claimMappings={"username": {"expression": "claims.email"}}),
     "claims.email_verified must be used in claimMappings.username.expression"),
    ("extra-key-not-domain-prefixed", entry(claimMappings={"username": {"claim": "sub", "prefix": ""},
                                                           "extra": [{"key": "foo", "valueExpression": "'x'"}]}),
     'jwt[0].claimMappings.extra[0].key: Invalid value: "foo": must be a domain-prefixed path'),
    ("extra-key-reserved", entry(claimMappings={"username": {"claim": "sub", "prefix": ""},
                                                "extra": [{"key": "kubernetes.io/foo", "valueExpression": "'x'"}]}),
     "k8s.io, kubernetes.io and their subdomains are reserved for Kubernetes use"),
    ("claim-rule-claim-and-expression", entry(claimValidationRules=[{"claim": "hd", "expression": "true"}]),
     "jwt[0].claimValidationRules[0]: Invalid value: \"hd\": claim and expression can't both be set"),
    ("claim-rule-expression-does-not-compile", entry(claimValidationRules=[{"expression": "claims.(", "message": "m"}]),
     "jwt[0].claimValidationRules[0].expression: Invalid value: \"claims.(\": compilation failed"),
]


@pytest.mark.parametrize(("jwt", "message"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_configuration_names_the_field(jwt: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_authentication_config(config(jwt))
    assert message in str(err.value)


def test_duplicate_issuers_and_wrong_kind() -> None:
    with pytest.raises(ValueError, match=r'jwt\[1\]\.issuer\.url: Duplicate value: "https://issuer\.example"'):
        parse_authentication_config(config(entry(), entry()))
    with pytest.raises(ValueError, match="must be AuthenticationConfiguration"):
        parse_authentication_config({"apiVersion": "v1", "kind": "Config"})


def test_file_and_oidc_flags_are_exclusive(tmp_path: Path) -> None:
    (tmp_path / "authn.yaml").write_text(yaml.safe_dump(config(entry())))
    with pytest.raises(ValueError, match="authentication-config file and oidc-\\* flags are mutually exclusive"):
        jwt_configs(AuthnOptions(oidc=OIDCOptions("https://x.example", "c"),
                                 authentication_config=tmp_path / "authn.yaml"))
    (cfg,) = load_authentication_config(tmp_path / "authn.yaml")
    assert (cfg.issuer_url, cfg.audiences, cfg.username.claim) == ("https://issuer.example", ("my-client",),
                                                                   "username")


def authenticate(iss: Issuer, jwt: dict[str, Any], claims: dict[str, Any]) -> UserInfo | None:
    (cfg,) = parse_authentication_config(config(jwt))
    auth = OIDCAuthenticator(cfg, clock=lambda: NOW)

    async def go() -> UserInfo | None:
        try:
            resp = await auth.authenticate(Credentials(iss.sign({"iss": iss.url, "exp": VALID, **claims})))
            return None if resp is None else resp.user
        finally:
            await auth.close()
    return asyncio.run(go())


def structured(iss: Issuer, **rest: Any) -> dict[str, Any]:
    return entry(iss.url, ca=iss.ca_file.read_text(), **rest)


# (id, jwt entry overrides, claims, expected (name, uid, groups, extra) or error text)
CASES: list[tuple[str, dict[str, Any], dict[str, Any], tuple[str, str, tuple[str, ...], dict[str, Any]] | str]] = [
    ("username-claim-with-prefix", {"claimMappings": {"username": {"claim": "username", "prefix": "oidc:"}}},
     {"aud": "my-client", "username": "jane"}, ("oidc:jane", "", (), {})),
    ("username-expression", {"claimMappings": {"username": {"expression": "claims.username + ':external-user'"}}},
     {"aud": "my-client", "username": "jane"}, ("jane:external-user", "", (), {})),
    ("username-expression-not-a-string", {"claimMappings": {"username": {"expression": "claims.n"}}},
     {"aud": "my-client", "n": 1},
     "oidc: error evaluating username claim expression: username claim expression must return a string"),
    ("empty-username-via-expression", {"claimMappings": {"username": {"expression": "claims.username"}}},
     {"aud": "my-client", "username": ""}, "oidc: empty username via CEL expression is not allowed"),
    ("groups-expression-and-uid-claim", {"claimMappings": {
        "username": {"claim": "username", "prefix": ""}, "groups": {"expression": "claims.roles + ['all']"},
        "uid": {"claim": "uid"}}},
     {"aud": "my-client", "username": "jane", "roles": ["admin", "", "dev"], "uid": "1234"},
     ("jane", "1234", ("admin", "dev", "all"), {})),
    ("extra-and-credential-id", {"claimMappings": {
        "username": {"claim": "username", "prefix": ""},
        "extra": [{"key": "example.com/tenant", "valueExpression": "claims.tenant"},
                  {"key": "example.com/empty", "valueExpression": "''"}]}},
     {"aud": "my-client", "username": "jane", "tenant": "acme", "jti": "j-1"},
     ("jane", "", (), {"example.com/tenant": ("acme",), "authentication.kubernetes.io/credential-id": ("JTI=j-1",)})),
    ("multiple-audiences-match-any", {"issuer": None},
     {"aud": ["other", "baz"], "username": "jane"}, ("jane", "", (), {})),
    ("audience-not-among-several", {"issuer": None}, {"aud": ["other"], "username": "jane"},
     'oidc: verify token: oidc: expected audience in ["bar","baz"] got ["other"]'),
    ("claim-validation-rule-fails", {"claimValidationRules": [{"expression": "claims.hd == 'example.com'",
                                                                "message": "hd claim must be example.com"}]},
     {"aud": "my-client", "username": "jane", "hd": "example.org"},
     "oidc: error evaluating claim validation expression: validation expression 'claims.hd == 'example.com'' "
     "failed: hd claim must be example.com"),
    ("required-value-rule", {"claimValidationRules": [{"claim": "hd", "requiredValue": "example.com"}]},
     {"aud": "my-client", "username": "jane", "hd": "example.org"},
     "oidc: required claim hd value does not match. Got = example.org, want = example.com"),
    ("user-validation-rule-fails", {"userValidationRules": [{"expression": "!user.username.startsWith('system:')",
                                                             "message": "username cannot use reserved system: "
                                                                        "prefix"}]},
     {"aud": "my-client", "username": "system:jane"},
     "oidc: error evaluating user info validation rule: validation expression "
     "'!user.username.startsWith('system:')' failed: username cannot use reserved system: prefix"),
    ("claim-rule-not-boolean", {"claimValidationRules": [{"expression": "claims.username", "message": "m"}]},
     {"aud": "my-client", "username": "jane"},
     "oidc: error evaluating claim validation expression: validation expression must return a boolean"),
]


@pytest.mark.parametrize(("overrides", "claims", "want"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_structured_jwt_authenticator(issuer: Issuer, overrides: dict[str, Any], claims: dict[str, Any],
                                      want: tuple[str, str, tuple[str, ...], dict[str, Any]] | str) -> None:
    jwt = structured(issuer, **{k: v for k, v in overrides.items() if v is not None})
    if "issuer" in overrides:
        jwt["issuer"].update({"audiences": ["bar", "baz"], "audienceMatchPolicy": "MatchAny"})
    if isinstance(want, str):
        with pytest.raises(AuthenticationError) as err:
            authenticate(issuer, jwt, claims)
        assert str(err.value) == want
        return
    user = authenticate(issuer, jwt, claims)
    assert user is not None
    assert (user.name, user.uid, user.groups, dict(user.extra)) == want


def test_discovery_url_is_used_instead_of_the_issuer(tmp_path: Path) -> None:
    iss = Issuer(tmp_path, issuer_path="/realm")
    try:
        base = iss.url.rsplit("/realm", 1)[0]
        jwt = structured(iss)
        jwt["issuer"]["discoveryURL"] = f"{base}/elsewhere/.well-known/openid-configuration"
        user = authenticate(iss, jwt, {"aud": "my-client", "username": "jane"})
        assert user is not None and user.name == "jane"
        assert "/elsewhere/.well-known/openid-configuration" in iss.requests
    finally:
        iss.stop()
