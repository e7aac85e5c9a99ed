"""Legacy service-account tokens: issued JWTs verify only while their Secret and ServiceAccount exist."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from suanli.apiserver.satokens import ServiceAccountTokens, legacy_claims


class Objects:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}

    def __call__(self, ns: str, name: str) -> dict[str, Any] | None:
        return self.items.get((ns, name))


@pytest.fixture
def world(tmp_path: Path) -> tuple[ServiceAccountTokens, Objects, Objects, str]:
    secrets, accounts = Objects(), Objects()
    tokens = ServiceAccountTokens(tmp_path, secrets=secrets, accounts=accounts)
    token = tokens.issue(legacy_claims("ns1", "robot-token", "robot", "uid-1"))
    accounts.items[("ns1", "robot")] = {"metadata": {"uid": "uid-1"}}
    secrets.items[("ns1", "robot-token")] = {"data": {"token": base64.b64encode(token.encode()).decode()}}
    return tokens, secrets, accounts, token


def test_valid_token_names_the_service_account(world: Any) -> None:
    tokens, _, _, token = world
    assert tokens.verify(token) == "system:serviceaccount:ns1:robot"
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["iss"] == "kubernetes/serviceaccount"
    assert claims["kubernetes.io/serviceaccount/secret.name"] == "robot-token"


def test_key_survives_a_restart(world: Any, tmp_path: Path) -> None:
    _, secrets, accounts, token = world
    assert ServiceAccountTokens(tmp_path, secrets=secrets, accounts=accounts).verify(token) is not None


@pytest.mark.parametrize("break_it", ["tamper", "no-secret", "other-token-in-secret", "no-account", "new-account-uid",
                                      "garbage"])
def test_invalid_tokens_are_rejected(world: Any, break_it: str) -> None:
    tokens, secrets, accounts, token = world
    if break_it == "tamper":
        head, body, sig = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(body + "=="))
        claims["sub"] = "system:serviceaccount:ns1:admin"
        body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        token = f"{head}.{body}.{sig}"
    elif break_it == "no-secret":
        secrets.items.clear()
    elif break_it == "other-token-in-secret":
        secrets.items[("ns1", "robot-token")]["data"]["token"] = base64.b64encode(b"x.y.z").decode()
    elif break_it == "no-account":
        accounts.items.clear()
    elif break_it == "new-account-uid":
        accounts.items[("ns1", "robot")]["metadata"]["uid"] = "uid-2"
    else:
        token = "not-a-jwt"
    assert tokens.verify(token) is None
