"""Structural OpenAPI v3 schemas: checking, pruning, defaulting and validation.

One machinery serves CRDs and built-in kinds. Schemas are plain dicts (as found in a
CRD's ``openAPIV3Schema`` or in ``components.schemas``); ``$ref`` links are followed
with a ``resolver`` callable (``"#/components/schemas/X"`` → dict). Each schema is
compiled once into a tree of :class:`SchemaNode` and cached, so validating a pod is a
single cheap walk.

Semantics follow apiextensions-apiserver:

* :func:`prune` drops fields the schema does not declare, unless the node sets
  ``x-kubernetes-preserve-unknown-fields``; ``apiVersion``, ``kind`` and ``metadata`` are
  kept at the root and in ``x-kubernetes-embedded-resource`` nodes (the root ``metadata``
  is only walked when the schema describes a full ObjectMeta, i.e. declares ``labels``).
  Non-nullable ``null`` values are dropped too (their default, if any, then applies).
* :func:`apply_defaults` sets ``default`` for absent properties, recursively, also inside
  array items and ``additionalProperties`` values.
* :func:`validate` returns :class:`Cause` s with Kubernetes paths and messages, e.g.
  ``Cause("spec.replicas", 'Invalid value: "string": spec.replicas in body must be of type
  integer: "string"')``.
* :func:`unknown_fields` lists what :func:`prune` would drop (strict field validation).
* :func:`check_structural` reports why a CRD schema is not structural.
* :func:`is_valid` / :func:`is_clean` are compiled yes/no forms of :func:`validate` /
  :func:`prune` (see "fast paths"); the functions above consult them first and walk the
  general way, building paths and messages, only when there is something to report.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from suanli.apimachinery.errors import Cause
from suanli.apimachinery.objects import deep_copy

__all__ = [
    "Resolver",
    "SchemaNode",
    "apply_defaults",
    "check_structural",
    "compile_schema",
    "components_resolver",
    "format_value",
    "is_clean",
    "is_valid",
    "prune",
    "prune_in_place",
    "unknown_fields",
    "validate",
]

Resolver = Callable[[str], Mapping[str, Any] | None]
SchemaLike = Mapping[str, Any]

_MISSING: Any = object()
_QUANTITY_RE = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_QUANTITY_MSG = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
_DATE_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_ROOT_KEEP = ("apiVersion", "kind", "metadata")


def components_resolver(schemas: Mapping[str, Mapping[str, Any]]) -> Resolver:
    """Resolver for ``#/components/schemas/<name>`` (and ``#/definitions/<name>``) refs."""

    def resolve(ref: str) -> Mapping[str, Any] | None:
        return schemas.get(ref.rsplit("/", 1)[-1])

    return resolve


class SchemaNode:
    """A compiled schema node. Attributes mirror the OpenAPI keywords they come from."""

    __slots__ = (
        "additional",
        "additional_allowed",
        "all_of",
        "any_of",
        "clean_fn",
        "clean_root_fn",
        "default",
        "embedded",
        "enum",
        "exclusive_maximum",
        "exclusive_minimum",
        "format",
        "int_or_string",
        "items",
        "list_map_keys",
        "list_type",
        "max_items",
        "max_length",
        "max_properties",
        "maximum",
        "min_items",
        "min_length",
        "min_properties",
        "minimum",
        "multiple_of",
        "not_",
        "nullable",
        "ok_fn",
        "one_of",
        "pattern",
        "pattern_text",
        "preserve_unknown",
        "properties",
        "quantity",
        "required",
        "type",
        "unique_items",
        "walk_metadata",
    )

    def __init__(self) -> None:
        self.type: str | None = None
        self.nullable = False
        self.int_or_string = False
        self.quantity = False
        self.preserve_unknown = False
        self.embedded = False
        self.properties: dict[str, SchemaNode] | None = None
        self.additional: SchemaNode | None = None
        self.additional_allowed = True
        self.items: SchemaNode | None = None
        self.required: tuple[str, ...] = ()
        self.enum: list[Any] | None = None
        self.default: Any = _MISSING
        self.format = ""
        self.minimum: float | None = None
        self.maximum: float | None = None
        self.exclusive_minimum = False
        self.exclusive_maximum = False
        self.multiple_of: float | None = None
        self.min_length: int | None = None
        self.max_length: int | None = None
        self.pattern: re.Pattern[str] | None = None
        self.pattern_text = ""
        self.min_items: int | None = None
        self.max_items: int | None = None
        self.unique_items = False
        self.min_properties: int | None = None
        self.max_properties: int | None = None
        self.list_type = ""
        self.list_map_keys: tuple[str, ...] = ()
        self.all_of: tuple[SchemaNode, ...] = ()
        self.any_of: tuple[SchemaNode, ...] = ()
        self.one_of: tuple[SchemaNode, ...] = ()
        self.not_: SchemaNode | None = None
        self.walk_metadata = False
        # compiled fast paths (see "fast paths" below), built on first use
        self.ok_fn: Callable[[Any], bool] | None = None
        self.clean_fn: Callable[[Any], bool] | None = None
        self.clean_root_fn: Callable[[Any], bool] | None = None


# -- compilation ------------------------------------------------------------------------------

_CACHE: OrderedDict[tuple[int, int], tuple[Any, Any, SchemaNode]] = OrderedDict()
_CACHE_MAX = 512


