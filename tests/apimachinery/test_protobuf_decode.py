"""Decoding Kubernetes protobuf bodies into the JSON objects a JSON client would have sent.

Bodies are hand-assembled with a tiny field-number encoder (field numbers written out literally, as Go's
generated marshallers emit them: every non-pointer scalar present even when zero), so both the generated
table and the decoder are checked against the upstream numbering.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from suanli.apimachinery.protobuf import MAGIC, ProtobufError, decode_k8s_protobuf, supported_kinds
from suanli.apimachinery.protobuf.decode import go_duration

# --- tiny encoder --------------------------------------------------------------------------------------------


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int32/int64 -> 10-byte two's complement, as Go writes them
    out = bytearray()
    while True:
        low = n & 0x7F
        n >>= 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def vi(num: int, n: int) -> bytes:
    """Varint field (int32/int64/bool)."""
    return varint(num << 3) + varint(n)


def ld(num: int, payload: bytes | str) -> bytes:
    """Length-delimited field (string/bytes/message)."""
    data = payload.encode() if isinstance(payload, str) else payload
    return varint(num << 3 | 2) + varint(len(data)) + data


def msg(num: int, *parts: bytes) -> bytes:
    return ld(num, b"".join(parts))


def entry(num: int, key: str, value: bytes | str) -> bytes:
    """One map<string, X> entry; ``value`` is the already-encoded value payload (or a string)."""
    return msg(num, ld(1, key), ld(2, value))


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return MAGIC + msg(1, ld(1, api_version), ld(2, kind)) + ld(2, raw) + ld(3, "") + ld(4, "")


def object_meta(num: int, name: str, labels: dict[str, str] | None = None, *extra: bytes) -> bytes:
    """ObjectMeta as Go marshals a client-built one: empty strings, zero generation, empty Time."""
    parts = [ld(1, name), ld(2, ""), ld(3, ""), ld(4, ""), ld(5, ""), ld(6, ""), vi(7, 0), msg(8)]
    parts += [entry(11, k, v) for k, v in (labels or {}).items()]
    return msg(num, *parts, *extra)


def int_or_string(num: int, value: int | str) -> bytes:
    if isinstance(value, str):
        return msg(num, vi(1, 1), vi(2, 0), ld(3, value))
    return msg(num, vi(1, 0), vi(2, value), ld(3, ""))


def quantity(text: str) -> bytes:
    return ld(1, text)


def container(name: str, image: str, *extra: bytes) -> bytes:
    """A Container with the zero-valued non-pointer scalars Go always writes."""
    return msg(2, ld(1, name), ld(2, image), ld(5, ""), *extra, ld(13, ""), ld(14, ""), vi(16, 0), vi(17, 0),
               vi(18, 0), ld(20, ""))


def pod_spec(num: int, *parts: bytes) -> bytes:
    return msg(num, *parts, ld(3, ""), ld(6, ""), ld(8, ""), ld(9, ""), ld(10, ""), vi(11, 0), vi(12, 0), vi(13, 0),
               ld(16, ""), ld(17, ""), ld(19, ""))


# --- realistic objects ---------------------------------------------------------------------------------------

APP = {"app": "web"}

DEPLOYMENT = envelope("apps/v1", "Deployment", b"".join([
    object_meta(1, "web", APP),
    msg(2,                                   # DeploymentSpec
        vi(1, 3),                            # replicas (pointer)
        msg(2, entry(1, "app", "web")),      # selector.matchLabels
        msg(3,                               # template
            object_meta(1, "", APP),
            pod_spec(2, container("nginx", "nginx", msg(8)))),  # resources: {}
        msg(4),                              # strategy: {}
        vi(5, 0),                            # minReadySeconds 0 (omitempty)
        vi(7, 0),                            # paused false
        ld(99, "a field from a newer release")),
    msg(3),                                  # status: {}
]))

DEPLOYMENT_JSON = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {}}]},
        },
        "strategy": {},
    },
    "status": {},
}

POD = envelope("v1", "Pod", b"".join([
    object_meta(1, "p", {"run": "p"},
                msg(13, ld(1, "ReplicaSet"), ld(3, "rs"), ld(4, "u-1"), ld(5, "apps/v1"), vi(6, 1), vi(7, 0))),
    pod_spec(2,
             msg(1, ld(1, "scratch"), msg(2, msg(2, ld(1, "")))),                   # emptyDir: {}
             msg(1, ld(1, "cfg"), msg(2, msg(19, msg(1, ld(1, "app-config")), vi(3, 420)))),
             container("app", "busybox",
                       ld(3, "sh"), ld(4, "-c"), ld(4, "sleep 10"),
                       msg(6, ld(1, "http"), vi(2, 0), vi(3, 8080), ld(4, "TCP"), ld(5, "")),
                       msg(7, ld(1, "A"), ld(2, "1")),
                       msg(7, ld(1, "EMPTY"), ld(2, "")),
                       msg(7, ld(1, "FROM"), ld(2, ""),
                           msg(3, msg(4, msg(1, ld(1, "creds")), ld(2, "token")))),
                       msg(8, entry(1, "cpu", quantity("500m")), entry(2, "memory", quantity("64Mi"))),
                       msg(9, ld(1, "scratch"), vi(2, 0), ld(3, "/tmp"), ld(4, ""), ld(6, "")),
                       msg(11, msg(1, msg(2, ld(1, "/healthz"), int_or_string(2, "http"), ld(3, ""), ld(4, "HTTP"))),
                           vi(2, 0), vi(3, 1), vi(4, 10), vi(5, 1), vi(6, 3)),
                       msg(15, vi(5, 0))),                                           # runAsNonRoot false (pointer)
             vi(21, 0),                                                              # automount...: false (pointer)
             vi(25, -5),                                                             # priority -5 (pointer)
             msg(14, vi(4, 1000), vi(4, 2000))),                                     # supplementalGroups
    msg(3, ld(1, ""), ld(3, ""), ld(4, ""), ld(5, ""), ld(6, ""), msg(7, vi(1, 1795323004)), ld(9, "")),
]))

POD_JSON = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {
        "name": "p", "labels": {"run": "p"},
        "ownerReferences": [{"kind": "ReplicaSet", "name": "rs", "uid": "u-1", "apiVersion": "apps/v1",
                             "controller": True, "blockOwnerDeletion": False}],
    },
    "spec": {
        "volumes": [
            {"name": "scratch", "emptyDir": {}},
            {"name": "cfg", "configMap": {"name": "app-config", "defaultMode": 420}},
        ],
        "containers": [{
            "name": "app", "image": "busybox", "command": ["sh"], "args": ["-c", "sleep 10"],
            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
            "env": [
                {"name": "A", "value": "1"},
                {"name": "EMPTY"},
                {"name": "FROM", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
            ],
            "resources": {"limits": {"cpu": "500m"}, "requests": {"memory": "64Mi"}},
            "volumeMounts": [{"name": "scratch", "mountPath": "/tmp"}],
            "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                               "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1,
                               "failureThreshold": 3},
            "securityContext": {"runAsNonRoot": False},
        }],
        "automountServiceAccountToken": False,
        "priority": -5,
        "securityContext": {"supplementalGroups": [1000, 2000]},
    },
    "status": {"startTime": "2026-11-22T04:50:04Z"},
}

SECRET = envelope("v1", "Secret", b"".join([
    object_meta(1, "s"),
    entry(2, "bin", b"\x00\xffhello"),
    entry(2, "x", b"y"),
    ld(3, "Opaque"),
]))

SECRET_JSON = {
    "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
    "data": {"bin": base64.b64encode(b"\x00\xffhello").decode(), "x": "eQ=="},
    "type": "Opaque",
}

SERVICE = envelope("v1", "Service", b"".join([
    object_meta(1, "svc", {"app": "svc"}),
    msg(2,
        msg(1, ld(1, "80-8080"), ld(2, "TCP"), vi(3, 80), int_or_string(4, 8080), vi(5, 0)),
        msg(1, ld(1, "web"), ld(2, "TCP"), vi(3, 8000), int_or_string(4, "http"), vi(5, 0)),
        msg(1, ld(1, "plain"), ld(2, "TCP"), vi(3, 9000), int_or_string(4, 0), vi(5, 0)),  # targetPort unset
        entry(2, "app", "svc"), ld(3, ""), ld(4, "ClusterIP"), ld(7, ""), vi(13, 0)),
    msg(3, msg(1)),
]))

SERVICE_JSON = {
    "apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "svc", "labels": {"app": "svc"}},
    "spec": {
        "ports": [
            {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080},
            {"name": "web", "protocol": "TCP", "port": 8000, "targetPort": "http"},
            {"name": "plain", "protocol": "TCP", "port": 9000},
        ],
        "selector": {"app": "svc"},
        "type": "ClusterIP",
    },
    "status": {"loadBalancer": {}},
}

JOB = envelope("batch/v1", "Job", b"".join([
    object_meta(1, "j"),
    msg(2,
        vi(1, 1), vi(2, 1),                          # parallelism, completions (pointers)
        vi(7, 0),                                    # backoffLimit 0 (pointer, explicit)
        msg(6, object_meta(1, ""), pod_spec(2, container("j", "busybox", ld(3, "echo"), ld(3, "hi"), msg(8)))),
        ld(9, "NonIndexed"),
        vi(10, 0)),                                  # suspend false (pointer, explicit)
    msg(3, vi(4, 0), vi(5, 0), vi(6, 0)),
]))

JOB_JSON = {
    "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
    "spec": {
        "parallelism": 1, "completions": 1, "backoffLimit": 0,
        "template": {"metadata": {}, "spec": {"containers": [
            {"name": "j", "image": "busybox", "command": ["echo", "hi"], "resources": {}}]}},
        "completionMode": "NonIndexed",
        "suspend": False,
    },
    "status": {},
}


@pytest.mark.parametrize(("body", "expected"), [
    (DEPLOYMENT, DEPLOYMENT_JSON),
    (POD, POD_JSON),
    (SECRET, SECRET_JSON),
    (SERVICE, SERVICE_JSON),
    (JOB, JOB_JSON),
], ids=[
    "deployment-like-kubectl-create-deployment",
    "pod-with-env-ports-quantities-volumes-probe-and-pointer-false",
    "secret-bytes-become-base64",
    "service-int-or-string-target-ports",
    "job-keeps-explicit-false-and-zero-pointers",
])
def test_decodes_kubectl_style_objects(body: bytes, expected: dict[str, Any]) -> None:
    assert decode_k8s_protobuf(body) == expected


def test_api_version_and_kind_lead_the_object() -> None:
    assert list(decode_k8s_protobuf(DEPLOYMENT))[:2] == ["apiVersion", "kind"]


@pytest.mark.parametrize(("api_version", "kind", "raw", "expected"), [
    ("scheduling.k8s.io/v1", "PriorityClass",
     object_meta(1, "pc") + vi(2, 0) + vi(3, 0) + ld(4, ""),
     {"metadata": {"name": "pc"}, "value": 0}),
    ("v1", "ConfigMap",
     object_meta(1, "c") + entry(2, "a", "b") + entry(2, "blank", "") + entry(3, "raw", b"\x01\x02"),
     {"metadata": {"name": "c"}, "data": {"a": "b", "blank": ""}, "binaryData": {"raw": "AQI="}}),
    ("coordination.k8s.io/v1", "Lease",
     object_meta(1, "l") + msg(2, ld(1, "me"), vi(2, 15), msg(4, vi(1, 1795323004), vi(2, 123456789)), vi(5, 0)),
     {"metadata": {"name": "l"}, "spec": {"holderIdentity": "me", "leaseDurationSeconds": 15,
                                         "renewTime": "2026-11-22T04:50:04.123456Z", "leaseTransitions": 0}}),
    ("apps/v1", "ControllerRevision",
     object_meta(1, "cr") + msg(2, ld(1, b'{"spec":{"a":[1,2]}}')) + vi(3, 2),
     {"metadata": {"name": "cr"}, "data": {"spec": {"a": [1, 2]}}, "revision": 2}),
    ("policy/v1", "Eviction",
     object_meta(1, "p") + msg(2, vi(1, 0), ld(4, "Foreground")),
     {"metadata": {"name": "p"}, "deleteOptions": {"gracePeriodSeconds": 0, "propagationPolicy": "Foreground"}}),
    ("meta.k8s.io/v1", "DeleteOptions",
     vi(1, 30) + msg(2, ld(1, "u-1")) + ld(5, "All"),
     {"gracePeriodSeconds": 30, "preconditions": {"uid": "u-1"}, "dryRun": ["All"]}),
    ("authentication.k8s.io/v1", "TokenRequest",
     object_meta(1, "sa") + msg(2, ld(1, "api"), msg(3, ld(1, "Pod"), ld(2, "v1"), ld(3, "p"), ld(4, "u-9")),
                                vi(4, 600)) + msg(3, ld(1, ""), msg(2)),
     {"metadata": {"name": "sa"}, "spec": {"audiences": ["api"], "expirationSeconds": 600,
                                          "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p",
                                                             "uid": "u-9"}}, "status": {}}),
    ("autoscaling/v1", "Scale",
     object_meta(1, "web") + msg(2, vi(1, 0)) + msg(3, vi(1, 2), ld(2, "app=web")),
     {"metadata": {"name": "web"}, "spec": {"replicas": 0}, "status": {"replicas": 2, "selector": "app=web"}}),
    ("v1", "Pod",
     object_meta(1, "p") + msg(2, msg(14, ld(4, varint(1000) + varint(2000)))),
     {"metadata": {"name": "p"}, "spec": {"securityContext": {"supplementalGroups": [1000, 2000]}}}),
    ("batch/v1", "CronJob",
     object_meta(1, "cj") + msg(2, ld(1, "*/1 * * * *"), ld(3, "Allow"), vi(4, 0), vi(6, 3)),
     {"metadata": {"name": "cj"}, "spec": {"schedule": "*/1 * * * *", "concurrencyPolicy": "Allow",
                                          "suspend": False, "successfulJobsHistoryLimit": 3}}),
    ("v1", "PersistentVolume",
     object_meta(1, "pv") + msg(2, msg(2, msg(3, ld(1, "/data"))), ld(3, "ReadWriteOnce"), ld(6, "manual")),
     {"metadata": {"name": "pv"}, "spec": {"hostPath": {"path": "/data"}, "accessModes": ["ReadWriteOnce"],
                                          "storageClassName": "manual"}}),
], ids=[
    "priorityclass-value-zero-is-kept",
    "configmap-empty-map-values-kept-and-binary-data-base64",
    "lease-microtime-has-microseconds",
    "controllerrevision-raw-extension-is-parsed-json",
    "eviction-delete-options-grace-zero-kept",
    "delete-options-accepted-under-any-api-version",
    "tokenrequest-bound-object-uid-uses-json-name",
    "scale-replicas-zero-kept",
    "packed-repeated-ints-unpacked",
    "cronjob-suspend-false-kept",
    "persistentvolume-source-is-inlined-into-spec",
])
def test_decodes_special_types_and_pointer_fields(api_version: str, kind: str, raw: bytes,
                                                  expected: dict[str, Any]) -> None:
    assert decode_k8s_protobuf(envelope(api_version, kind, raw)) == {"apiVersion": api_version, "kind": kind,
                                                                      **expected}


@pytest.mark.parametrize(("body", "message"), [
    (b'{"kind":"Pod"}', "missing the 'k8s\\x00' prefix"),
    (MAGIC + b"\x0a", "truncated varint"),
    (MAGIC + b"\x0a\x05ab", "truncated length-delimited field 1"),
    (envelope("apps/v1", "Foo", b""), "unsupported kind for protobuf: apps/v1 Foo"),
    (envelope("v1", "Pod", vi(1, 7)), "Pod.metadata: wire type varint, expected length-delimited"),
    (envelope("v1", "Pod", msg(1, ld(7, "x"))), "ObjectMeta.generation: wire type length-delimited, expected varint"),
    (envelope("v1", "Pod", b"\x0b"), "unsupported wire type 3"),
    (envelope("", "", b""), "no kind"),
    (MAGIC + msg(1, ld(1, "v1"), ld(2, "Pod")) + ld(3, "gzip"), "contentEncoding 'gzip'"),
    (envelope("apps/v1", "ControllerRevision", msg(2, ld(1, b"{nope"))), "embedded JSON does not parse"),
    (envelope("v1", "ConfigMap", entry(2, "k", b"\xff\xfe")), "not valid UTF-8"),
], ids=[
    "json-body-without-magic",
    "truncated-varint",
    "truncated-length-delimited",
    "unknown-kind",
    "message-field-sent-as-varint",
    "int-field-sent-as-bytes",
    "group-wire-type",
    "missing-kind",
    "compressed-content",
    "bad-raw-extension-json",
    "invalid-utf8-string",
])
def test_rejects_malformed_bodies_with_clear_errors(body: bytes, message: str) -> None:
    with pytest.raises(ProtobufError) as info:
        decode_k8s_protobuf(body)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(("nanos", "text"), [
    (0, "0s"), (5, "5ns"), (1_500, "1.5µs"), (1_500_000, "1.5ms"), (2_000_000_000, "2s"),
    (90 * 10**9, "1m30s"), (3723 * 10**9, "1h2m3s"), (3600 * 10**9, "1h0m0s"), (-1_500_000_000, "-1.5s"),
], ids=["zero", "nanos", "micros", "millis", "seconds", "minutes", "hours-minutes-seconds", "whole-hour",
        "negative"])
def test_go_duration_formatting(nanos: int, text: str) -> None:
    assert go_duration(nanos) == text


def test_table_covers_the_served_built_in_kinds() -> None:
    kinds = set(supported_kinds())
    for pair in [("v1", "Pod"), ("v1", "Service"), ("v1", "Endpoints"), ("v1", "ConfigMap"), ("v1", "Secret"),
                 ("v1", "ServiceAccount"), ("v1", "Namespace"), ("v1", "Node"), ("v1", "Event"),
                 ("events.k8s.io/v1", "Event"), ("apps/v1", "Deployment"), ("apps/v1", "ReplicaSet"),
                 ("apps/v1", "DaemonSet"), ("apps/v1", "StatefulSet"), ("apps/v1", "ControllerRevision"),
                 ("batch/v1", "Job"), ("batch/v1", "CronJob"), ("autoscaling/v2", "HorizontalPodAutoscaler"),
                 ("autoscaling/v1", "HorizontalPodAutoscaler"), ("rbac.authorization.k8s.io/v1", "Role"),
                 ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"), ("scheduling.k8s.io/v1", "PriorityClass"),
                 ("coordination.k8s.io/v1", "Lease"), ("v1", "ResourceQuota"), ("v1", "LimitRange"),
                 ("v1", "PersistentVolumeClaim"), ("v1", "PodTemplate"), ("policy/v1", "Eviction"),
                 ("v1", "Binding"), ("autoscaling/v1", "Scale"), ("*", "DeleteOptions"),
                 ("policy/v1", "PodDisruptionBudget"), ("networking.k8s.io/v1", "Ingress")]:
        assert pair in kinds, pair
