"""ServiceAccount tokens: legacy Secret tokens, bound tokens (TokenRequest) and their validation.

Expectations follow upstream ``pkg/serviceaccount`` (claims, legacy and bound validators) and
``pkg/registry/core/serviceaccount/storage/token.go`` (TokenRequest defaults and checks).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from suanli.apimachinery.errors import ApiError
from suanli.apiserver.authn.serviceaccount import (
    DEFAULT_ISSUER,
    ServiceAccountAuthenticator,
    ServiceAccountTokenIssuer,
)
from suanli.apiserver.authn.types import AuthenticationError, Credentials
from suanli.apiserver.satokens import ServiceAccountTokens, legacy_claims

NOW = 1_800_000_000.0


class World:
    """Stored objects by (bucket, namespace, name), a clock, a signer, an issuer and an authenticator."""

    def __init__(self, data_dir: Path) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.now = NOW
        self.tokens = ServiceAccountTokens(data_dir)
        self.issuer = ServiceAccountTokenIssuer(self.tokens, self.lookup, clock=lambda: self.now)
        self.auth = ServiceAccountAuthenticator(self.tokens, self.lookup, clock=lambda: self.now)
        self.put("serviceaccounts", "ns1", "robot", "sa-uid")
        self.put("pods", "ns1", "web", "pod-uid", spec={"nodeName": "n1"})
        self.put("nodes", "", "n1", "node-uid")
        self.put("secrets", "ns1", "cfg", "secret-uid")

    def lookup(self, bucket: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects.get((bucket, namespace, name))

    def put(self, bucket: str, namespace: str, name: str, uid: str, **rest: Any) -> None:
        self.objects[(bucket, namespace, name)] = {"metadata": {"name": name, "namespace": namespace, "uid": uid},
                                                   **rest}

    def request(self, **spec: Any) -> dict[str, Any]:
        return self.issuer.token_request("ns1", "robot", {"apiVersion": "authentication.k8s.io/v1",
                                                          "kind": "TokenRequest", "spec": spec})

    async def whoami(self, token: str, audiences: tuple[str, ...] = ()) -> Any:
        return await self.auth.authenticate(Credentials(token=token, audiences=audiences))


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def _claims(token: str) -> dict[str, Any]:
    return dict(json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==")))


# -- TokenRequest ---------------------------------------------------------------------------------

def test_token_request_defaults_and_claims(world: World) -> None:
    out = world.request()
    assert out["spec"]["audiences"] == [DEFAULT_ISSUER]
    assert out["spec"]["expirationSeconds"] == 3600
    assert out["status"]["expirationTimestamp"] == "2027-01-15T09:00:00Z"
    claims = _claims(out["status"]["token"])
    assert {k: claims[k] for k in ("iss", "sub", "aud", "exp", "iat", "nbf")} == {
        "iss": DEFAULT_ISSUER, "sub": "system:serviceaccount:ns1:robot", "aud": [DEFAULT_ISSUER],
        "exp": NOW + 3600, "iat": NOW, "nbf": NOW}
    assert claims["jti"]
    assert claims["kubernetes.io"] == {"namespace": "ns1", "serviceaccount": {"name": "robot", "uid": "sa-uid"}}


@pytest.mark.parametrize(("ref", "private"), [
    ({"kind": "Pod", "apiVersion": "v1", "name": "web"},
     {"pod": {"name": "web", "uid": "pod-uid"}, "node": {"name": "n1", "uid": "node-uid"}}),
    ({"kind": "Secret", "apiVersion": "v1", "name": "cfg", "uid": "secret-uid"},
     {"secret": {"name": "cfg", "uid": "secret-uid"}}),
    ({"kind": "Node", "apiVersion": "v1", "name": "n1"}, {"node": {"name": "n1", "uid": "node-uid"}}),
], ids=["pod-with-its-node", "secret", "node"])
def test_bound_object_claims(world: World, ref: dict[str, str], private: dict[str, Any]) -> None:
    claims = _claims(world.request(boundObjectRef=ref)["status"]["token"])
    assert {k: v for k, v in claims["kubernetes.io"].items() if k in ("pod", "secret", "node")} == private


@pytest.mark.parametrize(("spec", "code", "message"), [
    ({"expirationSeconds": 599}, 422, "spec.expirationSeconds: Invalid value: 599: may not specify a duration "
                                      "less than 10 minutes"),
    ({"expirationSeconds": (1 << 32) + 1}, 422, "may not specify a duration larger than 2^32 seconds"),
    ({"expirationSeconds": "1h"}, 422, "spec.expirationSeconds"),
    ({"audiences": [""]}, 422, "spec.audiences"),
    ({"boundObjectRef": {"kind": "ConfigMap", "apiVersion": "v1", "name": "x"}}, 422,
     'spec.boundObjectRef.kind: Unsupported value: "ConfigMap"'),
    ({"boundObjectRef": {"kind": "Pod", "apiVersion": "apps/v1", "name": "web"}}, 400, "apiVersion"),
    ({"boundObjectRef": {"kind": "Pod", "apiVersion": "v1"}}, 422, "spec.boundObjectRef.name: Required value"),
    ({"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "gone"}}, 404, 'pods "gone" not found'),
    ({"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web", "uid": "old"}}, 409,
     "does not match the UID in record"),
], ids=["expiry-below-10-minutes", "expiry-above-2^32", "expiry-not-integer", "empty-audience",
        "unsupported-bound-kind", "bound-apiversion-not-v1", "bound-name-missing", "bound-object-missing",
        "bound-uid-mismatch"])
def test_token_request_rejects_bad_requests(world: World, spec: dict[str, Any], code: int, message: str) -> None:
    with pytest.raises(ApiError) as err:
        world.request(**spec)
    assert err.value.code == code
    assert message in err.value.message


def test_token_request_for_a_missing_service_account_is_404(world: World) -> None:
    with pytest.raises(ApiError) as err:
        world.issuer.token_request("ns1", "nobody", {"kind": "TokenRequest", "spec": {}})
    assert err.value.code == 404 and 'serviceaccounts "nobody" not found' in err.value.message


# -- bound token validation --------------------------------------------------------------------------

async def test_bound_token_identity_and_extras(world: World) -> None:
    token = world.request(boundObjectRef={"kind": "Pod", "apiVersion": "v1", "name": "web"})["status"]["token"]
    resp = await world.whoami(token)
    assert resp.user.name == "system:serviceaccount:ns1:robot"
    assert resp.user.uid == "sa-uid"
    assert resp.user.groups == ("system:serviceaccounts", "system:serviceaccounts:ns1")
    extra = dict(resp.user.extra)
    assert extra["authentication.kubernetes.io/pod-name"] == ("web",)
    assert extra["authentication.kubernetes.io/pod-uid"] == ("pod-uid",)
    assert extra["authentication.kubernetes.io/node-name"] == ("n1",)
    assert extra["authentication.kubernetes.io/credential-id"] == (f"JTI={_claims(token)['jti']}",)
    assert resp.audiences == (DEFAULT_ISSUER,)


def _break(world: World, how: str) -> None:
    if how == "expired":
        world.now = NOW + 3601
    elif how == "not-yet-valid":
        world.now = NOW - 10
    elif how == "account-deleted":
        del world.objects[("serviceaccounts", "ns1", "robot")]
    elif how == "account-recreated":
        world.put("serviceaccounts", "ns1", "robot", "new-uid")
    elif how == "account-deleting-long-ago":
        world.objects[("serviceaccounts", "ns1", "robot")]["metadata"]["deletionTimestamp"] = "2027-01-15T07:58:00Z"
    elif how == "pod-deleted":
        del world.objects[("pods", "ns1", "web")]
    elif how == "pod-recreated":
        world.put("pods", "ns1", "web", "other-pod-uid")


@pytest.mark.parametrize(("how", "message"), [
    ("expired", "has expired"),
    ("not-yet-valid", "not valid yet"),
    ("account-deleted", 'serviceaccounts "robot" not found'),
    ("account-recreated", "does not match claim"),
    ("account-deleting-long-ago", 'serviceaccounts "robot" not found'),
    ("pod-deleted", 'pods "web" not found'),
    ("pod-recreated", "Pod UID (other-pod-uid) does not match claim (pod-uid)"),
])
async def test_bound_token_invalid_when(world: World, how: str, message: str) -> None:
    token = world.request(boundObjectRef={"kind": "Pod", "apiVersion": "v1", "name": "web"})["status"]["token"]
    _break(world, how)
    with pytest.raises(AuthenticationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        await world.whoami(token)


async def test_account_deleted_within_the_grace_period_still_backs_tokens(world: World) -> None:
    token = world.request()["status"]["token"]
    world.objects[("serviceaccounts", "ns1", "robot")]["metadata"]["deletionTimestamp"] = "2027-01-15T07:59:50Z"
    assert (await world.whoami(token)) is not None


@pytest.mark.parametrize(("token_auds", "wanted", "outcome"), [
    (["vault"], ("vault",), ("vault",)),
    (["vault", "api"], ("api", "vault"), ("api", "vault")),
    (["vault"], (), "invalid for the target audiences"),
    (["vault"], ("other",), "invalid for the target audiences"),
], ids=["requested-audience", "intersection", "api-audience-by-default", "foreign-audience"])
async def test_bound_token_audiences(world: World, token_auds: list[str], wanted: tuple[str, ...],
                                     outcome: object) -> None:
    token = world.request(audiences=token_auds)["status"]["token"]
    if isinstance(outcome, str):
        with pytest.raises(AuthenticationError, match=outcome):
            await world.whoami(token, wanted)
        return
    assert (await world.whoami(token, wanted)).audiences == outcome


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", ""], ids=["opaque", "three-garbage-parts", "empty"])
async def test_foreign_tokens_are_not_mine(world: World, token: str) -> None:
    assert await world.whoami(token) is None


async def test_token_signed_by_another_key_is_not_mine(world: World, tmp_path: Path) -> None:
    other = ServiceAccountTokens(tmp_path / "other")
    token = other.issue({**_claims(world.request()["status"]["token"])})
    assert await world.whoami(token) is None


async def test_tampered_token_is_not_mine(world: World) -> None:
    head, body, sig = world.request()["status"]["token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["sub"] = "system:serviceaccount:kube-system:admin"
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert await world.whoami(f"{head}.{body}.{sig}") is None


async def test_key_survives_a_restart(world: World, tmp_path: Path) -> None:
    token = world.request()["status"]["token"]
    assert ServiceAccountTokens(tmp_path).claims(token) is not None


def test_jwks_publishes_the_signing_key(world: World) -> None:
    config, jwks = world.issuer.discovery()
    assert config["issuer"] == DEFAULT_ISSUER and config["jwks_uri"] == f"{DEFAULT_ISSUER}/openid/v1/jwks"
    (key,) = jwks["keys"]
    header = json.loads(base64.urlsafe_b64decode(world.request()["status"]["token"].split(".")[0] + "=="))
    assert (key["kid"], key["alg"], key["crv"]) == (header["kid"], "ES256", "P-256")


# -- legacy tokens --------------------------------------------------------------------------------------

@pytest.fixture
def legacy(world: World) -> str:
    token = world.tokens.issue(legacy_claims("ns1", "robot-token", "robot", "sa-uid"))
    world.put("secrets", "ns1", "robot-token", "s-uid", data={"token": base64.b64encode(token.encode()).decode()})
    return token


async def test_legacy_token_names_the_service_account(world: World, legacy: str) -> None:
    resp = await world.whoami(legacy)
    assert resp.user.name == "system:serviceaccount:ns1:robot"
    assert resp.user.groups == ("system:serviceaccounts", "system:serviceaccounts:ns1")
    assert _claims(legacy)["iss"] == "kubernetes/serviceaccount"


@pytest.mark.parametrize("break_it", ["no-secret", "other-token-in-secret", "no-account", "new-account-uid"])
async def test_legacy_token_invalid_when(world: World, legacy: str, break_it: str) -> None:
    if break_it == "no-secret":
        del world.objects[("secrets", "ns1", "robot-token")]
    elif break_it == "other-token-in-secret":
        world.objects[("secrets", "ns1", "robot-token")]["data"]["token"] = base64.b64encode(b"x.y.z").decode()
    elif break_it == "no-account":
        del world.objects[("serviceaccounts", "ns1", "robot")]
    else:
        world.put("serviceaccounts", "ns1", "robot", "uid-2")
    with pytest.raises(AuthenticationError):
        await world.whoami(legacy)


@pytest.mark.parametrize(("wanted", "accepted"), [((), True), ((DEFAULT_ISSUER,), True), (("vault",), False)],
                         ids=["no-audience", "api-audience", "foreign-audience-not-mine"])
async def test_legacy_tokens_are_valid_for_the_api_audiences_only(world: World, legacy: str,
                                                                  wanted: tuple[str, ...], accepted: bool) -> None:
    assert (await world.whoami(legacy, wanted) is not None) == accepted