def compile_schema(schema: SchemaLike | SchemaNode, resolver: Resolver | None = None) -> SchemaNode:
    """Compile (and cache by identity) a schema dict; a :class:`SchemaNode` is returned as is."""
    if isinstance(schema, SchemaNode):
        return schema
    key = (id(schema), id(resolver))
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is schema and hit[1] is resolver:
        _CACHE.move_to_end(key)
        return hit[2]
    node = _Compiler(resolver).node(schema)
    node.walk_metadata = _has_full_metadata(node)
    _CACHE[key] = (schema, resolver, node)
    if len(_CACHE) > _CACHE_MAX:
        _CACHE.popitem(last=False)
    return node


def _has_full_metadata(root: SchemaNode) -> bool:
    meta = (root.properties or {}).get("metadata")
    return meta is not None and meta.properties is not None and "labels" in meta.properties


class _Compiler:
    def __init__(self, resolver: Resolver | None) -> None:
        self.resolver = resolver
        self.refs: dict[str, SchemaNode] = {}

    def ref(self, ref: str) -> SchemaNode:
        node = self.refs.get(ref)
        if node is not None:
            return node
        target = self.resolver(ref) if self.resolver is not None else None
        node = SchemaNode()
        self.refs[ref] = node
        if target is None:
            node.preserve_unknown = True  # unresolvable: accept anything rather than reject
            return node
        self.fill(node, target)
        return node

    def node(self, d: SchemaLike) -> SchemaNode:
        ref = d.get("$ref")
        if isinstance(ref, str):
            return self.ref(ref)
        all_of = d.get("allOf")
        if (
            isinstance(all_of, list)
            and len(all_of) == 1
            and isinstance(all_of[0], Mapping)
            and "$ref" in all_of[0]
            and "type" not in d
            and "properties" not in d
        ):
            return self.ref(all_of[0]["$ref"])
        node = SchemaNode()
        self.fill(node, d)
        return node

    def fill(self, n: SchemaNode, d: SchemaLike) -> None:
        t = d.get("type")
        n.type = t if isinstance(t, str) and t else None
        n.nullable = bool(d.get("nullable"))
        n.int_or_string = bool(d.get("x-kubernetes-int-or-string")) or d.get("format") == "int-or-string"
        n.quantity = d.get("format") == "quantity"
        n.preserve_unknown = bool(d.get("x-kubernetes-preserve-unknown-fields"))
        n.embedded = bool(d.get("x-kubernetes-embedded-resource"))
        props = d.get("properties")
        if isinstance(props, Mapping):
            n.properties = {k: self.node(v) for k, v in props.items() if isinstance(v, Mapping)}
        add = d.get("additionalProperties")
        if isinstance(add, Mapping):
            n.additional = self.node(add)
        elif add is False:
            n.additional_allowed = False
        elif add is True and n.properties is None:
            n.preserve_unknown = True
        items = d.get("items")
        if isinstance(items, Mapping):
            n.items = self.node(items)
        req = d.get("required")
        if isinstance(req, list):
            n.required = tuple(str(r) for r in req)
        if isinstance(d.get("enum"), list):
            n.enum = list(d["enum"])
        if "default" in d:
            n.default = d["default"]
        n.format = str(d.get("format") or "")
        n.minimum = _num(d.get("minimum"))
        n.maximum = _num(d.get("maximum"))
        n.exclusive_minimum = bool(d.get("exclusiveMinimum"))
        n.exclusive_maximum = bool(d.get("exclusiveMaximum"))
        n.multiple_of = _num(d.get("multipleOf"))
        n.min_length = _int(d.get("minLength"))
        n.max_length = _int(d.get("maxLength"))
        if isinstance(d.get("pattern"), str):
            n.pattern_text = d["pattern"]
            try:
                n.pattern = re.compile(n.pattern_text)
            except re.error:
                n.pattern = None
        n.min_items = _int(d.get("minItems"))
        n.max_items = _int(d.get("maxItems"))
        n.unique_items = bool(d.get("uniqueItems"))
        n.min_properties = _int(d.get("minProperties"))
        n.max_properties = _int(d.get("maxProperties"))
        n.list_type = str(d.get("x-kubernetes-list-type") or "")
        keys = d.get("x-kubernetes-list-map-keys")
        if isinstance(keys, list):
            n.list_map_keys = tuple(str(k) for k in keys)
        for attr, key in (("all_of", "allOf"), ("any_of", "anyOf"), ("one_of", "oneOf")):
            subs = d.get(key)
            if isinstance(subs, list):
                setattr(n, attr, tuple(self.node(s) for s in subs if isinstance(s, Mapping)))
        if isinstance(d.get("not"), Mapping):
            n.not_ = self.node(d["not"])


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _int(v: Any) -> int | None:
    return int(v) if isinstance(v, int) and not isinstance(v, bool) else None


# -- pruning ----------------------------------------------------------------------------------


def prune(
    obj: Any, schema: SchemaLike | SchemaNode, resolver: Resolver | None = None
) -> tuple[Any, list[str]]:
    """Return ``(copy of obj without undeclared fields, paths of the dropped fields)``.

    >>> prune({"spec": {"a": 1, "b": 2}}, {"type": "object", "properties": {"spec":
    ...       {"type": "object", "properties": {"a": {"type": "integer"}}}}})
    ({'spec': {'a': 1}}, ['spec.b'])
    """
    node = compile_schema(schema, resolver)
    out = deep_copy(obj)
    unknown: list[str] = []
    if not is_clean(node, out):
        _prune(node, out, "", unknown, True, True)
    return out, unknown


