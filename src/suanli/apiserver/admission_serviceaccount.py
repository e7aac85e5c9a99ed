"""``ServiceAccount`` admission (upstream ``plugin/pkg/admission/serviceaccount``).

On Pod CREATE (no subresource):

* **mirror pods** (annotation ``kubernetes.io/config.mirror``) are not changed; they may not name
  a ServiceAccount, reference Secrets (volumes, env, envFrom, image pull secrets) or project a
  ServiceAccount token — 403 otherwise;
* ``spec.serviceAccountName`` defaults to ``default`` (and ``spec.serviceAccount``, the
  deprecated alias, follows it); the ServiceAccount must exist, else 403
  ``error looking up service account <ns>/<name>: serviceaccount "<name>" not found``. Like
  upstream, a missing ``default`` is looked up again for up to ten tries 100-200 ms apart (the
  ServiceAccounts controller may be creating it for a fresh namespace); others once;
* unless the pod's ``automountServiceAccountToken`` (else the ServiceAccount's) is false, every
  container and init container without a mount at ``/var/run/secrets/kubernetes.io/serviceaccount``
  gets a read-only mount of a projected volume ``kube-api-access-<5 random>`` (a bound token,
  ``expirationSeconds`` 3607, path ``token``; ``ca.crt`` from ConfigMap ``kube-root-ca.crt``;
  the namespace from the downward API; ``defaultMode`` 420). A pod that already has a
  ``kube-api-access-*`` volume reuses it;
* a pod without ``imagePullSecrets`` gets the ServiceAccount's;
* a ServiceAccount annotated ``kubernetes.io/enforce-mountable-secrets: "true"`` limits the pod's
  secret volumes, ``secretKeyRef`` env vars and image pull secrets to those it lists.

Not ported: the ``pods/ephemeralcontainers`` secret check.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.apiserver.admission import AdmissionRequest
from suanli.storage import Store

__all__ = ["SERVICE_ACCOUNT_MOUNT_PATH", "ServiceAccountAdmission", "store_service_account_lookup",
           "token_volume_source"]

DEFAULT_SERVICE_ACCOUNT = "default"
SERVICE_ACCOUNT_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
VOLUME_PREFIX = "kube-api-access-"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
ENFORCE_MOUNTABLE_SECRETS = "kubernetes.io/enforce-mountable-secrets"
#: upstream serviceaccount.WarnOnlyBoundTokenExpirationSeconds (one hour and seven seconds)
TOKEN_EXPIRATION_SECONDS = 3607
DEFAULT_LOOKUP_ATTEMPTS = 10

ServiceAccountLookup = Callable[[str, str], Obj | None]


def store_service_account_lookup(store: Store) -> ServiceAccountLookup:
    """A :data:`ServiceAccountLookup` reading ``(namespace, name)`` straight from ``store``."""
    def lookup(namespace: str, name: str) -> Obj | None:
        so = store.get("serviceaccounts", namespace, name)
        return None if so is None else so.obj
    return lookup


def token_volume_source() -> Obj:
    """The projected volume source of the API access volume (upstream ``TokenVolumeSource``)."""
    return {
        "defaultMode": 420,
        "sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": TOKEN_EXPIRATION_SECONDS}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace",
                                        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
        ],
    }


def _list(parent: Any, key: str) -> list[Any]:
    value = parent.get(key) if isinstance(parent, dict) else None
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _all_containers(spec: Obj) -> list[tuple[str, Obj]]:
    return [("init container", c) for c in _list(spec, "initContainers")] + \
        [("container", c) for c in _list(spec, "containers")] + \
        [("ephemeral container", c) for c in _list(spec, "ephemeralContainers")]


def _references_secrets(spec: Obj) -> bool:
    """Upstream ``VisitPodSecretNames`` over all containers: any Secret reference at all."""
    if _list(spec, "imagePullSecrets"):
        return True
    for vol in _list(spec, "volumes"):
        if isinstance(vol.get("secret"), dict):
            return True
        for src in _list(vol.get("projected") or {}, "sources"):
            if isinstance(src.get("secret"), dict):
                return True
        for plugin in ("azureFile", "cephfs", "cinder", "flexVolume", "iscsi", "rbd", "scaleIO", "storageos", "csi"):
            source = vol.get(plugin)
            if isinstance(source, dict) and any(k.endswith("ecretRef") or k == "secretName" for k in source):
                return True
    for _, c in _all_containers(spec):
        for env in _list(c, "env"):
            if isinstance((env.get("valueFrom") or {}).get("secretKeyRef"), dict):
                return True
        if any(isinstance(e.get("secretRef"), dict) for e in _list(c, "envFrom")):
            return True
    return False


class ServiceAccountAdmission:
    """Mutating and validating ``ServiceAccount`` plug-in for pods (register it as both)."""

    name = "ServiceAccount"
    resources = frozenset({"pods"})

    def __init__(self, lookup: ServiceAccountLookup, suffix: Callable[[], str], *,
                 retry_interval: Callable[[], float] | None = None) -> None:
        self._lookup = lookup
        self._suffix = suffix
        self._retry_interval = retry_interval or (lambda: random.uniform(0.1, 0.2))  # nosec B311  # retry jitter, not security

    @staticmethod
    def _applies(request: AdmissionRequest) -> bool:
        return request.operation == "CREATE" and request.resource.storage_key == "pods" and \
            not request.subresource and isinstance(request.obj, dict)

    async def prepare(self, request: AdmissionRequest) -> None:
        """Wait (bounded, as upstream's ``getServiceAccount``) for a missing ``default`` ServiceAccount."""
        if not self._applies(request) or request.obj is None or _is_mirror(request.obj):
            return
        name = (request.obj.get("spec") or {}).get("serviceAccountName") or DEFAULT_SERVICE_ACCOUNT
        if name != DEFAULT_SERVICE_ACCOUNT:
            return
        for _ in range(DEFAULT_LOOKUP_ATTEMPTS - 1):
            if self._lookup(request.namespace, name) is not None:
                return
            await asyncio.sleep(self._retry_interval())

    def mutate(self, request: AdmissionRequest) -> None:
        if not self._applies(request) or request.obj is None or _is_mirror(request.obj):
            return
        spec = request.obj.setdefault("spec", {})
        if not spec.get("serviceAccountName"):
            spec["serviceAccountName"] = DEFAULT_SERVICE_ACCOUNT
        spec["serviceAccount"] = spec["serviceAccountName"]
        sa = self._service_account(request, str(spec["serviceAccountName"]))
        if _should_automount(sa, spec):
            self._mount_token(spec)
        if not _list(spec, "imagePullSecrets") and _list(sa, "imagePullSecrets"):
            spec["imagePullSecrets"] = [{"name": ref.get("name", "")} for ref in _list(sa, "imagePullSecrets")]

    def validate(self, request: AdmissionRequest) -> None:
        if not self._applies(request) or request.obj is None:
            return
        pod = request.obj
        spec = pod.get("spec") if isinstance(pod.get("spec"), dict) else {}
        assert isinstance(spec, dict)
        if _is_mirror(pod):
            if spec.get("serviceAccountName"):
                raise self._forbidden(request, "a mirror pod may not reference service accounts")
            if _references_secrets(spec):
                raise self._forbidden(request, "a mirror pod may not reference secrets")
            for vol in _list(spec, "volumes"):
                if any(isinstance(s.get("serviceAccountToken"), dict)
                       for s in _list(vol.get("projected") or {}, "sources")):
                    raise self._forbidden(request, "a mirror pod may not use ServiceAccountToken volume projections")
            return
        name = spec.get("serviceAccountName")
        if not name:
            raise self._forbidden(request, f"no service account specified for pod {request.namespace}/{request.name}")
        sa = self._service_account(request, str(name))
        if str((sa.get("metadata") or {}).get("annotations", {}).get(ENFORCE_MOUNTABLE_SECRETS, "")).lower() in (
                "true", "1", "t"):
            message = _unreferenced_secret(sa, spec)
            if message:
                raise self._forbidden(request, message)

    # -- helpers -------------------------------------------------------------------------------------------

    def _service_account(self, request: AdmissionRequest, name: str) -> Obj:
        sa = self._lookup(request.namespace, name)
        if sa is None:
            raise self._forbidden(request, f"error looking up service account {request.namespace}/{name}: "
                                           f'serviceaccount "{name}" not found')
        return sa

    @staticmethod
    def _forbidden(request: AdmissionRequest, message: str) -> ApiError:
        name = request.name or str((request.obj or {}).get("metadata", {}).get("name") or "")
        return ApiError.forbidden("pods", name, f'pods "{name}" is forbidden: {message}')

    def _mount_token(self, spec: Obj) -> None:
        volumes = _list(spec, "volumes")
        existing = next((str(v.get("name")) for v in volumes if str(v.get("name", "")).startswith(VOLUME_PREFIX)),
                        None)
        volume_name = existing or VOLUME_PREFIX + self._suffix()
        needs_volume = False
        for container in _list(spec, "initContainers") + _list(spec, "containers"):
            mounts = container.get("volumeMounts")
            if not isinstance(mounts, list):
                mounts = container["volumeMounts"] = []
            if any(isinstance(m, dict) and m.get("mountPath") == SERVICE_ACCOUNT_MOUNT_PATH for m in mounts):
                continue
            mounts.append({"name": volume_name, "readOnly": True, "mountPath": SERVICE_ACCOUNT_MOUNT_PATH})
            needs_volume = True
        if existing is None and needs_volume:
            if not isinstance(spec.get("volumes"), list):
                spec["volumes"] = []
            spec["volumes"].append({"name": volume_name, "projected": token_volume_source()})


def _is_mirror(pod: Obj) -> bool:
    annotations = (pod.get("metadata") or {}).get("annotations")
    return isinstance(annotations, dict) and MIRROR_ANNOTATION in annotations


def _should_automount(sa: Obj, spec: Obj) -> bool:
    """The pod's ``automountServiceAccountToken`` wins, then the ServiceAccount's; default true."""
    for value in (spec.get("automountServiceAccountToken"), sa.get("automountServiceAccountToken")):
        if isinstance(value, bool):
            return value
    return True


def _unreferenced_secret(sa: Obj, spec: Obj) -> str:
    """Upstream ``limitSecretReferences``: the first Secret reference the ServiceAccount does not list."""
    sa_name = (sa.get("metadata") or {}).get("name", "")
    mountable = {str(s.get("name")) for s in _list(sa, "secrets")}
    for vol in _list(spec, "volumes"):
        secret = vol.get("secret")
        if isinstance(secret, dict) and secret.get("secretName") not in mountable:
            return (f'volume with secret.secretName="{secret.get("secretName", "")}" is not allowed because service '
                    f"account {sa_name} does not reference that secret")
    for label, key in (("init container", "initContainers"), ("container", "containers")):
        for c in _list(spec, key):
            for env in _list(c, "env"):
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if isinstance(ref, dict) and ref.get("name") not in mountable:
                    return (f'{label} {c.get("name", "")} with envVar {env.get("name", "")} referencing '
                            f'secret.secretName="{ref.get("name", "")}" is not allowed because service account '
                            f"{sa_name} does not reference that secret")
    pull = {str(s.get("name")) for s in _list(sa, "imagePullSecrets")}
    for i, ref in enumerate(_list(spec, "imagePullSecrets")):
        if ref.get("name") not in pull:
            return (f'imagePullSecrets[{i}].name="{ref.get("name", "")}" is not allowed because service account '
                    f"{sa_name} does not reference that imagePullSecret")
    return ""
