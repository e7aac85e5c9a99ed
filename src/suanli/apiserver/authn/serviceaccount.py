"""ServiceAccount tokens: legacy Secret tokens, bound tokens and the TokenRequest subresource.

Identity (upstream ``serviceaccount.UserInfo``): user ``system:serviceaccount:<ns>:<name>``, uid
the ServiceAccount's UID, groups ``system:serviceaccounts`` and ``system:serviceaccounts:<ns>``.

**Legacy tokens** (``iss: kubernetes/serviceaccount``, written into Secrets by the token
controller) are valid while the Secret still holds that very token and the ServiceAccount with
the recorded UID exists; they know no audiences (valid for the API server's own).

**Bound tokens** (:meth:`ServiceAccountTokenIssuer.token_request`, ``POST
.../serviceaccounts/<name>/token``) carry upstream's claims: ``iss`` (:data:`DEFAULT_ISSUER`),
``sub``, ``aud``, ``exp``, ``iat``, ``nbf``, ``jti`` and ``kubernetes.io: {namespace,
serviceaccount: {name, uid}, pod|secret|node: {name, uid}}`` (a Pod-bound token also names the
Pod's node). They are valid while unexpired (``nbf``/``exp``, no leeway), meant for one of the
requested audiences, and while the ServiceAccount and the bound object still exist with the
same UID. Their users carry the extras ``authentication.kubernetes.io/credential-id:
JTI=<jti>`` and, when bound to a Pod or Node, ``.../pod-name``, ``.../pod-uid``,
``.../node-name``, ``.../node-uid``.

A JWT with another issuer, or not signed by our key, is not ours (None): the next authenticator
(e.g. a webhook) may know it. Ours but invalid raises :class:`AuthenticationError`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import json
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from suanli.apimachinery.errors import ApiError, Cause
from suanli.apimachinery.objects import Obj
from suanli.apiserver.authn.types import AuthenticationError, Credentials, Response
from suanli.apiserver.context import UserInfo
from suanli.apiserver.satokens import ISSUER as LEGACY_ISSUER
from suanli.apiserver.satokens import LEGACY_PREFIX, ServiceAccountTokens

__all__ = ["DEFAULT_ISSUER", "EXPIRATION_DEFAULT", "EXPIRATION_MIN", "Lookup", "ServiceAccountAuthenticator",
           "ServiceAccountTokenIssuer", "service_account_user"]

#: kube-apiserver's conventional ``--service-account-issuer`` (also the default API audience)
DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
EXPIRATION_DEFAULT = 3600
EXPIRATION_MIN = 600
EXPIRATION_MAX = 1 << 32
#: a ServiceAccount deleted longer ago than this no longer backs tokens (upstream: 60 s grace)
DELETION_GRACE = 60.0
_EXTRA = "authentication.kubernetes.io/"
#: kind -> store bucket of the objects a token may be bound to
BOUND_KINDS = {"Pod": "pods", "Secret": "secrets", "Node": "nodes"}  # nosec B105  # resource names, not passwords
#: (bucket, namespace, name) -> the stored object, or None
Lookup = Callable[[str, str, str], Obj | None]


def service_account_user(namespace: str, name: str, uid: str = "",
                         extra: tuple[tuple[str, tuple[str, ...]], ...] = ()) -> UserInfo:
    """Upstream's identity of ServiceAccount ``namespace/name``."""
    return UserInfo(f"system:serviceaccount:{namespace}:{name}", uid=uid,
                    groups=("system:serviceaccounts", f"system:serviceaccounts:{namespace}"), extra=extra)


def _uid(obj: Obj | None) -> str:
    return str(((obj or {}).get("metadata") or {}).get("uid") or "")