def prune_in_place(obj: Any, schema: SchemaLike | SchemaNode, resolver: Resolver | None = None) -> list[str]:
    """Like :func:`prune` but removes undeclared fields from ``obj`` itself; returns their paths."""
    node = compile_schema(schema, resolver)
    unknown: list[str] = []
    if not is_clean(node, obj):
        _prune(node, obj, "", unknown, True, True)
    return unknown


def unknown_fields(obj: Any, schema: SchemaLike | SchemaNode, resolver: Resolver | None = None) -> list[str]:
    """Paths of fields the schema does not declare (``spec.foo``, ``spec.containers[0].bar``)."""
    node = compile_schema(schema, resolver)
    unknown: list[str] = []
    if not is_clean(node, obj):
        _prune(node, obj, "", unknown, True, False)
    return unknown


def _prune(node: SchemaNode, value: Any, path: str, unknown: list[str], root: bool, mutate: bool) -> None:
    if isinstance(value, dict):
        if node.int_or_string or (node.type is not None and node.type != "object"):
            return
        props = node.properties
        additional = node.additional
        keep_envelope = root or node.embedded
        for key in list(value):
            sub = props.get(key) if props is not None else None
            if keep_envelope and key in _ROOT_KEEP:
                if key == "metadata" and sub is not None and (not root or node.walk_metadata):
                    _prune_child(sub, value, key, path, unknown, mutate)
                continue
            if sub is None:
                sub = additional
            if sub is None:
                if node.preserve_unknown:
                    continue
                unknown.append(f"{path}.{key}" if path else key)
                if mutate:
                    del value[key]
                continue
            if props is None or key not in props:
                _prune_child(sub, value, key, f"{path}[{key}]" if path else key, unknown, mutate, True)
            else:
                _prune_child(sub, value, key, path, unknown, mutate)
    elif isinstance(value, list):
        items = node.items
        if items is None:
            return
        for i, item in enumerate(value):
            if isinstance(item, dict | list):
                _prune(items, item, f"{path}[{i}]", unknown, False, mutate)


def _prune_child(
    sub: SchemaNode,
    parent: dict[str, Any],
    key: str,
    path: str,
    unknown: list[str],
    mutate: bool,
    keyed: bool = False,
) -> None:
    child = parent[key]
    if child is None:
        if not sub.nullable and mutate:
            del parent[key]
        return
    if isinstance(child, dict | list):
        child_path = path if keyed else (f"{path}.{key}" if path else key)
        _prune(sub, child, child_path, unknown, False, mutate)


# -- defaulting -------------------------------------------------------------------------------


def apply_defaults(obj: Any, schema: SchemaLike | SchemaNode, resolver: Resolver | None = None) -> Any:
    """Set schema ``default`` s on absent fields, in place; returns ``obj``.

    >>> apply_defaults({"spec": {}}, {"type": "object", "properties": {"spec": {"type": "object",
    ...     "properties": {"replicas": {"type": "integer", "default": 1}}}}})
    {'spec': {'replicas': 1}}
    """
    _default(compile_schema(schema, resolver), obj)
    return obj


def _default(node: SchemaNode, value: Any) -> None:
    if isinstance(value, dict):
        props = node.properties
        if props is not None:
            for key, sub in props.items():
                if sub.default is not _MISSING and key not in value:
                    value[key] = deep_copy(sub.default)
                child = value.get(key)
                if isinstance(child, dict | list):
                    _default(sub, child)
        if node.additional is not None:
            for key, child in value.items():
                if isinstance(child, dict | list) and (props is None or key not in props):
                    _default(node.additional, child)
    elif isinstance(value, list) and node.items is not None:
        for item in value:
            if isinstance(item, dict | list):
                _default(node.items, item)


# -- validation -------------------------------------------------------------------------------


def format_value(value: Any) -> str:
    """Render a value the way Kubernetes field errors do (strings quoted, JSON otherwise)."""
    if isinstance(value, str):
        return json.dumps(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) and not value.is_integer() else str(int(value))
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _json_type(value: Any) -> str:
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "null"


def _type_ok(t: str, value: Any) -> bool:
    if t == "string":
        return isinstance(value, str)
    if t == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if t == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if t == "boolean":
        return isinstance(value, bool)
    if t == "object":
        return isinstance(value, dict)
    if t == "array":
        return isinstance(value, list)
    return True


def validate(obj: Any, schema: SchemaLike | SchemaNode, resolver: Resolver | None = None) -> list[Cause]:
    """Validate ``obj`` against ``schema``; return field causes (empty = valid).

    >>> validate({"spec": {"replicas": "x"}}, {"type": "object", "properties": {"spec": {"type":
    ...     "object", "properties": {"replicas": {"type": "integer"}}}}})[0].message
    'Invalid value: "string": spec.replicas in body must be of type integer: "string"'
    """
    node = compile_schema(schema, resolver)
    if is_valid(node, obj):
        return []
    errs: list[Cause] = []
    _check(node, obj, "", errs)
    return errs


def _invalid(errs: list[Cause], path: str, value: Any, detail: str) -> None:
    errs.append(Cause(path, f"Invalid value: {format_value(value)}: {detail}", "FieldValueInvalid"))


def _where(path: str) -> str:
    return f"{path} in body" if path else "body"


