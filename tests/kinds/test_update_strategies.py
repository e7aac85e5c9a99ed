"""Per-kind update rules (``kinds/strategy.py``), with cases ported from upstream's
``TestValidateNodeUpdate``, ``TestValidateConfigMapUpdate``, ``TestValidateSecretUpdate``,
``TestValidateServiceUpdate``, ``TestValidatePersistentVolumeClaimUpdate``,
``TestValidateStatefulSetUpdate`` and ``TestValidateJobUpdate`` (our code, their inputs)."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.kinds.strategy import strategy_for


def messages(group: str, kind: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [c.text() for c in strategy_for(group, kind).validate_update(old, new).items]


def node(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "foo"}, "spec": spec}


CIDR_MSG = 'spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid'
PID_MSG = 'spec.providerID: Forbidden: node updates may not change providerID except from "" to valid'


@pytest.mark.parametrize(("old", "new", "expected"), [
    (node(), node(), []),
    (node(podCIDR=""), node(podCIDR="192.168.0.0/16"), []),
    (node(podCIDR="192.123.0.0/16"), node(podCIDR="192.168.0.0/16"), [CIDR_MSG]),
    (node(podCIDRs=["192.168.0.0/16"]), node(podCIDRs=["192.168.0.0/16"]), []),
    (node(podCIDRs=["192.168.0.0/16", "2000::/10"]), node(podCIDRs=["2000::/10", "192.168.0.0/16"]),
     [CIDR_MSG, CIDR_MSG]),
    (node(podCIDRs=["192.168.0.0/16", "2000::/10"]), node(podCIDRs=["192.168.0.0/16"]), [CIDR_MSG]),
    (node(podCIDR="10.244.1.0/24", podCIDRs=["10.244.1.0/24"]), node(), [CIDR_MSG]),
    (node(), node(providerID="provider:///new"), []),
    (node(providerID="provider:///old"), node(providerID="provider:///new"), [PID_MSG]),
    (node(taints=[]), node(unschedulable=True, taints=[{"key": "a", "effect": "NoSchedule"}]), []),
], ids=["empty", "podCIDR-set-once", "podCIDR-changed", "podCIDRs-unchanged", "dual-stack-reordered",
        "dual-stack-secondary-dropped", "podCIDR-cleared", "providerID-set-once", "providerID-changed",
        "taints-and-unschedulable-stay-mutable"])
def test_node_update(old: dict[str, Any], new: dict[str, Any], expected: list[str]) -> None:
    assert messages("", "Node", old, new) == expected


IMM = "Forbidden: field is immutable when `immutable` is set"


@pytest.mark.parametrize(("kind", "old", "new", "expected"), [
    ("ConfigMap", {"data": {"a": "1"}}, {"data": {"a": "2"}}, []),
    ("ConfigMap", {"data": {"a": "1"}}, {"data": {"a": "1"}, "immutable": True}, []),
    ("ConfigMap", {"data": {"a": "1"}, "immutable": True}, {"data": {"a": "1"}, "immutable": True}, []),
    ("ConfigMap", {"data": {"a": "1"}, "immutable": True}, {"data": {"a": "2"}, "immutable": True},
     [f"data: {IMM}"]),
    ("ConfigMap", {"binaryData": {"b": "AA=="}, "immutable": True}, {"binaryData": {}, "immutable": True},
     [f"binaryData: {IMM}"]),
    ("ConfigMap", {"data": {"a": "1"}, "immutable": True}, {"data": {"a": "1"}, "immutable": False},
     [f"immutable: {IMM}"]),
    ("ConfigMap", {"data": {"a": "1"}, "immutable": True}, {"data": {"a": "1"}}, [f"immutable: {IMM}"]),
    ("Secret", {"type": "Opaque", "data": {"a": "MQ=="}, "immutable": True},
     {"type": "Opaque", "data": {"a": "Mg=="}, "immutable": True}, [f"data: {IMM}"]),
    ("Secret", {"type": "Opaque", "data": {"a": "MQ=="}, "immutable": True},
     {"type": "Opaque", "data": {"a": "MQ=="}, "immutable": False}, [f"immutable: {IMM}"]),
    ("Secret", {"type": "Opaque"}, {"type": "kubernetes.io/tls"},
     ['type: Invalid value: "kubernetes.io/tls": field is immutable']),
    ("Secret", {"type": "Opaque", "data": {"a": "MQ=="}}, {"type": "Opaque", "data": {"a": "Mg=="}}, []),
], ids=["mutable-data-change", "make-immutable", "immutable-unchanged", "immutable-data-change",
        "immutable-binarydata-change", "immutable-to-false", "immutable-dropped", "secret-immutable-data",
        "secret-immutable-to-false", "secret-type-change", "secret-mutable-data-change"])
def test_configmap_and_secret_update(kind: str, old: dict[str, Any], new: dict[str, Any],
                                     expected: list[str]) -> None:
    assert messages("", kind, old, new) == expected


def svc(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "s"}, "spec": {"type": "ClusterIP", **spec}}


@pytest.mark.parametrize(("old", "new", "expected"), [
    (svc(clusterIP="1.2.3.4", clusterIPs=["1.2.3.4"]), svc(clusterIP="1.2.3.4", clusterIPs=["1.2.3.4"]), []),
    (svc(clusterIP="1.2.3.4", clusterIPs=["1.2.3.4"]), svc(clusterIP="1.2.3.5", clusterIPs=["1.2.3.5"]),
     ['spec.clusterIPs[0]: Invalid value: ["1.2.3.5"]: may not change once set']),
    (svc(clusterIP="1.2.3.4"), svc(clusterIP="8.6.7.5"),
     ['spec.clusterIPs[0]: Invalid value: ["8.6.7.5"]: may not change once set']),
    (svc(), svc(clusterIP="1.2.3.4"), []),
    (svc(clusterIPs=["1.2.3.4"]), svc(type="ExternalName", externalName="a.b"), []),
    (svc(clusterIP="None", clusterIPs=["None"]), svc(clusterIP="None", clusterIPs=["None"]), []),
    (svc(clusterIPs=["10.0.0.1", "2000::1"], ipFamilyPolicy="PreferDualStack"),
     svc(clusterIPs=["10.0.0.1"], ipFamilyPolicy="PreferDualStack"),
     ['spec.ipFamilyPolicy: Invalid value: "PreferDualStack": must be set to \'SingleStack\' when releasing '
      "the secondary clusterIP"]),
    (svc(clusterIPs=["10.0.0.1", "2000::1"], ipFamilyPolicy="PreferDualStack"),
     svc(clusterIPs=["10.0.0.1"], ipFamilyPolicy="SingleStack"), []),
    (svc(clusterIPs=["10.0.0.1"]), svc(clusterIPs=["10.0.0.1", "2000::1"]), []),
], ids=["unchanged", "primary-changed", "singular-changed", "set-from-empty", "to-external-name",
        "headless-stays", "downgrade-without-single-stack", "downgrade-single-stack", "upgrade-keeps-primary"])
def test_service_update(old: dict[str, Any], new: dict[str, Any], expected: list[str]) -> None:
    assert messages("", "Service", old, new) == expected


def test_service_update_without_cluster_ip_keeps_the_allocated_one() -> None:
    old, new = svc(clusterIP="10.0.0.7", clusterIPs=["10.0.0.7"]), svc(ports=[{"port": 80}])
    strategy = strategy_for("", "Service")
    strategy.prepare_for_update(old, new)
    assert (new["spec"]["clusterIP"], new["spec"]["clusterIPs"]) == ("10.0.0.7", ["10.0.0.7"])
    assert not strategy.validate_update(old, new)


def pvc(phase: str = "Pending", storage: str = "10G", capacity: str | None = None, **spec: Any) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase}
    if capacity:
        status["capacity"] = {"storage": capacity}
    return {"metadata": {"name": "c"}, "status": status,
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}, **spec}}


SPEC_IMM = "spec: Forbidden: spec is immutable after creation except resources.requests and " \
           "volumeAttributesClassName for bound claims"


@pytest.mark.parametrize(("old", "new", "forbidden"), [
    (pvc(), pvc(), []),
    (pvc(), pvc(volumeName="pv-1"), []),
    (pvc(volumeName="pv-1"), pvc(volumeName="pv-2"), ["spec"]),
    (pvc(), pvc(accessModes=["ReadOnlyMany"]), ["spec"]),
    (pvc(), pvc(storage="15G"), ["spec"]),
    (pvc("Bound", "10G", "10G"), pvc("Bound", "15G", "10G"), []),
    (pvc("Bound", "15G", "10G"), pvc("Bound", "5G", "10G"), ["spec.resources.requests.storage"]),
    (pvc("Bound", "15G", "10G"), pvc("Bound", "12G", "10G"), []),
    (pvc(), pvc(storageClassName="fast"), []),
    (pvc(storageClassName="fast"), pvc(storageClassName="slow"), ["spec"]),
], ids=["unchanged", "volume-name-set-once", "volume-name-changed", "access-modes-changed",
        "unbound-request-changed", "bound-request-grows", "bound-request-below-capacity",
        "bound-request-shrinks-above-capacity", "class-set-from-unset", "class-changed"])
def test_pvc_update(old: dict[str, Any], new: dict[str, Any], forbidden: list[str]) -> None:
    causes = strategy_for("", "PersistentVolumeClaim").validate_update(old, new).items
    assert [c.field for c in causes] == forbidden
    for cause in causes:
        assert cause.reason == "FieldValueForbidden"
        if cause.field == "spec":
            assert cause.text().startswith(SPEC_IMM)


def sts(**spec: Any) -> dict[str, Any]:
    base = {"replicas": 1, "serviceName": "svc", "selector": {"matchLabels": {"a": "b"}},
            "podManagementPolicy": "OrderedReady", "template": {"metadata": {"labels": {"a": "b"}}}}
    return {"metadata": {"name": "s"}, "spec": {**base, **spec}}


STS_MSG = ("spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', "
           "'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and "
           "'minReadySeconds' are forbidden")


@pytest.mark.parametrize(("new", "expected"), [
    (sts(replicas=3, minReadySeconds=5, revisionHistoryLimit=2, ordinals={"start": 2},
         updateStrategy={"type": "OnDelete"}, template={"metadata": {"labels": {"a": "b", "x": "y"}}}), []),
    (sts(serviceName="other"), [STS_MSG]),
    (sts(podManagementPolicy="Parallel"), [STS_MSG]),
    (sts(selector={"matchLabels": {"a": "c"}}), [STS_MSG]),
    (sts(volumeClaimTemplates=[{"metadata": {"name": "d"}}]), [STS_MSG]),
], ids=["mutable-fields", "service-name", "pod-management-policy", "selector", "volume-claim-templates"])
def test_statefulset_update(new: dict[str, Any], expected: list[str]) -> None:
    assert messages("apps", "StatefulSet", sts(), new) == expected


@pytest.mark.parametrize("kind", ["Deployment", "ReplicaSet", "DaemonSet"])
def test_apps_selector_is_immutable(kind: str) -> None:
    old = {"spec": {"selector": {"matchLabels": {"a": "b"}}, "replicas": 1}}
    assert messages("apps", kind, old, {"spec": {"selector": {"matchLabels": {"a": "b"}}, "replicas": 5}}) == []
    assert messages("apps", kind, old, {"spec": {"selector": {"matchLabels": {"a": "c"}}}}) == [
        'spec.selector: Invalid value: {"matchLabels":{"a":"c"}}: field is immutable']


def job(suspend: bool = False, started: bool = True, **spec: Any) -> dict[str, Any]:
    base = {"completions": 2, "parallelism": 1, "completionMode": "NonIndexed", "suspend": suspend,
            "selector": {"matchLabels": {"j": "1"}},
            "template": {"metadata": {"labels": {"j": "1"}},
                         "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}
    status = {"startTime": "2024-01-01T00:00:00Z"} if started else {}
    return {"metadata": {"name": "j"}, "spec": {**base, **spec}, "status": status}


def with_template_spec(obj: dict[str, Any], **tspec: Any) -> dict[str, Any]:
    obj["spec"]["template"]["spec"].update(tspec)
    return obj


@pytest.mark.parametrize(("old", "new", "fields"), [
    (job(), job(parallelism=3, suspend=True), []),
    (job(), job(completions=3), ["spec.completions"]),
    (job(completionMode="Indexed"), job(completionMode="Indexed", completions=3, parallelism=3), []),
    (job(), job(selector={"matchLabels": {"j": "2"}}), ["spec.selector"]),
    (job(), job(completionMode="Indexed"), ["spec.completionMode"]),
    (job(), with_template_spec(job(), nodeSelector={"a": "b"}), ["spec.template"]),
    (job(suspend=True, started=False), with_template_spec(job(suspend=True, started=False),
                                                            nodeSelector={"a": "b"}), []),
    (job(suspend=True, started=False), with_template_spec(job(suspend=True, started=False),
                                                            restartPolicy="OnFailure"), ["spec.template"]),
], ids=["parallelism-and-suspend-mutable", "completions-immutable", "indexed-completions-mutable",
        "selector-immutable", "completion-mode-immutable", "template-immutable",
        "suspended-unstarted-scheduling-directives-mutable", "suspended-unstarted-other-template-fields"])
def test_job_update(old: dict[str, Any], new: dict[str, Any], fields: list[str]) -> None:
    causes = strategy_for("batch", "Job").validate_update(old, new).items
    assert [c.field for c in causes] == fields
    assert all(c.message.endswith("field is immutable") for c in causes)


def test_kinds_without_rules_allow_any_update() -> None:
    assert messages("", "Pod", {"spec": {"a": 1}}, {"spec": {"a": 2}}) == []
