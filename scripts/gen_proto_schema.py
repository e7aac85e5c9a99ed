#!/usr/bin/env python3
"""Generate ``src/suanli/apimachinery/protobuf/schema.json`` from Kubernetes ``generated.proto`` files.

Usage::

    python scripts/gen_proto_schema.py PROTO_DIR [-o OUTPUT]

``PROTO_DIR`` is searched recursively for ``*.proto`` files (the ``generated.proto`` files of
k8s.io/api and k8s.io/apimachinery, or stripped copies that keep only ``package``, ``message`` and
field lines).  The .proto files themselves are never committed; only the table this script emits.

The parser is deliberately small: it understands ``package x.y;``, (nested) ``message Name { ... }``
blocks and field lines of the three shapes go-to-protobuf emits::

    optional T name = N;
    repeated T name = N;
    map<K, V> name = N;

Type names are resolved with protobuf scoping rules (``.a.b.C`` is absolute, ``C`` is looked up in the
enclosing message, then the package, then each parent package).

Output (compact JSON)::

    {"kinds":    {"apps/v1 Deployment": "k8s.io.api.apps.v1.Deployment", ...},
     "messages": {"k8s.io.api.apps.v1.Deployment":
                    {"1": ["metadata", "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta", false, null], ...}}}

Each field is ``[json_name, type, repeated, map_key_type_or_null]``; for map fields ``type`` is the value
type.  Field names in the .proto files are the JSON names except for the few listed in ``JSON_NAMES``.
Only messages reachable from the top-level kinds in ``ROOTS`` are kept.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import deque
from pathlib import Path

SCALARS = frozenset({
    "double", "float", "int32", "int64", "uint32", "uint64", "sint32", "sint64",
    "fixed32", "fixed64", "sfixed32", "sfixed64", "bool", "string", "bytes",
})

_API = "k8s.io.api"
_META = "k8s.io.apimachinery.pkg.apis.meta.v1"

# (apiVersion, kind, message full name) for every top-level kind the decoder accepts.
ROOTS: list[tuple[str, str, str]] = [
    ("v1", "Pod", f"{_API}.core.v1.Pod"),
    ("v1", "Service", f"{_API}.core.v1.Service"),
    ("v1", "Endpoints", f"{_API}.core.v1.Endpoints"),
    ("v1", "ConfigMap", f"{_API}.core.v1.ConfigMap"),
    ("v1", "Secret", f"{_API}.core.v1.Secret"),
    ("v1", "ServiceAccount", f"{_API}.core.v1.ServiceAccount"),
    ("v1", "Namespace", f"{_API}.core.v1.Namespace"),
    ("v1", "Node", f"{_API}.core.v1.Node"),
    ("v1", "Event", f"{_API}.core.v1.Event"),
    ("v1", "ResourceQuota", f"{_API}.core.v1.ResourceQuota"),
    ("v1", "LimitRange", f"{_API}.core.v1.LimitRange"),
    ("v1", "PersistentVolumeClaim", f"{_API}.core.v1.PersistentVolumeClaim"),
    ("v1", "PodTemplate", f"{_API}.core.v1.PodTemplate"),
    ("v1", "ReplicationController", f"{_API}.core.v1.ReplicationController"),
    ("v1", "Binding", f"{_API}.core.v1.Binding"),
    ("events.k8s.io/v1", "Event", f"{_API}.events.v1.Event"),
    ("apps/v1", "Deployment", f"{_API}.apps.v1.Deployment"),
    ("apps/v1", "ReplicaSet", f"{_API}.apps.v1.ReplicaSet"),
    ("apps/v1", "DaemonSet", f"{_API}.apps.v1.DaemonSet"),
    ("apps/v1", "StatefulSet", f"{_API}.apps.v1.StatefulSet"),
    ("apps/v1", "ControllerRevision", f"{_API}.apps.v1.ControllerRevision"),
    ("batch/v1", "Job", f"{_API}.batch.v1.Job"),
    ("batch/v1", "CronJob", f"{_API}.batch.v1.CronJob"),
    ("autoscaling/v2", "HorizontalPodAutoscaler", f"{_API}.autoscaling.v2.HorizontalPodAutoscaler"),
    ("autoscaling/v1", "HorizontalPodAutoscaler", f"{_API}.autoscaling.v1.HorizontalPodAutoscaler"),
    ("autoscaling/v1", "Scale", f"{_API}.autoscaling.v1.Scale"),
    ("rbac.authorization.k8s.io/v1", "Role", f"{_API}.rbac.v1.Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding", f"{_API}.rbac.v1.RoleBinding"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole", f"{_API}.rbac.v1.ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", f"{_API}.rbac.v1.ClusterRoleBinding"),
    ("scheduling.k8s.io/v1", "PriorityClass", f"{_API}.scheduling.v1.PriorityClass"),
    ("coordination.k8s.io/v1", "Lease", f"{_API}.coordination.v1.Lease"),
    ("policy/v1", "Eviction", f"{_API}.policy.v1.Eviction"),
    ("policy/v1", "PodDisruptionBudget", f"{_API}.policy.v1.PodDisruptionBudget"),
    ("networking.k8s.io/v1", "Ingress", f"{_API}.networking.v1.Ingress"),
    ("authentication.k8s.io/v1", "TokenRequest", f"{_API}.authentication.v1.TokenRequest"),
    ("authentication.k8s.io/v1", "TokenReview", f"{_API}.authentication.v1.TokenReview"),
    ("authentication.k8s.io/v1", "SelfSubjectReview", f"{_API}.authentication.v1.SelfSubjectReview"),

    ("authorization.k8s.io/v1", "SelfSubjectAccessReview", f"{_API}.authorization.v1.SelfSubjectAccessReview"),
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview", f"{_API}.authorization.v1.SelfSubjectRulesReview"),
    ("authorization.k8s.io/v1", "SubjectAccessReview", f"{_API}.authorization.v1.SubjectAccessReview"),
    ("authorization.k8s.io/v1", "LocalSubjectAccessReview", f"{_API}.authorization.v1.LocalSubjectAccessReview"),
    ("v1", "PersistentVolume", f"{_API}.core.v1.PersistentVolume"),
    ("storage.k8s.io/v1", "StorageClass", f"{_API}.storage.v1.StorageClass"),
    ("storage.k8s.io/v1", "CSINode", f"{_API}.storage.v1.CSINode"),
    ("storage.k8s.io/v1", "CSIDriver", f"{_API}.storage.v1.CSIDriver"),
    ("storage.k8s.io/v1", "CSIStorageCapacity", f"{_API}.storage.v1.CSIStorageCapacity"),
    ("storage.k8s.io/v1", "VolumeAttachment", f"{_API}.storage.v1.VolumeAttachment"),
    ("networking.k8s.io/v1", "IngressClass", f"{_API}.networking.v1.IngressClass"),
    ("networking.k8s.io/v1", "NetworkPolicy", f"{_API}.networking.v1.NetworkPolicy"),
    ("discovery.k8s.io/v1", "EndpointSlice", f"{_API}.discovery.v1.EndpointSlice"),
    ("node.k8s.io/v1", "RuntimeClass", f"{_API}.node.v1.RuntimeClass"),
    ("certificates.k8s.io/v1", "CertificateSigningRequest", f"{_API}.certificates.v1.CertificateSigningRequest"),
    ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration",
     f"{_API}.admissionregistration.v1.MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration",
     f"{_API}.admissionregistration.v1.ValidatingWebhookConfiguration"),
    ("flowcontrol.apiserver.k8s.io/v1", "FlowSchema", f"{_API}.flowcontrol.v1.FlowSchema"),
    ("flowcontrol.apiserver.k8s.io/v1", "PriorityLevelConfiguration",
     f"{_API}.flowcontrol.v1.PriorityLevelConfiguration"),
    # DeleteOptions is registered in every group version; "*" matches any apiVersion.
    ("*", "DeleteOptions", f"{_META}.DeleteOptions"),
]

# Fields whose protobuf name differs from the Go struct's JSON tag (go-to-protobuf derives the proto name
# from the Go field name for these).  (message, proto name) -> JSON name.
JSON_NAMES: dict[tuple[str, str], str] = {
    (f"{_API}.authentication.v1.BoundObjectReference", "uID"): "uid",
    (f"{_API}.networking.v1.IngressClassParametersReference", "aPIGroup"): "apiGroup",
}

_COMMENT = re.compile(r"//.*$")
_PACKAGE = re.compile(r"^package\s+([\w.]+)\s*;")
_MESSAGE = re.compile(r"^message\s+(\w+)\s*\{")
_FIELD = re.compile(r"^(optional|repeated|required)\s+([\w.]+)\s+(\w+)\s*=\s*(\d+)")
_SKIP = re.compile(r"^(option|reserved|extensions)\s")
_MAP = re.compile(r"^map\s*<\s*([\w.]+)\s*,\s*([\w.]+)\s*>\s+(\w+)\s*=\s*(\d+)")

# Raw field: (json name, raw type name, repeated, map key type or None)
RawField = tuple[str, str, bool, str | None]


class ProtoParseError(ValueError):
    """A .proto line the small parser cannot place."""


def parse_proto(text: str, messages: dict[str, tuple[str, dict[int, RawField]]]) -> None:
    """Add every message of one .proto file to ``messages``: full name -> (scope, {number: RawField})."""
    package = ""
    stack: list[str] = []
    for lineno, raw_line in enumerate(text.splitlines(), 1):
        line = _COMMENT.sub("", raw_line).strip()
        if not line:
            continue
        if m := _PACKAGE.match(line):
            package = m.group(1)
            continue
        if m := _MESSAGE.match(line):
            parent = stack[-1] if stack else package
            full = f"{parent}.{m.group(1)}" if parent else m.group(1)
            stack.append(full)
            messages[full] = (full, {})
            if line.endswith("}"):  # `message Patch {}` on one line
                stack.pop()
            continue
        if line.startswith("}"):
            if stack:
                stack.pop()
            continue
        if not stack:
            continue  # syntax, import, option lines at file level
        fields = messages[stack[-1]][1]
        if m := _MAP.match(line):
            key, value, name, num = m.groups()
            fields[int(num)] = (name, value, False, key)
        elif m := _FIELD.match(line):
            label, typ, name, num = m.groups()
            fields[int(num)] = (name, typ, label == "repeated", None)
        elif _SKIP.match(line):
            continue
        else:
            raise ProtoParseError(f"line {lineno}: cannot parse {raw_line.strip()!r}")


def resolve(typ: str, scope: str, known: dict[str, tuple[str, dict[int, RawField]]]) -> str:
    """Resolve a field type name seen inside message ``scope`` to a full message name (or a scalar)."""
    if typ in SCALARS:
        return typ
    if typ.startswith("."):
        return typ[1:]
    parts = scope.split(".")
    while parts:
        candidate = ".".join([*parts, typ])
        if candidate in known:
            return candidate
        parts.pop()
    if typ in known:
        return typ
    raise ProtoParseError(f"unresolved type {typ!r} in {scope}")


def build_table(proto_dir: Path) -> dict[str, object]:
    """Parse every .proto below ``proto_dir`` and return the JSON-ready table for the reachable messages."""
    raw: dict[str, tuple[str, dict[int, RawField]]] = {}
    for path in sorted(proto_dir.rglob("*.proto")):
        parse_proto(path.read_text(encoding="utf-8"), raw)

    out: dict[str, dict[str, list[object]]] = {}
    queue = deque(msg for _, _, msg in ROOTS)
    while queue:
        name = queue.popleft()
        if name in out:
            continue
        if name not in raw:
            raise ProtoParseError(f"message {name} is referenced but not defined in {proto_dir}")
        scope, fields = raw[name]
        entry: dict[str, list[object]] = {}
        for num in sorted(fields):
            proto_name, typ, repeated, key = fields[num]
            json_name = JSON_NAMES.get((name, proto_name), proto_name)
            full = resolve(typ, scope, raw)
            entry[str(num)] = [json_name, full, repeated, key]
            if full not in SCALARS:
                queue.append(full)
        out[name] = entry
    kinds = {f"{api_version} {kind}": msg for api_version, kind, msg in ROOTS}
    return {"kinds": kinds, "messages": dict(sorted(out.items()))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("proto_dir", type=Path, help="directory holding generated.proto files (searched recursively)")
    parser.add_argument("-o", "--output", type=Path,
                        default=Path(__file__).resolve().parent.parent
                        / "src" / "suanli" / "apimachinery" / "protobuf" / "schema.json")
    args = parser.parse_args(argv)
    table = build_table(args.proto_dir)
    args.output.write_text(json.dumps(table, separators=(",", ":"), sort_keys=False) + "\n", encoding="utf-8")
    messages = table["messages"]
    assert isinstance(messages, dict)
    print(f"wrote {args.output}: {len(messages)} messages, {len(ROOTS)} kinds", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
