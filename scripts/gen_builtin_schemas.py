"""Generate ``src/suanli/kinds/schemas/builtin.json`` from the official kubernetes client.

The installed ``kubernetes`` Python client carries one model class per OpenAPI definition
(``V1Pod``, ``V1Container`` …). Each class lists its fields (``openapi_types`` for the type,
``attribute_map`` for the JSON name, pydantic ``model_fields`` for required-ness and
int-or-string unions). This script walks the models reachable from the kinds Suanli serves
and writes OpenAPI v3 ``components.schemas`` definitions keyed by upstream names
(``io.k8s.api.core.v1.Pod``) with ``$ref`` links between them.

No prose is copied: descriptions are just the Go type name. Patch/list metadata for the
well-known lists is added from a small table below. Run it after upgrading the client::

    .venv/bin/python scripts/gen_builtin_schemas.py

The runtime never imports ``kubernetes``; it reads the committed JSON.
"""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path
from typing import Any

from kubernetes.client import models as m

OUT = Path(__file__).resolve().parents[1] / "src" / "suanli" / "kinds" / "schemas" / "builtin.json"

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
TIME = META + "Time"
MICRO_TIME = META + "MicroTime"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"

# (model class, group, version, kind) — order matters: nested types are named after the
# package of the first root that reaches them, so core comes first.
ROOTS: list[tuple[str, str, str, str]] = [
    ("V1Namespace", "", "v1", "Namespace"),
    ("V1Node", "", "v1", "Node"),
    ("V1Pod", "", "v1", "Pod"),
    ("V1PodTemplate", "", "v1", "PodTemplate"),
    ("V1PersistentVolumeClaim", "", "v1", "PersistentVolumeClaim"),
    ("V1Service", "", "v1", "Service"),
    ("V1Endpoints", "", "v1", "Endpoints"),
    ("V1ConfigMap", "", "v1", "ConfigMap"),
    ("V1Secret", "", "v1", "Secret"),
    ("V1ServiceAccount", "", "v1", "ServiceAccount"),
    ("CoreV1Event", "", "v1", "Event"),
    ("V1ResourceQuota", "", "v1", "ResourceQuota"),
    ("V1LimitRange", "", "v1", "LimitRange"),
    ("V1Binding", "", "v1", "Binding"),
    ("EventsV1Event", "events.k8s.io", "v1", "Event"),
    ("V1Lease", "coordination.k8s.io", "v1", "Lease"),
    ("V1PriorityClass", "scheduling.k8s.io", "v1", "PriorityClass"),
    ("V1Deployment", "apps", "v1", "Deployment"),
    ("V1ReplicaSet", "apps", "v1", "ReplicaSet"),
    ("V1DaemonSet", "apps", "v1", "DaemonSet"),
    ("V1StatefulSet", "apps", "v1", "StatefulSet"),
    ("V1ControllerRevision", "apps", "v1", "ControllerRevision"),
    ("V1Job", "batch", "v1", "Job"),
    ("V1CronJob", "batch", "v1", "CronJob"),
    ("V2HorizontalPodAutoscaler", "autoscaling", "v2", "HorizontalPodAutoscaler"),
    ("V1HorizontalPodAutoscaler", "autoscaling", "v1", "HorizontalPodAutoscaler"),
    ("V1Scale", "autoscaling", "v1", "Scale"),
    ("V1Role", "rbac.authorization.k8s.io", "v1", "Role"),
    ("V1RoleBinding", "rbac.authorization.k8s.io", "v1", "RoleBinding"),
    ("V1ClusterRole", "rbac.authorization.k8s.io", "v1", "ClusterRole"),
    ("V1ClusterRoleBinding", "rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"),
    ("V1CustomResourceDefinition", "apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
    ("V1Eviction", "policy", "v1", "Eviction"),
    ("V1PodDisruptionBudget", "policy", "v1", "PodDisruptionBudget"),
    ("V1PersistentVolume", "", "v1", "PersistentVolume"),
    ("V1ReplicationController", "", "v1", "ReplicationController"),
    ("V1StorageClass", "storage.k8s.io", "v1", "StorageClass"),
    ("V1CSINode", "storage.k8s.io", "v1", "CSINode"),
    ("V1CSIDriver", "storage.k8s.io", "v1", "CSIDriver"),
    ("V1CSIStorageCapacity", "storage.k8s.io", "v1", "CSIStorageCapacity"),
    ("V1VolumeAttachment", "storage.k8s.io", "v1", "VolumeAttachment"),
    ("V1Ingress", "networking.k8s.io", "v1", "Ingress"),
    ("V1IngressClass", "networking.k8s.io", "v1", "IngressClass"),
    ("V1NetworkPolicy", "networking.k8s.io", "v1", "NetworkPolicy"),
    ("V1EndpointSlice", "discovery.k8s.io", "v1", "EndpointSlice"),
    ("V1RuntimeClass", "node.k8s.io", "v1", "RuntimeClass"),
    ("V1APIService", "apiregistration.k8s.io", "v1", "APIService"),
    ("V1CertificateSigningRequest", "certificates.k8s.io", "v1", "CertificateSigningRequest"),
    ("V1MutatingWebhookConfiguration", "admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration"),
    ("V1ValidatingWebhookConfiguration", "admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration"),
    ("V1FlowSchema", "flowcontrol.apiserver.k8s.io", "v1", "FlowSchema"),
    ("V1PriorityLevelConfiguration", "flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration"),
    ("V1VolumeAttributesClass", "storage.k8s.io", "v1", "VolumeAttributesClass"),
    ("V1ServiceCIDR", "networking.k8s.io", "v1", "ServiceCIDR"),
    ("V1IPAddress", "networking.k8s.io", "v1", "IPAddress"),
    ("ResourceV1ResourceClaim", "resource.k8s.io", "v1", "ResourceClaim"),
    ("V1ResourceClaimTemplate", "resource.k8s.io", "v1", "ResourceClaimTemplate"),
    ("V1ResourceSlice", "resource.k8s.io", "v1", "ResourceSlice"),
    ("V1DeviceClass", "resource.k8s.io", "v1", "DeviceClass"),
    ("V1beta2DeviceTaintRule", "resource.k8s.io", "v1beta2", "DeviceTaintRule"),
    ("V1ValidatingAdmissionPolicy", "admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy"),
    ("V1ValidatingAdmissionPolicyBinding", "admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding"),
    ("V1Status", "", "v1", "Status"),
    ("V1DeleteOptions", "", "v1", "DeleteOptions"),
]

META_TYPES = {
    "ObjectMeta",
    "ListMeta",
    "LabelSelector",
    "LabelSelectorRequirement",
    "OwnerReference",
    "ManagedFieldsEntry",
    "Condition",
    "Status",
    "StatusDetails",
    "StatusCause",
    "DeleteOptions",
    "Preconditions",
    "APIResource",
    "WatchEvent",
}
# Kinds whose meta types are served with GVK for every group (Status, DeleteOptions).
META_KINDS = {"Status", "DeleteOptions"}

GROUP_PACKAGE = {
    "": "io.k8s.api.core",
    "events.k8s.io": "io.k8s.api.events",
    "coordination.k8s.io": "io.k8s.api.coordination",
    "scheduling.k8s.io": "io.k8s.api.scheduling",
    "apps": "io.k8s.api.apps",
    "batch": "io.k8s.api.batch",
    "autoscaling": "io.k8s.api.autoscaling",
    "policy": "io.k8s.api.policy",
    "rbac.authorization.k8s.io": "io.k8s.api.rbac",
    "apiextensions.k8s.io": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions",
    "storage.k8s.io": "io.k8s.api.storage",
    "networking.k8s.io": "io.k8s.api.networking",
    "discovery.k8s.io": "io.k8s.api.discovery",
    "node.k8s.io": "io.k8s.api.node",
    "apiregistration.k8s.io": "io.k8s.kube-aggregator.pkg.apis.apiregistration",
    "certificates.k8s.io": "io.k8s.api.certificates",
    "admissionregistration.k8s.io": "io.k8s.api.admissionregistration",
    "flowcontrol.apiserver.k8s.io": "io.k8s.api.flowcontrol",
    "resource.k8s.io": "io.k8s.api.resource",
}
PREFIX_PACKAGE = {
    "Core": "io.k8s.api.core",
    "Events": "io.k8s.api.events",
    "Rbac": "io.k8s.api.rbac",
    "Apiextensions": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions",
    "Authentication": "io.k8s.api.authentication",
    "Storage": "io.k8s.api.storage",
    "Discovery": "io.k8s.api.discovery",
    "Admissionregistration": "io.k8s.api.admissionregistration",
    "Apiregistration": "io.k8s.kube-aggregator.pkg.apis.apiregistration",
    "Flowcontrol": "io.k8s.api.flowcontrol",
    "Networking": "io.k8s.api.networking",
    "Resource": "io.k8s.api.resource",
}

CLASS_RE = re.compile(r"^([A-Z][a-z]+)?(V\d+(?:alpha\d+|beta\d+)?)([A-Z]\w*)$")

QUANTITY_FIELDS = {
    "limits",
    "requests",
    "overhead",
    "capacity",
    "allocatable",
    "hard",
    "used",
    "default",
    "default_request",
    "max",
    "min",
    "max_limit_request_ratio",
    "allocated_resources",
    "size_limit",
    "divisor",
    "average_value",
    "maximum_volume_size",
    "pod_fixed",
    "value",
}
QUANTITY_CLASSES = {
    "V1ResourceRequirements",
    "V1PersistentVolumeSpec",
    "V1CSIStorageCapacity",
    "V1Overhead",
    "V1VolumeResourceRequirements",
    "V1PodSpec",
    "V1NodeStatus",
    "V1PersistentVolumeClaimStatus",
    "V1LimitRangeItem",
    "V1ResourceQuotaSpec",
    "V1ResourceQuotaStatus",
    "V1PodStatus",
    "V1ContainerStatus",
    "V1EmptyDirVolumeSource",
    "V1ResourceFieldSelector",
    "V2MetricTarget",
    "V2MetricValueStatus",
}
MICRO_TIME_FIELDS = {
    ("V1LeaseSpec", "acquire_time"),
    ("V1LeaseSpec", "renew_time"),
    ("CoreV1Event", "event_time"),
    ("EventsV1Event", "event_time"),
    ("CoreV1EventSeries", "last_observed_time"),
    ("EventsV1EventSeries", "last_observed_time"),
}

# Patch / list metadata for well-known lists: (class, json field) → extensions.
_MAP_NAME = {
    "x-kubernetes-patch-merge-key": "name",
    "x-kubernetes-patch-strategy": "merge",
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["name"],
}
_MAP_TYPE = {
    "x-kubernetes-patch-merge-key": "type",
    "x-kubernetes-patch-strategy": "merge",
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["type"],
}
_ATOMIC = {"x-kubernetes-list-type": "atomic"}
LIST_EXT: dict[tuple[str, str], dict[str, Any]] = {
    ("V1PodSpec", "containers"): _MAP_NAME,
    ("V1PodSpec", "initContainers"): _MAP_NAME,
    ("V1PodSpec", "ephemeralContainers"): _MAP_NAME,
    ("V1PodSpec", "volumes"): {**_MAP_NAME, "x-kubernetes-patch-strategy": "merge,retainKeys"},
    ("V1PodSpec", "imagePullSecrets"): _MAP_NAME,
    ("V1PodSpec", "resourceClaims"): {**_MAP_NAME, "x-kubernetes-patch-strategy": "merge,retainKeys"},
    ("V1PodSpec", "schedulingGates"): _MAP_NAME,
    ("V1PodSpec", "tolerations"): _ATOMIC,
    ("V1PodSpec", "hostAliases"): {
        "x-kubernetes-patch-merge-key": "ip",
        "x-kubernetes-patch-strategy": "merge",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["ip"],
    },
    ("V1PodSpec", "topologySpreadConstraints"): {
        "x-kubernetes-patch-merge-key": "topologyKey",
        "x-kubernetes-patch-strategy": "merge",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["topologyKey", "whenUnsatisfiable"],
    },
    ("V1Container", "ports"): {
        "x-kubernetes-patch-merge-key": "containerPort",
        "x-kubernetes-patch-strategy": "merge",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
    },
    ("V1Container", "env"): _MAP_NAME,
    ("V1Container", "volumeMounts"): {
        "x-kubernetes-patch-merge-key": "mountPath",
        "x-kubernetes-patch-strategy": "merge",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["mountPath"],
    },
    ("V1Container", "volumeDevices"): {
        "x-kubernetes-patch-merge-key": "devicePath",
        "x-kubernetes-patch-strategy": "merge",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["devicePath"],
    },
    ("V1Container", "envFrom"): _ATOMIC,
    ("V1Container", "resizePolicy"): _ATOMIC,
    ("V1ObjectMeta", "ownerReferences"): {
        "x-kubernetes-patch-merge-key": "uid",
        "x-kubernetes-patch-strategy": "merge",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["uid"],
    },
    ("V1ObjectMeta", "finalizers"): {"x-kubernetes-patch-strategy": "merge", "x-kubernetes-list-type": "set"},
    ("V1ObjectMeta", "managedFields"): _ATOMIC,
    ("V1ServiceSpec", "ports"): {
        "x-kubernetes-patch-merge-key": "port",
        "x-kubernetes-patch-strategy": "merge",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["port", "protocol"],
    },
    ("V1ServiceSpec", "clusterIPs"): _ATOMIC,
    ("V1ServiceSpec", "ipFamilies"): _ATOMIC,
    ("V1Endpoints", "subsets"): _ATOMIC,
    ("V1NodeStatus", "addresses"): {**_MAP_TYPE, "x-kubernetes-list-map-keys": ["type"]},
    ("V1NodeSpec", "taints"): _ATOMIC,
    ("V1PodStatus", "podIPs"): {
        "x-kubernetes-patch-merge-key": "ip",
        "x-kubernetes-patch-strategy": "merge",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["ip"],
    },
    ("V1StatefulSetSpec", "volumeClaimTemplates"): _ATOMIC,
    ("V1LabelSelector", "matchExpressions"): _ATOMIC,
    ("V1PolicyRule", "verbs"): _ATOMIC,
    ("V1Role", "rules"): _ATOMIC,
    ("V1ClusterRole", "rules"): _ATOMIC,
    ("V1RoleBinding", "subjects"): _ATOMIC,
    ("V1ClusterRoleBinding", "subjects"): _ATOMIC,
    ("V1CustomResourceDefinitionSpec", "versions"): _ATOMIC,
    ("V1CustomResourceDefinitionStatus", "conditions"): _MAP_TYPE,
    ("V1ValidatingWebhookConfiguration", "webhooks"): _MAP_NAME,
    ("V1MutatingWebhookConfiguration", "webhooks"): _MAP_NAME,
    ("V1PersistentVolumeSpec", "accessModes"): _ATOMIC,
    ("V1PersistentVolumeClaimSpec", "accessModes"): _ATOMIC,
    ("V1EndpointSlice", "endpoints"): _ATOMIC,
    ("V1EndpointSlice", "ports"): _ATOMIC,
    ("V1IngressSpec", "rules"): _ATOMIC,
    ("V1IngressSpec", "tls"): _ATOMIC,
}
for _cls in (
    "V1PodStatus",
    "V1NodeStatus",
    "V1NamespaceStatus",
    "V1DeploymentStatus",
    "V1ReplicaSetStatus",
    "V1DaemonSetStatus",
    "V1StatefulSetStatus",
    "V1ServiceStatus",
    "V2HorizontalPodAutoscalerStatus",
    "V1PersistentVolumeClaimStatus",
    "V1LoadBalancerIngress",
    "V1PodDisruptionBudgetStatus",
    "V1CertificateSigningRequestStatus",
    "V1APIServiceStatus",
    "V1FlowSchemaStatus",
    "V1PriorityLevelConfigurationStatus",
):
    LIST_EXT[(_cls, "conditions")] = _MAP_TYPE
LIST_EXT[("V1JobStatus", "conditions")] = _ATOMIC
# Fields whose object value is patched with retainKeys (strategy-style unions).
FIELD_EXT: dict[tuple[str, str], dict[str, Any]] = {
    ("V1DeploymentSpec", "strategy"): {"x-kubernetes-patch-strategy": "retainKeys"},
}
ANY: dict[str, Any] = {"x-kubernetes-preserve-unknown-fields": True}


def def_name(cls_name: str, group: str) -> str:
    """Upstream definition name for a model class (first-reaching root's ``group``)."""
    match = CLASS_RE.match(cls_name)
    if not match:
        raise ValueError(f"unexpected model class name {cls_name}")
    prefix, version, type_name = match.groups()
    if type_name in META_TYPES and version == "V1":
        return META + type_name
    package = PREFIX_PACKAGE[prefix] if prefix else GROUP_PACKAGE[group]
    return f"{package}.{version.lower()}.{type_name}"


def _is_int_or_string(annotation: Any) -> bool:
    args = {
        a.__origin__ if hasattr(a, "__origin__") and a.__origin__ is not typing.Union else a
        for a in typing.get_args(annotation)
    }
    flat = set()
    for a in args:
        base = typing.get_args(a)[0] if typing.get_origin(a) is typing.Annotated else a
        flat.add(base)
    flat.discard(type(None))
    return flat == {int, str}


def _field(cls: Any, attr: str, json_name: str) -> Any:
    """The pydantic field behind ``attr`` (the client renames keywords: ``_exec`` → ``var_exec``)."""
    fields = cls.model_fields
    if attr in fields:
        return fields[attr]
    for field in fields.values():
        if field.alias == json_name:
            return field
    return fields["var_" + attr.lstrip("_")]


class Generator:
    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.schemas: dict[str, Any] = {}
        self.queue: list[str] = []
        self.spec_side: set[str] = set()

    def name_of(self, cls_name: str, group: str) -> str:
        if cls_name not in self.names:
            self.names[cls_name] = def_name(cls_name, group)
            self.queue.append(cls_name)
        return self.names[cls_name]

    def type_schema(self, type_str: str, owner: str, attr: str, group: str) -> dict[str, Any]:
        cls = getattr(m, owner)
        if type_str.startswith("List["):
            return {"type": "array", "items": self.type_schema(type_str[5:-1], owner, attr, group)}
        if type_str.startswith("Dict[str, "):
            return {
                "type": "object",
                "additionalProperties": self.type_schema(type_str[10:-1], owner, attr, group),
            }
        if type_str == "str":
            if owner in QUANTITY_CLASSES and attr in QUANTITY_FIELDS:
                return {"$ref": "#/components/schemas/" + QUANTITY}
            return {"type": "string"}
        if type_str == "int":
            wide = attr.endswith("seconds") or attr in {"generation", "observed_generation"}
            return {"type": "integer", "format": "int64" if wide else "int32"}
        if type_str == "float":
            return {"type": "number", "format": "double"}
        if type_str == "bool":
            return {"type": "boolean"}
        if type_str == "bytes":
            return {"type": "string", "format": "byte"}
        if type_str == "date":
            return {"type": "string", "format": "date"}
        if type_str == "datetime":
            ref = MICRO_TIME if (owner, attr) in MICRO_TIME_FIELDS else TIME
            return {"$ref": "#/components/schemas/" + ref}
        if type_str == "object":
            if _is_int_or_string(_field(cls, attr, cls.attribute_map[attr]).annotation):
                return {"$ref": "#/components/schemas/" + INT_OR_STRING}
            return dict(ANY)
        if hasattr(m, type_str):
            return {"$ref": "#/components/schemas/" + self.name_of(type_str, group)}
        raise ValueError(f"unknown type {type_str} at {owner}.{attr}")

    def build(self, cls_name: str, group: str) -> None:
        cls = getattr(m, cls_name)
        name = self.names[cls_name]
        props: dict[str, Any] = {}
        required: list[str] = []
        for attr, type_str in cls.openapi_types.items():
            json_name = cls.attribute_map[attr]
            schema = self.type_schema(type_str, cls_name, attr, group)
            if cls_name == "V1Secret" and attr == "data":
                schema = {"type": "object", "additionalProperties": {"type": "string", "format": "byte"}}
            ext = {**LIST_EXT.get((cls_name, json_name), {}), **FIELD_EXT.get((cls_name, json_name), {})}
            if ext:
                if "$ref" in schema:
                    schema = {"allOf": [schema]}
                schema.update(ext)
            props[json_name] = schema
            if _field(cls, attr, json_name).is_required():
                required.append(json_name)
        out: dict[str, Any] = {"description": name.rsplit(".", 1)[1], "type": "object", "properties": props}
        if required:
            out["required"] = required
        self.schemas[name] = out

    def run(self) -> dict[str, Any]:
        for cls_name, group, version, kind in ROOTS:
            name = self.name_of(cls_name, group)
            while self.queue:
                nxt = self.queue.pop(0)
                self.build(nxt, group)
            root = self.schemas[name]
            # Clients may omit whole sections; the semantic validators report what is missing.
            kept = [r for r in root.get("required", []) if r not in {"spec", "metadata", "data"}]
            if kept:
                root["required"] = kept
            else:
                root.pop("required", None)
            if kind in META_KINDS:
                continue
            self.schemas[name]["x-kubernetes-group-version-kind"] = [
                {"group": group, "kind": kind, "version": version}
            ]
        self.mark_spec_side()
        for cls_name, name in self.names.items():
            if cls_name not in self.spec_side:
                self.schemas[name].pop("required", None)
        self.schemas[TIME] = {"description": "Time", "type": "string", "format": "date-time"}
        self.schemas[MICRO_TIME] = {"description": "MicroTime", "type": "string", "format": "date-time"}
        self.schemas[INT_OR_STRING] = {
            "description": "IntOrString",
            "type": "string",
            "format": "int-or-string",
            "x-kubernetes-int-or-string": True,
        }
        self.schemas[QUANTITY] = {
            "description": "Quantity",
            "type": "string",
            "format": "quantity",
            "x-kubernetes-int-or-string": True,
        }
        return dict(sorted(self.schemas.items()))

    def mark_spec_side(self) -> None:
        """Keep ``required`` only on types a client writes (reachable without ``status``)."""
        by_name = {v: k for k, v in self.names.items()}
        stack = [c for c, *_ in ROOTS]
        while stack:
            cls_name = stack.pop()
            if cls_name in self.spec_side:
                continue
            self.spec_side.add(cls_name)
            for prop, schema in self.schemas[self.names[cls_name]]["properties"].items():
                if prop == "status" and cls_name not in {"V1Status"}:
                    continue
                for ref in re.findall(r"#/components/schemas/([\w.\-]+)", json.dumps(schema)):
                    if ref in by_name:
                        stack.append(by_name[ref])


def main() -> None:
    schemas = Generator().run()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"schemas": schemas}, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"wrote {len(schemas)} schemas, {OUT.stat().st_size} bytes to {OUT}")


if __name__ == "__main__":
    main()