def _check(node: SchemaNode, value: Any, path: str, errs: list[Cause]) -> None:
    if value is None:
        if not node.nullable and (node.type is not None or node.int_or_string):
            want = "integer,string" if node.int_or_string else node.type
            _invalid(errs, path, "null", f'{_where(path)} must be of type {want}: "null"')
        return
    if node.int_or_string:
        ok = (
            isinstance(value, str)
            or (isinstance(value, int) and not isinstance(value, bool))
            or (node.quantity and isinstance(value, float))
        )
        if not ok:
            actual = _json_type(value)
            _invalid(errs, path, actual, f'{_where(path)} must be of type integer,string: "{actual}"')
            return
        if node.quantity and isinstance(value, str) and not _QUANTITY_RE.match(value):
            _invalid(errs, path, value, _QUANTITY_MSG)
            return
    elif node.type is not None and not _type_ok(node.type, value):
        actual = _json_type(value)
        _invalid(errs, path, actual, f'{_where(path)} must be of type {node.type}: "{actual}"')
        return
    if isinstance(value, dict):
        _check_object(node, value, path, errs)
    elif isinstance(value, list):
        _check_array(node, value, path, errs)
    elif isinstance(value, str):
        _check_string(node, value, path, errs)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        _check_number(node, value, path, errs)
    if node.enum is not None and value not in node.enum:
        supported = ", ".join(format_value(v) for v in node.enum)
        errs.append(
            Cause(
                path,
                f"Unsupported value: {format_value(value)}: supported values: {supported}",
                "FieldValueNotSupported",
            )
        )
    if node.all_of or node.any_of or node.one_of or node.not_ is not None:
        _check_composition(node, value, path, errs)


def _check_object(node: SchemaNode, value: dict[str, Any], path: str, errs: list[Cause]) -> None:
    props = node.properties
    for key in node.required:
        if value.get(key) is None and not (
            key in value and props is not None and key in props and props[key].nullable
        ):
            errs.append(Cause(f"{path}.{key}" if path else key, "Required value", "FieldValueRequired"))
    additional = node.additional
    strict_extra = additional is not None or not node.additional_allowed
    # Walk the object's keys (usually far fewer than the schema's properties).
    for key, child in value.items():
        sub = props.get(key) if props is not None else None
        if sub is not None:
            if child is None and not sub.nullable:
                continue  # a null that pruning drops
            _check(sub, child, f"{path}.{key}" if path else key, errs)
        elif strict_extra:
            child_path = f"{path}[{key}]" if path else key
            if additional is not None:
                _check(additional, child, child_path, errs)
            else:
                errs.append(Cause(child_path, "Forbidden: not allowed by the schema", "FieldValueForbidden"))
    if node.max_properties is not None and len(value) > node.max_properties:
        errs.append(
            Cause(
                path,
                f"Too many: {len(value)}: must have at most {node.max_properties} items",
                "FieldValueTooMany",
            )
        )
    if node.min_properties is not None and len(value) < node.min_properties:
        _invalid(
            errs, path, len(value), f"{_where(path)} should have at least {node.min_properties} properties"
        )


def _check_array(node: SchemaNode, value: list[Any], path: str, errs: list[Cause]) -> None:
    items = node.items
    if items is not None:
        for i, item in enumerate(value):
            _check(items, item, f"{path}[{i}]", errs)
    _check_array_shape(node, value, path, errs)


def _has_array_shape(node: SchemaNode) -> bool:
    """Whether :func:`_check_array_shape` can report anything for ``node``."""
    return (
        node.max_items is not None
        or node.min_items is not None
        or node.unique_items
        or node.list_type == "set"
        or (node.list_type == "map" and bool(node.list_map_keys))
    )


def _check_array_shape(node: SchemaNode, value: list[Any], path: str, errs: list[Cause]) -> None:
    """Array checks other than the items' own: size bounds and duplicates."""
    if node.max_items is not None and len(value) > node.max_items:
        errs.append(
            Cause(
                path, f"Too many: {len(value)}: must have at most {node.max_items} items", "FieldValueTooMany"
            )
        )
    if node.min_items is not None and len(value) < node.min_items:
        _invalid(errs, path, len(value), f"{_where(path)} should have at least {node.min_items} items")
    if node.unique_items or node.list_type == "set":
        seen: set[str] = set()
        for i, item in enumerate(value):
            key = orjson.dumps(item, option=orjson.OPT_SORT_KEYS).decode()
            if key in seen:
                errs.append(
                    Cause(f"{path}[{i}]", f"Duplicate value: {format_value(item)}", "FieldValueDuplicate")
                )
            seen.add(key)
    elif node.list_type == "map" and node.list_map_keys:
        seen_keys: set[str] = set()
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                continue
            ident = {k: item.get(k) for k in node.list_map_keys if k in item}
            key = orjson.dumps(ident, option=orjson.OPT_SORT_KEYS).decode()
            if key in seen_keys:
                errs.append(
                    Cause(f"{path}[{i}]", f"Duplicate value: {format_value(ident)}", "FieldValueDuplicate")
                )
            seen_keys.add(key)


