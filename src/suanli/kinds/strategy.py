"""The strategies of the built-in kinds: one home per kind (kube-apiserver's ``strategy.go``).

:func:`strategy_for` gives a built-in kind's :class:`~suanli.kinds.strategy_base.Strategy`
(``ResourceType`` resolves its ``strategy`` through it): its defaulter and validator (the
functions of :mod:`suanli.kinds.defaults`), its name rules, whether a create resets its status,
its printer (:mod:`suanli.kinds.printers`), and its update rules (the classes below). On every
update (PUT, PATCH, apply, subresources), after defaulting and before admission, the API server
calls ``prepare_for_update(old, new)`` — which may fill ``new`` (private) from ``old``, e.g. a
Service PUT without ``clusterIP`` keeps the allocated one (upstream ``patchAllocatedValues``) —
then ``validate_update(old, new)`` — field errors that forbid the transition; non-empty → 422.

Rules ported from upstream ``pkg/apis/core/validation``, ``apps``, ``batch`` (``Validate*Update``):

* Node: ``spec.podCIDRs`` (and so ``spec.podCIDR``) and ``spec.providerID`` may only go from
  empty to a value ("node updates may not change podCIDR except from \\"\\" to valid");
* ConfigMap / Secret with ``immutable: true``: ``immutable``, ``data`` (and ConfigMap
  ``binaryData``) are forbidden to change; Secret ``type`` is always immutable;
* Service: the primary cluster IP may not change once set (not for ``ExternalName``), a PUT
  without one keeps the old one;
* PersistentVolumeClaim: spec is immutable except ``resources.requests`` of a bound claim,
  ``volumeName`` once, and ``storageClassName`` from unset; requests may not shrink below the
  old request unless above ``status.capacity`` (RecoverVolumeExpansionFailure, GA);
* Deployment / ReplicaSet / DaemonSet / StatefulSet / Job: ``spec.selector`` immutable;
  StatefulSet spec fields other than the mutable set forbidden; Job ``spec.template``,
  ``completionMode``, ``podFailurePolicy``, ``backoffLimitPerIndex``, ``successPolicy``,
  ``managedBy`` immutable, ``completions`` too unless Indexed.
"""

from __future__ import annotations

from typing import Any, ClassVar

from suanli.apimachinery.objects import Obj
from suanli.apimachinery.quantity import parse_quantity
from suanli.kinds import defaults as d
from suanli.kinds import printers as p
from suanli.kinds import printers_groups as pg
from suanli.kinds.crd import default_crd
from suanli.kinds.field import FieldErrors
from suanli.kinds.strategy_base import DEFAULT_STRATEGY, KindStrategy, Strategy

__all__ = ["Strategy", "resource_strategy", "strategy_for"]

_IMMUTABLE_WHEN_SET = "field is immutable when `immutable` is set"


