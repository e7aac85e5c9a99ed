"""Webhook token authentication (kube-apiserver ``--authentication-token-webhook-config-file``).

The config file is a kubeconfig naming the remote service (upstream's format): the first
cluster's ``server`` (with ``certificate-authority``/``-data`` or ``insecure-skip-tls-verify``)
and the first user's credentials (``token``, ``client-certificate``/``client-key`` and their
``-data`` forms). For a bearer token the server POSTs an ``authentication.k8s.io/v1``
``TokenReview`` (``spec.token``, ``spec.audiences``) and reads ``status.authenticated``,
``status.user`` and ``status.audiences``:

* ``authenticated: true`` -> that user; when audiences were requested, the answer's audiences
  (or, if it names none, the API server's) must intersect them, else the token is not
  accepted (upstream's ``implicitAuds`` rule);
* ``authenticated: false`` -> not accepted (an ``AuthenticationError`` carrying ``status.error``
  when the webhook gave one);
* a transport error or a non-2xx answer -> ``AuthenticationError``.

Answers (accepted and refused, but not errors) are cached per (token, audiences) for the
cache TTL (``--authentication-token-webhook-cache-ttl``, default 2 minutes; upstream caches
successes and failures for the same TTL), keyed by a SHA-256 of the token so tokens are not
kept in memory. This is the hook a console login (e.g. openFuyao's oauth-webhook) plugs into.
"""

from __future__ import annotations

import base64
import hashlib
import ssl
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml

from suanli.apiserver.authn.types import AuthenticationError, Credentials, Response
from suanli.apiserver.context import UserInfo

__all__ = ["DEFAULT_CACHE_TTL", "WebhookConfigError", "WebhookTokenAuthenticator", "load_webhook_config"]

DEFAULT_CACHE_TTL = 120.0
TIMEOUT = 30.0
CACHE_SIZE = 4096


class WebhookConfigError(ValueError):
    """The webhook kubeconfig cannot be used; the message names the file and the field."""


def _material(entry: dict[str, Any], key: str, base: Path) -> bytes | None:
    """``<key>-data`` (base64) or the file ``<key>`` (relative to the kubeconfig) as bytes."""
    if entry.get(f"{key}-data"):
        return base64.b64decode(str(entry[f"{key}-data"]))
    if entry.get(key):
        return (base / str(entry[key])).read_bytes()
    return None


def load_webhook_config(path: Path) -> tuple[str, ssl.SSLContext | bool, dict[str, str]]:
    """The server URL, the TLS verification setting and the request headers of a webhook kubeconfig."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise WebhookConfigError(f"webhook config {path}: {err}") from None
    clusters = (doc or {}).get("clusters") if isinstance(doc, dict) else None
    if not clusters or not isinstance(clusters, list) or not isinstance(clusters[0], dict):
        raise WebhookConfigError(f"webhook config {path}: clusters: Required value")
    cluster = clusters[0].get("cluster") or {}
    server = str(cluster.get("server") or "")
    if not server.startswith(("https://", "http://")):
        raise WebhookConfigError(f"webhook config {path}: clusters[0].cluster.server: Invalid value: {server!r}")
    users = doc.get("users") or []
    user = (users[0].get("user") or {}) if users and isinstance(users[0], dict) else {}
    headers: dict[str, str] = {}
    if user.get("token"):
        headers["Authorization"] = f"Bearer {user['token']}"
    verify: ssl.SSLContext | bool = True
    if server.startswith("https://"):
        if cluster.get("insecure-skip-tls-verify"):
            verify = False
        else:
            ctx = ssl.create_default_context()
            ca = _material(cluster, "certificate-authority", path.parent)
            if ca is not None:
                ctx = ssl.create_default_context(cadata=ca.decode())
            cert, key = _material(user, "client-certificate", path.parent), _material(user, "client-key", path.parent)
            if cert is not None and key is not None:
                with tempfile.TemporaryDirectory() as tmp:  # ssl loads key pairs from files only
                    (Path(tmp) / "c.pem").write_bytes(cert)
                    (Path(tmp) / "k.pem").write_bytes(key)
                    ctx.load_cert_chain(Path(tmp) / "c.pem", Path(tmp) / "k.pem")
            verify = ctx
    return server, verify, headers


def _user(raw: Any) -> UserInfo:
    if not isinstance(raw, dict) or not raw.get("username"):
        raise AuthenticationError("webhook answered authenticated without status.user.username")
    extra = raw.get("extra") or {}
    return UserInfo(str(raw["username"]), uid=str(raw.get("uid") or ""),
                    groups=tuple(str(g) for g in raw.get("groups") or ()),
                    extra=tuple(sorted((str(k), tuple(str(x) for x in v)) for k, v in extra.items())))


class WebhookTokenAuthenticator:
    """Asks a remote service, by TokenReview, who a bearer token belongs to (see module docstring)."""

    def __init__(self, server: str, *, verify: ssl.SSLContext | bool = True, headers: dict[str, str] | None = None,
                 implicit_audiences: Sequence[str] = (), cache_ttl: float = DEFAULT_CACHE_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.server = server
        self.implicit_audiences = tuple(implicit_audiences)
        self.cache_ttl = cache_ttl
        self.clock = clock
        self._client = httpx.AsyncClient(verify=verify, headers=headers or {}, timeout=TIMEOUT)
        self._cache: dict[tuple[bytes, tuple[str, ...]], tuple[float, Response | None]] = {}
        #: TokenReviews sent (cache misses): lets tests and metrics see the cache work
        self.calls = 0

    @classmethod
    def from_config(cls, path: Path, *, implicit_audiences: Sequence[str] = (),
                    cache_ttl: float = DEFAULT_CACHE_TTL) -> WebhookTokenAuthenticator:
        server, verify, headers = load_webhook_config(path)
        return cls(server, verify=verify, headers=headers, implicit_audiences=implicit_audiences,
                   cache_ttl=cache_ttl)

    async def close(self) -> None:
        await self._client.aclose()

    async def authenticate(self, credentials: Credentials) -> Response | None:
        token = credentials.token
        if not token:
            return None
        key = (hashlib.sha256(token.encode()).digest(), credentials.audiences)
        now = self.clock()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        resp = await self._review(token, credentials.audiences)
        if len(self._cache) >= CACHE_SIZE:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
        self._cache[key] = (now + self.cache_ttl, resp)
        return resp

    async def _review(self, token: str, audiences: tuple[str, ...]) -> Response | None:
        spec: dict[str, Any] = {"token": token}
        if audiences:
            spec["audiences"] = list(audiences)
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec}
        self.calls += 1
        try:
            answer = await self._client.post(self.server, json=review)
        except httpx.HTTPError as err:
            raise AuthenticationError(f"webhook token authenticator: {err}") from None
        if not 200 <= answer.status_code < 300:
            raise AuthenticationError(f"webhook token authenticator: the server answered {answer.status_code}")
        try:
            status = answer.json().get("status") or {}
        except (ValueError, AttributeError):
            raise AuthenticationError("webhook token authenticator: the answer is not a TokenReview") from None
        if not status.get("authenticated"):
            if status.get("error"):
                raise AuthenticationError(str(status["error"]))
            return None
        got = tuple(str(a) for a in status.get("audiences") or ()) or self.implicit_audiences
        auds = tuple(a for a in audiences if a in got) if audiences else got
        if audiences and not auds:
            return None
        return Response(_user(status.get("user")), auds)