def _check_string(node: SchemaNode, value: str, path: str, errs: list[Cause]) -> None:
    if node.max_length is not None and len(value) > node.max_length:
        errs.append(
            Cause(path, f"Too long: may not be more than {node.max_length} bytes", "FieldValueTooLong")
        )
    if node.min_length is not None and len(value) < node.min_length:
        _invalid(errs, path, value, f"{_where(path)} should be at least {node.min_length} chars long")
    if node.pattern is not None and not node.pattern.search(value):
        _invalid(errs, path, value, f"{_where(path)} should match '{node.pattern_text}'")
    fmt = node.format
    if fmt and fmt not in {"int32", "int64", "int-or-string", "quantity"} and not _format_ok(fmt, value):
        _invalid(errs, path, value, f"{_where(path)} must be of type {fmt}: {format_value(value)}")


def _format_ok(fmt: str, value: str) -> bool:
    if fmt == "date-time":
        return bool(_DATE_TIME_RE.match(value))
    if fmt == "date":
        return bool(_DATE_RE.match(value))
    if fmt == "byte":
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return False
        return True
    if fmt in {"uuid", "uuid3", "uuid4", "uuid5"}:
        return bool(_UUID_RE.match(value))
    if fmt in {"ipv4", "ipv6"}:
        try:
            addr = ipaddress.ip_address(value)
        except ValueError:
            return False
        return addr.version == (4 if fmt == "ipv4" else 6)
    if fmt == "cidr":
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            return False
        return True
    return True


def _check_number(node: SchemaNode, value: float, path: str, errs: list[Cause]) -> None:
    if node.maximum is not None:
        if node.exclusive_maximum and value >= node.maximum:
            _invalid(errs, path, value, f"{_where(path)} should be less than {format_value(node.maximum)}")
        elif value > node.maximum:
            _invalid(
                errs,
                path,
                value,
                f"{_where(path)} should be less than or equal to {format_value(node.maximum)}",
            )
    if node.minimum is not None:
        if node.exclusive_minimum and value <= node.minimum:
            _invalid(errs, path, value, f"{_where(path)} should be greater than {format_value(node.minimum)}")
        elif value < node.minimum:
            _invalid(
                errs,
                path,
                value,
                f"{_where(path)} should be greater than or equal to {format_value(node.minimum)}",
            )
    if node.multiple_of and (value / node.multiple_of) % 1 != 0:
        _invalid(
            errs, path, value, f"{_where(path)} should be a multiple of {format_value(node.multiple_of)}"
        )


def _check_composition(node: SchemaNode, value: Any, path: str, errs: list[Cause]) -> None:
    where = f'"{path}"' if path else '"body"'
    for sub in node.all_of:
        inner: list[Cause] = []
        _check(sub, value, path, inner)
        if inner:
            errs.extend(inner)
    if node.any_of and not any(_passes(sub, value, path) for sub in node.any_of):
        _invalid(errs, path, value, f"{where} must validate at least one schema (anyOf)")
    if node.one_of:
        count = sum(1 for sub in node.one_of if _passes(sub, value, path))
        if count != 1:
            found = "Found none valid" if count == 0 else f"Found {count} valid alternatives"
            _invalid(errs, path, value, f"{where} must validate one and only one schema (oneOf). {found}")
    if node.not_ is not None and _passes(node.not_, value, path):
        _invalid(errs, path, value, f"{where} must not validate the schema (not)")


def _passes(node: SchemaNode, value: Any, path: str) -> bool:
    inner: list[Cause] = []
    _check(node, value, path, inner)
    return not inner


# -- fast paths ---------------------------------------------------------------------------------
#
# Most writes are valid and carry nothing to prune. Each schema node is compiled once (on
# first use) into two closures that only answer yes/no, without building paths or messages:
#
# * ``is_valid(node, v)`` is true exactly when ``validate`` would return no causes;
# * ``is_clean(node, v)`` is true exactly when pruning would neither drop a field nor a null.
#
# A "no" sends the caller to the general walk above, which then reports the causes / the
# unknown paths. So the general walk stays the single source of messages and paths, and a
# fast path can only ever be wrong by being slower. Rare constraints (formats, patterns,
# bounds, enum, composition, list uniqueness) reuse the general helpers verbatim.

_LEAF_FORMATS_IGNORED = frozenset({"int32", "int64", "int-or-string", "quantity"})
_CONTAINERS = (dict, list)


def is_valid(node: SchemaNode, value: Any) -> bool:
    """True when :func:`validate` of ``value`` against ``node`` yields no causes (fast check)."""
    fn = node.ok_fn
    if fn is None:
        fn = _OkCompiler().fn(node)
    return fn(value)


def is_clean(node: SchemaNode, value: Any) -> bool:
    """True when pruning ``value`` (as a root object) against ``node`` changes nothing (fast check)."""
    fn = node.clean_root_fn
    if fn is None:
        fn = node.clean_root_fn = _CleanCompiler().fn(node, root=True)
    return fn(value)


def _errors_with(check: Callable[[SchemaNode, Any, str, list[Cause]], None], node: SchemaNode, value: Any) -> bool:
    """Run one general check helper; True when it reports something."""
    errs: list[Cause] = []
    check(node, value, "", errs)
    return bool(errs)


def _has_string_constraints(n: SchemaNode) -> bool:
    return (
        n.max_length is not None
        or n.min_length is not None
        or n.pattern is not None
        or bool(n.format and n.format not in _LEAF_FORMATS_IGNORED)
    )


