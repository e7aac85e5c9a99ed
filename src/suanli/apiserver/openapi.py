"""OpenAPI v3 documents (``/openapi/v3``) for every served group/version.

``GET /openapi/v3`` returns :func:`openapi_root`: ``{"paths": {"api/v1": {"serverRelativeURL":
"/openapi/v3/api/v1?hash=<HEX>"}, "apis/apps/v1": …}}``. Each group/version document
(:func:`openapi_document`) has ``paths`` with list/create/read/replace/patch/delete
operations per resource (and its ``status``/``scale``/… subresources), each tagged with
``x-kubernetes-group-version-kind`` and, for POST/PUT/PATCH, the ``dryRun``,
``fieldManager`` and ``fieldValidation`` query parameters (kubectl's ``--validate=strict``
checks the PATCH operation for ``fieldValidation``), plus ``components.schemas`` with every
referenced definition. Built-ins use the generated upstream-named definitions; CRD
versions use their ``openAPIV3Schema`` with ``metadata`` replaced by a ``$ref`` to
ObjectMeta, named like upstream (``sh.volcano.scheduling.v1beta1.Queue``).

Documents are cached per registry and rebuilt when ``registry.generation`` changes; the
hash is the upper-case SHA-512 of the document's canonical JSON, so it changes exactly
when the content does.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from dataclasses import dataclass, field
from typing import Any

from suanli.apimachinery.objects import deep_copy
from suanli.kinds.builtin import builtin_definitions, definition_name
from suanli.kinds.registry import Registry, ResourceType

__all__ = ["gv_path", "openapi_document", "openapi_document_json", "openapi_root", "schema_name"]

_REF = "#/components/schemas/"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
OBJECT_META = _META + "ObjectMeta"
LIST_META = _META + "ListMeta"
STATUS = _META + "Status"
DELETE_OPTIONS = _META + "DeleteOptions"
PATCH = _META + "Patch"
WATCH_EVENT = _META + "WatchEvent"
SCALE = "io.k8s.api.autoscaling.v1.Scale"

_EXTRA_DEFINITIONS: dict[str, dict[str, Any]] = {
    PATCH: {"description": "Patch", "type": "object"},
    WATCH_EVENT: {
        "description": "WatchEvent",
        "type": "object",
        "required": ["type", "object"],
        "properties": {"type": {"type": "string"}, "object": {"x-kubernetes-preserve-unknown-fields": True}},
    },
}
# Always present in a group/version document (clients and explain look them up).
_ALWAYS = (
    OBJECT_META,
    LIST_META,
    STATUS,
    DELETE_OPTIONS,
    PATCH,
    WATCH_EVENT,
    _META + "Time",
    _META + "MicroTime",
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
    "io.k8s.apimachinery.pkg.api.resource.Quantity",
)
_SUBRESOURCE_KINDS = {
    "scale": ("autoscaling", "v1", "Scale", SCALE),
    "binding": ("", "v1", "Binding", "io.k8s.api.core.v1.Binding"),
    "eviction": ("policy", "v1", "Eviction", "io.k8s.api.policy.v1.Eviction"),
}


def gv_path(group: str, version: str) -> str:
    """Root key of a group/version: ``api/v1`` or ``apis/<group>/<version>``."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def schema_name(rt: ResourceType, kind: str | None = None) -> str:
    """Definition name of ``rt``'s kind (or ``kind``, e.g. its List) in the documents.

    Built-ins use upstream names (``io.k8s.api.apps.v1.Deployment``); custom resources use
    the reversed group (``scheduling.volcano.sh`` → ``sh.volcano.scheduling.v1beta1.Queue``).
    """
    kind = kind or rt.kind
    if _is_builtin(rt):
        return definition_name(rt.group, rt.version, kind)
    reversed_group = ".".join(reversed(rt.group.split("."))) if rt.group else "core"
    return f"{reversed_group}.{rt.version}.{kind}"


def _is_builtin(rt: ResourceType) -> bool:
    return rt.builtin and definition_name(rt.group, rt.version, rt.kind) in builtin_definitions()


# -- parameters -------------------------------------------------------------------------------


def _query(name: str, type_: str = "string") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": type_, "uniqueItems": True}
    return {"name": name, "in": "query", "schema": schema}


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "uniqueItems": True}}


