"""ServiceAccount admission, with the cases of upstream's plugin/pkg/admission/serviceaccount
admission_test.go (our plug-in, their inputs and outcomes)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from suanli.apimachinery.errors import ApiError
from suanli.apiserver.admission import AdmissionRequest, Operation
from suanli.apiserver.admission_serviceaccount import (
    SERVICE_ACCOUNT_MOUNT_PATH,
    ServiceAccountAdmission,
    token_volume_source,
)
from suanli.kinds.builtin import builtin_resource_types

PODS = next(r for r in builtin_resource_types() if r.plural == "pods")
CONFIGMAPS = next(r for r in builtin_resource_types() if r.plural == "configmaps")
NS = "myns"
MIRROR = {"kubernetes.io/config.mirror": "true"}


def plugin(*accounts: dict[str, Any]) -> ServiceAccountAdmission:
    by_name = {(NS, a["metadata"]["name"]): a for a in accounts}
    counter = itertools.count()
    return ServiceAccountAdmission(lambda ns, name: by_name.get((ns, name)), lambda: f"abc{next(counter):02d}",
                                   retry_interval=lambda: 0.0)


def sa(name: str = "default", **fields: Any) -> dict[str, Any]:
    annotations = fields.pop("annotations", None)
    meta: dict[str, Any] = {"name": name, "namespace": NS}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta, **fields}


def pod(annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "myname", "namespace": NS}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def admit(p: ServiceAccountAdmission, obj: dict[str, Any] | None, op: Operation = "CREATE", rt: Any = PODS,
          sub: str = "") -> dict[str, Any] | None:
    req = AdmissionRequest(op, rt, NS, "myname", obj, None, sub)
    p.mutate(req)
    p.validate(req)
    return req.obj


@pytest.mark.parametrize("op", ["UPDATE", "DELETE", "CONNECT"])
def test_ignores_non_create(op: Operation) -> None:
    obj = pod()
    assert admit(plugin(), obj, op) == pod()


def test_ignores_non_pod_resource_nil_object_and_subresources() -> None:
    assert admit(plugin(), pod(), rt=CONFIGMAPS) == pod()
    assert admit(plugin(), None) is None
    assert admit(plugin(), pod(), sub="status") == pod()


def test_ignores_mirror_pod_without_service_account_or_secrets() -> None:
    obj = pod(MIRROR, volumes=[{"name": "v", "emptyDir": {}}], containers=[{"name": "c", "image": "i"}])
    assert admit(plugin(sa()), obj) == pod(MIRROR, volumes=[{"name": "v", "emptyDir": {}}],
                                            containers=[{"name": "c", "image": "i"}])


@pytest.mark.parametrize(("spec", "message"), [
    ({"serviceAccountName": "default"}, "a mirror pod may not reference service accounts"),
    ({"volumes": [{"name": "s", "secret": {"secretName": "x"}}]}, "a mirror pod may not reference secrets"),
    ({"containers": [{"name": "c", "env": [{"name": "e", "valueFrom": {"secretKeyRef": {"name": "x", "key": "k"}}}]}]},
     "a mirror pod may not reference secrets"),
    ({"volumes": [{"name": "t", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}]},
     "a mirror pod may not use ServiceAccountToken volume projections"),
], ids=["service-account", "secret-volume", "secret-env", "token-projection"])
def test_rejects_mirror_pod_references(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ApiError) as err:
        admit(plugin(sa()), pod(MIRROR, **spec))
    assert err.value.code == 403
    assert err.value.message == f'pods "myname" is forbidden: {message}'


def test_assigns_default_service_account_and_mounts_the_api_access_volume() -> None:
    obj = admit(plugin(sa()), pod(initContainers=[{"name": "init"}], containers=[{"name": "a"}, {"name": "b"}]))
    assert obj is not None
    spec = obj["spec"]
    assert (spec["serviceAccountName"], spec["serviceAccount"]) == ("default", "default")
    assert spec["volumes"] == [{"name": "kube-api-access-abc00", "projected": token_volume_source()}]
    mount = {"name": "kube-api-access-abc00", "readOnly": True, "mountPath": SERVICE_ACCOUNT_MOUNT_PATH}
    for c in [*spec["initContainers"], *spec["containers"]]:
        assert c["volumeMounts"] == [mount]
    sources = spec["volumes"][0]["projected"]["sources"]
    assert sources[0] == {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}}
    assert sources[1]["configMap"]["name"] == "kube-root-ca.crt"
    assert sources[2]["downwardAPI"]["items"][0]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert spec["volumes"][0]["projected"]["defaultMode"] == 420


def test_denies_a_service_account_that_does_not_exist() -> None:
    with pytest.raises(ApiError) as err:
        admit(plugin(sa()), pod(serviceAccountName="robot", containers=[{"name": "c"}]))
    assert err.value.code == 403
    assert err.value.message == ('pods "myname" is forbidden: error looking up service account myns/robot: '
                                 'serviceaccount "robot" not found')


def test_respects_an_existing_mount_and_adds_no_unused_volume() -> None:
    existing = {"name": "my-custom-mount", "readOnly": False, "mountPath": SERVICE_ACCOUNT_MOUNT_PATH}
    obj = admit(plugin(sa()), pod(containers=[{"name": "c", "volumeMounts": [existing]}]))
    assert obj is not None
    assert "volumes" not in obj["spec"]
    assert obj["spec"]["containers"][0]["volumeMounts"] == [existing]


def test_reuses_an_existing_api_access_volume() -> None:
    vol = {"name": "kube-api-access-zzzzz", "projected": token_volume_source()}
    obj = admit(plugin(sa()), pod(volumes=[vol], containers=[{"name": "c"}]))
    assert obj is not None
    assert obj["spec"]["volumes"] == [vol]
    assert obj["spec"]["containers"][0]["volumeMounts"][0]["name"] == "kube-api-access-zzzzz"


@pytest.mark.parametrize(("sa_automount", "pod_automount", "mounted"), [
    (None, None, True), (False, None, False), (True, None, True),
    (None, False, False), (False, True, True), (True, False, False),
], ids=["default", "sa-false", "sa-true", "pod-false", "pod-true-wins-over-sa-false", "pod-false-wins"])
def test_automount_service_account_token(sa_automount: bool | None, pod_automount: bool | None,
                                         mounted: bool) -> None:
    account = sa() if sa_automount is None else sa(automountServiceAccountToken=sa_automount)
    spec: dict[str, Any] = {"containers": [{"name": "c"}]}
    if pod_automount is not None:
        spec["automountServiceAccountToken"] = pod_automount
    obj = admit(plugin(account), pod(**spec))
    assert obj is not None
    assert ("volumes" in obj["spec"]) is mounted
    assert bool(obj["spec"]["containers"][0].get("volumeMounts")) is mounted


ENFORCE = {"kubernetes.io/enforce-mountable-secrets": "true"}
SECRET_VOL = {"volumes": [{"name": "v", "secret": {"secretName": "foo"}}], "containers": [{"name": "c"}]}
SECRET_ENV = {"containers": [{"name": "container-1", "env": [
    {"name": "env-1", "valueFrom": {"secretKeyRef": {"name": "foo", "key": "k"}}}]}]}
SECRET_INIT_ENV = {"containers": [{"name": "c"}], "initContainers": [{"name": "container-1", "env": [
    {"name": "env-1", "valueFrom": {"secretKeyRef": {"name": "foo", "key": "k"}}}]}]}
PULL = {"containers": [{"name": "c"}], "imagePullSecrets": [{"name": "foo"}]}


@pytest.mark.parametrize("spec", [SECRET_VOL, SECRET_ENV, SECRET_INIT_ENV],
                         ids=["secret-volume", "secret-env", "init-container-secret-env"])
def test_allows_referenced_secrets(spec: dict[str, Any]) -> None:
    assert admit(plugin(sa(annotations=ENFORCE, secrets=[{"name": "foo"}])), pod(**spec)) is not None


@pytest.mark.parametrize(("spec", "message"), [
    (SECRET_VOL, 'volume with secret.secretName="foo" is not allowed because service account default does not '
                 "reference that secret"),
    (SECRET_ENV, 'container container-1 with envVar env-1 referencing secret.secretName="foo" is not allowed '
                 "because service account default does not reference that secret"),
    (SECRET_INIT_ENV, 'init container container-1 with envVar env-1 referencing secret.secretName="foo" is not '
                      "allowed because service account default does not reference that secret"),
    (PULL, 'imagePullSecrets[0].name="foo" is not allowed because service account default does not reference '
           "that imagePullSecret"),
], ids=["secret-volume", "secret-env", "init-container-secret-env", "image-pull-secret"])
def test_rejects_unreferenced_secrets_when_enforced(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ApiError) as err:
        admit(plugin(sa(annotations=ENFORCE)), pod(**spec))
    assert err.value.message == f'pods "myname" is forbidden: {message}'


@pytest.mark.parametrize("spec", [SECRET_VOL, SECRET_ENV, PULL], ids=["secret-volume", "secret-env", "pull"])
def test_allows_unreferenced_secrets_for_permissive_service_accounts(spec: dict[str, Any]) -> None:
    assert admit(plugin(sa()), pod(**spec)) is not None


def test_allows_referenced_image_pull_secrets() -> None:
    account = sa(annotations=ENFORCE, imagePullSecrets=[{"name": "foo"}])
    assert admit(plugin(account), pod(**PULL)) is not None


def test_adds_the_service_accounts_image_pull_secrets_only_when_the_pod_has_none() -> None:
    account = sa(imagePullSecrets=[{"name": "foo"}, {"name": "bar"}])
    obj = admit(plugin(account), pod(containers=[{"name": "c"}]))
    assert obj is not None and obj["spec"]["imagePullSecrets"] == [{"name": "foo"}, {"name": "bar"}]
    obj = admit(plugin(account), pod(containers=[{"name": "c"}], imagePullSecrets=[{"name": "mine"}]))
    assert obj is not None and obj["spec"]["imagePullSecrets"] == [{"name": "mine"}]


async def test_prepare_waits_for_a_default_service_account_being_created() -> None:
    accounts: dict[tuple[str, str], dict[str, Any]] = {}
    calls = itertools.count()

    def lookup(ns: str, name: str) -> dict[str, Any] | None:
        if next(calls) == 3:  # the ServiceAccounts controller creates it meanwhile
            accounts[(NS, "default")] = sa()
        return accounts.get((ns, name))

    p = ServiceAccountAdmission(lookup, lambda: "xxxxx", retry_interval=lambda: 0.0)
    req = AdmissionRequest("CREATE", PODS, NS, "myname", pod(containers=[{"name": "c"}]), None)
    await p.prepare(req)
    p.mutate(req)
    assert req.obj is not None and req.obj["spec"]["serviceAccountName"] == "default"


async def test_prepare_gives_up_after_ten_lookups_then_the_pod_is_rejected() -> None:
    calls = itertools.count()
    p = ServiceAccountAdmission(lambda ns, name: (next(calls), None)[1], lambda: "xxxxx", retry_interval=lambda: 0.0)
    req = AdmissionRequest("CREATE", PODS, NS, "myname", pod(containers=[{"name": "c"}]), None)
    await p.prepare(req)
    with pytest.raises(ApiError):
        p.mutate(req)
    assert next(calls) == 10  # nine waits in prepare plus the lookup in mutate
