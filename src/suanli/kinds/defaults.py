"""Upstream defaulting and semantic validation for built-in kinds: the per-kind functions.

Each kind's strategy (:mod:`suanli.kinds.strategy`, ``rt.strategy``) is assembled from the
functions here, and the API server calls them through it:

* ``default_<kind>(obj, create)`` mutates a private copy in place with the defaults clients
  rely on (pod spec defaults, also inside workload templates; workload replicas and
  strategies; Job selectors from the uid; Service ports; Namespace finalizers …).
  ``create=True`` adds create-only fields (pod ``status.phase``/``qosClass``).
* ``validate_<kind>(errs, obj)`` adds the semantic errors upstream enforces and users hit,
  e.g. ``Cause("spec.containers[0].name", "Required value")``; :func:`check_name` and
  :func:`check_labels` are the checks every kind shares. Run after schema validation and
  defaulting.

:func:`apply_builtin_defaults` and :func:`validate_builtin` do the same by kind name
(:func:`kind_key`: ``"Pod"`` for core, ``"apps/Deployment"`` otherwise; ``"Deployment.apps"``
is accepted too), through the kind's strategy.

QoS classes (``status.qosClass``) follow upstream: only cpu and memory count; no request
and no limit anywhere → ``BestEffort``; every container limits cpu and memory and the
requests equal the limits → ``Guaranteed``; else ``Burstable``. E.g. one container with
``limits: {cpu: 1, memory: 1Gi}`` (requests defaulted from limits) is Guaranteed.
"""

from __future__ import annotations

import base64
import re
from fractions import Fraction
from functools import partial
from typing import TYPE_CHECKING, Any

from suanli.apimachinery.errors import Cause
from suanli.apimachinery.matchconditions import compile_error
from suanli.apimachinery.objects import Obj
from suanli.apimachinery.quantity import parse_quantity
from suanli.kinds.field import FieldErrors
from suanli.wire import JOB_NAME_LABEL, JOB_UID_LABEL

if TYPE_CHECKING:
    from suanli.kinds.strategy_base import Strategy

__all__ = ["apply_builtin_defaults", "check_labels", "check_name", "kind_key", "pod_qos_class", "validate_builtin"]


def kind_key(group: str, kind: str) -> str:
    """``("apps", "Deployment")`` → ``"apps/Deployment"``; core kinds are bare (``"Pod"``)."""
    return f"{group}/{kind}" if group else kind


def _split_key(key: str) -> tuple[str, str]:
    """``group/Kind`` or ``Kind.group`` (or a bare core ``Kind``) → ``(group, Kind)``."""
    group, slash, kind = key.rpartition("/")
    if slash:
        return group, kind
    kind, _, group = key.partition(".")
    return group, kind


def _strategy(key: str) -> Strategy:
    # deferred: suanli.kinds.strategy assembles each kind's strategy from the functions of this module
    from suanli.kinds.strategy import strategy_for

    return strategy_for(*_split_key(key))