_LIST_PARAMS = [
    _query("allowWatchBookmarks", "boolean"),
    _query("continue"),
    _query("fieldSelector"),
    _query("labelSelector"),
    _query("limit", "integer"),
    _query("resourceVersion"),
    _query("resourceVersionMatch"),
    _query("sendInitialEvents", "boolean"),
    _query("timeoutSeconds", "integer"),
    _query("watch", "boolean"),
]
_WRITE_PARAMS = [_query("dryRun"), _query("fieldManager"), _query("fieldValidation")]
_PATCH_PARAMS = [*_WRITE_PARAMS, _query("force", "boolean")]
_DELETE_PARAMS = [
    _query("dryRun"),
    _query("gracePeriodSeconds", "integer"),
    _query("orphanDependents", "boolean"),
    _query("propagationPolicy"),
]
_PRETTY = _query("pretty")


def _content(ref: str, types: tuple[str, ...] = ("application/json", "application/yaml")) -> dict[str, Any]:
    return {t: {"schema": {"$ref": _REF + ref}} for t in types}


def _ok(ref: str, code: str = "200") -> dict[str, Any]:
    return {code: {"description": "OK", "content": _content(ref)}, "401": {"description": "Unauthorized"}}


def _gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "version": version, "kind": kind}


def _camel(rt: ResourceType) -> str:
    """Operation-id infix: ``CoreV1``, ``AppsV1``, ``RbacAuthorizationV1``, ``SchedulingVolcanoShV1beta1``."""
    group = rt.group.removesuffix(".k8s.io") if rt.group else "core"
    return (
        "".join(p[:1].upper() + p[1:] for p in group.replace("-", ".").split(".")) + rt.version.capitalize()
    )


# -- paths ------------------------------------------------------------------------------------


def _op(
    action: str,
    op_id: str,
    tag: str,
    gvk: dict[str, str],
    responses: dict[str, Any],
    params: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "tags": [tag],
        "operationId": op_id,
        "responses": responses,
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": dict(gvk),
    }
    if params:
        op["parameters"] = [dict(p) for p in params]
    if body is not None:
        op["requestBody"] = body
    return op


def _patch_body(builtin: bool) -> dict[str, Any]:
    types = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]
    if builtin:
        types.insert(2, "application/strategic-merge-patch+json")
    return {"content": {t: {"schema": {"$ref": _REF + PATCH}} for t in types}, "required": True}


