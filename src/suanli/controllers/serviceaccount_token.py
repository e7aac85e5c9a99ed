"""Token controller (upstream ``tokens-controller``, legacy part): fill service-account token Secrets.

A Secret of type ``kubernetes.io/service-account-token`` annotated
``kubernetes.io/service-account.name: <sa>`` gets, once the ServiceAccount exists, the annotation
``kubernetes.io/service-account.uid`` and ``data`` ``token`` (a token from ``issue``),
``ca.crt`` and ``namespace``. A Secret whose ServiceAccount is gone (or has another UID than the
one recorded) is deleted, as upstream does. ``issue(namespace, secret, account, uid)`` is given by
the platform (the API server's signer): controllers never hold the signing key themselves.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj, deep_copy
from suanli.client.protocol import Client
from suanli.controllers._controller import QueueController
from suanli.runtime.clock import Clock
from suanli.runtime.informer import object_key
from suanli.runtime.informer_factory import SharedInformerFactory
from suanli.wire import SECRETS, SERVICEACCOUNTS

__all__ = ["ACCOUNT_NAME_ANNOTATION", "ACCOUNT_UID_ANNOTATION", "SECRETS", "TOKEN_TYPE", "TokensController"]

TOKEN_TYPE = "kubernetes.io/service-account-token"  # nosec B105  # a Secret type name
ACCOUNT_NAME_ANNOTATION = "kubernetes.io/service-account.name"
ACCOUNT_UID_ANNOTATION = "kubernetes.io/service-account.uid"
Issuer = Callable[[str, str, str, str], str]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class TokensController(QueueController):
    """Reconciles token Secrets (keys ``namespace/secret``); construct with a Client, an issuer and the CA."""

    name = "tokens-controller"

    def __init__(self, client: Client, issue: Issuer, ca_pem: bytes | str | None, *, clock: Clock | None = None,
                 factory: SharedInformerFactory | None = None) -> None:
        super().__init__(client, clock=clock, workers=1, factory=factory)
        self.issue = issue
        self.ca = (ca_pem.decode() if isinstance(ca_pem, bytes) else ca_pem) or ""
        self.secrets = self.watch(SECRETS)
        self.accounts = self.watch(SERVICEACCOUNTS)
        self.secrets.add_handler(self._secret, lambda _o, n: self._secret(n), lambda _o: None)
        self.accounts.add_handler(self._account, lambda _o, n: self._account(n), self._account)

    def _secret(self, secret: Obj) -> None:
        if secret.get("type") == TOKEN_TYPE:
            self.queue.add(object_key(secret))

    def _account(self, account: Obj) -> None:
        ns = str(account["metadata"].get("namespace") or "")
        for secret in self.secrets.list(ns):
            if secret.get("type") == TOKEN_TYPE and ((secret["metadata"].get("annotations") or {}).get(
                    ACCOUNT_NAME_ANNOTATION) == account["metadata"]["name"]):
                self.queue.add(object_key(secret))

    async def reconcile(self, key: str) -> None:
        ns, _, name = key.partition("/")
        cached = self.secrets.get(ns, name)
        if cached is None or cached.get("type") != TOKEN_TYPE or cached["metadata"].get("deletionTimestamp"):
            return
        annotations = cached["metadata"].get("annotations") or {}
        account_name = str(annotations.get(ACCOUNT_NAME_ANNOTATION) or "")
        account = self.accounts.get(ns, account_name) if account_name else None
        recorded = annotations.get(ACCOUNT_UID_ANNOTATION)
        if account is None or (recorded and recorded != account["metadata"]["uid"]):
            if account is None and not recorded:
                return  # the account may not have been created yet
            try:
                await self.client.delete(SECRETS, name, ns, preconditions={"uid": cached["metadata"]["uid"]})
            except ApiError as err:
                if err.code not in (404, 409):
                    raise
            return
        uid = str(account["metadata"]["uid"])
        data = dict(cached.get("data") or {})
        want = {"namespace": _b64(ns)}
        if self.ca:
            want["ca.crt"] = _b64(self.ca)
        if recorded == uid and data.get("token") and all(data.get(k) == v for k, v in want.items()):
            return
        secret = deep_copy(cached)
        secret["metadata"]["annotations"] = {**annotations, ACCOUNT_UID_ANNOTATION: uid}
        if recorded != uid or not data.get("token"):
            data["token"] = _b64(self.issue(ns, name, account_name, uid))
        secret["data"] = {**data, **want}
        await self.client.update(SECRETS, secret, ns)