def _spec(obj: Obj) -> dict[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


# -- core/v1 ----------------------------------------------------------------------------------------------

def node_pod_cidrs(node: Obj) -> list[str]:
    """``spec.podCIDRs``, or ``[spec.podCIDR]`` from a client that sets only the singular field
    (upstream's v1 conversion)."""
    spec = _spec(node)
    cidrs = spec.get("podCIDRs")
    if isinstance(cidrs, list) and cidrs:
        return [str(c) for c in cidrs]
    single = spec.get("podCIDR")
    return [str(single)] if single else []


class NodeStrategy(KindStrategy):
    def validate_update(self, old: Obj, new: Obj) -> FieldErrors:
        errs = FieldErrors()
        old_cidrs, new_cidrs = node_pod_cidrs(old), node_pod_cidrs(new)
        if old_cidrs:
            # upstream reports one error per differing entry (or one for a length change)
            changed = 1 if len(old_cidrs) != len(new_cidrs) else sum(a != b for a, b in zip(old_cidrs, new_cidrs,
                                                                                             strict=True))
            for _ in range(changed):
                errs.forbidden("spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid')
        old_pid, new_pid = _spec(old).get("providerID") or "", _spec(new).get("providerID") or ""
        if old_pid and old_pid != new_pid:
            errs.forbidden("spec.providerID", 'node updates may not change providerID except from "" to valid')
        return errs


class ConfigMapStrategy(KindStrategy):
    data_fields: ClassVar[tuple[str, ...]] = ("data", "binaryData")

    def validate_update(self, old: Obj, new: Obj) -> FieldErrors:
        errs = FieldErrors()
        if old.get("immutable") is True:
            if new.get("immutable") is not True:
                errs.forbidden("immutable", _IMMUTABLE_WHEN_SET)
            for key in self.data_fields:
                if new.get(key) != old.get(key):
                    errs.forbidden(key, _IMMUTABLE_WHEN_SET)
        return errs


class SecretStrategy(ConfigMapStrategy):
    # stringData was merged into data by defaulting, before validation (as upstream)
    data_fields: ClassVar[tuple[str, ...]] = ("data",)

    def validate_update(self, old: Obj, new: Obj) -> FieldErrors:
        errs = FieldErrors()
        errs.immutable("type", new.get("type"), old.get("type"))
        errs.extend(super().validate_update(old, new).items)
        return errs


def service_cluster_ips(svc: Obj) -> list[str]:
    """``spec.clusterIPs``, or ``[spec.clusterIP]`` from an old client (upstream ``NormalizeClusterIPs``)."""
    spec = _spec(svc)
    ips = spec.get("clusterIPs")
    if isinstance(ips, list) and ips:
        return [str(i) for i in ips]
    single = spec.get("clusterIP")
    return [str(single)] if single else []


class ServiceStrategy(KindStrategy):
    def prepare_for_update(self, old: Obj, new: Obj) -> None:
        old_spec, new_spec = _spec(old), new.get("spec")
        if not isinstance(new_spec, dict):
            return
        if old_spec.get("type") != "ExternalName" and new_spec.get("type") != "ExternalName":
            # upstream patchAllocatedValues: an update that omits the allocated IPs keeps them
            if not new_spec.get("clusterIP") and old_spec.get("clusterIP"):
                new_spec["clusterIP"] = old_spec["clusterIP"]
            if not new_spec.get("clusterIPs") and old_spec.get("clusterIPs"):
                new_spec["clusterIPs"] = old_spec["clusterIPs"]

    def validate_update(self, old: Obj, new: Obj) -> FieldErrors:
        errs = FieldErrors()
        if "ExternalName" in (_spec(old).get("type"), _spec(new).get("type")):
            return errs
        old_ips, new_ips = service_cluster_ips(old), service_cluster_ips(new)
        old_headless, new_headless = old_ips == ["None"], new_ips == ["None"]
        if old_headless and new_headless:
            return errs
        path0 = "spec.clusterIPs[0]"
        if len(old_ips) == len(new_ips):
            for i, ip in enumerate(old_ips):
                if ip != new_ips[i]:
                    errs.invalid(f"spec.clusterIPs[{i}]", new_ips, "may not change once set")
        elif len(old_ips) > len(new_ips):
            if not new_ips:
                errs.invalid(path0, new_ips, "primary clusterIP can not be unset")
            elif new_ips[0] != old_ips[0]:
                errs.invalid(path0, new_ips, "may not change once set")
            if len(new_ips) == 1 and _spec(new).get("ipFamilyPolicy") != "SingleStack":
                errs.invalid("spec.ipFamilyPolicy", _spec(new).get("ipFamilyPolicy"),
                             "must be set to 'SingleStack' when releasing the secondary clusterIP")
        elif old_ips and new_ips[0] != old_ips[0]:
            errs.invalid(path0, new_ips, "may not change once set")
        return errs


_BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"


def _storage(value: Any) -> Any:
    try:
        return parse_quantity(str(value)) if value is not None else None
    except ValueError:
        return None


class PersistentVolumeClaimStrategy(KindStrategy):
    def validate_update(self, old: Obj, new: Obj) -> FieldErrors:
        errs = FieldErrors()
        old_spec, new_spec = dict(_spec(old)), dict(_spec(new))
        if not old_spec.get("volumeName"):  # volumeName may be set once (the binder)
            old_spec.pop("volumeName", None)
            if "volumeName" in new_spec:
                old_spec["volumeName"] = new_spec["volumeName"]
        old_ann = (old.get("metadata") or {}).get("annotations") or {}
        if "storageClassName" not in old_spec and old_ann.get(_BETA_STORAGE_CLASS) is None \
                and new_spec.get("storageClassName"):
            old_spec["storageClassName"] = new_spec["storageClassName"]  # retroactive default class
        bound = (new.get("status") or {}).get("phase") == "Bound"
        if bound:
            for spec in (old_spec, new_spec):
                spec.pop("volumeAttributesClassName", None)
            new_req = ((new_spec.get("resources") or {}).get("requests") or {})
            if new_req:
                old_req = (old_spec.get("resources") or {}).get("requests") or {}
                merged = dict(new_req)
                if "storage" in old_req:
                    merged["storage"] = old_req["storage"]
                else:
                    merged.pop("storage", None)
                new_spec["resources"] = {**(new_spec.get("resources") or {}), "requests": merged}
        if new_spec != old_spec:
            diff = "\n".join(f"  {k}: {old_spec.get(k)!r} -> {new_spec.get(k)!r}"
                             for k in sorted(set(old_spec) | set(new_spec)) if old_spec.get(k) != new_spec.get(k))
            errs.forbidden("spec", "spec is immutable after creation except resources.requests and "
                           f"volumeAttributesClassName for bound claims\n{diff}")
        old_size = _storage(((_spec(old).get("resources") or {}).get("requests") or {}).get("storage"))
        new_size = _storage(((_spec(new).get("resources") or {}).get("requests") or {}).get("storage"))
        if old_size is not None and new_size is not None and new_size < old_size:
            capacity = _storage(((old.get("status") or {}).get("capacity") or {}).get("storage")) or 0
            if new_size <= capacity:
                errs.forbidden("spec.resources.requests.storage", "field can not be less than status.capacity")
        return errs


# -- workloads --------------------------------------------------------------------------------------------

class SelectorImmutableStrategy(KindStrategy):
    """apps/v1 Deployment, ReplicaSet, DaemonSet: ``spec.selector`` may not change."""

    def validate_update(self, old: Obj, new: Obj) -> FieldErrors:
        errs = FieldErrors()
        errs.immutable("spec.selector", _spec(new).get("selector"), _spec(old).get("selector"))
        return errs


_STS_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
                "persistentVolumeClaimRetentionPolicy", "minReadySeconds")


class StatefulSetStrategy(KindStrategy):
    def validate_update(self, old: Obj, new: Obj) -> FieldErrors:
        errs = FieldErrors()
        rest_old = {k: v for k, v in _spec(old).items() if k not in _STS_MUTABLE}
        rest_new = {k: v for k, v in _spec(new).items() if k not in _STS_MUTABLE}
        if rest_old != rest_new:
            errs.forbidden("spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                           "'template', 'updateStrategy', 'revisionHistoryLimit', "
                           "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")
        return errs


_JOB_IMMUTABLE = ("selector", "completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy",
                  "successPolicy")
# what may change in the template of a suspended Job that never started (upstream
# AllowMutableSchedulingDirectives): scheduling directives and the template's labels/annotations
_JOB_TEMPLATE_MUTABLE_WHEN_SUSPENDED = ("nodeSelector", "affinity", "tolerations", "schedulingGates")


def _job_template_for_compare(template: Any, suspended_unstarted: bool) -> Any:
    if not suspended_unstarted or not isinstance(template, dict):
        return template
    spec = {k: v for k, v in (template.get("spec") or {}).items() if k not in _JOB_TEMPLATE_MUTABLE_WHEN_SUSPENDED}
    meta = {k: v for k, v in (template.get("metadata") or {}).items() if k not in ("labels", "annotations")}
    return {**template, "metadata": meta, "spec": spec}


class JobStrategy(KindStrategy):
    def validate_update(self, old: Obj, new: Obj) -> FieldErrors:
        errs = FieldErrors()
        old_spec, new_spec = _spec(old), _spec(new)
        if new_spec.get("completionMode") != "Indexed":
            errs.immutable("spec.completions", new_spec.get("completions"), old_spec.get("completions"))
        for key in _JOB_IMMUTABLE:
            errs.immutable(f"spec.{key}", new_spec.get(key), old_spec.get(key))
        status = old.get("status") or {}
        suspended_unstarted = bool(old_spec.get("suspend")) and not status.get("startTime")
        new_t = _job_template_for_compare(new_spec.get("template"), suspended_unstarted)
        old_t = _job_template_for_compare(old_spec.get("template"), suspended_unstarted)
        if new_t != old_t:
            errs.invalid("spec.template", new_spec.get("template"), "field is immutable")
        return errs


class CertificateSigningRequestStrategy(KindStrategy):
    """Approval and signing only add: Approved/Denied conditions stay, a certificate is never replaced."""

    def validate_update(self, old: Obj, new: Obj) -> FieldErrors:
        errs = FieldErrors()
        old_status, new_status = old.get("status") or {}, new.get("status") or {}
        new_types = {c.get("type") for c in new_status.get("conditions") or [] if isinstance(c, dict)}
        for cond in old_status.get("conditions") or []:
            kind = cond.get("type") if isinstance(cond, dict) else None
            if kind in ("Approved", "Denied", "Failed") and kind not in new_types:
                errs.forbidden("status.conditions", f'updates may not remove a condition of type "{kind}"')
        if old_status.get("certificate") and new_status.get("certificate") != old_status["certificate"]:
            errs.forbidden("status.certificate", "updates may not modify existing certificate content")
        return errs


def _default_crd(obj: Obj, create: bool) -> None:
    default_crd(obj)


# keyed by (group, kind, resource): upstream wires a strategy into each resource's storage
_STRATEGIES: dict[tuple[str, str, str], Strategy] = {
    ("", "ConfigMap", "configmaps"): ConfigMapStrategy(validator=d.validate_config_data, printer=p.CONFIGMAPS),
    ("", "Endpoints", "endpoints"): KindStrategy(defaulter=d.default_endpoints, printer=p.ENDPOINTS),
    ("", "Event", "events"): KindStrategy(own_name_rules=True, printer=p.EVENTS),
    ("", "LimitRange", "limitranges"): KindStrategy(
        defaulter=d.default_limitrange, validator=d.validate_limitrange, printer=pg.LIMITRANGES),
    ("", "Namespace", "namespaces"): KindStrategy(
        defaulter=d.default_namespace, name_style="label", printer=p.NAMESPACES),
    ("", "Node", "nodes"): NodeStrategy(printer=p.NODES),
    ("", "PersistentVolume", "persistentvolumes"): KindStrategy(
        defaulter=d.default_pv, validator=d.validate_pv, reset_status_on_create=True, printer=pg.PERSISTENTVOLUMES),
    ("", "PersistentVolumeClaim", "persistentvolumeclaims"): PersistentVolumeClaimStrategy(
        defaulter=d.default_pvc, validator=d.validate_pvc, reset_status_on_create=True,
        printer=pg.PERSISTENTVOLUMECLAIMS),
    ("", "Pod", "pods"): KindStrategy(
        defaulter=d.default_pod, validator=d.validate_pod, reset_status_on_create=True, printer=p.PODS),
    ("", "PodTemplate", "podtemplates"): KindStrategy(defaulter=d.default_podtemplate),
    ("", "ReplicationController", "replicationcontrollers"): KindStrategy(
        defaulter=d.default_replicationcontroller, validator=d.validate_replicationcontroller,
        reset_status_on_create=True, printer=pg.REPLICATIONCONTROLLERS),
    ("", "ResourceQuota", "resourcequotas"): KindStrategy(
        validator=d.validate_resourcequota, printer=pg.RESOURCEQUOTAS),
    ("", "Secret", "secrets"): SecretStrategy(
        defaulter=d.default_secret, validator=d.validate_config_data, printer=p.SECRETS),
    ("", "Service", "services"): ServiceStrategy(
        defaulter=d.default_service, validator=d.validate_service, name_style="dns1035", reset_status_on_create=True,
        printer=p.SERVICES),
    ("", "ServiceAccount", "serviceaccounts"): KindStrategy(printer=p.SERVICEACCOUNTS),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations"): KindStrategy(
        defaulter=d.default_webhook_configuration, validator=d.validate_webhooks, printer=pg.WEBHOOK_CONFIGURATIONS),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations"): KindStrategy(
        defaulter=d.default_webhook_configuration, validator=d.validate_webhooks, printer=pg.WEBHOOK_CONFIGURATIONS),
    ("apiextensions.k8s.io", "CustomResourceDefinition", "customresourcedefinitions"): KindStrategy(
        defaulter=_default_crd, printer=p.CUSTOMRESOURCEDEFINITIONS),
    ("apiregistration.k8s.io", "APIService", "apiservices"): KindStrategy(
        validator=d.validate_apiservice, name_style="path", own_name_rules=True, printer=pg.APISERVICES),
    ("apps", "DaemonSet", "daemonsets"): SelectorImmutableStrategy(
        defaulter=d.default_daemonset, validator=d.validate_daemonset, reset_status_on_create=True,
        printer=p.DAEMONSETS),
    ("apps", "Deployment", "deployments"): SelectorImmutableStrategy(
        defaulter=d.default_deployment, validator=d.validate_deployment, reset_status_on_create=True,
        printer=p.DEPLOYMENTS),
    ("apps", "ReplicaSet", "replicasets"): SelectorImmutableStrategy(
        defaulter=d.default_replicaset, validator=d.validate_replicaset, reset_status_on_create=True,
        printer=p.REPLICASETS),
    ("apps", "StatefulSet", "statefulsets"): StatefulSetStrategy(
        defaulter=d.default_statefulset, validator=d.validate_statefulset, reset_status_on_create=True,
        printer=p.STATEFULSETS),
    ("autoscaling", "HorizontalPodAutoscaler", "horizontalpodautoscalers"): KindStrategy(
        defaulter=d.default_hpa, validator=d.validate_hpa, reset_status_on_create=True,
        printer=p.HORIZONTALPODAUTOSCALERS),
    ("batch", "CronJob", "cronjobs"): KindStrategy(
        defaulter=d.default_cronjob, validator=d.validate_cronjob, reset_status_on_create=True, printer=p.CRONJOBS),
    ("batch", "Job", "jobs"): JobStrategy(
        defaulter=d.default_job, validator=d.validate_job, reset_status_on_create=True, printer=p.JOBS),
    ("certificates.k8s.io", "CertificateSigningRequest", "certificatesigningrequests"):
        CertificateSigningRequestStrategy(
            validator=d.validate_csr, reset_status_on_create=True, printer=pg.CERTIFICATESIGNINGREQUESTS),
    ("coordination.k8s.io", "Lease", "leases"): KindStrategy(printer=p.LEASES),
    ("discovery.k8s.io", "EndpointSlice", "endpointslices"): KindStrategy(printer=pg.ENDPOINTSLICES),
    ("events.k8s.io", "Event", "events"): KindStrategy(printer=p.EVENTS),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema", "flowschemas"): KindStrategy(printer=pg.FLOWSCHEMAS),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration", "prioritylevelconfigurations"): KindStrategy(
        printer=pg.PRIORITYLEVELCONFIGURATIONS),
    ("networking.k8s.io", "Ingress", "ingresses"): KindStrategy(reset_status_on_create=True, printer=pg.INGRESSES),
    ("networking.k8s.io", "IngressClass", "ingressclasses"): KindStrategy(printer=pg.INGRESSCLASSES),
    ("networking.k8s.io", "NetworkPolicy", "networkpolicies"): KindStrategy(printer=pg.NETWORKPOLICIES),
    ("node.k8s.io", "RuntimeClass", "runtimeclasses"): KindStrategy(printer=pg.RUNTIMECLASSES),
    ("policy", "PodDisruptionBudget", "poddisruptionbudgets"): KindStrategy(
        validator=d.validate_pdb, reset_status_on_create=True, printer=pg.PODDISRUPTIONBUDGETS),
    ("rbac.authorization.k8s.io", "ClusterRole", "clusterroles"): KindStrategy(
        name_style="path", own_name_rules=True, printer=p.CLUSTERROLES),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding", "clusterrolebindings"): KindStrategy(
        name_style="path", own_name_rules=True, printer=p.CLUSTERROLEBINDINGS),
    ("rbac.authorization.k8s.io", "Role", "roles"): KindStrategy(
        name_style="path", own_name_rules=True, printer=p.ROLES),
    ("rbac.authorization.k8s.io", "RoleBinding", "rolebindings"): KindStrategy(
        name_style="path", own_name_rules=True, printer=p.ROLEBINDINGS),
    ("scheduling.k8s.io", "PriorityClass", "priorityclasses"): KindStrategy(
        defaulter=d.default_priorityclass, validator=d.validate_priorityclass, printer=p.PRIORITYCLASSES),
    ("storage.k8s.io", "CSIDriver", "csidrivers"): KindStrategy(printer=pg.CSIDRIVERS),
    ("storage.k8s.io", "CSINode", "csinodes"): KindStrategy(printer=pg.CSINODES),
    ("storage.k8s.io", "CSIStorageCapacity", "csistoragecapacities"): KindStrategy(printer=pg.CSISTORAGECAPACITIES),
    ("storage.k8s.io", "StorageClass", "storageclasses"): KindStrategy(
        defaulter=d.default_storageclass, validator=d.validate_storageclass, printer=pg.STORAGECLASSES),
    ("storage.k8s.io", "VolumeAttachment", "volumeattachments"): KindStrategy(printer=pg.VOLUMEATTACHMENTS),
}


_BY_KIND = {(group, kind): s for (group, kind, _), s in _STRATEGIES.items()}
_BY_RESOURCE = {(group, resource): s for (group, _, resource), s in _STRATEGIES.items()}


def strategy_for(group: str, kind: str) -> Strategy:
    """The strategy of built-in kind ``group``/``kind`` (the default one for kinds without rules)."""
    return _BY_KIND.get((group, kind), DEFAULT_STRATEGY)


def resource_strategy(group: str, resource: str) -> Strategy:
    """The strategy of built-in resource ``group``/``resource`` (e.g. ``("apps", "deployments")``)."""
    return _BY_RESOURCE.get((group, resource), DEFAULT_STRATEGY)