def _resource_paths(rt: ResourceType) -> dict[str, Any]:
    verbs = set(rt.verbs)
    prefix = "/" + gv_path(rt.group, rt.version)
    scope = "Namespaced" if rt.namespaced else ""
    collection = (
        f"{prefix}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{prefix}/{rt.plural}"
    )
    item = collection + "/{name}"
    tag = f"{rt.group.removesuffix('.k8s.io').replace('.', '') if rt.group else 'core'}_{rt.version}"
    infix = _camel(rt)
    kind_ref = schema_name(rt)
    list_ref = schema_name(rt, rt.list_kind)
    gvk = _gvk(rt.group, rt.version, rt.kind)
    builtin = _is_builtin(rt)
    ns_param = [_path_param("namespace")] if rt.namespaced else []
    paths: dict[str, Any] = {}

    coll: dict[str, Any] = {"parameters": [*ns_param, _PRETTY]}
    if "list" in verbs:
        coll["get"] = _op("list", f"list{infix}{scope}{rt.kind}", tag, gvk, _ok(list_ref), _LIST_PARAMS)
    if "create" in verbs:
        coll["post"] = _op(
            "post",
            f"create{infix}{scope}{rt.kind}",
            tag,
            gvk,
            {**_ok(kind_ref), **_ok(kind_ref, "201"), **_ok(kind_ref, "202")},
            _WRITE_PARAMS,
            {"content": _content(kind_ref), "required": True},
        )
    if "deletecollection" in verbs:
        coll["delete"] = _op(
            "deletecollection",
            f"delete{infix}Collection{scope}{rt.kind}",
            tag,
            gvk,
            _ok(STATUS),
            [*_DELETE_PARAMS, *_LIST_PARAMS],
            {"content": _content(DELETE_OPTIONS)},
        )
    paths[collection] = coll

    single: dict[str, Any] = {"parameters": [_path_param("name"), *ns_param, _PRETTY]}
    if "get" in verbs:
        single["get"] = _op("get", f"read{infix}{scope}{rt.kind}", tag, gvk, _ok(kind_ref))
    if "update" in verbs:
        single["put"] = _op(
            "put",
            f"replace{infix}{scope}{rt.kind}",
            tag,
            gvk,
            {**_ok(kind_ref), **_ok(kind_ref, "201")},
            _WRITE_PARAMS,
            {"content": _content(kind_ref), "required": True},
        )
    if "patch" in verbs:
        single["patch"] = _op(
            "patch",
            f"patch{infix}{scope}{rt.kind}",
            tag,
            gvk,
            {**_ok(kind_ref), **_ok(kind_ref, "201")},
            _PATCH_PARAMS,
            _patch_body(builtin),
        )
    if "delete" in verbs:
        single["delete"] = _op(
            "delete",
            f"delete{infix}{scope}{rt.kind}",
            tag,
            gvk,
            {**_ok(STATUS), **_ok(STATUS, "202")},
            _DELETE_PARAMS,
            {"content": _content(DELETE_OPTIONS)},
        )
    paths[item] = single

    if rt.namespaced and "list" in verbs:
        paths[f"{prefix}/{rt.plural}"] = {
            "parameters": [_PRETTY],
            "get": _op(
                "list", f"list{infix}{rt.kind}ForAllNamespaces", tag, gvk, _ok(list_ref), _LIST_PARAMS
            ),
        }

    for sub in rt.subresources:
        sub_path = f"{item}/{sub}"
        title = sub[:1].upper() + sub[1:]
        params = [_path_param("name"), *ns_param, _PRETTY]
        if sub in ("status", "scale"):
            s_gvk, s_ref = gvk, kind_ref
            if sub == "scale":
                g, v, k, s_ref = _SUBRESOURCE_KINDS["scale"]
                s_gvk = _gvk(g, v, k)
            ops: dict[str, Any] = {"parameters": params}
            ops["get"] = _op("get", f"read{infix}{scope}{rt.kind}{title}", tag, s_gvk, _ok(s_ref))
            ops["put"] = _op(
                "put",
                f"replace{infix}{scope}{rt.kind}{title}",
                tag,
                s_gvk,
                {**_ok(s_ref), **_ok(s_ref, "201")},
                _WRITE_PARAMS,
                {"content": _content(s_ref), "required": True},
            )
            ops["patch"] = _op(
                "patch",
                f"patch{infix}{scope}{rt.kind}{title}",
                tag,
                s_gvk,
                {**_ok(s_ref), **_ok(s_ref, "201")},
                _PATCH_PARAMS,
                _patch_body(builtin),
            )
            paths[sub_path] = ops
        elif sub in ("binding", "eviction"):
            g, v, k, s_ref = _SUBRESOURCE_KINDS[sub]
            paths[sub_path] = {
                "parameters": params,
                "post": _op(
                    "post",
                    f"create{infix}{scope}{rt.kind}{title}",
                    tag,
                    _gvk(g, v, k),
                    {**_ok(s_ref), **_ok(s_ref, "201"), **_ok(s_ref, "202")},
                    _WRITE_PARAMS,
                    {"content": _content(s_ref), "required": True},
                ),
            }
        elif sub == "log":
            paths[sub_path] = {
                "parameters": params,
                "get": _op(
                    "get",
                    f"read{infix}{scope}{rt.kind}Log",
                    tag,
                    gvk,
                    {"200": {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}},
                    [
                        _query("container"),
                        _query("follow", "boolean"),
                        _query("previous", "boolean"),
                        _query("sinceSeconds", "integer"),
                        _query("tailLines", "integer"),
                        _query("timestamps", "boolean"),
                        _query("limitBytes", "integer"),
                    ],
                ),
            }
        elif sub == "finalize":
            paths[sub_path] = {
                "parameters": params,
                "put": _op(
                    "put",
                    f"replace{infix}{scope}{rt.kind}Finalize",
                    tag,
                    gvk,
                    {**_ok(kind_ref), **_ok(kind_ref, "201")},
                    _WRITE_PARAMS,
                    {"content": _content(kind_ref), "required": True},
                ),
            }
    return paths


# -- schemas ----------------------------------------------------------------------------------


def _custom_schema(rt: ResourceType) -> dict[str, Any]:
    """A CRD version's schema as a component: envelope fields declared, metadata → ObjectMeta."""
    base = deep_copy(rt.schema) if isinstance(rt.schema, dict) else {"type": "object"}
    base.setdefault("type", "object")
    props = base.setdefault("properties", {})
    if not isinstance(props, dict):
        props = base["properties"] = {}
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    props["metadata"] = {"$ref": _REF + OBJECT_META}
    if rt.schema is None:
        base["x-kubernetes-preserve-unknown-fields"] = True
    base["x-kubernetes-group-version-kind"] = [_gvk(rt.group, rt.version, rt.kind)]
    return base