def _rfc3339(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _deleted_long_ago(obj: Obj, now: float) -> bool:
    stamp = (obj.get("metadata") or {}).get("deletionTimestamp")
    if not stamp:
        return False
    when = dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
    return when < now - DELETION_GRACE


class ServiceAccountAuthenticator:
    """Validates legacy and bound ServiceAccount tokens signed by ``tokens``."""

    def __init__(self, tokens: ServiceAccountTokens, lookup: Lookup, *, issuer: str = DEFAULT_ISSUER,
                 api_audiences: Sequence[str] = (DEFAULT_ISSUER,), clock: Callable[[], float] = time.time) -> None:
        self.tokens = tokens
        self.lookup = lookup
        self.issuer = issuer
        self.api_audiences = tuple(api_audiences)
        self.clock = clock

    async def authenticate(self, credentials: Credentials) -> Response | None:
        token = credentials.token
        if not token or token.count(".") != 2:
            return None
        claims = self.tokens.claims(token)
        if claims is None:
            return None
        if claims.get("iss") == LEGACY_ISSUER:
            return self._legacy(token, claims, credentials.audiences)
        if claims.get("iss") == self.issuer:
            return self._bound(claims, credentials.audiences)
        return None

    def _legacy(self, token: str, claims: dict[str, Any], wanted: tuple[str, ...]) -> Response | None:
        auds = self.api_audiences if not wanted else tuple(a for a in self.api_audiences if a in wanted)
        if wanted and not auds:
            return None
        ns = str(claims.get(LEGACY_PREFIX + "namespace") or "")
        secret_name = str(claims.get(LEGACY_PREFIX + "secret.name") or "")
        account_name = str(claims.get(LEGACY_PREFIX + "service-account.name") or "")
        account = self.lookup("serviceaccounts", ns, account_name)
        if account is None or _deleted_long_ago(account, self.clock()):
            raise AuthenticationError(f'serviceaccounts "{account_name}" not found')
        if _uid(account) != claims.get(LEGACY_PREFIX + "service-account.uid"):
            raise AuthenticationError(f"service account UID ({_uid(account)}) does not match claim "
                                      f"({claims.get(LEGACY_PREFIX + 'service-account.uid')})")
        secret = self.lookup("secrets", ns, secret_name)
        if secret is None:
            raise AuthenticationError(f'secrets "{secret_name}" not found')
        try:
            stored = base64.b64decode(str((secret.get("data") or {}).get("token") or "")).decode()
        except (ValueError, binascii.Error):
            stored = ""
        if not hmac.compare_digest(stored.encode(), token.encode()):
            raise AuthenticationError("token does not match the one stored in its secret")
        return Response(service_account_user(ns, account_name, _uid(account)), auds)

    def _bound(self, claims: dict[str, Any], wanted: tuple[str, ...]) -> Response:
        now = self.clock()
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, int | float) or now > exp:
            raise AuthenticationError("service account token has expired")
        if isinstance(nbf, int | float) and now < nbf:
            raise AuthenticationError("service account token is not valid yet")
        aud = claims.get("aud")
        token_auds = (aud,) if isinstance(aud, str) else tuple(str(a) for a in aud or ())
        targets = wanted or self.api_audiences
        auds = tuple(a for a in targets if a in token_auds)
        if not auds:
            raise AuthenticationError(f"token audiences {list(token_auds)!r} is invalid for the target audiences "
                                      f"{list(targets)!r}")
        private = claims.get("kubernetes.io")
        if not isinstance(private, dict):
            raise AuthenticationError("service account token is missing its kubernetes.io claim")
        ns = str(private.get("namespace") or "")
        sa_ref = private.get("serviceaccount") or {}
        account = self.lookup("serviceaccounts", ns, str(sa_ref.get("name") or ""))
        if account is None or _deleted_long_ago(account, now):
            raise AuthenticationError(f'serviceaccounts "{sa_ref.get("name")}" not found')
        if _uid(account) != sa_ref.get("uid"):
            raise AuthenticationError(f"service account UID ({_uid(account)}) does not match claim "
                                      f"({sa_ref.get('uid')})")
        extra: list[tuple[str, tuple[str, ...]]] = []
        for kind, bucket in BOUND_KINDS.items():
            ref = private.get(kind.lower())
            if not isinstance(ref, dict):
                continue
            obj = self.lookup(bucket, "" if kind == "Node" else ns, str(ref.get("name") or ""))
            if kind == "Node" and "pod" in private:
                # a Pod-bound token names the Pod's node for information; the Pod is what it is bound to
                extra += [(_EXTRA + "node-name", (str(ref.get("name")),)),
                          (_EXTRA + "node-uid", (str(ref.get("uid")),))]
                continue
            if obj is None or _deleted_long_ago(obj, now):
                raise AuthenticationError(f'{bucket} "{ref.get("name")}" not found')
            if _uid(obj) != ref.get("uid"):
                raise AuthenticationError(f"{kind} UID ({_uid(obj)}) does not match claim ({ref.get('uid')})")
            if kind in ("Pod", "Node"):
                extra += [(_EXTRA + f"{kind.lower()}-name", (str(ref.get("name")),)),
                          (_EXTRA + f"{kind.lower()}-uid", (str(ref.get("uid")),))]
        if claims.get("jti"):
            extra.append((_EXTRA + "credential-id", (f"JTI={claims['jti']}",)))
        return Response(service_account_user(ns, str(sa_ref.get("name")), _uid(account), tuple(sorted(extra))), auds)


