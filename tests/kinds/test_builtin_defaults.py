"""Upstream defaulting and semantic validation of built-in kinds."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from suanli.apimachinery.objects import get_path
from suanli.kinds.defaults import apply_builtin_defaults, kind_key, pod_qos_class, validate_builtin


def pod(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"containers": list(containers) or [{"name": "c", "image": "nginx"}], **spec},
    }


def template(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}], **spec},
    }


def defaulted(key: str, obj: dict[str, Any], create: bool = True) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    apply_builtin_defaults(key, out, create)
    return out


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("spec.restartPolicy", "Always"),
        ("spec.terminationGracePeriodSeconds", 30),
        ("spec.dnsPolicy", "ClusterFirst"),
        ("spec.schedulerName", "default-scheduler"),
        ("spec.securityContext", {}),
        ("spec.enableServiceLinks", True),
        ("spec.priority", 0),
        ("spec.preemptionPolicy", "PreemptLowerPriority"),
        ("status.phase", "Pending"),
        ("status.qosClass", "BestEffort"),
    ],
    ids=lambda v: v if isinstance(v, str) and "." in v else None,
)
def test_pod_defaults(path: str, value: Any) -> None:
    assert get_path(defaulted("Pod", pod()), path) == value


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.25", "IfNotPresent"),
        ("registry:5000/team/app", "Always"),
        ("registry:5000/team/app:v2", "IfNotPresent"),
        ("nginx@sha256:abc", "IfNotPresent"),
    ],
    ids=["untagged", "latest", "tagged", "registry-port-untagged", "registry-port-tagged", "digest"],
)
def test_image_pull_policy(image: str, policy: str) -> None:
    out = defaulted("Pod", pod({"name": "c", "image": image}))
    assert out["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_container_defaults() -> None:
    out = defaulted(
        "Pod",
        pod(
            {
                "name": "c",
                "image": "x:1",
                "ports": [{"containerPort": 80}],
                "livenessProbe": {"httpGet": {"port": 80}},
            }
        ),
    )
    c = out["spec"]["containers"][0]
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert c["terminationMessagePolicy"] == "File"
    assert c["resources"] == {}
    assert c["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert c["livenessProbe"] == {
        "httpGet": {"port": 80, "scheme": "HTTP", "path": "/"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }


def test_explicit_values_are_kept() -> None:
    out = defaulted("Pod", pod(restartPolicy="Never", schedulerName="volcano"))
    assert (out["spec"]["restartPolicy"], out["spec"]["schedulerName"]) == ("Never", "volcano")


def test_requests_default_from_limits() -> None:
    out = defaulted(
        "Pod", pod({"name": "c", "image": "x", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}})
    )
    assert out["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "1", "memory": "1Gi"}
    assert out["status"]["qosClass"] == "Guaranteed"


@pytest.mark.parametrize(
    ("resources", "qos"),
    [
        ([{}], "BestEffort"),
        ([{"requests": {"cpu": "0"}}], "BestEffort"),
        (
            [{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}],
            "Guaranteed",
        ),
        (
            [{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1000m", "memory": "1024Mi"}}],
            "Guaranteed",
        ),
        (
            [{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}}],
            "Burstable",
        ),
        ([{"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}], "Burstable"),
        ([{"requests": {"memory": "1Gi"}}], "Burstable"),
        (
            [{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}, {}],
            "Burstable",
        ),
        ([{"requests": {"nvidia.com/gpu": "1"}, "limits": {"nvidia.com/gpu": "1"}}], "BestEffort"),
    ],
    ids=[
        "nothing",
        "zero-request-ignored",
        "equal-limits-requests",
        "equal-in-other-units",
        "requests-below-limits",
        "memory-limit-missing",
        "requests-only",
        "one-container-without-limits",
        "only-extended-resources",
    ],
)
def test_qos_class(resources: list[dict[str, Any]], qos: str) -> None:
    containers = [{"name": f"c{i}", "image": "x", "resources": r} for i, r in enumerate(resources)]
    assert pod_qos_class(pod(*containers)) == qos


def test_update_does_not_set_create_only_status() -> None:
    assert "status" not in defaulted("Pod", pod(), create=False)


@pytest.mark.parametrize(
    ("key", "obj", "expected"),
    [
        (
            "apps/Deployment",
            {"spec": {"template": template()}},
            {
                "spec.replicas": 1,
                "spec.strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                },
                "spec.revisionHistoryLimit": 10,
                "spec.progressDeadlineSeconds": 600,
                "spec.template.spec.restartPolicy": "Always",
                "spec.template.spec.dnsPolicy": "ClusterFirst",
            },
        ),
        (
            "apps/Deployment",
            {"spec": {"strategy": {"type": "Recreate"}}},
            {"spec.strategy": {"type": "Recreate"}},
        ),
        (
            "apps/ReplicaSet",
            {"spec": {"template": template()}},
            {"spec.replicas": 1, "spec.template.spec.schedulerName": "default-scheduler"},
        ),
        (
            "apps/StatefulSet",
            {"spec": {}},
            {
                "spec.replicas": 1,
                "spec.podManagementPolicy": "OrderedReady",
                "spec.updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            },
        ),
        (
            "apps/DaemonSet",
            {"spec": {}},
            {
                "spec.updateStrategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
                },
                "spec.revisionHistoryLimit": 10,
            },
        ),
        (
            "batch/Job",
            {"metadata": {"name": "pi", "uid": "u-1"}, "spec": {"template": template(restartPolicy="Never")}},
            {
                "spec.parallelism": 1,
                "spec.completions": 1,
                "spec.backoffLimit": 6,
                "spec.completionMode": "NonIndexed",
                "spec.suspend": False,
                "spec.selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}},
                "spec.template.metadata.labels": {
                    "app": "web",
                    "batch.kubernetes.io/controller-uid": "u-1",
                    "controller-uid": "u-1",
                    "batch.kubernetes.io/job-name": "pi",
                    "job-name": "pi",
                },
                "metadata.labels": {
                    "app": "web",
                    "batch.kubernetes.io/controller-uid": "u-1",
                    "controller-uid": "u-1",
                    "batch.kubernetes.io/job-name": "pi",
                    "job-name": "pi",
                },
            },
        ),
        (
            "batch/Job",
            {"metadata": {"name": "pi", "uid": "u-1"}, "spec": {"parallelism": 3}},
            {"spec.parallelism": 3, "spec.completions": None},
        ),
        (
            "batch/Job",
            {
                "metadata": {"name": "pi", "uid": "u-1"},
                "spec": {
                    "manualSelector": True,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": template(),
                },
            },
            {
                "spec.selector": {"matchLabels": {"app": "web"}},
                "spec.template.metadata.labels": {"app": "web"},
            },
        ),
        (
            "batch/CronJob",
            {"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template()}}}},
            {
                "spec.concurrencyPolicy": "Allow",
                "spec.suspend": False,
                "spec.successfulJobsHistoryLimit": 3,
                "spec.failedJobsHistoryLimit": 1,
                "spec.jobTemplate.spec.template.spec.restartPolicy": "Always",
            },
        ),
        (
            "Service",
            {"spec": {"ports": [{"port": 80}, {"port": 443, "targetPort": "https", "protocol": "TCP"}]}},
            {
                "spec.type": "ClusterIP",
                "spec.sessionAffinity": "None",
                "spec.ports": [
                    {"port": 80, "protocol": "TCP", "targetPort": 80},
                    {"port": 443, "targetPort": "https", "protocol": "TCP"},
                ],
            },
        ),
        (
            "Namespace",
            {"metadata": {"name": "team"}},
            {
                "spec.finalizers": ["kubernetes"],
                "status.phase": "Active",
                "metadata.labels": {"kubernetes.io/metadata.name": "team"},
            },
        ),
        ("scheduling.k8s.io/PriorityClass", {"value": 10}, {"preemptionPolicy": "PreemptLowerPriority"}),
        ("autoscaling/HorizontalPodAutoscaler", {"spec": {"maxReplicas": 3}}, {"spec.minReplicas": 1}),
        ("Secret", {}, {"type": "Opaque"}),
        ("ConfigMap", {"data": {"a": "b"}}, {"data": {"a": "b"}}),
        ("Deployment.apps", {"spec": {}}, {"spec.replicas": 1}),
    ],
    ids=[
        "deployment",
        "deployment-recreate-no-rolling",
        "replicaset",
        "statefulset",
        "daemonset",
        "job-generated-selector",
        "job-parallelism-only",
        "job-manual-selector",
        "cronjob",
        "service",
        "namespace",
        "priorityclass",
        "hpa",
        "secret",
        "configmap-untouched",
        "dotted-key-form",
    ],
)
def test_workload_defaults(key: str, obj: dict[str, Any], expected: dict[str, Any]) -> None:
    out = defaulted(key, obj)
    assert {path: get_path(out, path) for path in expected} == expected


def test_kind_key() -> None:
    assert kind_key("", "Pod") == "Pod"
    assert kind_key("apps", "Deployment") == "apps/Deployment"


# -- validation -------------------------------------------------------------------------------


def deployment(**spec: Any) -> dict[str, Any]:
    base = {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": template()}
    return {"metadata": {"name": "web"}, "spec": {**base, **spec}}


@pytest.mark.parametrize(
    ("key", "obj", "expected"),
    [
        ("Pod", pod(), []),
        (
            "Pod",
            {"metadata": {"name": "web"}, "spec": {"containers": []}},
            [("spec.containers", "Required value")],
        ),
        ("Pod", pod({"image": "x"}), [("spec.containers[0].name", "Required value")]),
        ("Pod", pod({"name": "c"}), [("spec.containers[0].image", "Required value")]),
        (
            "Pod",
            pod({"name": "c", "image": "x"}, {"name": "c", "image": "y"}),
            [("spec.containers[1].name", 'Duplicate value: "c"')],
        ),
        (
            "Pod",
            pod({"name": "Web_1", "image": "x"}),
            [
                (
                    "spec.containers[0].name",
                    'Invalid value: "Web_1": a lowercase RFC 1123 label must consist of lower case '
                    "alphanumeric characters or '-', and must start and end with an alphanumeric "
                    "character",
                )
            ],
        ),
        (
            "Pod",
            pod({"name": "c", "image": "x", "ports": [{"containerPort": 0}]}),
            [
                (
                    "spec.containers[0].ports[0].containerPort",
                    "Invalid value: 0: must be between 1 and 65535, inclusive",
                )
            ],
        ),
        (
            "Pod",
            pod(restartPolicy="Sometimes"),
            [
                (
                    "spec.restartPolicy",
                    'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
                )
            ],
        ),
        (
            "Pod",
            pod({"name": "c", "image": "x", "volumeMounts": [{"name": "data", "mountPath": "/d"}]}),
            [("spec.containers[0].volumeMounts[0].name", 'Not found: "data"')],
        ),
        (
            "Pod",
            pod({"name": "c", "image": "x", "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "2"}}}),
            [
                (
                    "spec.containers[0].resources.requests",
                    'Invalid value: "2": must be less than or equal to cpu limit of 1',
                )
            ],
        ),
        (
            "Pod",
            {"metadata": {"name": "Web"}, "spec": pod()["spec"]},
            [
                (
                    "metadata.name",
                    'Invalid value: "Web": a lowercase RFC 1123 subdomain must consist of lower case '
                    "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
                    "character",
                )
            ],
        ),
        (
            "Pod",
            {"metadata": {}, "spec": pod()["spec"]},
            [("metadata.name", "Required value: name or generateName is required")],
        ),
        ("apps/Deployment", deployment(), []),
        ("apps/Deployment", deployment(selector=None), [("spec.selector", "Required value")]),
        (
            "apps/Deployment",
            deployment(selector={"matchLabels": {"app": "db"}}),
            [
                (
                    "spec.template.metadata.labels",
                    'Invalid value: {"app":"web"}: `selector` does not match template `labels`',
                )
            ],
        ),
        (
            "apps/Deployment",
            deployment(replicas=-1),
            [("spec.replicas", "Invalid value: -1: must be greater than or equal to 0")],
        ),
        (
            "apps/Deployment",
            deployment(template=template(restartPolicy="Never")),
            [("spec.template.spec.restartPolicy", 'Unsupported value: "Never": supported values: "Always"')],
        ),
        (
            "batch/Job",
            {"metadata": {"name": "pi"}, "spec": {"template": template(restartPolicy="Always")}},
            [
                (
                    "spec.template.spec.restartPolicy",
                    'Unsupported value: "Always": supported values: "OnFailure", "Never"',
                )
            ],
        ),
        (
            "batch/CronJob",
            {
                "metadata": {"name": "c"},
                "spec": {"jobTemplate": {"spec": {"template": template(restartPolicy="OnFailure")}}},
            },
            [("spec.schedule", "Required value")],
        ),
        ("Service", {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}, []),
        (
            "Service",
            {"metadata": {"name": "1web"}, "spec": {"ports": [{"port": 80}]}},
            [
                (
                    "metadata.name",
                    'Invalid value: "1web": a DNS-1035 label must consist of lower case alphanumeric '
                    "characters or '-', start with an alphabetic character, and end with an alphanumeric "
                    "character",
                )
            ],
        ),
        (
            "Service",
            {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 70000}]}},
            [("spec.ports[0].port", "Invalid value: 70000: must be between 1 and 65535, inclusive")],
        ),
        (
            "Service",
            {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}, {"port": 81, "name": "b"}]}},
            [("spec.ports[0].name", "Required value")],
        ),
        ("Service", {"metadata": {"name": "web"}, "spec": {}}, [("spec.ports", "Required value")]),
        (
            "Namespace",
            {"metadata": {"name": "a.b"}},
            [
                (
                    "metadata.name",
                    'Invalid value: "a.b": a lowercase RFC 1123 label must consist of lower case '
                    "alphanumeric characters or '-', and must start and end with an alphanumeric character",
                )
            ],
        ),
        ("rbac.authorization.k8s.io/ClusterRole", {"metadata": {"name": "system:controller:x"}}, []),
        (
            "ConfigMap",
            {"metadata": {"name": "c"}, "data": {"bad key": "x"}},
            [
                (
                    "data[bad key]",
                    'Invalid value: "bad key": a valid config key must consist of alphanumeric characters, '
                    "'-', '_' or '.'",
                )
            ],
        ),
        (
            "autoscaling/HorizontalPodAutoscaler",
            {
                "metadata": {"name": "h"},
                "spec": {
                    "minReplicas": 3,
                    "maxReplicas": 2,
                    "scaleTargetRef": {"kind": "Deployment", "name": "web"},
                },
            },
            [("spec.maxReplicas", "Invalid value: 2: must be greater than or equal to `minReplicas`")],
        ),
    ],
    ids=[
        "valid-pod",
        "no-containers",
        "container-name-required",
        "image-required",
        "duplicate-container-name",
        "container-name-not-label",
        "port-zero",
        "restart-policy-enum",
        "mount-of-unknown-volume",
        "request-above-limit",
        "name-not-subdomain",
        "name-missing",
        "valid-deployment",
        "deployment-no-selector",
        "selector-mismatch",
        "negative-replicas",
        "deployment-restart-policy",
        "job-restart-always",
        "cronjob-no-schedule",
        "valid-service",
        "service-name-dns1035",
        "service-port-range",
        "multi-port-needs-names",
        "service-needs-ports",
        "namespace-name-is-label",
        "rbac-names-allow-colons",
        "configmap-key",
        "hpa-max-below-min",
    ],
)
def test_validate_builtin(key: str, obj: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert [(c.field, c.message) for c in validate_builtin(key, obj)] == expected


def test_defaulted_objects_validate() -> None:
    for key, obj in [
        ("Pod", pod()),
        ("apps/Deployment", deployment()),
        (
            "batch/Job",
            {"metadata": {"name": "pi", "uid": "u"}, "spec": {"template": template(restartPolicy="Never")}},
        ),
    ]:
        assert validate_builtin(key, defaulted(key, obj)) == [], key