def _string_ok(n: SchemaNode) -> Callable[[str], bool]:
    """Compiled form of "``_check_string`` reports nothing" for a string node.

    Each constraint the node has becomes one test, in ``_check_string``'s terms (a
    ``date-time`` format is a single regex match, e.g. ``"2024-05-01T12:00:07Z"`` passes).
    """
    max_len, min_len, pattern = n.max_length, n.min_length, n.pattern
    fmt = n.format if n.format not in _LEAF_FORMATS_IGNORED else ""
    if fmt == "date-time" and max_len is None and min_len is None and pattern is None:
        match = _DATE_TIME_RE.match
        return lambda v: match(v) is not None

    def ok(v: str) -> bool:
        if max_len is not None and len(v) > max_len:
            return False
        if min_len is not None and len(v) < min_len:
            return False
        if pattern is not None and not pattern.search(v):
            return False
        return not fmt or _format_ok(fmt, v)

    return ok


def _has_number_constraints(n: SchemaNode) -> bool:
    return n.maximum is not None or n.minimum is not None or bool(n.multiple_of)


class _NoLeaf:
    """Stands for "no class passes outright": no value has this class."""


def _leaf_class(n: SchemaNode) -> type:
    """The class whose every value passes ``n``'s fast check without calling it.

    Plain ``string`` (no length/pattern/format), ``boolean`` and ``integer`` (no bounds)
    nodes without enum or composition: e.g. any ``str`` passes ``{"type": "string"}``,
    any ``int`` (a ``bool`` is of class ``bool``, not ``int``) passes ``{"type": "integer"}``.
    Every other node gets :class:`_NoLeaf`.
    """
    if n.enum is not None or n.int_or_string or n.all_of or n.any_of or n.one_of or n.not_ is not None:
        return _NoLeaf
    if n.type == "string" and not _has_string_constraints(n):
        return str
    if n.type == "boolean":
        return bool
    if n.type == "integer" and not _has_number_constraints(n):
        return int
    return _NoLeaf


class _Cell:
    """Late-bound closure for a node whose compilation is still in progress (recursive schemas)."""

    __slots__ = ("fn",)

    def __init__(self) -> None:
        self.fn: Callable[[Any], bool] = _never

    def __call__(self, value: Any) -> bool:
        return self.fn(value)


def _never(value: Any) -> bool:
    return False


class _OkCompiler:
    """Builds ``ok_fn`` closures; mirrors :func:`_check` decision by decision."""

    def __init__(self) -> None:
        self.building: dict[int, _Cell] = {}

    def fn(self, node: SchemaNode) -> Callable[[Any], bool]:
        done = node.ok_fn
        if done is not None:
            return done
        cell = self.building.get(id(node))
        if cell is not None:
            return cell
        cell = self.building[id(node)] = _Cell()
        fn = self._build(node)
        cell.fn = fn
        node.ok_fn = fn
        return fn

    def _build(self, n: SchemaNode) -> Callable[[Any], bool]:
        none_ok = n.nullable or (n.type is None and not n.int_or_string)
        plain = n.enum is None and not (n.all_of or n.any_of or n.one_of or n.not_ is not None)
        if plain and not n.int_or_string:
            if n.type == "string":
                if not _has_string_constraints(n):
                    return lambda v: isinstance(v, str) or (v is None and none_ok)
                str_ok = _string_ok(n)
                return lambda v: str_ok(v) if isinstance(v, str) else v is None and none_ok
            if n.type == "boolean":
                return lambda v: isinstance(v, bool) or (v is None and none_ok)
            if n.type == "integer" and not _has_number_constraints(n):
                def ok_int(v: Any) -> bool:
                    if isinstance(v, int):
                        return not isinstance(v, bool)
                    if isinstance(v, float):
                        return v.is_integer()
                    return v is None and none_ok
                return ok_int
            if n.type == "object":
                obj_ok = self._object(n)
                return lambda v: obj_ok(v) if isinstance(v, dict) else v is None and none_ok
            if n.type == "array":
                arr_ok = self._array(n)
                return lambda v: arr_ok(v) if isinstance(v, list) else v is None and none_ok
        return self._generic(n, none_ok)

    def _generic(self, n: SchemaNode, none_ok: bool) -> Callable[[Any], bool]:
        obj_ok = self._object(n)
        arr_ok = self._array(n)
        ios, quantity, t, enum = n.int_or_string, n.quantity, n.type, n.enum
        str_check = _has_string_constraints(n)
        num_check = _has_number_constraints(n)
        composed = bool(n.all_of or n.any_of or n.one_of or n.not_ is not None)

        def ok(v: Any) -> bool:
            if v is None:
                return none_ok
            if ios:
                if not (
                    isinstance(v, str)
                    or (isinstance(v, int) and not isinstance(v, bool))
                    or (quantity and isinstance(v, float))
                ):
                    return False
                if quantity and isinstance(v, str) and not _QUANTITY_RE.match(v):
                    return False
            elif t is not None and not _type_ok(t, v):
                return False
            if isinstance(v, dict):
                if not obj_ok(v):
                    return False
            elif isinstance(v, list):
                if not arr_ok(v):
                    return False
            elif isinstance(v, str):
                if str_check and _errors_with(_check_string, n, v):
                    return False
            elif num_check and isinstance(v, int | float) and not isinstance(v, bool) \
                    and _errors_with(_check_number, n, v):
                return False
            if enum is not None and v not in enum:
                return False
            return not (composed and _errors_with(_check_composition, n, v))

        return ok

    def _object(self, n: SchemaNode) -> Callable[[dict[str, Any]], bool]:
        props = n.properties or {}
        # per property: the class that passes outright (plain leaves; saves a call) and the check
        entries = {k: (_leaf_class(sub), self.fn(sub)) for k, sub in props.items()}
        entry_of = entries.get
        required = n.required
        nullable_props = frozenset(k for k, sub in props.items() if sub.nullable)
        add_fn = self.fn(n.additional) if n.additional is not None else None
        forbid_extra = add_fn is None and not n.additional_allowed
        max_p, min_p = n.max_properties, n.min_properties

        def obj_ok(v: dict[str, Any]) -> bool:
            for key in required:
                if v.get(key) is None and not (key in v and key in nullable_props):
                    return False
            for key, child in v.items():
                e = entry_of(key)
                if e is not None:
                    if child is not None and child.__class__ is not e[0] and not e[1](child):
                        return False  # a declared null is dropped by pruning, never an error
                elif add_fn is not None:
                    if not add_fn(child):
                        return False
                elif forbid_extra:
                    return False
            if max_p is not None and len(v) > max_p:
                return False
            return min_p is None or len(v) >= min_p

        return obj_ok

    def _array(self, n: SchemaNode) -> Callable[[list[Any]], bool]:
        items_fn = self.fn(n.items) if n.items is not None else None
        shape = _has_array_shape(n)

        def arr_ok(v: list[Any]) -> bool:
            if items_fn is not None:
                for item in v:
                    if not items_fn(item):
                        return False
            return not (shape and _errors_with(_check_array_shape, n, v))

        return arr_ok