class ServiceAccountTokenIssuer:
    """Serves the TokenRequest subresource: validates the request and signs a bound token."""

    def __init__(self, tokens: ServiceAccountTokens, lookup: Lookup, *, issuer: str = DEFAULT_ISSUER,
                 api_audiences: Sequence[str] = (DEFAULT_ISSUER,), clock: Callable[[], float] = time.time) -> None:
        self.tokens = tokens
        self.lookup = lookup
        self.issuer = issuer
        self.api_audiences = tuple(api_audiences)
        self.clock = clock

    def token_request(self, namespace: str, name: str, body: Any) -> Obj:
        """Answer ``POST /api/v1/namespaces/<namespace>/serviceaccounts/<name>/token`` with body ``body``.

        Raises :class:`ApiError`: 404 for a missing ServiceAccount or bound object, 400/422 for a
        malformed request, 409 when the bound object's UID does not match.
        """
        if not isinstance(body, dict) or body.get("kind") not in (None, "TokenRequest"):
            raise ApiError.bad_request("the body of a token request must be an authentication.k8s.io/v1 TokenRequest")
        account = self.lookup("serviceaccounts", namespace, name)
        if account is None:
            raise ApiError.not_found("serviceaccounts", name)
        meta = body.get("metadata") or {}
        if meta.get("name") and meta["name"] != name:
            raise ApiError.bad_request(f"metadata.name: Invalid value: {meta['name']!r}: must match the service "
                                       f"account name {name!r}")
        spec = body.get("spec") or {}
        if not isinstance(spec, dict):
            raise ApiError.bad_request("spec: Invalid value: must be an object")
        causes: list[Cause] = []
        auds = spec.get("audiences") or list(self.api_audiences)
        if not isinstance(auds, list) or not all(isinstance(a, str) and a for a in auds):
            causes.append(Cause("spec.audiences", "Invalid value: must be a list of non-empty strings",
                                "FieldValueInvalid"))
        seconds = spec.get("expirationSeconds")
        seconds = EXPIRATION_DEFAULT if seconds is None else seconds
        if not isinstance(seconds, int) or isinstance(seconds, bool):
            causes.append(Cause("spec.expirationSeconds", f"Invalid value: {seconds!r}: must be an integer",
                                "FieldValueInvalid"))
        elif seconds < EXPIRATION_MIN:
            causes.append(Cause("spec.expirationSeconds", f"Invalid value: {seconds}: may not specify a duration "
                                "less than 10 minutes", "FieldValueInvalid"))
        elif seconds > EXPIRATION_MAX:
            causes.append(Cause("spec.expirationSeconds", f"Invalid value: {seconds}: may not specify a duration "
                                "larger than 2^32 seconds", "FieldValueInvalid"))
        if causes:
            raise ApiError.invalid("TokenRequest", name, causes, group="authentication.k8s.io")
        assert isinstance(seconds, int)
        now = int(self.clock())
        jti = str(uuid.uuid4())
        private: dict[str, Any] = {"namespace": namespace, "serviceaccount": {"name": name, "uid": _uid(account)}}
        ref = spec.get("boundObjectRef")
        if ref:
            private.update(self._bound_object(namespace, name, ref))
        claims = {"iss": self.issuer, "sub": f"system:serviceaccount:{namespace}:{name}", "aud": auds,
                  "exp": now + seconds, "iat": now, "nbf": now, "jti": jti, "kubernetes.io": private}
        expires = _rfc3339(now + seconds)
        return {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"name": name, "namespace": namespace,
                             "creationTimestamp": _rfc3339(now)},
                "spec": {**spec, "audiences": auds, "expirationSeconds": seconds,
                         **({"boundObjectRef": ref} if ref else {})},
                "status": {"token": self.tokens.issue(claims), "expirationTimestamp": expires}}

    def _bound_object(self, namespace: str, name: str, ref: Any) -> dict[str, Any]:
        """The ``kubernetes.io`` claim entries for ``spec.boundObjectRef``."""
        if not isinstance(ref, dict):
            raise ApiError.bad_request("spec.boundObjectRef: Invalid value: must be an object")
        kind = ref.get("kind")
        if kind not in BOUND_KINDS:
            raise ApiError.invalid("TokenRequest", name, [Cause(
                "spec.boundObjectRef.kind", f'Unsupported value: {json.dumps(kind)}: supported values: "Pod", "Node", '
                '"Secret"',
                "FieldValueNotSupported")], group="authentication.k8s.io")
        if ref.get("apiVersion", "v1") != "v1":
            raise ApiError.bad_request(f"cannot bind token for object of kind {kind!r} and apiVersion "
                                       f"{ref.get('apiVersion')!r}: supported apiVersion is \"v1\"")
        obj_name = str(ref.get("name") or "")
        if not obj_name:
            raise ApiError.invalid("TokenRequest", name, [Cause("spec.boundObjectRef.name", "Required value",
                                                              "FieldValueRequired")], group="authentication.k8s.io")
        bucket = BOUND_KINDS[str(kind)]
        obj = self.lookup(bucket, "" if kind == "Node" else namespace, obj_name)
        if obj is None:
            raise ApiError.not_found(bucket, obj_name)
        if ref.get("uid") and ref["uid"] != _uid(obj):
            raise ApiError.conflict(bucket, obj_name, f"the UID in the bound object reference ({ref['uid']}) does "
                                    f"not match the UID in record. The object might have been deleted and then "
                                    f"recreated")
        out: dict[str, Any] = {str(kind).lower(): {"name": obj_name, "uid": _uid(obj)}}
        node_name = (obj.get("spec") or {}).get("nodeName") if kind == "Pod" else None
        if node_name:
            node = self.lookup("nodes", "", str(node_name))
            if node is not None:
                out["node"] = {"name": str(node_name), "uid": _uid(node)}
        return out

    def discovery(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The ``/.well-known/openid-configuration`` and ``/openid/v1/jwks`` documents."""
        config = {"issuer": self.issuer, "jwks_uri": f"{self.issuer}/openid/v1/jwks",
                  "response_types_supported": ["id_token"], "subject_types_supported": ["public"],
                  "id_token_signing_alg_values_supported": ["ES256"]}
        return config, self.tokens.jwks()