def _list_schema(rt: ResourceType) -> dict[str, Any]:
    return {
        "description": rt.list_kind,
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"$ref": _REF + LIST_META},
            "items": {"type": "array", "items": {"$ref": _REF + schema_name(rt)}},
        },
        "x-kubernetes-group-version-kind": [_gvk(rt.group, rt.version, rt.list_kind)],
    }


def _refs(value: Any, out: list[str]) -> None:
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF):
            out.append(ref[len(_REF) :])
        for child in value.values():
            if isinstance(child, dict | list):
                _refs(child, out)
    elif isinstance(value, list):
        for child in value:
            if isinstance(child, dict | list):
                _refs(child, out)


def _build_document(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    rts = sorted(registry.in_group_version(group, version), key=lambda r: r.plural)
    if not rts:
        return None
    defs = builtin_definitions()
    local: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for rt in rts:
        paths.update(_resource_paths(rt))
        if not _is_builtin(rt):
            local[schema_name(rt)] = _custom_schema(rt)
        local[schema_name(rt, rt.list_kind)] = _list_schema(rt)
    schemas: dict[str, Any] = {}
    pending: list[str] = [*_ALWAYS, *local]
    _refs(paths, pending)
    while pending:
        name = pending.pop()
        if name in schemas:
            continue
        schema = local.get(name) or _EXTRA_DEFINITIONS.get(name) or defs.get(name)
        if schema is None:
            schema = {"description": name.rsplit(".", 1)[-1], "x-kubernetes-preserve-unknown-fields": True}
        schemas[name] = schema
        _refs(schema, pending)
    title = (
        "Kubernetes"
        if not group or "." not in group or group.endswith(".k8s.io")
        else "Kubernetes CRD Swagger"
    )
    return {
        "openapi": "3.0.0",
        "info": {"title": title, "version": "unversioned"},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {"BearerToken": {"type": "apiKey", "name": "authorization", "in": "header"}},
        },
        "security": [{"BearerToken": []}],
    }


# -- cache ------------------------------------------------------------------------------------


@dataclass
class _Cache:
    registry: weakref.ref[Registry]
    generation: int
    docs: dict[tuple[str, str], tuple[dict[str, Any], bytes, str] | None] = field(default_factory=dict)
    root: dict[str, Any] | None = None


_CACHES: dict[int, _Cache] = {}


def _cache(registry: Registry) -> _Cache:
    entry = _CACHES.get(id(registry))
    if entry is None or entry.registry() is not registry or entry.generation != registry.generation:
        for key in [k for k, v in _CACHES.items() if v.registry() is None]:
            del _CACHES[key]
        entry = _Cache(weakref.ref(registry), registry.generation)
        _CACHES[id(registry)] = entry
    return entry


def _entry(registry: Registry, group: str, version: str) -> tuple[dict[str, Any], bytes, str] | None:
    cache = _cache(registry)
    key = (group, version)
    if key not in cache.docs:
        doc = _build_document(registry, group, version)
        if doc is None:
            cache.docs[key] = None
        else:
            body = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
            cache.docs[key] = (doc, body, hashlib.sha512(body).hexdigest().upper())
    return cache.docs[key]


def openapi_document(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    """The OpenAPI v3 document of one group/version (``""`` = core); ``None`` if not served.

    The returned dict is cached and shared: treat it as read-only.
    """
    entry = _entry(registry, group, version)
    return entry[0] if entry else None


def openapi_document_json(registry: Registry, group: str, version: str) -> tuple[bytes, str] | None:
    """``(canonical JSON bytes, hash)`` of :func:`openapi_document`, cached."""
    entry = _entry(registry, group, version)
    return (entry[1], entry[2]) if entry else None


def openapi_root(registry: Registry) -> dict[str, Any]:
    """The ``/openapi/v3`` discovery document for every served group/version."""
    cache = _cache(registry)
    if cache.root is None:
        paths: dict[str, Any] = {}
        for group, versions in sorted(registry.group_versions().items()):
            for version in sorted(versions):
                entry = _entry(registry, group, version)
                if entry is None:
                    continue
                key = gv_path(group, version)
                paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={entry[2]}"}
        cache.root = {"paths": paths}
    return cache.root