class _CleanCompiler:
    """Builds ``clean_fn`` closures; mirrors :func:`_prune` decision by decision."""

    def __init__(self) -> None:
        self.building: dict[int, _Cell] = {}

    def fn(self, node: SchemaNode, *, root: bool = False) -> Callable[[Any], bool]:
        if root:
            return self._build(node, True)
        done = node.clean_fn
        if done is not None:
            return done
        cell = self.building.get(id(node))
        if cell is not None:
            return cell
        cell = self.building[id(node)] = _Cell()
        fn = self._build(node, False)
        cell.fn = fn
        node.clean_fn = fn
        return fn

    def _build(self, n: SchemaNode, root: bool) -> Callable[[Any], bool]:
        skip_dict = n.int_or_string or (n.type is not None and n.type != "object")
        props = n.properties or {}
        entries = {k: (sub.nullable, self.fn(sub)) for k, sub in props.items()}
        add_entry = (n.additional.nullable, self.fn(n.additional)) if n.additional is not None else None
        preserve = n.preserve_unknown
        envelope = root or n.embedded
        meta_entry = entries.get("metadata")
        items_fn = self.fn(n.items) if n.items is not None else None

        def clean(v: Any) -> bool:
            if isinstance(v, dict):
                if skip_dict:
                    return True
                walk_meta = meta_entry is not None and (not root or n.walk_metadata)
                for key, child in v.items():
                    if envelope and key in _ROOT_KEEP:
                        if key == "metadata" and walk_meta:
                            assert meta_entry is not None
                            if child is None:
                                if not meta_entry[0]:
                                    return False
                            elif isinstance(child, _CONTAINERS) and not meta_entry[1](child):
                                return False
                        continue
                    e = entries.get(key)
                    if e is None:
                        e = add_entry
                        if e is None:
                            if preserve:
                                continue
                            return False
                    if child is None:
                        if not e[0]:
                            return False
                    elif isinstance(child, _CONTAINERS) and not e[1](child):
                        return False
                return True
            if isinstance(v, list) and items_fn is not None:
                for item in v:
                    if isinstance(item, _CONTAINERS) and not items_fn(item):
                        return False
            return True

        return clean


# -- structural check -------------------------------------------------------------------------

_VALUE_ONLY_FORBIDDEN = (
    "type",
    "additionalProperties",
    "default",
    "nullable",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-embedded-resource",
    "x-kubernetes-int-or-string",
    "description",
)


def check_structural(schema: Mapping[str, Any], path: str = "openAPIV3Schema") -> list[Cause]:
    """Why ``schema`` (a CRD version's ``openAPIV3Schema``) is not structural; empty = structural.

    Rules: every node has a ``type`` unless it sets ``x-kubernetes-int-or-string`` or
    ``x-kubernetes-preserve-unknown-fields``; the root is an object; root ``metadata`` only
    constrains ``name`` and ``generateName``; arrays have ``items``; ``properties`` and
    ``additionalProperties`` are exclusive; ``$ref`` is not allowed; inside ``allOf``/``anyOf``/
    ``oneOf``/``not`` no ``type``, ``default``, ``nullable`` or extensions appear, and every
    property named there is also declared outside.
    """
    errs: list[Cause] = []
    if schema.get("type") != "object":
        t = schema.get("type")
        if not t:
            errs.append(
                Cause(f"{path}.type", "Required value: must be object at the root", "FieldValueRequired")
            )
        else:
            errs.append(
                Cause(
                    f"{path}.type",
                    f'Unsupported value: {format_value(t)}: supported values: "object"',
                    "FieldValueNotSupported",
                )
            )
    _structural(schema, path, errs, root=True)
    meta = (schema.get("properties") or {}).get("metadata")
    if isinstance(meta, Mapping):
        mpath = f"{path}.properties[metadata]"
        extra = set(meta) - {"type", "properties", "description"}
        sub_props = meta.get("properties") or {}
        if extra or meta.get("type", "object") != "object" or set(sub_props) - {"name", "generateName"}:
            errs.append(
                Cause(
                    mpath,
                    "Forbidden: must not specify anything other than name and generateName, "
                    "but metadata is implicitly specified",
                    "FieldValueForbidden",
                )
            )
    return errs


