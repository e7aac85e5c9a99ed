"""OIDC ID-token authentication against a real local HTTPS issuer (discovery + JWKS).

The table is upstream's ``TestToken`` (k8s.io/apiserver ``token/oidc/oidc_test.go``): their
options, claims and expected users or errors, run through our authenticator; the issuer URL is
the local issuer's (upstream's ``https://auth.example.com``/``{{.URL}}``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from tests.oidc_issuer import Issuer, new_key

from suanli.apiserver.authn.oidc import OIDCAuthenticator, OIDCConfigError, OIDCOptions
from suanli.apiserver.authn.types import AuthenticationError, Credentials
from suanli.apiserver.context import UserInfo

NOW = 1_800_000_000.0
VALID = int(NOW + 3600)
EXPIRED = int(NOW - 3600)


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Issuer]:
    iss = Issuer(tmp_path_factory.mktemp("oidc"))
    yield iss
    iss.stop()


def opts(issuer: Issuer, **kw: Any) -> OIDCOptions:
    base = OIDCOptions(issuer_url=issuer.url, client_id="my-client", username_claim="username",
                       username_prefix="-", ca_file=issuer.ca_file)
    return replace(base, **kw)


def run(auth: OIDCAuthenticator, token: str) -> UserInfo | None:
    async def go() -> UserInfo | None:
        try:
            resp = await auth.authenticate(Credentials(token))
            return None if resp is None else resp.user
        finally:
            await auth.close()
    return asyncio.run(go())


def claims(issuer: Issuer, **kw: Any) -> dict[str, Any]:
    return {"iss": issuer.url, "aud": "my-client", "exp": VALID, **kw}


# (id, options overrides, claims overrides, expected user (name, groups) or error text)
CASES: list[tuple[str, dict[str, Any], dict[str, Any], tuple[str, tuple[str, ...]] | str]] = [
    ("token", {}, {"username": "jane"}, ("jane", ())),
    ("no-username", {}, {}, 'oidc: parse username claims "username": claim not present'),
    ("email", {"username_claim": "email"}, {"email": "jane@example.com", "email_verified": True},
     ("jane@example.com", ())),
    ("email-not-verified", {"username_claim": "email"}, {"email": "jane@example.com", "email_verified": False},
     "oidc: email not verified"),
    ("no-email-verified-claim", {"username_claim": "email"}, {"email": "jane@example.com"},
     ("jane@example.com", ())),
    ("invalid-email-verified-claim", {"username_claim": "email"},
     {"email": "jane@example.com", "email_verified": "false"},
     "oidc: parse 'email_verified' claim: json: cannot unmarshal string into Go value of type bool"),
    ("groups", {"groups_claim": "groups"}, {"username": "jane", "groups": ["team1", "team2"]},
     ("jane", ("team1", "team2"))),
    ("group-string-claim", {"groups_claim": "groups"}, {"username": "jane", "groups": "team1"}, ("jane", ("team1",))),
    ("no-groups-claim", {"groups_claim": "groups"}, {"username": "jane"}, ("jane", ())),
    ("invalid-groups-claim", {"groups_claim": "groups"}, {"username": "jane", "groups": 42},
     'oidc: parse groups claim "groups": json: cannot unmarshal number into Go value of type string'),
    ("required-claim", {"required_claims": {"hd": "example.com", "sub": "test"}},
     {"username": "jane", "hd": "example.com", "sub": "test"}, ("jane", ())),
    ("no-required-claim", {"required_claims": {"hd": "example.com"}}, {"username": "jane"},
     "oidc: required claim hd not present in ID token"),
    ("invalid-required-claim", {"required_claims": {"hd": "example.com"}}, {"username": "jane", "hd": "example.org"},
     "oidc: required claim hd value does not match. Got = example.org, want = example.com"),
    ("expired", {}, {"username": "jane", "exp": EXPIRED},
     "oidc: verify token: oidc: token is expired (Token Expiry: 2027-01-15 07:00:00 +0000 UTC)"),
    ("invalid-aud", {}, {"username": "jane", "aud": "not-my-client"},
     'oidc: verify token: oidc: expected audience "my-client" got ["not-my-client"]'),
    ("multiple-audiences", {}, {"username": "jane", "aud": ["not-my-client", "my-client"], "azp": "not-my-client"},
     ("jane", ())),
    ("username-prefix", {"username_prefix": "oidc:"}, {"username": "jane"}, ("oidc:jane", ())),
    ("groups-prefix", {"username_prefix": "oidc:", "groups_claim": "groups", "groups_prefix": "groups:"},
     {"username": "jane", "groups": ["team1", "team2"]}, ("oidc:jane", ("groups:team1", "groups:team2"))),
    ("good-token-with-bad-client-id", {}, {"username": "jane", "aud": "my-wrong-client"},
     'oidc: verify token: oidc: expected audience "my-client" got ["my-wrong-client"]'),
    ("not-before-beyond-clock-skew", {}, {"username": "jane", "nbf": int(NOW + 600)},
     "oidc: verify token: oidc: current time 2027-01-15 08:00:00 +0000 UTC before the nbf (not before) time: "
     "2027-01-15 08:10:00 +0000 UTC"),
    ("not-before-within-clock-skew", {}, {"username": "jane", "nbf": int(NOW + 60)}, ("jane", ())),
    # kube-apiserver's flag defaults: sub behind "<issuer>#", email without a prefix
    ("default-prefix-for-sub", {"username_claim": "sub", "username_prefix": None}, {"sub": "u-1"},
     ("{url}#u-1", ())),
    ("no-default-prefix-for-email", {"username_claim": "email", "username_prefix": None}, {"email": "j@x.io"},
     ("j@x.io", ())),
]


@pytest.mark.parametrize(("overrides", "extra", "want"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_token(issuer: Issuer, overrides: dict[str, Any], extra: dict[str, Any],
               want: tuple[str, tuple[str, ...]] | str) -> None:
    auth = OIDCAuthenticator(opts(issuer, **overrides), clock=lambda: NOW)
    token = issuer.sign(claims(issuer, **extra))
    if isinstance(want, str):
        with pytest.raises(AuthenticationError) as err:
            run(auth, token)
        assert str(err.value) == want
        return
    user = run(auth, token)
    assert user is not None
    assert (user.name, user.groups) == (want[0].format(url=issuer.url), want[1])


def test_a_token_of_another_issuer_is_not_ours(issuer: Issuer) -> None:
    auth = OIDCAuthenticator(opts(issuer), clock=lambda: NOW)
    assert run(auth, issuer.sign({**claims(issuer, username="jane"), "iss": "https://example.com"})) is None
    assert run(OIDCAuthenticator(opts(issuer)), "not-a-jwt") is None


@pytest.mark.parametrize(("algs", "alg", "want"), [
    (("RS256",), "PS256", 'oidc: verify token: oidc: id token signed with unsupported algorithm, expected ["RS256"] '
                          'got "PS256"'),
    (("PS256",), "PS256", None),
    (("RS256", "RS512"), "RS512", None),
], ids=["invalid-signing-alg", "ps256", "rs512-allowed"])
def test_signing_algorithms(issuer: Issuer, algs: tuple[str, ...], alg: str, want: str | None) -> None:
    auth = OIDCAuthenticator(opts(issuer, signing_algs=algs), clock=lambda: NOW)
    token = issuer.sign(claims(issuer, username="jane"), alg=alg)
    if want is None:
        user = run(auth, token)
        assert user is not None and user.name == "jane"
    else:
        with pytest.raises(AuthenticationError, match=want.replace("[", r"\[").replace("]", r"\]")):
            run(auth, token)


def test_es512_issuer(tmp_path: Path) -> None:
    iss = Issuer(tmp_path, alg="ES512")
    try:
        auth = OIDCAuthenticator(opts(iss, signing_algs=("ES512",)), clock=lambda: NOW)
        user = run(auth, iss.sign(claims(iss, username="jane")))
        assert user is not None and user.name == "jane"
    finally:
        iss.stop()


def test_invalid_signature_is_refused(issuer: Issuer) -> None:
    auth = OIDCAuthenticator(opts(issuer), clock=lambda: NOW)
    forged = issuer.sign(claims(issuer, username="jane"), key=new_key("RS256"))
    with pytest.raises(AuthenticationError, match="failed to verify signature"):
        run(auth, forged)


def test_keys_are_cached_and_refetched_for_an_unknown_kid(tmp_path: Path) -> None:
    iss = Issuer(tmp_path)
    try:
        auth = OIDCAuthenticator(opts(iss), clock=lambda: NOW)

        async def scenario() -> list[str]:
            names = []
            for _ in range(3):
                resp = await auth.authenticate(Credentials(iss.sign(claims(iss, username="jane"))))
                assert resp is not None
                names.append(resp.user.name)
            assert auth.fetches == 1  # one discovery + JWKS fetch serves every token of a key
            iss.rotate("k2")
            resp = await auth.authenticate(Credentials(iss.sign(claims(iss, username="rotated"))))
            assert resp is not None and auth.fetches == 2
            names.append(resp.user.name)
            # a kid the issuer does not publish: asked once more, still unknown, refused
            with pytest.raises(AuthenticationError, match="no keys matches jwk keyid"):
                await auth.authenticate(Credentials(iss.sign(claims(iss, username="x"), kid="k9")))
            assert auth.fetches == 3
            await auth.close()
            return names
        assert asyncio.run(scenario()) == ["jane", "jane", "jane", "rotated"]
        assert iss.requests.count("/keys") == 3
    finally:
        iss.stop()


def test_discovery_naming_another_issuer_is_refused(tmp_path: Path) -> None:
    iss = Issuer(tmp_path)
    iss.discovered_issuer = "https://elsewhere.example"
    try:
        with pytest.raises(AuthenticationError, match="issuer did not match the issuer returned by provider"):
            run(OIDCAuthenticator(opts(iss), clock=lambda: NOW), iss.sign(claims(iss, username="jane")))
    finally:
        iss.stop()


def test_untrusted_issuer_certificate_is_an_error(issuer: Issuer) -> None:
    auth = OIDCAuthenticator(opts(issuer, ca_file=None), clock=lambda: NOW)
    with pytest.raises(AuthenticationError, match="oidc: get"):
        run(auth, issuer.sign(claims(issuer, username="jane")))


@pytest.mark.parametrize(("options", "message"), [
    (OIDCOptions("http://auth.example.com", "my-client"),
     "'oidc-issuer-url' (\"http://auth.example.com\") has invalid scheme (\"http\"), require 'https'"),
    (OIDCOptions("https://auth.example.com", "my-client", username_claim=""), "no username claim provided"),
    (OIDCOptions("https://auth.example.com", "my-client", signing_algs=("HS256",)),
     'oidc: unsupported signing alg: "HS256"'),
    (OIDCOptions("https://auth.example.com", ""),
     "oidc-issuer-url and oidc-client-id must be specified together when any oidc-* flags are set"),
], ids=["not-https", "no-username-claim", "invalid-sig-alg", "no-client-id"])
def test_invalid_options_are_refused_at_start(options: OIDCOptions, message: str) -> None:
    with pytest.raises(OIDCConfigError) as err:
        options.validate()
    assert str(err.value) == message


def test_now_defaults_to_wall_clock(issuer: Issuer) -> None:
    auth = OIDCAuthenticator(opts(issuer))
    user = run(auth, issuer.sign({**claims(issuer, username="jane"), "exp": int(time.time()) + 60}))
    assert user is not None and user.name == "jane"
