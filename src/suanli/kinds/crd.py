"""CustomResourceDefinitions: validation, defaults, status and conversion to ResourceTypes.

* :func:`default_crd` fills upstream defaults (``singular``, ``listKind``, ``conversion``).
* :func:`validate_crd` returns the causes upstream reports for a bad CRD (name must be
  ``<plural>.<group>``, scope, exactly one storage version, structural schemas,
  printer-column JSONPaths, scale paths, selectable fields).
* :func:`resource_types_from_crd` turns each served version into a :class:`ResourceType`;
  all versions of one CRD share the bucket ``<group>/<plural>``.
* :func:`crd_status_accepted` builds ``status`` with ``acceptedNames`` and the
  ``NamesAccepted`` / ``Established`` conditions set to True.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from suanli.apimachinery.errors import Cause
from suanli.apimachinery.objects import Obj, deep_copy, now_rfc3339
from suanli.apimachinery.schema import check_structural, format_value
from suanli.kinds.registry import PrinterColumn, ResourceType, ScaleSpec
from suanli.kinds.strategy_base import DEFAULT_STRATEGY, STATUS_SUBRESOURCE_STRATEGY

__all__ = [
    "crd_status_accepted",
    "default_crd",
    "resource_types_from_crd",
    "storage_version",
    "validate_crd",
]

_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SIMPLE_JSONPATH = re.compile(r"^(\.[A-Za-z0-9_\-]+|\[['\"][^'\"]+['\"]\]|\[\d+\])+$")
_COLUMN_TYPES = ("boolean", "date", "integer", "number", "string")
_SCOPES = ("Cluster", "Namespaced")


def _spec(crd: Obj) -> dict[str, Any]:
    spec = crd.get("spec")
    return spec if isinstance(spec, dict) else {}


def _names(crd: Obj) -> dict[str, Any]:
    names = _spec(crd).get("names")
    return names if isinstance(names, dict) else {}


def _versions(crd: Obj) -> list[dict[str, Any]]:
    versions = _spec(crd).get("versions")
    return [v for v in versions if isinstance(v, dict)] if isinstance(versions, list) else []


def default_crd(crd: Obj) -> None:
    """Apply upstream CRD defaults in place (``singular``, ``listKind``, ``conversion``)."""
    spec = crd.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    names = spec.get("names")
    if isinstance(names, dict) and isinstance(names.get("kind"), str):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")
    spec.setdefault("conversion", {"strategy": "None"})


def storage_version(crd: Obj) -> str:
    """Name of the version marked ``storage: true`` (first one if several; "" if none)."""
    for version in _versions(crd):
        if version.get("storage"):
            return str(version.get("name") or "")
    return ""


def validate_crd(crd: Obj) -> list[Cause]:
    """Causes that make ``crd`` invalid (empty list = valid)."""
    errs: list[Cause] = []
    spec = _spec(crd)
    names = _names(crd)
    group = spec.get("group")
    plural = names.get("plural")
    name = (crd.get("metadata") or {}).get("name") or ""
    if not group:
        errs.append(Cause("spec.group", "Required value", "FieldValueRequired"))
    elif not isinstance(group, str) or "." not in group:
        errs.append(
            Cause(
                "spec.group",
                f"Invalid value: {format_value(group)}: should be a domain with at least one dot",
            )
        )
    if isinstance(plural, str) and isinstance(group, str) and name != f"{plural}.{group}":
        errs.append(
            Cause(
                "metadata.name",
                f'Invalid value: {format_value(name)}: must be spec.names.plural+"."+spec.group',
            )
        )
    _validate_names(names, errs)
    scope = spec.get("scope")
    if not scope:
        errs.append(Cause("spec.scope", "Required value", "FieldValueRequired"))
    elif scope not in _SCOPES:
        errs.append(
            Cause(
                "spec.scope",
                f'Unsupported value: {format_value(scope)}: supported values: "Cluster", "Namespaced"',
                "FieldValueNotSupported",
            )
        )
    versions = _versions(crd)
    if not versions:
        errs.append(
            Cause("spec.versions", "Required value: must have at least one version", "FieldValueRequired")
        )
    else:
        storage = [v for v in versions if v.get("storage")]
        if len(storage) != 1:
            errs.append(
                Cause(
                    "spec.versions",
                    f"Invalid value: {len(storage)}: must have exactly one version marked as storage version",
                )
            )
        seen: set[str] = set()
        for i, version in enumerate(versions):
            _validate_version(version, f"spec.versions[{i}]", seen, errs)
    if spec.get("preserveUnknownFields"):
        errs.append(
            Cause(
                "spec.preserveUnknownFields",
                "Invalid value: true: must be false in order to use defaults in the schema",
            )
        )
    conversion = spec.get("conversion")
    if isinstance(conversion, dict) and conversion.get("strategy") not in (None, "None", "Webhook"):
        errs.append(
            Cause(
                "spec.conversion.strategy",
                f"Unsupported value: {format_value(conversion['strategy'])}: "
                'supported values: "None", "Webhook"',
                "FieldValueNotSupported",
            )
        )
    return errs


def _validate_names(names: dict[str, Any], errs: list[Cause]) -> None:
    for key in ("plural", "kind"):
        if not names.get(key):
            errs.append(Cause(f"spec.names.{key}", "Required value", "FieldValueRequired"))
    for key in ("plural", "singular"):
        value = names.get(key)
        if isinstance(value, str) and value and not _DNS1035.match(value):
            errs.append(
                Cause(
                    f"spec.names.{key}",
                    f"Invalid value: {format_value(value)}: a lowercase RFC 1123 "
                    "label must consist of lower case alphanumeric characters or '-', and must start "
                    "and end with an alphanumeric character",
                )
            )
    for i, short in enumerate(names.get("shortNames") or []):
        if not isinstance(short, str) or not _DNS1123_LABEL.match(short):
            errs.append(
                Cause(
                    f"spec.names.shortNames[{i}]",
                    f"Invalid value: {format_value(short)}: a lowercase "
                    "RFC 1123 label must consist of lower case alphanumeric characters or '-'",
                )
            )
    kind = names.get("kind")
    if isinstance(kind, str) and kind and names.get("listKind") == kind:
        errs.append(
            Cause(
                "spec.names.listKind",
                f"Invalid value: {format_value(kind)}: kind and listKind may not be the same",
            )
        )


def _validate_version(version: dict[str, Any], path: str, seen: set[str], errs: list[Cause]) -> None:
    vname = version.get("name")
    if not vname:
        errs.append(Cause(f"{path}.name", "Required value", "FieldValueRequired"))
    elif not isinstance(vname, str) or not _DNS1035.match(vname):
        errs.append(
            Cause(
                f"{path}.name",
                f"Invalid value: {format_value(vname)}: a DNS-1035 label must consist "
                "of lower case alphanumeric characters or '-', start with an alphabetic character, "
                "and end with an alphanumeric character",
            )
        )
    elif vname in seen:
        errs.append(Cause(f"{path}.name", f"Duplicate value: {format_value(vname)}", "FieldValueDuplicate"))
    else:
        seen.add(vname)
    schema = (
        (version.get("schema") or {}).get("openAPIV3Schema")
        if isinstance(version.get("schema"), dict)
        else None
    )
    if not isinstance(schema, dict):
        errs.append(
            Cause(
                f"{path}.schema.openAPIV3Schema", "Required value: schemas are required", "FieldValueRequired"
            )
        )
    else:
        errs.extend(check_structural(schema, f"{path}.schema.openAPIV3Schema"))
    for i, column in enumerate(version.get("additionalPrinterColumns") or []):
        cpath = f"{path}.additionalPrinterColumns[{i}]"
        if not isinstance(column, dict):
            errs.append(Cause(cpath, "Invalid value: must be an object"))
            continue
        if not column.get("name"):
            errs.append(Cause(f"{cpath}.name", "Required value", "FieldValueRequired"))
        ctype = column.get("type")
        if ctype not in _COLUMN_TYPES:
            errs.append(
                Cause(
                    f"{cpath}.type",
                    f"Unsupported value: {format_value(ctype)}: supported values: "
                    + ", ".join(f'"{t}"' for t in _COLUMN_TYPES),
                    "FieldValueNotSupported",
                )
            )
        jp = column.get("jsonPath")
        if not jp:
            errs.append(Cause(f"{cpath}.jsonPath", "Required value", "FieldValueRequired"))
        elif not isinstance(jp, str) or not _SIMPLE_JSONPATH.match(jp):
            errs.append(
                Cause(
                    f"{cpath}.jsonPath",
                    f"Invalid value: {format_value(jp)}: must be a simple json path starting with .",
                )
            )
    subresources = version.get("subresources")
    if isinstance(subresources, dict) and isinstance(subresources.get("scale"), dict):
        scale = subresources["scale"]
        spath = f"{path}.subresources.scale"
        for key, prefixes in (
            ("specReplicasPath", (".spec.",)),
            ("statusReplicasPath", (".status.",)),
            ("labelSelectorPath", (".spec.", ".status.")),
        ):
            value = scale.get(key)
            if value is None:
                if key != "labelSelectorPath":
                    errs.append(Cause(f"{spath}.{key}", "Required value", "FieldValueRequired"))
                continue
            if (
                not isinstance(value, str)
                or not value.startswith(prefixes)
                or not _SIMPLE_JSONPATH.match(value)
            ):
                under = " or ".join(p.rstrip(".") for p in prefixes)
                errs.append(
                    Cause(
                        f"{spath}.{key}",
                        f"Invalid value: {format_value(value)}: should be a json path under {under}",
                    )
                )
    fields = version.get("selectableFields") or []
    if len(fields) > 8:
        errs.append(
            Cause(
                f"{path}.selectableFields",
                f"Too many: {len(fields)}: must have at most 8 items",
                "FieldValueTooMany",
            )
        )
    for i, field in enumerate(fields):
        jp = field.get("jsonPath") if isinstance(field, dict) else None
        fpath = f"{path}.selectableFields[{i}].jsonPath"
        if not jp:
            errs.append(Cause(fpath, "Required value", "FieldValueRequired"))
        elif not isinstance(jp, str) or not _SIMPLE_JSONPATH.match(jp):
            errs.append(
                Cause(fpath, f"Invalid value: {format_value(jp)}: must be a simple json path starting with .")
            )
        elif isinstance(schema, dict):
            leaf = _schema_at(schema, jp)
            if leaf is None:
                errs.append(
                    Cause(
                        fpath,
                        f"Invalid value: {format_value(jp)}: is an invalid path: does not refer "
                        "to a field in the schema",
                    )
                )
            elif leaf.get("type") not in ("string", "integer", "boolean"):
                errs.append(
                    Cause(
                        fpath,
                        f"Invalid value: {format_value(jp)}: selectable fields must be of type "
                        "string, integer or boolean",
                    )
                )


def _schema_at(schema: Mapping[str, Any], jsonpath: str) -> Mapping[str, Any] | None:
    node: Mapping[str, Any] | None = schema
    for part in jsonpath.lstrip(".").split("."):
        props = node.get("properties") if node is not None else None
        node = props.get(part) if isinstance(props, Mapping) else None
        if node is None:
            return None
    return node


def resource_types_from_crd(crd: Obj) -> list[ResourceType]:
    """One :class:`ResourceType` per served version of ``crd`` (assumed valid and defaulted)."""
    spec = _spec(crd)
    names = _names(crd)
    group = str(spec.get("group") or "")
    plural = str(names.get("plural") or "")
    kind = str(names.get("kind") or "")
    crd_name = str((crd.get("metadata") or {}).get("name") or f"{plural}.{group}")
    out: list[ResourceType] = []
    for version in _versions(crd):
        if not version.get("served", True):
            continue
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        subresources = version.get("subresources") if isinstance(version.get("subresources"), dict) else {}
        subs: list[str] = []
        scale: ScaleSpec | None = None
        if isinstance(subresources, dict):
            if "status" in subresources:
                subs.append("status")
            sc = subresources.get("scale")
            if isinstance(sc, dict):
                subs.append("scale")
                scale = ScaleSpec(
                    str(sc.get("specReplicasPath") or ".spec.replicas"),
                    str(sc.get("statusReplicasPath") or ".status.replicas"),
                    sc.get("labelSelectorPath"),
                )
        columns = tuple(
            PrinterColumn(
                name=str(c.get("name")),
                type=str(c.get("type") or "string"),
                json_path=str(c.get("jsonPath") or ""),
                priority=int(c.get("priority") or 0),
                format=str(c.get("format") or ""),
                description=str(c.get("description") or ""),
            )
            for c in version.get("additionalPrinterColumns") or []
            if isinstance(c, dict)
        )
        fields = tuple(
            str(f["jsonPath"]).lstrip(".")
            for f in version.get("selectableFields") or []
            if isinstance(f, dict) and f.get("jsonPath")
        )
        out.append(
            ResourceType(
                group=group,
                version=str(version.get("name")),
                kind=kind,
                plural=plural,
                singular=str(names.get("singular") or kind.lower()),
                namespaced=spec.get("scope") != "Cluster",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=tuple(subs),
                scale=scale,
                schema=deep_copy(schema) if isinstance(schema, dict) else None,
                printer_columns=columns,
                selectable_fields=fields,
                list_kind=str(names.get("listKind") or kind + "List"),
                builtin=False,
                has_spec_generation=True,
                preserve_unknown_fields=bool(
                    isinstance(schema, dict) and schema.get("x-kubernetes-preserve-unknown-fields")
                ),
                storage_key=f"{group}/{plural}",
                crd_name=crd_name,
                strategy=STATUS_SUBRESOURCE_STRATEGY if "status" in subs else DEFAULT_STRATEGY,
            )
        )
    return out


def _condition(ctype: str, reason: str, message: str, old: list[Any], now: str) -> dict[str, Any]:
    for cond in old:
        if isinstance(cond, dict) and cond.get("type") == ctype and cond.get("status") == "True":
            since = cond.get("lastTransitionTime") or now
            break
    else:
        since = now
    return {
        "type": ctype,
        "status": "True",
        "lastTransitionTime": since,
        "reason": reason,
        "message": message,
    }


def crd_status_accepted(crd: Obj, now: str | None = None) -> dict[str, Any]:
    """The ``status`` of an accepted, established CRD (names accepted as requested).

    Conditions: ``NamesAccepted`` (``NoConflicts``, "no conflicts found") and
    ``Established`` (``InitialNamesAccepted``, "the initial names have been accepted");
    ``lastTransitionTime`` is kept from an existing True condition. ``storedVersions``
    accumulates the storage version.
    """
    now = now or now_rfc3339()
    names = _names(crd)
    kind = str(names.get("kind") or "")
    accepted: dict[str, Any] = {
        "plural": names.get("plural", ""),
        "singular": names.get("singular") or kind.lower(),
        "kind": kind,
        "listKind": names.get("listKind") or kind + "List",
    }
    if names.get("shortNames"):
        accepted["shortNames"] = list(names["shortNames"])
    if names.get("categories"):
        accepted["categories"] = list(names["categories"])
    old_status = crd.get("status") if isinstance(crd.get("status"), dict) else {}
    old = old_status.get("conditions") or [] if isinstance(old_status, dict) else []
    stored = list(old_status.get("storedVersions") or []) if isinstance(old_status, dict) else []
    current = storage_version(crd)
    if current and current not in stored:
        stored.append(current)
    return {
        "acceptedNames": accepted,
        "conditions": [
            _condition("NamesAccepted", "NoConflicts", "no conflicts found", old, now),
            _condition(
                "Established", "InitialNamesAccepted", "the initial names have been accepted", old, now
            ),
        ],
        "storedVersions": stored,
    }