def _structural(s: Mapping[str, Any], path: str, errs: list[Cause], root: bool = False) -> None:
    if "$ref" in s:
        errs.append(Cause(f"{path}.$ref", "Forbidden: $ref is not supported", "FieldValueForbidden"))
    t = s.get("type")
    ios = bool(s.get("x-kubernetes-int-or-string"))
    pu = bool(s.get("x-kubernetes-preserve-unknown-fields"))
    if not t and not ios and not pu:
        errs.append(
            Cause(
                f"{path}.type",
                "Required value: must not be empty for specified object fields",
                "FieldValueRequired",
            )
        )
    if t and t not in {"object", "array", "string", "integer", "number", "boolean"}:
        errs.append(
            Cause(
                f"{path}.type",
                f"Unsupported value: {format_value(t)}: supported values: "
                '"array", "boolean", "integer", "number", "object", "string"',
                "FieldValueNotSupported",
            )
        )
    if ios and t:
        errs.append(
            Cause(
                f"{path}.type",
                "Forbidden: must be empty if x-kubernetes-int-or-string is true",
                "FieldValueForbidden",
            )
        )
    if pu and t and t != "object":
        errs.append(
            Cause(
                f"{path}.type",
                "Invalid value: "
                + format_value(t)
                + ": must be object if x-kubernetes-preserve-unknown-fields is true",
                "FieldValueInvalid",
            )
        )
    if s.get("x-kubernetes-embedded-resource") and t != "object":
        errs.append(
            Cause(
                f"{path}.type",
                "Required value: must be object if x-kubernetes-embedded-resource is true",
                "FieldValueRequired",
            )
        )
    props = s.get("properties")
    add = s.get("additionalProperties")
    if isinstance(props, Mapping) and props and add not in (None, False):
        errs.append(
            Cause(
                f"{path}.additionalProperties",
                "Forbidden: additionalProperties and properties are mutual exclusive",
                "FieldValueForbidden",
            )
        )
    if t == "array" and not isinstance(s.get("items"), Mapping):
        errs.append(Cause(f"{path}.items", "Required value: must be specified", "FieldValueRequired"))
    if isinstance(props, Mapping):
        for key, sub in props.items():
            if isinstance(sub, Mapping):
                if root and key == "metadata":
                    continue
                _structural(sub, f"{path}.properties[{key}]", errs)
    if isinstance(add, Mapping):
        _structural(add, f"{path}.additionalProperties", errs)
    items = s.get("items")
    if isinstance(items, Mapping):
        _structural(items, f"{path}.items", errs)
    for key in ("allOf", "anyOf", "oneOf"):
        subs = s.get(key)
        if isinstance(subs, list):
            for i, sub in enumerate(subs):
                if isinstance(sub, Mapping):
                    _value_validation(sub, s, f"{path}.{key}[{i}]", path, errs)
    if isinstance(s.get("not"), Mapping):
        _value_validation(s["not"], s, f"{path}.not", path, errs)


def _value_validation(
    v: Mapping[str, Any], outer: Mapping[str, Any] | None, vpath: str, opath: str, errs: list[Cause]
) -> None:
    """A node under allOf/anyOf/oneOf/not: only value constraints, over declared fields."""
    int_or_string = bool((outer or {}).get("x-kubernetes-int-or-string"))
    for key in _VALUE_ONLY_FORBIDDEN:
        if key == "type" and int_or_string and v.get("type") in ("integer", "string"):
            continue  # the documented int-or-string pattern: anyOf [{type: integer}, {type: string}]
        if key in v and key != "description":
            errs.append(Cause(f"{vpath}.{key}", "Forbidden: must not be specified", "FieldValueForbidden"))
    outer_props = (outer or {}).get("properties") if outer is not None else None
    for key, sub in (v.get("properties") or {}).items():
        declared = outer_props.get(key) if isinstance(outer_props, Mapping) else None
        if (
            declared is None
            and not (outer or {}).get("x-kubernetes-preserve-unknown-fields")
            and not (isinstance((outer or {}).get("additionalProperties"), Mapping))
        ):
            errs.append(
                Cause(
                    f"{opath}.properties[{key}]",
                    f"Required value: because it is defined in {vpath}.properties[{key}]",
                    "FieldValueRequired",
                )
            )
        if isinstance(sub, Mapping):
            _value_validation(
                sub,
                declared if isinstance(declared, Mapping) else None,
                f"{vpath}.properties[{key}]",
                f"{opath}.properties[{key}]",
                errs,
            )
    items = v.get("items")
    if isinstance(items, Mapping):
        outer_items = (outer or {}).get("items")
        _value_validation(
            items,
            outer_items if isinstance(outer_items, Mapping) else None,
            f"{vpath}.items",
            f"{opath}.items",
            errs,
        )
    for key in ("allOf", "anyOf", "oneOf"):
        subs = v.get(key)
        if isinstance(subs, list):
            for i, sub in enumerate(subs):
                if isinstance(sub, Mapping):
                    _value_validation(sub, outer, f"{vpath}.{key}[{i}]", opath, errs)
    if isinstance(v.get("not"), Mapping):
        _value_validation(v["not"], outer, f"{vpath}.not", opath, errs)