def _dict(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        value = {}
        parent[key] = value
    return value


def _list(parent: dict[str, Any], key: str) -> list[Any]:
    value = parent.get(key)
    return value if isinstance(value, list) else []


# -- defaults ---------------------------------------------------------------------------------


def _default_probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    http = probe.get("httpGet")
    if isinstance(http, dict):
        http.setdefault("scheme", "HTTP")
        http.setdefault("path", "/")


def _image_pull_policy(image: str) -> str:
    """``Always`` for ``:latest`` or untagged images, else ``IfNotPresent`` (digests count as tags)."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "Always"
    return "Always" if last.rsplit(":", 1)[1] == "latest" else "IfNotPresent"


def _default_container(c: Any, host_network: bool) -> None:
    if not isinstance(c, dict):
        return
    c.setdefault("imagePullPolicy", _image_pull_policy(str(c.get("image") or "")))
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    if not isinstance(c.get("resources"), dict):
        c["resources"] = {}
    for port in _list(c, "ports"):
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if host_network and "hostPort" not in port and "containerPort" in port:
                port["hostPort"] = port["containerPort"]
    for env in _list(c, "env"):
        field_ref = (env.get("valueFrom") or {}).get("fieldRef") if isinstance(env, dict) else None
        if isinstance(field_ref, dict):
            field_ref.setdefault("apiVersion", "v1")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(c.get(probe))


def _default_pod_spec(spec: Any) -> None:
    if not isinstance(spec, dict):
        return
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)
    if not isinstance(spec.get("securityContext"), dict):
        spec["securityContext"] = {}
    host_network = bool(spec.get("hostNetwork"))
    for key in ("initContainers", "containers"):
        for c in _list(spec, key):
            _default_container(c, host_network)
    for volume in _list(spec, "volumes"):
        if not isinstance(volume, dict):
            continue
        for source in ("secret", "configMap", "downwardAPI", "projected"):
            if isinstance(volume.get(source), dict):
                volume[source].setdefault("defaultMode", 420)
        if isinstance(volume.get("hostPath"), dict):
            volume["hostPath"].setdefault("type", "")


def _default_template(template: Any) -> None:
    if isinstance(template, dict):
        _default_pod_spec(template.get("spec"))


_QOS_RESOURCES = ("cpu", "memory")


def _nonzero(resources: Any) -> dict[str, Fraction]:
    out: dict[str, Fraction] = {}
    if isinstance(resources, dict):
        for name in _QOS_RESOURCES:
            if name in resources:
                try:
                    value = parse_quantity(resources[name])
                except (ValueError, TypeError):
                    continue
                if value != 0:
                    out[name] = value
    return out


def pod_qos_class(pod: Obj) -> str:
    """``Guaranteed``, ``Burstable`` or ``BestEffort`` for ``pod`` (see module docstring)."""
    spec = pod.get("spec") if isinstance(pod.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    requests: dict[str, Fraction] = {}
    limits: dict[str, Fraction] = {}
    guaranteed = True
    for key in ("initContainers", "containers"):
        for c in _list(spec, key):
            if not isinstance(c, dict):
                continue
            res = c.get("resources") if isinstance(c.get("resources"), dict) else {}
            assert isinstance(res, dict)
            for name, value in _nonzero(res.get("requests")).items():
                prev = requests.get(name)  # no ``Fraction(0) + value`` for the first term  # nosec B113  # a dict named requests, not the requests library
                requests[name] = value if prev is None else prev + value
            found = _nonzero(res.get("limits"))
            for name, value in found.items():
                prev = limits.get(name)
                limits[name] = value if prev is None else prev + value
            if set(found) != set(_QOS_RESOURCES):
                guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if (
        guaranteed
        and all(limits.get(name) == value for name, value in requests.items())
        and set(requests) == set(limits)
    ):
        return "Guaranteed"
    return "Burstable"


def default_pod(obj: Obj, create: bool) -> None:
    spec = _dict(obj, "spec")
    _default_pod_spec(spec)
    for key in ("initContainers", "containers"):
        for c in _list(spec, key):
            res = c.get("resources") if isinstance(c, dict) else None
            if isinstance(res, dict) and isinstance(res.get("limits"), dict) and res["limits"]:
                requests = _dict(res, "requests")
                for name, value in res["limits"].items():
                    requests.setdefault(name, value)
    if "priorityClassName" not in spec:
        spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    # serviceAccountName itself is defaulted by the ServiceAccount admission plug-in (as upstream: mirror
    # pods keep none); the deprecated alias follows it
    if spec.get("serviceAccountName"):
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
    if create:
        status = _dict(obj, "status")
        status.setdefault("phase", "Pending")
        status["qosClass"] = pod_qos_class(obj)


def default_deployment(obj: Obj, create: bool) -> None:
    spec = _dict(obj, "spec")
    spec.setdefault("replicas", 1)
    strategy = _dict(spec, "strategy")
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _dict(strategy, "rollingUpdate")
        rolling.setdefault("maxSurge", "25%")
        rolling.setdefault("maxUnavailable", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _default_template(spec.get("template"))


def default_replicaset(obj: Obj, create: bool) -> None:
    spec = _dict(obj, "spec")
    spec.setdefault("replicas", 1)
    _default_template(spec.get("template"))


def default_statefulset(obj: Obj, create: bool) -> None:
    spec = _dict(obj, "spec")
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    strategy = _dict(spec, "updateStrategy")
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        _dict(strategy, "rollingUpdate").setdefault("partition", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    policy = _dict(spec, "persistentVolumeClaimRetentionPolicy")
    policy.setdefault("whenDeleted", "Retain")
    policy.setdefault("whenScaled", "Retain")
    _default_template(spec.get("template"))


def default_daemonset(obj: Obj, create: bool) -> None:
    spec = _dict(obj, "spec")
    strategy = _dict(spec, "updateStrategy")
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _dict(strategy, "rollingUpdate")
        rolling.setdefault("maxUnavailable", 1)
        rolling.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    _default_template(spec.get("template"))


def _job_spec(spec: dict[str, Any]) -> None:
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 2147483647 if spec.get("backoffLimitPerIndex") is not None else 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault(
        "podReplacementPolicy", "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed"
    )
    _default_template(spec.get("template"))


def default_job(obj: Obj, create: bool) -> None:
    spec = _dict(obj, "spec")
    _job_spec(spec)
    meta = _dict(obj, "metadata")
    template = _dict(spec, "template")
    tmeta = _dict(template, "metadata")
    if not spec.get("manualSelector"):
        uid = str(meta.get("uid") or "")
        name = str(meta.get("name") or "")
        if uid and not spec.get("selector"):
            spec["selector"] = {"matchLabels": {JOB_UID_LABEL: uid}}
        labels = _dict(tmeta, "labels")
        if uid:
            labels.setdefault(JOB_UID_LABEL, uid)
            labels.setdefault("controller-uid", uid)
        if name:
            labels.setdefault(JOB_NAME_LABEL, name)
            labels.setdefault("job-name", name)
    if not meta.get("labels") and isinstance(tmeta.get("labels"), dict) and tmeta["labels"]:
        meta["labels"] = dict(tmeta["labels"])


def default_cronjob(obj: Obj, create: bool) -> None:
    spec = _dict(obj, "spec")
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    job_template = spec.get("jobTemplate")
    if isinstance(job_template, dict) and isinstance(job_template.get("spec"), dict):
        _default_template(job_template["spec"].get("template"))


def default_service(obj: Obj, create: bool) -> None:
    spec = _dict(obj, "spec")
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] != "ExternalName":
        spec.setdefault("internalTrafficPolicy", "Cluster")
    if spec["type"] in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    for port in _list(spec, "ports"):
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if "targetPort" not in port and "port" in port:
                port["targetPort"] = port["port"]


def default_endpoints(obj: Obj, create: bool) -> None:
    for subset in _list(obj, "subsets"):
        if isinstance(subset, dict):
            for port in _list(subset, "ports"):
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")


def default_namespace(obj: Obj, create: bool) -> None:
    spec = _dict(obj, "spec")
    if "finalizers" not in spec:
        spec["finalizers"] = ["kubernetes"]
    _dict(obj, "status").setdefault("phase", "Active")
    meta = _dict(obj, "metadata")
    if meta.get("name"):
        _dict(meta, "labels")["kubernetes.io/metadata.name"] = meta["name"]


def default_priorityclass(obj: Obj, create: bool) -> None:
    obj.setdefault("preemptionPolicy", "PreemptLowerPriority")


def default_hpa(obj: Obj, create: bool) -> None:
    spec = _dict(obj, "spec")
    spec.setdefault("minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
            }
        ]


def default_secret(obj: Obj, create: bool) -> None:
    obj.setdefault("type", "Opaque")
    # upstream's v1 conversion: stringData is write-only, merged into data (base64), overriding it
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = _dict(obj, "data")
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def default_pvc(obj: Obj, create: bool) -> None:
    _dict(obj, "spec").setdefault("volumeMode", "Filesystem")
    if create:
        _dict(obj, "status").setdefault("phase", "Pending")


def default_podtemplate(obj: Obj, create: bool) -> None:
    _default_template(obj.get("template"))


# -- storage, policy, core/v1 ReplicationController, admissionregistration (issue 10) -----------


def default_pv(obj: Obj, create: bool) -> None:
    spec = _dict(obj, "spec")
    spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
    spec.setdefault("volumeMode", "Filesystem")
    if create:
        _dict(obj, "status").setdefault("phase", "Pending")


def default_storageclass(obj: Obj, create: bool) -> None:
    obj.setdefault("reclaimPolicy", "Delete")
    obj.setdefault("volumeBindingMode", "Immediate")


def default_replicationcontroller(obj: Obj, create: bool) -> None:
    """Upstream ``SetDefaults_ReplicationController``: selector and labels from the template."""
    spec = _dict(obj, "spec")
    template = spec.get("template")
    tlabels = ((template.get("metadata") or {}).get("labels") or {}) if isinstance(template, dict) else {}
    if tlabels:
        if not spec.get("selector"):
            spec["selector"] = dict(tlabels)
        meta = _dict(obj, "metadata")
        if not meta.get("labels"):
            meta["labels"] = dict(tlabels)
    spec.setdefault("replicas", 1)
    _default_template(template)


def default_webhook_configuration(obj: Obj, create: bool) -> None:
    """Upstream admissionregistration/v1 defaults for every webhook of a configuration."""
    mutating = obj.get("kind") == "MutatingWebhookConfiguration"
    for hook in _list(obj, "webhooks"):
        if not isinstance(hook, dict):
            continue
        hook.setdefault("failurePolicy", "Fail")
        hook.setdefault("matchPolicy", "Equivalent")
        hook.setdefault("timeoutSeconds", 10)
        if not isinstance(hook.get("namespaceSelector"), dict):
            hook["namespaceSelector"] = {}
        if not isinstance(hook.get("objectSelector"), dict):
            hook["objectSelector"] = {}
        if mutating:
            hook.setdefault("reinvocationPolicy", "Never")
        for rule in _list(hook, "rules"):
            if isinstance(rule, dict):
                rule.setdefault("scope", "*")
        service = (hook.get("clientConfig") or {}).get("service") if isinstance(hook.get("clientConfig"), dict) \
            else None
        if isinstance(service, dict):
            service.setdefault("port", 443)


def apply_builtin_defaults(key: str, obj: Obj, create: bool = True) -> None:
    """Apply upstream defaults for kind ``key`` (see :func:`kind_key`) to ``obj`` in place.

    ``obj`` must be a private copy. Unknown kinds are left untouched. ``create=False``
    (updates) skips create-only status fields.
    """
    _strategy(key).default(obj, create)


# -- validation -------------------------------------------------------------------------------

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_IANA_SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")

_MSG_LABEL = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_MSG_SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character"
)
_MSG_DNS1035 = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character"
)


_Errs = FieldErrors


def check_name(errs: _Errs, obj: Obj, style: str) -> None:
    """``metadata.name`` present and of ``style``: ``subdomain`` (DNS-1123), ``label`` (DNS-1123 label),
    ``dns1035`` (DNS-1035 label) or ``path`` (a path segment: no ``/`` or ``%``, not ``.``/``..``)."""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    assert isinstance(meta, dict)
    name = meta.get("name")
    if not name:
        errs.required("metadata.name", "name or generateName is required")
        return
    if not isinstance(name, str):
        errs.invalid("metadata.name", name, "must be a string")
    elif style == "label" and (len(name) > 63 or not _DNS1123_LABEL.match(name)):
        errs.invalid("metadata.name", name, _MSG_LABEL)
    elif style == "dns1035" and (len(name) > 63 or not _DNS1035_LABEL.match(name)):
        errs.invalid("metadata.name", name, _MSG_DNS1035)
    elif style == "subdomain" and (len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name)):
        errs.invalid("metadata.name", name, _MSG_SUBDOMAIN)
    elif style == "path" and (name in (".", "..") or "/" in name or "%" in name):
        errs.invalid("metadata.name", name, "may not contain '/' or '%' and may not be '.' or '..'")


def check_labels(errs: _Errs, labels: Any, path: str) -> None:
    """Label keys (qualified names) and values well formed."""
    if not isinstance(labels, dict):
        return
    for key, value in labels.items():
        prefix, _, name = key.rpartition("/")
        if (
            (prefix and (len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix)))
            or len(name) > 63
            or not _LABEL_NAME.match(name)
        ):
            errs.invalid(
                path,
                key,
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must "
                "start and end with an alphanumeric character",
            )
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            errs.invalid(
                path,
                value,
                "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
                "or '.', and must start and end with an alphanumeric character",
            )


def _check_port(errs: _Errs, path: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        errs.invalid(path, value, "must be between 1 and 65535, inclusive")


def _check_containers(
    errs: _Errs, containers: list[Any], path: str, volumes: set[str], names: set[str]
) -> None:
    for i, c in enumerate(containers):
        cpath = f"{path}[{i}]"
        if not isinstance(c, dict):
            continue
        name = c.get("name")
        if not name:
            errs.required(f"{cpath}.name")
        elif not isinstance(name, str) or len(name) > 63 or not _DNS1123_LABEL.match(name):
            errs.invalid(f"{cpath}.name", name, _MSG_LABEL)
        elif name in names:
            errs.duplicate(f"{cpath}.name", name)
        else:
            names.add(name)
        if not c.get("image"):
            errs.required(f"{cpath}.image")
        policy = c.get("imagePullPolicy")
        if policy is not None and policy not in ("Always", "IfNotPresent", "Never"):
            errs.unsupported(f"{cpath}.imagePullPolicy", policy, ("Always", "IfNotPresent", "Never"))
        port_names: set[str] = set()
        for j, port in enumerate(_list(c, "ports")):
            ppath = f"{cpath}.ports[{j}]"
            if not isinstance(port, dict):
                continue
            _check_port(errs, f"{ppath}.containerPort", port.get("containerPort"))
            if port.get("hostPort") not in (None, 0):
                _check_port(errs, f"{ppath}.hostPort", port.get("hostPort"))
            protocol = port.get("protocol")
            if protocol is not None and protocol not in ("TCP", "UDP", "SCTP"):
                errs.unsupported(f"{ppath}.protocol", protocol, ("SCTP", "TCP", "UDP"))
            pname = port.get("name")
            if pname:
                if pname in port_names:
                    errs.duplicate(f"{ppath}.name", pname)
                port_names.add(pname)
        for j, mount in enumerate(_list(c, "volumeMounts")):
            if isinstance(mount, dict) and mount.get("name") and mount["name"] not in volumes:
                errs.not_found(f"{cpath}.volumeMounts[{j}].name", mount["name"])
        _check_resources(errs, c.get("resources"), f"{cpath}.resources")


def _check_resources(errs: _Errs, resources: Any, path: str) -> None:
    if not isinstance(resources, dict):
        return
    limits = resources.get("limits") if isinstance(resources.get("limits"), dict) else {}
    requests = resources.get("requests") if isinstance(resources.get("requests"), dict) else {}
    assert isinstance(limits, dict) and isinstance(requests, dict)
    for section, values in (("limits", limits), ("requests", requests)):
        for name, value in values.items():
            try:
                q = parse_quantity(value)
            except (ValueError, TypeError):
                errs.invalid(
                    f"{path}.{section}[{name}]",
                    value,
                    "quantities must match the regular expression "
                    "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
                )
                continue
            if q.numerator < 0:  # a Fraction's sign is its numerator's (cheaper than ``q < 0``)
                errs.invalid(f"{path}.{section}[{name}]", value, "must be greater than or equal to 0")
    for section, values in (("limits", limits), ("requests", requests)):
        for name, value in values.items():
            if is_extended_resource(str(name)) and not _is_integer_quantity(value):
                errs.invalid(f"{path}.{section}[{name}]", value, "must be an integer")
    for name, value in requests.items():
        if name not in limits:
            if not overcommit_allowed(str(name)):
                errs.required(f"{path}.limits", "Limit must be set for non overcommitable resources")
            continue
        try:
            req, lim = parse_quantity(value), parse_quantity(limits[name])
        except (ValueError, TypeError):
            continue
        if req != lim and not overcommit_allowed(str(name)):
            errs.invalid(f"{path}.requests", value, f"must be equal to {name} limit of {limits[name]}")
        elif req > lim:
            errs.invalid(f"{path}.requests", value, f"must be less than or equal to {name} limit of {limits[name]}")


def is_native_resource(name: str) -> bool:
    """Upstream ``IsNativeResource``: no domain prefix, or a ``*kubernetes.io/`` one."""
    return "/" not in name or "kubernetes.io/" in name


def is_extended_resource(name: str) -> bool:
    """Upstream ``IsExtendedResourceName``: a domain-prefixed, non-native name not starting with
    ``requests.`` (``nvidia.com/gpu``, ``huawei.com/Ascend910``)."""
    return not is_native_resource(name) and not name.startswith("requests.")


def overcommit_allowed(name: str) -> bool:
    """Upstream ``IsOvercommitAllowed``: native resources other than hugepages may have requests
    below their limits; extended resources and hugepages need ``requests == limits``."""
    return is_native_resource(name) and not name.startswith("hugepages-")


def _is_integer_quantity(value: Any) -> bool:
    try:
        return parse_quantity(value).denominator == 1
    except (ValueError, TypeError):
        return True  # malformed quantities are reported once, by the format check


def _check_pod_spec(errs: _Errs, spec: Any, path: str, restart_policies: tuple[str, ...]) -> None:
    if not isinstance(spec, dict):
        errs.required(path)
        return
    volumes: set[str] = set()
    for i, volume in enumerate(_list(spec, "volumes")):
        if not isinstance(volume, dict):
            continue
        vname = volume.get("name")
        if not vname:
            errs.required(f"{path}.volumes[{i}].name")
        elif not isinstance(vname, str) or not _DNS1123_LABEL.match(vname):
            errs.invalid(f"{path}.volumes[{i}].name", vname, _MSG_LABEL)
        elif vname in volumes:
            errs.duplicate(f"{path}.volumes[{i}].name", vname)
        else:
            volumes.add(vname)
    containers = _list(spec, "containers")
    if not containers:
        errs.required(f"{path}.containers")
    names: set[str] = set()
    _check_containers(errs, _list(spec, "initContainers"), f"{path}.initContainers", volumes, names)
    _check_containers(errs, containers, f"{path}.containers", volumes, names)
    policy = spec.get("restartPolicy")
    if policy is not None and policy not in restart_policies:
        errs.unsupported(f"{path}.restartPolicy", policy, restart_policies)
    dns = spec.get("dnsPolicy")
    if dns is not None and dns not in ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"):
        errs.unsupported(
            f"{path}.dnsPolicy", dns, ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")
        )
    grace = spec.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and grace < 0:
        errs.invalid(f"{path}.terminationGracePeriodSeconds", grace, "must be greater than or equal to 0")
    check_labels(errs, spec.get("nodeSelector"), f"{path}.nodeSelector")


_ALL_RESTART = ("Always", "OnFailure", "Never")


def _selector_matches(selector: dict[str, Any], labels: dict[str, Any]) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        if not isinstance(expr, dict):
            continue
        key, op, values = str(expr.get("key")), expr.get("operator"), expr.get("values") or []
        present = key in labels
        if (
            (op == "In" and labels.get(key) not in values)
            or (op == "NotIn" and present and labels[key] in values)
            or (op == "Exists" and not present)
            or (op == "DoesNotExist" and present)
        ):
            return False
    return True


def _check_non_negative(errs: _Errs, spec: dict[str, Any], path: str, *fields: str) -> None:
    for field in fields:
        value = spec.get(field)
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            errs.invalid(f"{path}.{field}", value, "must be greater than or equal to 0")


def _check_workload(
    errs: _Errs, obj: Obj, what: str, restart: tuple[str, ...], need_selector: bool = True
) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        errs.required("spec")
        return
    _check_non_negative(errs, spec, "spec", "replicas", "minReadySeconds", "revisionHistoryLimit")
    selector = spec.get("selector")
    template = spec.get("template") if isinstance(spec.get("template"), dict) else None
    if need_selector:
        if not isinstance(selector, dict):
            errs.required("spec.selector")
        elif not selector.get("matchLabels") and not selector.get("matchExpressions"):
            errs.invalid("spec.selector", selector, f"empty selector is invalid for {what}")
        elif template is not None:
            labels = (template.get("metadata") or {}).get("labels") or {}
            if not _selector_matches(selector, labels):
                errs.invalid(
                    "spec.template.metadata.labels", labels, "`selector` does not match template `labels`"
                )
    if template is None:
        errs.required("spec.template")
        return
    check_labels(errs, (template.get("metadata") or {}).get("labels"), "spec.template.metadata.labels")
    _check_pod_spec(errs, template.get("spec"), "spec.template.spec", restart)


def validate_pod(errs: _Errs, obj: Obj) -> None:
    _check_pod_spec(errs, obj.get("spec"), "spec", _ALL_RESTART)


def validate_deployment(errs: _Errs, obj: Obj) -> None:
    _check_workload(errs, obj, "deployment", ("Always",))
    spec = obj.get("spec") or {}
    strategy = spec.get("strategy") if isinstance(spec, dict) else None
    if isinstance(strategy, dict) and strategy.get("type") not in (None, "Recreate", "RollingUpdate"):
        errs.unsupported("spec.strategy.type", strategy.get("type"), ("Recreate", "RollingUpdate"))
    if isinstance(strategy, dict) and strategy.get("type") == "Recreate" and strategy.get("rollingUpdate"):
        errs.items.append(
            Cause(
                "spec.strategy.rollingUpdate",
                "Forbidden: may not be specified when strategy `type` is 'Recreate'",
                "FieldValueForbidden",
            )
        )


def validate_replicaset(errs: _Errs, obj: Obj) -> None:
    _check_workload(errs, obj, "replicaset", ("Always",))


def validate_daemonset(errs: _Errs, obj: Obj) -> None:
    _check_workload(errs, obj, "daemonset", ("Always",))


def validate_statefulset(errs: _Errs, obj: Obj) -> None:
    _check_workload(errs, obj, "statefulset", ("Always",))
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    rolling = ((spec or {}).get("updateStrategy") or {}).get("rollingUpdate")
    if isinstance(rolling, dict) and rolling.get("maxUnavailable") is not None:
        # upstream validateRollingUpdateStatefulSet: positive int or percent, not 0, at most 100%
        path = "spec.updateStrategy.rollingUpdate.maxUnavailable"
        value = rolling["maxUnavailable"]
        before = len(errs.items)
        _check_int_or_percent(errs, path, value)
        if len(errs.items) == before and str(value).rstrip("%") == "0":
            errs.invalid(path, value, "cannot be 0")


def validate_job(errs: _Errs, obj: Obj) -> None:
    spec = obj.get("spec")
    manual = isinstance(spec, dict) and bool(spec.get("manualSelector"))
    has_selector = isinstance(spec, dict) and isinstance(spec.get("selector"), dict)
    _check_workload(errs, obj, "job", ("OnFailure", "Never"), need_selector=manual or has_selector)
    if isinstance(spec, dict):
        _check_non_negative(
            errs,
            spec,
            "spec",
            "parallelism",
            "completions",
            "backoffLimit",
            "activeDeadlineSeconds",
            "ttlSecondsAfterFinished",
        )
        mode = spec.get("completionMode")
        if mode is not None and mode not in ("NonIndexed", "Indexed"):
            errs.unsupported("spec.completionMode", mode, ("NonIndexed", "Indexed"))
        if mode == "Indexed" and spec.get("completions") is None:
            errs.required("spec.completions", 'when completion mode is "Indexed"')


def validate_cronjob(errs: _Errs, obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        errs.required("spec")
        return
    schedule = spec.get("schedule")
    if not schedule:
        errs.required("spec.schedule")
    elif isinstance(schedule, str) and not schedule.startswith("@") and len(schedule.split()) != 5:
        errs.invalid("spec.schedule", schedule, "unparseable schedule: expected exactly 5 fields")
    policy = spec.get("concurrencyPolicy")
    if policy is not None and policy not in ("Allow", "Forbid", "Replace"):
        errs.unsupported("spec.concurrencyPolicy", policy, ("Allow", "Forbid", "Replace"))
    _check_non_negative(
        errs, spec, "spec", "successfulJobsHistoryLimit", "failedJobsHistoryLimit", "startingDeadlineSeconds"
    )
    job_template = spec.get("jobTemplate")
    jspec = job_template.get("spec") if isinstance(job_template, dict) else None
    if not isinstance(jspec, dict):
        errs.required("spec.jobTemplate")
        return
    template = jspec.get("template") if isinstance(jspec.get("template"), dict) else None
    if template is None:
        errs.required("spec.jobTemplate.spec.template")
        return
    _check_pod_spec(errs, template.get("spec"), "spec.jobTemplate.spec.template.spec", ("OnFailure", "Never"))


_SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")


def validate_service(errs: _Errs, obj: Obj) -> None:
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    stype = spec.get("type", "ClusterIP")
    if stype not in _SERVICE_TYPES:
        errs.unsupported("spec.type", stype, _SERVICE_TYPES)
    ports = _list(spec, "ports")
    if not ports and stype != "ExternalName" and spec.get("clusterIP") != "None":
        errs.required("spec.ports")
    if stype == "ExternalName" and not spec.get("externalName"):
        errs.required("spec.externalName")
    names: set[str] = set()
    for i, port in enumerate(ports):
        if not isinstance(port, dict):
            continue
        path = f"spec.ports[{i}]"
        pname = port.get("name")
        if len(ports) > 1 and not pname:
            errs.required(f"{path}.name")
        elif pname:
            if pname in names:
                errs.duplicate(f"{path}.name", pname)
            names.add(pname)
        _check_port(errs, f"{path}.port", port.get("port"))
        target = port.get("targetPort")
        if isinstance(target, int) and not isinstance(target, bool):
            _check_port(errs, f"{path}.targetPort", target)
        elif isinstance(target, str) and (
            len(target) > 15 or not _IANA_SVC_NAME.match(target) or not re.search("[a-z]", target)
        ):
            errs.invalid(
                f"{path}.targetPort",
                target,
                "must contain only alpha-numeric characters (a-z, 0-9), "
                "and hyphens (-), and at least one letter",
            )
        protocol = port.get("protocol")
        if protocol is not None and protocol not in ("TCP", "UDP", "SCTP"):
            errs.unsupported(f"{path}.protocol", protocol, ("SCTP", "TCP", "UDP"))
    affinity = spec.get("sessionAffinity")
    if affinity is not None and affinity not in ("ClientIP", "None"):
        errs.unsupported("spec.sessionAffinity", affinity, ("ClientIP", "None"))
    check_labels(errs, spec.get("selector"), "spec.selector")


def validate_config_data(errs: _Errs, obj: Obj) -> None:
    for section in ("data", "binaryData", "stringData"):
        data = obj.get(section)
        if not isinstance(data, dict):
            continue
        for key in data:
            if not _CONFIG_KEY.match(key) or len(key) > 253:
                errs.invalid(
                    f"{section}[{key}]",
                    key,
                    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                )


def validate_hpa(errs: _Errs, obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        errs.required("spec")
        return
    lo, hi = spec.get("minReplicas"), spec.get("maxReplicas")
    if isinstance(lo, int) and lo < 1:
        errs.invalid("spec.minReplicas", lo, "must be greater than or equal to 1")
    if not isinstance(hi, int) or hi < 1:
        errs.invalid("spec.maxReplicas", hi, "must be greater than 0")
    elif isinstance(lo, int) and hi < lo:
        errs.invalid("spec.maxReplicas", hi, "must be greater than or equal to `minReplicas`")
    ref = spec.get("scaleTargetRef")
    if not isinstance(ref, dict):
        errs.required("spec.scaleTargetRef")
    else:
        for field in ("kind", "name"):
            if not ref.get(field):
                errs.required(f"spec.scaleTargetRef.{field}")


def validate_priorityclass(errs: _Errs, obj: Obj) -> None:
    policy = obj.get("preemptionPolicy")
    if policy is not None and policy not in ("Never", "PreemptLowerPriority"):
        errs.unsupported("preemptionPolicy", policy, ("Never", "PreemptLowerPriority"))
    if not isinstance(obj.get("value"), int):
        errs.required("value")


def validate_replicationcontroller(errs: _Errs, obj: Obj) -> None:
    """Upstream ``ValidateReplicationControllerSpec``: a non-empty map selector matching the template."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        errs.required("spec")
        return
    _check_non_negative(errs, spec, "spec", "replicas", "minReadySeconds")
    selector = spec.get("selector")
    template = spec.get("template") if isinstance(spec.get("template"), dict) else None
    if not isinstance(selector, dict) or not selector:
        errs.required("spec.selector")
    if template is None:
        errs.required("spec.template")
        return
    labels = (template.get("metadata") or {}).get("labels") or {}
    if isinstance(selector, dict) and selector and any(labels.get(k) != v for k, v in selector.items()):
        errs.invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`")
    check_labels(errs, labels, "spec.template.metadata.labels")
    _check_pod_spec(errs, template.get("spec"), "spec.template.spec", ("Always",))


def _check_int_or_percent(errs: _Errs, path: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        errs.invalid(path, value, "must be an integer or percentage (e.g '5%')")
    elif isinstance(value, int):
        if value < 0:
            errs.invalid(path, value, "must be greater than or equal to 0")
    elif not re.fullmatch(r"[0-9]+%", value):
        errs.invalid(path, value, "a valid percent string must be a numeric string followed by an ending '%' "
                     "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")
    elif int(value[:-1]) > 100:
        errs.invalid(path, value, "must not be greater than 100%")


def validate_pdb(errs: _Errs, obj: Obj) -> None:
    """Upstream ``ValidatePodDisruptionBudgetSpec``."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    min_a, max_u = spec.get("minAvailable"), spec.get("maxUnavailable")
    if min_a is not None and max_u is not None:
        errs.invalid("spec", spec, "minAvailable and maxUnavailable cannot be both set")
    if min_a is not None:
        _check_int_or_percent(errs, "spec.minAvailable", min_a)
    if max_u is not None:
        _check_int_or_percent(errs, "spec.maxUnavailable", max_u)
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in ("AlwaysAllow", "IfHealthyBudget"):
        errs.unsupported("spec.unhealthyPodEvictionPolicy", policy, ("AlwaysAllow", "IfHealthyBudget"))


_ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")


def _check_access_modes(errs: _Errs, modes: Any, path: str, detail: str) -> None:
    if not isinstance(modes, list) or not modes:
        errs.required(path, detail)
        return
    for mode in modes:
        if mode not in _ACCESS_MODES:
            errs.unsupported(path, mode, _ACCESS_MODES)
    if "ReadWriteOncePod" in modes and len(modes) > 1:
        errs.items.append(Cause(path, "Forbidden: may not use ReadWriteOncePod with other access modes",
                                "FieldValueForbidden"))


def validate_pvc(errs: _Errs, obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        errs.required("spec")
        return
    _check_access_modes(errs, spec.get("accessModes"), "spec.accessModes", "at least 1 access mode is required")
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage") \
        if isinstance(spec.get("resources"), dict) else None
    if storage is None and not spec.get("dataSource") and not spec.get("dataSourceRef"):
        errs.required("spec.resources[storage]")


_PV_SOURCES = ("hostPath", "local", "nfs", "csi", "iscsi", "fc", "gcePersistentDisk", "awsElasticBlockStore",
               "azureDisk", "azureFile", "cephfs", "cinder", "flexVolume", "flocker", "glusterfs",
               "photonPersistentDisk", "portworxVolume", "quobyte", "rbd", "scaleIO", "storageos", "vsphereVolume")


def validate_pv(errs: _Errs, obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        errs.required("spec")
        return
    _check_access_modes(errs, spec.get("accessModes"), "spec.accessModes", "must specify at least 1 access mode")
    if not (spec.get("capacity") or {}).get("storage") if isinstance(spec.get("capacity"), dict) else True:
        errs.required("spec.capacity")
    sources = [k for k in _PV_SOURCES if spec.get(k) is not None]
    if not sources:
        errs.required("spec", "must specify a volume type")
    elif len(sources) > 1:
        errs.items.append(Cause(f"spec.{sources[1]}", "Forbidden: may not specify more than 1 volume type",
                                "FieldValueForbidden"))
    policy = spec.get("persistentVolumeReclaimPolicy")
    if policy is not None and policy not in ("Delete", "Recycle", "Retain"):
        errs.unsupported("spec.persistentVolumeReclaimPolicy", policy, ("Delete", "Recycle", "Retain"))


def validate_storageclass(errs: _Errs, obj: Obj) -> None:
    if not obj.get("provisioner"):
        errs.required("provisioner")
    policy = obj.get("reclaimPolicy")
    if policy is not None and policy not in ("Delete", "Retain"):
        errs.unsupported("reclaimPolicy", policy, ("Delete", "Retain"))
    mode = obj.get("volumeBindingMode")
    if mode is not None and mode not in ("Immediate", "WaitForFirstConsumer"):
        errs.unsupported("volumeBindingMode", mode, ("Immediate", "WaitForFirstConsumer"))


def validate_webhooks(errs: _Errs, obj: Obj) -> None:
    """Upstream ``validateWebhook`` essentials: names, clientConfig, sideEffects, review versions."""
    seen: set[str] = set()
    for i, hook in enumerate(_list(obj, "webhooks")):
        path = f"webhooks[{i}]"
        if not isinstance(hook, dict):
            continue
        name = hook.get("name")
        if not name:
            errs.required(f"{path}.name")
        elif not isinstance(name, str) or len(name.split(".")) < 3 or not _DNS1123_SUBDOMAIN.match(name):
            errs.invalid(f"{path}.name", name, "should be a domain with at least three segments separated by dots")
        elif name in seen:
            errs.duplicate(f"{path}.name", name)
        else:
            seen.add(name)
        if hook.get("sideEffects") not in ("None", "NoneOnDryRun"):
            if hook.get("sideEffects") is None:
                errs.unsupported(f"{path}.sideEffects", "", ("None", "NoneOnDryRun"))
            else:
                errs.unsupported(f"{path}.sideEffects", hook.get("sideEffects"), ("None", "NoneOnDryRun"))
        versions = hook.get("admissionReviewVersions")
        if not isinstance(versions, list) or not versions:
            errs.required(f"{path}.admissionReviewVersions", "must specify one of v1, v1beta1")
        elif not any(v in ("v1", "v1beta1") for v in versions):
            errs.invalid(f"{path}.admissionReviewVersions", versions, "must include at least one of v1, v1beta1")
        policy = hook.get("failurePolicy")
        if policy is not None and policy not in ("Fail", "Ignore"):
            errs.unsupported(f"{path}.failurePolicy", policy, ("Fail", "Ignore"))
        timeout = hook.get("timeoutSeconds")
        if isinstance(timeout, int) and not 1 <= timeout <= 30:
            errs.invalid(f"{path}.timeoutSeconds", timeout, "the timeout value must be between 1 and 30 seconds")
        cc = hook.get("clientConfig") if isinstance(hook.get("clientConfig"), dict) else {}
        assert isinstance(cc, dict)
        url, svc = cc.get("url"), cc.get("service")
        if (url is None) == (svc is None):
            errs.required(f"{path}.clientConfig", "exactly one of url or service is required")
        elif isinstance(url, str) and not url.startswith("https://"):
            errs.invalid(f"{path}.clientConfig.url", url, "'https' is the only allowed URL scheme")
        elif isinstance(svc, dict):
            for fld in ("namespace", "name"):
                if not svc.get(fld):
                    errs.required(f"{path}.clientConfig.service.{fld}", f"service {fld} is required")
        conditions = hook.get("matchConditions")
        if isinstance(conditions, list):
            _check_match_conditions(errs, conditions, f"{path}.matchConditions")


def _check_match_conditions(errs: _Errs, conditions: list[Any], path: str) -> None:
    """Upstream ``validateMatchConditions``: at most 64, names qualified and unique, expressions compile."""
    if len(conditions) > 64:
        errs.too_many(path, len(conditions), 64)
    names: set[str] = set()
    for i, cond in enumerate(conditions):
        if not isinstance(cond, dict):
            continue
        expression = str(cond.get("expression") or "").strip()
        if not expression:
            errs.required(f"{path}[{i}].expression")
        else:
            problem = compile_error(expression)
            if problem:
                errs.invalid(f"{path}[{i}].expression", expression, f"compilation failed: {problem}")
        name = cond.get("name")
        if not name:
            errs.required(f"{path}[{i}].name")
        elif not isinstance(name, str) or len(name.rpartition("/")[2]) > 63 or \
                not _LABEL_NAME.match(name.rpartition("/")[2]):
            errs.invalid(f"{path}[{i}].name", name, "name part must consist of alphanumeric characters, '-', '_' "
                         "or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or "
                         "'my.name',  or '123-abc', regex used for validation is "
                         "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
        elif name in names:
            errs.duplicate(f"{path}[{i}].name", name)
        else:
            names.add(name)


def validate_apiservice(errs: _Errs, obj: Obj) -> None:
    """kube-aggregator: the name must be ``<spec.version>.<spec.group>`` (``v1.`` for the core group)."""
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    required = f"{spec.get('version') or ''}.{spec.get('group') or ''}"
    name = (obj.get("metadata") or {}).get("name")
    if name and name != required:
        errs.invalid("metadata.name", name, f'must be `spec.version+"."+spec.group`: "{required}"')
    if not spec.get("version"):
        errs.required("spec.version")


_CSR_USAGES = ("any", "cert sign", "client auth", "code signing", "content commitment", "crl sign",
               "data encipherment", "decipher only", "digital signature", "email protection", "encipher only",
               "ipsec end system", "ipsec tunnel", "ipsec user", "key agreement", "key encipherment", "microsoft sgc",
               "netscape sgc", "ocsp signing", "s/mime", "server auth", "signing", "timestamping")


def validate_csr(errs: _Errs, obj: Obj) -> None:
    """Upstream ``validateCertificateSigningRequest`` (certificates.k8s.io/v1)."""
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    request = str(spec.get("request") or "")
    try:
        pem = base64.b64decode(request, validate=True)
    except ValueError:
        pem = b""
    if b"-----BEGIN CERTIFICATE REQUEST-----" not in pem:
        errs.invalid("spec.request", request, "PEM block type must be CERTIFICATE REQUEST")
    usages = spec.get("usages") or []
    if not usages:
        errs.required("spec.usages")
    seen: set[str] = set()
    for i, usage in enumerate(usages if isinstance(usages, list) else []):
        if usage not in _CSR_USAGES:
            errs.unsupported(f"spec.usages[{i}]", usage, _CSR_USAGES)
        elif usage in seen:
            errs.duplicate(f"spec.usages[{i}]", usage)
        seen.add(str(usage))
    signer = spec.get("signerName")
    if not signer:
        errs.required("spec.signerName")
    elif signer == "kubernetes.io/legacy-unknown":
        errs.invalid("spec.signerName", signer, "the legacy signerName is not allowed via this API version")
    elif "/" not in str(signer):
        errs.invalid("spec.signerName", signer, "must be a fully qualified domain and path of the form "
                     "'example.com/signer-name'")
    expiration = spec.get("expirationSeconds")
    if isinstance(expiration, int) and expiration < 600:
        errs.invalid("spec.expirationSeconds", expiration, "may not specify a duration less than 600 seconds "
                     "(10 minutes)")
    conditions = (obj.get("status") or {}).get("conditions") or []
    types = [str(c.get("type")) for c in conditions if isinstance(c, dict)]
    for i, kind in enumerate(types):
        if kind in types[:i] and kind in ("Approved", "Denied", "Failed"):
            errs.duplicate(f"status.conditions[{i}].type", kind)
        if kind in ("Approved", "Denied") and conditions[i].get("status", "True") != "True":
            errs.unsupported(f"status.conditions[{i}].status", conditions[i].get("status"), ("True",))
    if "Approved" in types and "Denied" in types:
        errs.invalid("status.conditions", "Denied", "Approved and Denied conditions are mutually exclusive")


def validate_builtin(key: str, obj: Obj) -> list[Cause]:
    """Semantic validation of a built-in object (kind ``key``); empty list = valid.

    Checks the name format (DNS-1123 subdomain; label for Namespaces; DNS-1035 label for
    Services; path segment for RBAC), label syntax, and per-kind rules. CRD objects are
    validated by :func:`suanli.kinds.crd.validate_crd` instead.
    """
    return _strategy(key).validate(obj)


# -- LimitRange (issue 11) ---------------------------------------------------------------------


def default_limitrange(obj: Obj, create: bool) -> None:
    """Upstream ``SetDefaults_LimitRangeItem``: for ``Container`` items, ``default`` ← ``max``,
    then ``defaultRequest`` ← ``default``, then ``defaultRequest`` ← ``min`` (each only where unset)."""
    for item in _list(_dict(obj, "spec"), "limits"):
        if not isinstance(item, dict) or item.get("type") != "Container":
            continue
        for source, target in (("max", "default"), ("default", "defaultRequest"), ("min", "defaultRequest")):
            values = item.get(source)
            if isinstance(values, dict) and values:
                into = _dict(item, target)
                for name, value in values.items():
                    into.setdefault(name, value)


# -- ResourceQuota and LimitRange validation (issue 11; upstream pkg/apis/core/validation) ----------

_STANDARD_QUOTA = frozenset({
    "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.storage",
    "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods", "services",
    "replicationcontrollers", "resourcequotas", "secrets", "persistentvolumeclaims", "configmaps",
    "services.nodeports", "services.loadbalancers"})
_INTEGER_QUOTA = frozenset({"pods", "services", "replicationcontrollers", "resourcequotas", "secrets",
                            "persistentvolumeclaims", "configmaps", "services.nodeports", "services.loadbalancers"})
_QUOTA_SCOPES = ("Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass",
                 "CrossNamespacePodAffinity")
_POD_COMPUTE_QUOTA = frozenset({"pods", "cpu", "memory", "limits.cpu", "limits.memory", "requests.cpu",
                                "requests.memory"})
_SCOPE_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def _is_integer_quota_name(name: str) -> bool:
    return name in _INTEGER_QUOTA or name.startswith("count/") or is_extended_resource(name) or \
        (name.startswith("requests.") and is_extended_resource(name[len("requests."):]))


def _quantity_or_error(errs: _Errs, path: str, value: Any) -> Fraction | None:
    try:
        return parse_quantity(value)
    except ValueError as err:
        errs.invalid(path, value, str(err))
        return None


def validate_resourcequota(errs: _Errs, obj: Obj) -> None:
    """Upstream ``ValidateResourceQuotaSpec``: standard names, non-negative (integer where counted)
    quantities, known and compatible scopes, a well-formed scope selector."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    hard: dict[str, Any] = spec["hard"] if isinstance(spec.get("hard"), dict) else {}
    for name, value in sorted(hard.items()):
        path = f"spec.hard[{name}]"
        if "/" not in name and name not in _STANDARD_QUOTA and not name.startswith(("hugepages-",
                                                                                    "requests.hugepages-")):
            errs.invalid(path, name, "must be a standard resource for quota")
        q = _quantity_or_error(errs, path, value)
        if q is not None and q < 0:
            errs.invalid(path, value, "must be greater than or equal to 0")
        elif q is not None and q.denominator != 1 and _is_integer_quota_name(name):
            errs.invalid(path, value, "must be an integer")
    scopes = [str(s) for s in _list(spec, "scopes")]
    for scope in scopes:
        if scope not in _QUOTA_SCOPES:
            errs.invalid("spec.scopes", scopes, "unsupported scope")
        allowed = {"pods"} if scope == "BestEffort" else _POD_COMPUTE_QUOTA
        for name in sorted(hard):
            if name in _STANDARD_QUOTA and not name.startswith("count/") and name not in allowed:
                errs.invalid("spec.scopes", scopes, "unsupported scope applied to resource")
    selector: dict[str, Any] = spec["scopeSelector"] if isinstance(spec.get("scopeSelector"), dict) else {}
    used = set(scopes)
    for i, req in enumerate(_list(selector, "matchExpressions")):
        if not isinstance(req, dict):
            continue
        path = f"spec.scopeSelector.matchExpressions[{i}]"
        if req.get("scopeName") not in _QUOTA_SCOPES:
            errs.invalid(f"{path}.scopeName", req.get("scopeName"), "unsupported scope")
        op, values = req.get("operator"), _list(req, "values")
        if op in ("In", "NotIn") and not values:
            errs.invalid(f"{path}.values", values, "must be at least one value when `operator` is 'In' or "
                                                    "'NotIn' for scope selector")
        elif op in ("Exists", "DoesNotExist") and values:
            errs.invalid(f"{path}.values", values, "must be no value when `operator` is 'Exist' or "
                                                    "'DoesNotExist' for scope selector")
        elif op not in _SCOPE_OPERATORS:
            errs.invalid(f"{path}.operator", op, "not a valid selector operator")
        used.add(str(req.get("scopeName")))
    for pair in (("BestEffort", "NotBestEffort"), ("Terminating", "NotTerminating")):
        if set(pair) <= used:
            errs.invalid("spec.scopes", scopes, "conflicting scopes")


def _raw_value(item: Obj, key: str, name: str) -> str:
    return str(item[key][name])


def validate_limitrange(errs: _Errs, obj: Obj) -> None:
    """Upstream ``ValidateLimitRange`` (the bounds): known types, one item per type, non-negative
    quantities, min ≤ default request ≤ default ≤ max, max limit/request ratio ≥ 1, no defaults on
    ``Pod`` items."""
    seen: set[str] = set()
    for i, item in enumerate(_list(_dict(obj, "spec"), "limits")):
        if not isinstance(item, dict):
            continue
        path = f"spec.limits[{i}]"
        kind = str(item.get("type") or "")
        if kind in seen:
            errs.duplicate(f"{path}.type", kind)
        seen.add(kind)
        values: dict[str, dict[str, Fraction]] = {}
        for key in ("min", "max", "default", "defaultRequest", "maxLimitRequestRatio"):
            raw: dict[str, Any] = item[key] if isinstance(item.get(key), dict) else {}
            values[key] = {}
            for name, value in sorted(raw.items()):
                q = _quantity_or_error(errs, f"{path}.{key}[{name}]", value)
                if q is not None:
                    if q < 0:
                        errs.invalid(f"{path}.{key}[{name}]", value, "must be greater than or equal to 0")
                    values[key][name] = q
            if kind == "Pod" and key in ("default", "defaultRequest") and raw:
                errs.invalid(f"{path}.{key}", raw, "may not be specified when `type` is 'Pod'")
        mn, mx, df, dr = values["min"], values["max"], values["default"], values["defaultRequest"]
        fmt = partial(_raw_value, item)
        for name in sorted(mn):
            if name in mx and mn[name] > mx[name]:
                errs.invalid(f"{path}.min[{name}]", item["min"][name],
                             f"min value {fmt('min', name)} is greater than max value {fmt('max', name)}")
            if name in dr and mn[name] > dr[name]:
                errs.invalid(f"{path}.defaultRequest[{name}]", item["defaultRequest"][name],
                             f"min value {fmt('min', name)} is greater than default request value "
                             f"{fmt('defaultRequest', name)}")
            if name in df and mn[name] > df[name]:
                errs.invalid(f"{path}.default[{name}]", item["default"][name],
                             f"min value {fmt('min', name)} is greater than default value {fmt('default', name)}")
        for name in sorted(mx):
            if name in dr and dr[name] > mx[name]:
                errs.invalid(f"{path}.defaultRequest[{name}]", item["defaultRequest"][name],
                             f"default request value {fmt('defaultRequest', name)} is greater than max value "
                             f"{fmt('max', name)}")
            if name in df and df[name] > mx[name]:
                errs.invalid(f"{path}.default[{name}]", item["default"][name],
                             f"default value {fmt('default', name)} is greater than max value {fmt('max', name)}")
        for name in sorted(dr):
            if name in df and dr[name] > df[name]:
                errs.invalid(f"{path}.defaultRequest[{name}]", item["defaultRequest"][name],
                             f"default request value {fmt('defaultRequest', name)} is greater than default "
                             f"limit value {fmt('default', name)}")
        for name, q in sorted(values["maxLimitRequestRatio"].items()):
            if q < 1:
                errs.invalid(f"{path}.maxLimitRequestRatio[{name}]", item["maxLimitRequestRatio"][name],
                             f"ratio {fmt('maxLimitRequestRatio', name)} is less than 1")

