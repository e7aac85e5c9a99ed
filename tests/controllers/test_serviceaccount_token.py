"""Token controller: fills legacy service-account token Secrets and deletes orphaned ones."""

from __future__ import annotations

import base64

from suanli.controllers.serviceaccount import SERVICEACCOUNTS
from suanli.controllers.serviceaccount_token import SECRETS, TokensController
from tests.controllers.conftest import Api, eventually, running

NS = "default"


def issue(ns: str, secret: str, account: str, uid: str) -> str:
    return f"token:{ns}:{secret}:{account}:{uid}"


def token_secret(name: str, account: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
            "metadata": {"name": name, "namespace": NS,
                         "annotations": {"kubernetes.io/service-account.name": account}}}


async def _secret(api: Api, name: str) -> dict[str, object] | None:
    return next((s for s in (await api.client.list(SECRETS, NS))["items"] if s["metadata"]["name"] == name), None)


async def test_secret_filled_once_the_account_exists_and_deleted_with_it(api: Api) -> None:
    async with running(TokensController(api.client, issue, b"CA")):
        await api.client.create(SECRETS, token_secret("robot-token", "robot"), NS)
        sa = await api.client.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                                       "metadata": {"name": "robot", "namespace": NS}}, NS)
        uid = sa["metadata"]["uid"]

        async def filled() -> dict[str, object] | None:
            s = await _secret(api, "robot-token")
            return s if s and (s.get("data") or {}).get("token") else None  # type: ignore[union-attr]
        s = await eventually(filled, what="token written")
        data = s["data"]
        assert {k: base64.b64decode(v).decode() for k, v in data.items()} == {  # type: ignore[union-attr]
            "token": f"token:{NS}:robot-token:robot:{uid}", "ca.crt": "CA", "namespace": NS}
        assert s["metadata"]["annotations"]["kubernetes.io/service-account.uid"] == uid  # type: ignore[index]
        await api.client.delete(SERVICEACCOUNTS, "robot", NS)
        await eventually(lambda: _gone(api, "robot-token"), what="the orphaned token secret deleted")


async def _gone(api: Api, name: str) -> bool:
    return await _secret(api, name) is None
