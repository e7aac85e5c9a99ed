"""The generic resource service: every API operation's semantics, independent of HTTP.

Both the HTTP handlers and the in-process client call :class:`ApiService`, so the two
behave identically. One write goes through one pipeline:

    decode → immutable-metadata checks → defaulting (built-in or CRD schema) →
    pruning / strict field validation → validation → admission (mutating, validating) →
    managedFields → compare-and-swap write to the store

Objects returned are the store's shared, read-only copies.
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import logging
import os
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from suanli.apimachinery.errors import ApiError, Cause
from suanli.apimachinery.objects import Obj, deep_copy, now_rfc3339
from suanli.apimachinery.patch import (
    apply_json_patch,
    json_merge_patch,
    record_update,
    server_side_apply,
    strategic_merge_patch,
)
from suanli.apimachinery.selectors import (
    FieldSelector,
    LabelSelector,
    label_selector_from_object,
    parse_field_selector,
    parse_label_selector,
)
from suanli.apiserver.admission import AdmissionChain, AdmissionRequest, Operation
from suanli.apiserver.context import RequestContext
from suanli.apiserver.schemas import SchemaSupport
from suanli.apiserver.webhooks import WebhookDispatcher
from suanli.kinds.pdb import budgets_for, can_ignore_budget, check_and_decrement, pod_ready
from suanli.kinds.registry import Registry, ResourceType
from suanli.storage import (
    AlreadyExistsError,
    ConflictError,
    NotFoundError,
    Store,
    StoredObject,
)

__all__ = ["ApiService", "ListPage", "kind_key"]

log = logging.getLogger(__name__)

_NAME_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_IMMUTABLE_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds")
PDB_BUCKET = "policy/poddisruptionbudgets"
CRD_BUCKET = "apiextensions.k8s.io/customresourcedefinitions"
CRD_CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
NAMESPACE_BUCKET = "namespaces"


# UIDs and generateName suffixes must be unique, not secret (upstream draws suffixes from a
# non-cryptographic generator too): one generator seeded from the OS, reseeded in a forked
# child so parent and child never share a sequence.
_rng = random.Random(os.urandom(32))  # nosec B311  # generateName suffixes (upstream uses math/rand too)
os.register_at_fork(after_in_child=lambda: _rng.seed(os.urandom(32)))
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)


def new_uid() -> str:
    """A random (version 4, RFC 4122 variant) UUID in canonical text form."""
    h = "%032x" % ((_rng.getrandbits(128) & _UUID_CLEAR) | _UUID_SET)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# All 27 * 27 = 729 two-character strings of the alphabet: a suffix is two pairs and one
# character picked by the base-729/base-27 digits of one random number.
_PAIRS = tuple(a + b for a in _NAME_SUFFIX_ALPHABET for b in _NAME_SUFFIX_ALPHABET)
_SUFFIX_SPACE = 27 ** 5  # 14,348,907 equally likely suffixes


def name_suffix() -> str:
    """Five random characters for ``generateName`` (the alphabet upstream uses).

    One uniform draw ``n`` in ``[0, 27**5)`` picks all five: e.g. ``n = 730`` gives the
    pairs ``_PAIRS[730 % 729] = "bc"`` and ``_PAIRS[1 % 729] = "bc"`` and the character
    ``alphabet[0] = "b"``, i.e. ``"bcbcb"``.
    """
    n = _rng.randrange(_SUFFIX_SPACE)
    return _PAIRS[n % 729] + _PAIRS[(n // 729) % 729] + _NAME_SUFFIX_ALPHABET[n // 531441]


def kind_key(rt: ResourceType) -> str:
    """Key used by patch metadata and defaulting: ``"apps/Deployment"``, core kinds as ``"Pod"``."""
    return f"{rt.group}/{rt.kind}" if rt.group else rt.kind


class ListPage:
    """One page of a LIST: the items plus ``ListMeta`` (resourceVersion, continue, remainingItemCount)."""

    __slots__ = ("items", "list_meta")

    def __init__(self, items: list[StoredObject], list_meta: dict[str, Any]) -> None:
        self.items = items
        self.list_meta = list_meta


def _encode_continue(rv: int, namespace: str, name: str) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": [namespace, name]})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
        start = data["start"]
        return int(data["rv"]), (str(start[0]), str(start[1]))
    except Exception as exc:  # any malformed token is the client's fault
        raise ApiError.bad_request(f"invalid continue token: {token!r}") from exc


def _spec_changed(old: Obj, new: Obj) -> bool:
    keys = (set(old) | set(new)) - {"metadata", "status", "apiVersion", "kind"}
    return any(old.get(k) != new.get(k) for k in keys)


def _ns_spec_finalizers(obj: Obj) -> list[Any]:
    """A namespace's ``spec.finalizers`` (they block its removal like metadata finalizers)."""
    return list((obj.get("spec") or {}).get("finalizers") or [])


def _without_volatile_meta(obj: Obj) -> Obj:
    """Object without the metadata a no-op write would still change (for change detection)."""
    out = dict(obj)
    m = dict(out.get("metadata") or {})
    for k in ("resourceVersion", "managedFields", "generation"):
        m.pop(k, None)
    out["metadata"] = m
    return out


class ApiService:
    """All API semantics over a :class:`Store` and a :class:`Registry`."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        *,
        admission: AdmissionChain | None = None,
        schemas: SchemaSupport | None = None,
        now: Callable[[], str] = now_rfc3339,
    ) -> None:
        self.store = store
        self.registry = registry
        self.admission = admission or AdmissionChain()
        self.schemas = schemas or SchemaSupport(registry)
        #: dynamic admission (Mutating/ValidatingWebhookConfigurations); None = never called
        self.webhooks: WebhookDispatcher | None = WebhookDispatcher(store)
        self._now = now
        self._background: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ resolution

    def resource(self, group: str, version: str, plural: str) -> ResourceType:
        rt = self.registry.get(group, version, plural)
        if rt is None:
            raise ApiError.not_found(plural, "", group)
        return rt

    def resource_for(self, api_version: str, kind: str) -> ResourceType:
        rt = self.registry.by_kind(api_version, kind)
        if rt is None:
            raise ApiError.not_found(kind, "", api_version)
        return rt

    # ------------------------------------------------------------------ reads

    def get(self, rt: ResourceType, namespace: str, name: str) -> StoredObject:
        so = self.store.get(rt.storage_key, namespace if rt.namespaced else "", name)
        if so is None:
            raise ApiError.not_found(rt.plural, name, rt.group)
        return so

    def parse_selectors(
        self, rt: ResourceType, label_selector: str, field_selector: str
    ) -> tuple[LabelSelector | None, FieldSelector | None]:
        ls = parse_label_selector(label_selector) if label_selector else None
        fs = parse_field_selector(field_selector, set(rt.selectable_fields)) if field_selector else None
        return ls, fs

    def list(
        self,
        rt: ResourceType,
        namespace: str,
        *,
        label_selector: str = "",
        field_selector: str = "",
        limit: int | None = None,
        continue_token: str | None = None,
        resource_version: str = "",
        resource_version_match: str = "",
    ) -> ListPage:
        """LIST with selectors and keyset paging; ``namespace=""`` lists all namespaces."""
        ls, fs = self.parse_selectors(rt, label_selector, field_selector)
        if resource_version_match == "Exact" and resource_version not in ("", str(self.store.revision)):
            raise ApiError.gone(f"Timeout: Too large resource version: {resource_version}, "
                                f"current resource version: {self.store.revision}"
                                if resource_version.isdigit() and int(resource_version) > self.store.revision
                                else "The resourceVersion for the provided list is too old.")
        if resource_version_match and resource_version_match not in ("Exact", "NotOlderThan"):
            raise ApiError.bad_request(f"resourceVersionMatch: Unsupported value: {resource_version_match!r}")
        if limit is not None and limit < 0:
            raise ApiError.bad_request("limit: Invalid value: must be non-negative")
        ns = namespace if rt.namespaced and namespace else None
        start_after: tuple[str, str] | None = None
        list_rv: int | None = None
        if continue_token:
            list_rv, start_after = _decode_continue(continue_token)

        index: tuple[str, str] | None = None
        predicate: Callable[[Obj], bool] | None = None
        if fs is not None:
            exact_name = fs.exact("metadata.name")
            if exact_name is not None and not continue_token:
                items = self._list_by_name(rt, ns, exact_name, ls, fs)
                return ListPage(items, {"resourceVersion": str(self.store.revision)})
            node = fs.exact("spec.nodeName") if rt.storage_key == "pods" else None
            if node is not None:
                index = ("spec.nodeName", node)
        if ls is not None or fs is not None:
            def predicate(o: Obj, _ls: LabelSelector | None = ls, _fs: FieldSelector | None = fs) -> bool:
                if _ls is not None and not _ls.matches((o.get("metadata") or {}).get("labels") or {}):
                    return False
                return _fs is None or _fs.matches(o)
        res = self.store.list(rt.storage_key, ns, index=index, predicate=predicate,
                              start_after=start_after, limit=limit or None)
        rv = list_rv if list_rv is not None else res.revision
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if limit and res.remaining > 0 and res.items:
            last = res.items[-1].obj["metadata"]
            meta["continue"] = _encode_continue(rv, str(last.get("namespace") or ""), str(last["name"]))
            meta["remainingItemCount"] = res.remaining
        return ListPage(res.items, meta)

    def _list_by_name(self, rt: ResourceType, ns: str | None, name: str, ls: LabelSelector | None,
                      fs: FieldSelector) -> builtins.list[StoredObject]:
        if ns is not None or not rt.namespaced:
            so = self.store.get(rt.storage_key, ns or "", name)
            candidates = [so] if so is not None else []
        else:
            candidates = self.store.list(rt.storage_key, None,
                                         predicate=lambda o: o["metadata"].get("name") == name).items
        out = []
        for so in candidates:
            labels = so.obj["metadata"].get("labels") or {}
            if (ls is None or ls.matches(labels)) and fs.matches(so.obj):
                out.append(so)
        return out

    # ------------------------------------------------------------------ create

    async def create(self, rt: ResourceType, namespace: str, body: Obj, ctx: RequestContext | None = None,
                     *, subresource: str = "") -> Obj:
        """POST: create ``body`` (owned by the service afterwards) in ``namespace``."""
        ctx = ctx or RequestContext()
        if subresource:
            raise ApiError.method_not_allowed(f"POST is not supported on {rt.plural}/{subresource}")
        if "create" not in rt.verbs:
            raise ApiError.method_not_allowed(f"create is not supported on {rt.qualified}")
        obj = self._check_type_meta(rt, body)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise ApiError.bad_request("metadata: must be an object")
        ns = self._resolve_namespace(rt, namespace, meta)
        self._check_namespace_open(rt, ns, meta.get("name"))
        if rt.crd_name:  # built-ins have no CRD: skip the lookup
            crd = self.store.get(CRD_BUCKET, "", rt.crd_name)
            if crd is not None and crd.obj["metadata"].get("deletionTimestamp"):
                raise ApiError(405, "MethodNotAllowed",
                               "create not allowed while custom resource definition is terminating")
        name = meta.get("name")
        if not name:
            gen = meta.get("generateName")
            if not gen:
                raise ApiError.invalid(rt.kind, "", [Cause("metadata.name", "Required value: name or "
                                                           "generateName is required", "FieldValueRequired")],
                                       rt.group)
            name = str(gen) + name_suffix()
            meta["name"] = name
        if not isinstance(name, str):
            raise ApiError.bad_request("metadata.name: must be a string")
        for key in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(key, None)
        meta["uid"] = new_uid()
        meta["creationTimestamp"] = self._now()
        if rt.has_spec_generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        rt.strategy.prepare_for_create(obj)
        self.schemas.normalize(rt, obj, None, ctx)
        await self._admit("CREATE", rt, ns, name, obj, None, "", ctx)
        if rt.storage_key == CRD_BUCKET:
            self._prepare_crd(obj, None)
        if rt.storage_key == NAMESPACE_BUCKET:
            obj.setdefault("status", {})["phase"] = "Active"
        if "managedFields" not in meta or not meta.get("managedFields"):
            manager = ctx.field_manager or "unknown"
            obj = record_update(None, obj, manager, kind_key(rt), self._now(), extra=self.schemas.list_meta(rt),
                                 status_subresource="status" in rt.subresources, in_place=True)
        if ctx.dry_run:
            if self.store.get(rt.storage_key, ns, name) is not None:
                raise ApiError.already_exists(rt.plural, name, rt.group)
            return obj
        try:
            so = await self.store.create(rt.storage_key, obj)
        except AlreadyExistsError:
            raise ApiError.already_exists(rt.plural, name, rt.group) from None
        if rt.storage_key == CRD_BUCKET:
            self._register_crd(so.obj)
        return so.obj

    def _check_type_meta(self, rt: ResourceType, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise ApiError.bad_request("the request body must be a JSON or YAML object")
        kind = body.get("kind")
        api_version = body.get("apiVersion")
        if kind is not None and kind != rt.kind:
            raise ApiError.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({rt.api_version})" if api_version not in (None, rt.api_version)
                else f"kind: Invalid value: {kind!r}: must be {rt.kind}")
        if api_version is not None and api_version != rt.api_version:
            raise ApiError.bad_request(f"the API version in the data ({api_version}) does not match the "
                                       f"expected API version ({rt.api_version})")
        body["kind"] = rt.kind
        body["apiVersion"] = rt.api_version
        return body

    def _resolve_namespace(self, rt: ResourceType, namespace: str, meta: Obj) -> str:
        if not rt.namespaced:
            meta.pop("namespace", None)
            return ""
        body_ns = meta.get("namespace")
        if body_ns and namespace and body_ns != namespace:
            raise ApiError.bad_request("the namespace of the provided object does not match the namespace "
                                       "sent on the request")
        ns = namespace or body_ns or ""
        if not ns:
            raise ApiError.bad_request("namespace is required for namespaced resources")
        meta["namespace"] = ns
        return str(ns)

    def _check_namespace_open(self, rt: ResourceType, ns: str, name: Any = None) -> None:
        """NamespaceLifecycle on create: 404 for a missing namespace, 403 (cause ``NamespaceTerminating``,
        worded as upstream's ``NewForbidden``) for one being deleted."""
        if not rt.namespaced:
            return
        nso = self.store.get(NAMESPACE_BUCKET, "", ns)
        if nso is None:
            raise ApiError(404, "NotFound", f'namespaces "{ns}" not found', kind="namespaces", name=ns)
        if nso.obj["metadata"].get("deletionTimestamp"):
            resource = f"{rt.plural}.{rt.group}" if rt.group else rt.plural
            named = f'{resource} "{name}"' if isinstance(name, str) and name else resource
            detail = f"unable to create new content in namespace {ns} because it is being terminated"
            raise ApiError(403, "Forbidden", f"{named} is forbidden: {detail}", kind=rt.plural,
                           name=name if isinstance(name, str) else "", group=rt.group,
                           causes=[Cause("metadata.namespace", detail, "NamespaceTerminating")])

    async def _admit(self, op: Operation, rt: ResourceType, ns: str, name: str, obj: Obj | None,
                     old: Obj | None, sub: str, ctx: RequestContext) -> None:
        hooks = self.webhooks is not None and self.webhooks.has_webhooks(rt.storage_key)
        if not hooks and not self.admission.applies(rt.storage_key):
            return  # no plug-in for this resource: nothing could mutate, reject or warn
        req = AdmissionRequest(op, rt, ns, name, obj, old, sub, ctx.user, ctx.dry_run, ctx.user_info)
        await self.admission.prepare(req)
        self.admission.run_mutating(req)
        if hooks and self.webhooks is not None:
            await self.webhooks.mutate(req, rerun_in_tree=lambda: self.admission.run_mutating(req))
        self.admission.run_validating(req)
        if hooks and self.webhooks is not None:
            await self.webhooks.validate(req)
        await self.admission.run_final(req)
        ctx.warnings.extend(req.warnings)

    # ------------------------------------------------------------------ update

    async def update(self, rt: ResourceType, namespace: str, name: str, body: Obj,
                     ctx: RequestContext | None = None, *, subresource: str = "") -> Obj:
        """PUT the whole object (or its ``status`` / ``scale`` subresource)."""
        ctx = ctx or RequestContext()
        if subresource == "scale":
            return await self.update_scale(rt, namespace, name, body, ctx)
        if subresource == "finalize" and rt.storage_key == NAMESPACE_BUCKET:
            return await self._finalize_namespace(rt, name, body)
        self._check_subresource(rt, subresource, "update")
        obj = self._check_type_meta(rt, body)
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            raise ApiError.bad_request("metadata: must be an object")
        if meta.get("name") not in (None, name):
            raise ApiError.bad_request(f"the name of the object ({meta.get('name')}) does not match the name "
                                       f"on the URL ({name})")
        meta["name"] = name
        ns = self._resolve_namespace(rt, namespace, meta)
        current = self.store.get(rt.storage_key, ns, name)
        if current is None:
            raise ApiError.not_found(rt.plural, name, rt.group)
        rv = meta.get("resourceVersion")
        if not rv and not rt.builtin:
            raise ApiError.invalid(rt.kind, name, [Cause("metadata.resourceVersion",
                                                         "Invalid value: 0x0: must be specified for an update")],
                                   rt.group)
        expected = self._parse_rv(rt, name, rv) if rv else current.rv
        return await self._write_update(rt, current, obj, expected, subresource, ctx)

    async def _finalize_namespace(self, rt: ResourceType, name: str, body: Any) -> Obj:
        """PUT namespaces/{name}/finalize: replace ``spec.finalizers``; a terminating namespace with
        no finalizers left is removed."""
        current = self.get(rt, "", name)
        if not isinstance(body, dict):
            raise ApiError.bad_request("Namespace must be an object")
        fins = (body.get("spec") or {}).get("finalizers") or []
        if not isinstance(fins, list):
            raise ApiError.bad_request("spec.finalizers must be a list")
        new = deep_copy(current.obj)
        spec = new.setdefault("spec", {})
        spec["finalizers"] = [str(f) for f in fins]
        if not spec["finalizers"]:
            spec.pop("finalizers")
        meta = new["metadata"]
        if meta.get("deletionTimestamp") and not spec.get("finalizers") and not meta.get("finalizers"):
            return await self._remove(rt, "", name, current.rv)
        so = await self.store.update(rt.storage_key, new, expected_rv=current.rv)
        return so.obj

    def _check_subresource(self, rt: ResourceType, subresource: str, verb: str) -> None:
        if subresource and subresource not in rt.subresources:
            raise ApiError.not_found(f"{rt.plural}/{subresource}", "", rt.group)
        if subresource and subresource not in ("status", "approval"):
            raise ApiError.method_not_allowed(f"{verb} is not supported on {rt.plural}/{subresource}")

    @staticmethod
    def _parse_rv(rt: ResourceType, name: str, rv: Any) -> int:
        try:
            return int(str(rv))
        except ValueError:
            raise ApiError.bad_request(f"metadata.resourceVersion: Invalid value: {rv!r}: must be an "
                                       "integer") from None

    async def _write_update(self, rt: ResourceType, current: StoredObject, obj: Obj, expected_rv: int,
                            subresource: str, ctx: RequestContext, *, managed: bool = False) -> Obj:
        """Shared tail of PUT and PATCH: ``obj`` is the complete desired object (private)."""
        old = current.obj
        name = old["metadata"]["name"]
        ns = old["metadata"].get("namespace", "")
        if expected_rv != current.rv:
            raise ApiError.conflict(rt.plural, name, "the object has been modified; please apply your changes "
                                    "to the latest version and try again", rt.group)
        meta = obj.setdefault("metadata", {})
        uid = meta.get("uid")
        if uid and uid != old["metadata"].get("uid"):
            raise ApiError.conflict(rt.plural, name, f"Precondition failed: UID in precondition: {uid}, "
                                    f"UID in object meta: {old['metadata'].get('uid')}", rt.group)
        meta["name"] = name
        if rt.namespaced:
            meta["namespace"] = ns
        for key in _IMMUTABLE_META:
            if key in old["metadata"]:
                meta[key] = old["metadata"][key]
            else:
                meta.pop(key, None)
        has_status_sub = "status" in rt.subresources
        if subresource == "status":
            new = deep_copy(old)
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
            # /status may not change spec or metadata other than labels/annotations (upstream allows these
            # for some kinds; we keep them to be lenient with controllers that send them).
            for key in ("labels", "annotations"):
                if key in meta:
                    new["metadata"][key] = meta[key]
            obj = new
        elif subresource == "approval":
            # certificates.k8s.io approval: only status.conditions change (upstream csrApprovalStrategy)
            new = deep_copy(old)
            new.setdefault("status", {})["conditions"] = (obj.get("status") or {}).get("conditions")
            obj = new
        elif has_status_sub:
            if "status" in old:
                obj["status"] = old["status"]
            else:
                obj.pop("status", None)
        if "generation" in old["metadata"]:
            meta = obj["metadata"]
            meta["generation"] = old["metadata"]["generation"]
        if rt.storage_key == NAMESPACE_BUCKET and subresource != "status":
            obj["status"] = old.get("status", {})
        self.schemas.normalize(rt, obj, old, ctx)
        if subresource != "status" and rt.has_spec_generation and _spec_changed(old, obj):
            obj["metadata"]["generation"] = int(old["metadata"].get("generation") or 0) + 1
        await self._admit("UPDATE", rt, ns, name, obj, old, subresource, ctx)
        if rt.storage_key == CRD_BUCKET:
            self._prepare_crd(obj, old)
        if not managed and "managedFields" not in (obj.get("metadata") or {}):
            obj["metadata"]["managedFields"] = old["metadata"].get("managedFields", [])
        if not managed:
            obj = record_update(old, obj, ctx.field_manager or "unknown", kind_key(rt), self._now(),
                                extra=self.schemas.list_meta(rt), subresource=subresource,
                                status_subresource="status" in rt.subresources, in_place=True)
        if _without_volatile_meta(obj) == _without_volatile_meta(old) and \
                obj["metadata"].get("managedFields") == old["metadata"].get("managedFields") and \
                not self.store.stale(rt.storage_key, ns, name):  # stale: re-encrypt with the current key
            return old  # no-op: upstream does not write (resourceVersion unchanged)
        if ctx.dry_run:
            obj["metadata"]["resourceVersion"] = str(current.rv)
            return obj
        if obj["metadata"].get("deletionTimestamp") and not obj["metadata"].get("finalizers") and not (
                rt.storage_key == NAMESPACE_BUCKET and _ns_spec_finalizers(obj)):
            return await self._remove(rt, ns, name, current.rv)
        try:
            so = await self.store.update(rt.storage_key, obj, expected_rv=current.rv)
        except ConflictError:
            raise ApiError.conflict(rt.plural, name, "the object has been modified; please apply your "
                                    "changes to the latest version and try again", rt.group) from None
        except NotFoundError:
            raise ApiError.not_found(rt.plural, name, rt.group) from None
        if rt.storage_key == CRD_BUCKET:
            self._register_crd(so.obj)
        return so.obj

    # ------------------------------------------------------------------ patch

    async def patch(self, rt: ResourceType, namespace: str, name: str, patch_type: str, patch: Any,
                    ctx: RequestContext | None = None, *, subresource: str = "") -> Obj:
        """PATCH with ``patch_type`` in {merge, json, strategic, apply}; apply creates if absent."""
        ctx = ctx or RequestContext()
        if subresource == "scale":
            return await self.patch_scale(rt, namespace, name, patch_type, patch, ctx)
        self._check_subresource(rt, subresource, "patch")
        ns = namespace if rt.namespaced else ""
        if rt.namespaced and not ns:
            raise ApiError.bad_request("namespace is required for namespaced resources")
        current = self.store.get(rt.storage_key, ns, name)
        if patch_type == "apply":
            return await self._apply(rt, ns, name, current, patch, ctx, subresource)
        if current is None:
            raise ApiError.not_found(rt.plural, name, rt.group)
        base = deep_copy(current.obj)
        if patch_type == "merge":
            if not isinstance(patch, dict):
                raise ApiError.bad_request("merge patch must be a JSON object")
            patched = json_merge_patch(base, patch)
        elif patch_type == "json":
            patched = apply_json_patch(base, patch)
        elif patch_type == "strategic":
            if not rt.builtin:
                raise ApiError.unsupported_media_type("application/strategic-merge-patch+json")
            if not isinstance(patch, dict):
                raise ApiError.bad_request("strategic merge patch must be a JSON object")
            patched = strategic_merge_patch(base, patch, kind_key(rt))
        else:
            raise ApiError.unsupported_media_type(patch_type)
        if not isinstance(patched, dict):
            raise ApiError.bad_request("the patched object is not a JSON object")
        pmeta = patched.get("metadata")
        if not isinstance(pmeta, dict):
            raise ApiError.bad_request("metadata: must be an object")
        rv = pmeta.get("resourceVersion")
        expected = self._parse_rv(rt, name, rv) if rv else current.rv
        if pmeta.get("name") != name:
            raise ApiError.bad_request("metadata.name: the name of a patched object cannot change")
        if patched.get("kind") != rt.kind or patched.get("apiVersion") != rt.api_version:
            raise ApiError.bad_request("kind and apiVersion of a patched object cannot change")
        return await self._write_update(rt, current, patched, expected, subresource, ctx)

    async def _apply(self, rt: ResourceType, ns: str, name: str, current: StoredObject | None, applied: Any,
                     ctx: RequestContext, subresource: str) -> Obj:
        if not isinstance(applied, dict):
            raise ApiError.bad_request("apply patch must be a YAML or JSON object")
        if not ctx.field_manager:
            raise ApiError.bad_request("PATCH, application/apply-patch+yaml: fieldManager is required for "
                                       "apply requests")
        amt = applied.get("metadata")
        if not isinstance(amt, dict):
            raise ApiError.bad_request("metadata: must be an object")
        if amt.get("name") not in (None, name):
            raise ApiError.bad_request(f"the name of the object ({amt.get('name')}) does not match the name "
                                       f"on the URL ({name})")
        if applied.get("kind") != rt.kind or applied.get("apiVersion") != rt.api_version:
            raise ApiError.bad_request(f"apiVersion and kind must be {rt.api_version}, {rt.kind}")
        if "managedFields" in amt:
            raise ApiError.bad_request("metadata.managedFields must be nil")
        amt["name"] = name
        if rt.namespaced:
            if amt.get("namespace") not in (None, ns):
                raise ApiError.bad_request("the namespace of the provided object does not match the namespace "
                                           "sent on the request")
            amt["namespace"] = ns
        live = current.obj if current is not None else None
        result = server_side_apply(live, applied, ctx.field_manager, kind_key(rt), force=ctx.force,
                                   now=self._now(), extra=self.schemas.list_meta(rt), subresource=subresource,
                                status_subresource="status" in rt.subresources)
        if current is None:
            if subresource:
                raise ApiError.not_found(rt.plural, name, rt.group)
            return await self.create(rt, ns, result, ctx)
        rv = amt.get("resourceVersion")
        expected = self._parse_rv(rt, name, rv) if rv else current.rv
        return await self._write_update(rt, current, result, expected, subresource, ctx, managed=True)

    # ------------------------------------------------------------------ delete

    async def delete(self, rt: ResourceType, namespace: str, name: str, options: Obj | None = None,
                     ctx: RequestContext | None = None) -> tuple[Obj, bool]:
        """DELETE honouring finalizers, propagation policy and preconditions.

        Returns ``(object, gone)``: ``gone`` is False when the object was only marked for
        deletion (``deletionTimestamp`` set, finalizers pending).
        """
        ctx = ctx or RequestContext()
        if "delete" not in rt.verbs:
            raise ApiError.method_not_allowed(f"delete is not supported on {rt.qualified}")
        options = options or {}
        if not isinstance(options, dict):
            raise ApiError.bad_request("DeleteOptions must be an object")
        ns = namespace if rt.namespaced else ""
        current = self.store.get(rt.storage_key, ns, name)
        if current is None:
            raise ApiError.not_found(rt.plural, name, rt.group)
        pre = options.get("preconditions") or {}
        if not isinstance(pre, dict):
            raise ApiError.bad_request("preconditions must be an object")
        meta = current.obj["metadata"]
        if pre.get("uid") and pre["uid"] != meta.get("uid"):
            raise ApiError.conflict(rt.plural, name, f"Precondition failed: UID in precondition: {pre['uid']}, "
                                    f"UID in object meta: {meta.get('uid')}", rt.group)
        if pre.get("resourceVersion") and str(pre["resourceVersion"]) != str(current.rv):
            raise ApiError.conflict(rt.plural, name, "Precondition failed: ResourceVersion in precondition: "
                                    f"{pre['resourceVersion']}, ResourceVersion in object meta: {current.rv}",
                                    rt.group)
        policy = options.get("propagationPolicy")
        if options.get("orphanDependents") is True and policy is None:
            policy = "Orphan"
        if policy not in (None, "Background", "Foreground", "Orphan"):
            raise ApiError.bad_request(f"propagationPolicy: Unsupported value: {policy!r}: supported values: "
                                       '"Background", "Foreground", "Orphan"')
        grace = options.get("gracePeriodSeconds")
        if grace is not None and (not isinstance(grace, int) or isinstance(grace, bool)):
            raise ApiError.bad_request("gracePeriodSeconds: must be an integer")
        await self._admit("DELETE", rt, ns, name, None, current.obj, "", ctx)
        finalizers = list(meta.get("finalizers") or [])
        if policy == "Orphan" and "orphan" not in finalizers:
            finalizers.append("orphan")
        if policy == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        if policy in ("Background", None):
            finalizers = [f for f in finalizers if f not in ("orphan", "foregroundDeletion")] \
                if not meta.get("deletionTimestamp") else finalizers
        graceful = self._graceful_pod_delete(rt, current.obj, grace)
        # a namespace's spec.finalizers (``kubernetes``) block removal until the namespace controller empties it
        held = graceful or (rt.storage_key == NAMESPACE_BUCKET and bool(_ns_spec_finalizers(current.obj)))
        if ctx.dry_run:
            return current.obj, not finalizers and not held
        if not finalizers and not held:
            return await self._remove(rt, ns, name, current.rv), True
        if meta.get("deletionTimestamp") and finalizers == list(meta.get("finalizers") or []):
            if rt.storage_key == "pods" and grace == 0:
                return await self._remove(rt, ns, name, current.rv), True
            return current.obj, False
        new = deep_copy(current.obj)
        nm = new["metadata"]
        nm["finalizers"] = finalizers
        if not finalizers:
            nm.pop("finalizers")
        if not nm.get("deletionTimestamp"):
            nm["deletionTimestamp"] = self._now()
            nm["deletionGracePeriodSeconds"] = int(grace) if graceful and grace is not None else (
                self._pod_grace(current.obj) if graceful else 0)
            if rt.has_spec_generation and "generation" in nm:
                nm["generation"] = int(nm["generation"]) + 1
        if rt.storage_key == NAMESPACE_BUCKET:
            new.setdefault("status", {})["phase"] = "Terminating"
        try:
            so = await self.store.update(rt.storage_key, new, expected_rv=current.rv)
        except ConflictError:
            raise ApiError.conflict(rt.plural, name, "the object has been modified; please retry", rt.group) \
                from None
        if rt.storage_key == CRD_BUCKET:
            self._spawn(self._cleanup_crd(so.obj))
        return so.obj, False

    def _graceful_pod_delete(self, rt: ResourceType, pod: Obj, grace: Any) -> bool:
        """Bound pods on an existing node wait for their node agent (upstream kubelet semantics)."""
        if rt.storage_key != "pods" or grace == 0:
            return False
        node = (pod.get("spec") or {}).get("nodeName")
        if not node or self.store.get("nodes", "", str(node)) is None:
            return False
        phase = (pod.get("status") or {}).get("phase")
        return phase not in ("Succeeded", "Failed")

    @staticmethod
    def _pod_grace(pod: Obj) -> int:
        g = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
        return int(g) if isinstance(g, int) else 30

    async def _remove(self, rt: ResourceType, ns: str, name: str, expected_rv: int) -> Obj:
        try:
            so = await self.store.delete(rt.storage_key, ns, name, expected_rv=expected_rv)
        except NotFoundError:
            raise ApiError.not_found(rt.plural, name, rt.group) from None
        except ConflictError:
            raise ApiError.conflict(rt.plural, name, "the object has been modified; please retry", rt.group) \
                from None
        if rt.storage_key == CRD_BUCKET:
            self._unregister_crd(so.obj)
        return so.obj

    async def delete_collection(self, rt: ResourceType, namespace: str, options: Obj | None,
                                ctx: RequestContext | None = None, *, label_selector: str = "",
                                field_selector: str = "") -> builtins.list[Obj]:
        if "deletecollection" not in rt.verbs:
            raise ApiError.method_not_allowed(f"deletecollection is not supported on {rt.qualified}")
        page = self.list(rt, namespace, label_selector=label_selector, field_selector=field_selector)
        out = []
        for so in page.items:
            m = so.obj["metadata"]
            try:
                obj, _ = await self.delete(rt, str(m.get("namespace") or ""), str(m["name"]), options, ctx)
            except ApiError as err:
                if err.code == 404:
                    continue
                raise
            out.append(obj)
        return out

    # ------------------------------------------------------------------ pod subresources

    async def bind(self, namespace: str, name: str, binding: Obj, ctx: RequestContext | None = None) -> None:
        """POST pods/{name}/binding: set ``spec.nodeName`` once (409 if already bound)."""
        ctx = ctx or RequestContext()
        pods = self.resource("", "v1", "pods")
        if not isinstance(binding, dict):
            raise ApiError.bad_request("Binding must be an object")
        target = binding.get("target")
        if not isinstance(target, dict) or not target.get("name"):
            raise ApiError.invalid("Binding", name, [Cause("target.name", "Required value",
                                                           "FieldValueRequired")])
        bmeta = binding.get("metadata") or {}
        if bmeta.get("name") not in (None, name):
            raise ApiError.bad_request("the name of the binding does not match the pod name on the URL")
        current = self.get(pods, namespace, name)
        if current.obj["metadata"].get("deletionTimestamp"):
            raise ApiError.conflict("pods", name, "pod is being deleted, cannot be assigned to a host")
        node = (current.obj.get("spec") or {}).get("nodeName")
        if node:
            raise ApiError.conflict("pods", name, f"pod {name} is already assigned to node \"{node}\"")
        # Copy only what changes (the object, metadata, spec, status, conditions, annotations);
        # everything else is shared with the stored object, which nobody mutates.
        old = current.obj
        new = dict(old)
        nmeta = new["metadata"] = dict(old["metadata"])
        new["spec"] = {**old["spec"], "nodeName": str(target["name"])} if "spec" in old \
            else {"nodeName": str(target["name"])}
        status = new["status"] = dict(old["status"]) if "status" in old else {}
        conds = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                      "lastTransitionTime": self._now()})
        status["conditions"] = conds
        if bmeta.get("annotations"):
            annotations = nmeta["annotations"] = dict(nmeta["annotations"]) if "annotations" in nmeta else {}
            annotations.update(bmeta["annotations"])
        if ctx.dry_run:
            return
        try:
            await self.store.update("pods", new, expected_rv=current.rv)
        except ConflictError:
            raise ApiError.conflict("pods", name, "the object has been modified; please retry") from None

    async def evict(self, namespace: str, name: str, eviction: Obj, ctx: RequestContext | None = None) -> None:
        """POST pods/{name}/eviction: delete the pod with the eviction's DeleteOptions, after taking one
        disruption from the PodDisruptionBudget guarding it (429 TooManyRequests when none is left)."""
        ctx = ctx or RequestContext()
        pods = self.resource("", "v1", "pods")
        if not isinstance(eviction, dict):
            raise ApiError.bad_request("Eviction must be an object")
        emeta = eviction.get("metadata") or {}
        if emeta.get("name") not in (None, name):
            raise ApiError.bad_request("name in URL does not match name in Eviction object")
        opts = eviction.get("deleteOptions") or {}
        if not isinstance(opts, dict):
            raise ApiError.bad_request("deleteOptions must be an object")
        pod = self.get(pods, namespace, name).obj
        if not can_ignore_budget(pod):
            await self._consume_budget(pod, ctx)
        await self.delete(pods, namespace, name, opts, ctx)

    async def _consume_budget(self, pod: Obj, ctx: RequestContext) -> None:
        """Decrement the one PodDisruptionBudget guarding ``pod`` or raise 429 (upstream eviction.go)."""
        ns = pod["metadata"]["namespace"]
        for _attempt in range(5):  # re-read the budget on a write conflict
            listed = self.store.list(PDB_BUCKET, ns).items
            budgets = budgets_for(pod, [so.obj for so in listed])
            if not budgets:
                return
            if len(budgets) > 1:
                raise ApiError.internal("This pod has more than one PodDisruptionBudget, which the eviction "
                                        "subresource does not support.")
            pdb = budgets[0]
            status = pdb.get("status") or {}
            if not pod_ready(pod):
                # an unhealthy pod does not count towards currentHealthy: evicting it costs nothing when the
                # budget allows it (AlwaysAllow) or is already met (IfHealthyBudget)
                policy = (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy")
                desired, healthy = int(status.get("desiredHealthy") or 0), int(status.get("currentHealthy") or 0)
                if policy == "AlwaysAllow" or (desired > 0 and healthy >= desired):
                    return
            new = deep_copy(pdb)
            new["status"] = check_and_decrement(pdb, pod["metadata"]["name"], self._now())
            if ctx.dry_run:
                return
            rv = next(so.rv for so in listed if so.obj is pdb)
            try:
                await self.store.update(PDB_BUCKET, new, expected_rv=rv)
                return
            except ConflictError:
                continue
        raise ApiError.conflict("poddisruptionbudgets", "", "the budget kept changing; please retry", "policy")

    # ------------------------------------------------------------------ scale subresource

    def _scale_of(self, rt: ResourceType, obj: Obj) -> Obj:
        spec = rt.scale
        if spec is None:
            raise ApiError.not_found(f"{rt.plural}/scale", "", rt.group)
        from suanli.apimachinery.objects import get_path

        replicas = get_path(obj, spec.spec_replicas_path.lstrip("."))
        status_replicas = get_path(obj, spec.status_replicas_path.lstrip("."))
        selector = ""
        if spec.label_selector_path:
            sel = get_path(obj, spec.label_selector_path.lstrip("."))
            if isinstance(sel, str):
                selector = sel
            elif isinstance(sel, dict):
                selector = str(label_selector_from_object(sel))
        if not selector and rt.builtin:
            sel = (obj.get("spec") or {}).get("selector") or {}
            # a ReplicationController's selector is a plain label map, not a LabelSelector
            ms = sel if rt.kind == "ReplicationController" else sel.get("matchLabels") or {}
            selector = ",".join(f"{k}={v}" for k, v in sorted(ms.items()))
        m = obj["metadata"]
        scale_meta = {k: m[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                      if k in m}
        return {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": scale_meta,
                "spec": {"replicas": int(replicas or 0)},
                "status": {"replicas": int(status_replicas or 0), "selector": selector}}

    def get_scale(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        return self._scale_of(rt, self.get(rt, namespace, name).obj)

    async def update_scale(self, rt: ResourceType, namespace: str, name: str, scale: Obj,
                           ctx: RequestContext) -> Obj:
        if not isinstance(scale, dict):
            raise ApiError.bad_request("Scale must be an object")
        current = self.get(rt, namespace, name)
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise ApiError.invalid("Scale", name, [Cause("spec.replicas",
                                                         f"Invalid value: {replicas!r}: must be greater "
                                                         "than or equal to 0")], "autoscaling")
        rv = (scale.get("metadata") or {}).get("resourceVersion")
        expected = self._parse_rv(rt, name, rv) if rv else current.rv
        return await self._set_replicas(rt, current, replicas, expected, ctx)

    async def patch_scale(self, rt: ResourceType, namespace: str, name: str, patch_type: str, patch: Any,
                          ctx: RequestContext) -> Obj:
        current = self.get(rt, namespace, name)
        scale = self._scale_of(rt, current.obj)
        if patch_type == "merge":
            patched = json_merge_patch(scale, patch)
        elif patch_type == "json":
            patched = apply_json_patch(scale, patch)
        elif patch_type == "strategic":
            patched = strategic_merge_patch(scale, patch, "autoscaling/Scale")
        else:
            raise ApiError.unsupported_media_type(patch_type)
        return await self.update_scale(rt, namespace, name, patched, ctx)

    async def _set_replicas(self, rt: ResourceType, current: StoredObject, replicas: int, expected: int,
                            ctx: RequestContext) -> Obj:
        assert rt.scale is not None
        obj = deep_copy(current.obj)
        cur: Any = obj
        parts = rt.scale.spec_replicas_path.lstrip(".").split(".")
        for p in parts[:-1]:
            cur = cur.setdefault(p, {})
        cur[parts[-1]] = replicas
        updated = await self._write_update(rt, current, obj, expected, "", ctx)
        return self._scale_of(rt, updated)

    # ------------------------------------------------------------------ CRDs

    def _prepare_crd(self, crd: Obj, old: Obj | None) -> None:
        from suanli.kinds.crd import crd_status_accepted, validate_crd

        name = crd["metadata"].get("name", "")
        causes = validate_crd(crd)
        if causes:
            raise ApiError.invalid("CustomResourceDefinition", name, causes, "apiextensions.k8s.io")
        if old is not None and old["spec"].get("group") != crd["spec"].get("group"):
            raise ApiError.invalid("CustomResourceDefinition", name,
                                   [Cause("spec.group", "Invalid value: field is immutable")],
                                   "apiextensions.k8s.io")
        fins = crd["metadata"].setdefault("finalizers", [])
        if CRD_CLEANUP_FINALIZER not in fins and not crd["metadata"].get("deletionTimestamp"):
            fins.append(CRD_CLEANUP_FINALIZER)
        crd["status"] = crd_status_accepted(crd, self._now())

    def _register_crd(self, crd: Obj) -> None:
        from suanli.kinds.crd import resource_types_from_crd

        group = crd["spec"]["group"]
        plural = crd["spec"]["names"]["plural"]
        served = resource_types_from_crd(crd)
        for rt in self.registry.all():
            if rt.group == group and rt.plural == plural and not rt.builtin and \
                    all(s.version != rt.version for s in served):
                self.registry.remove(rt.group, rt.version, rt.plural)
        self.registry.add_all(served)

    def _unregister_crd(self, crd: Obj) -> None:
        group = crd["spec"]["group"]
        plural = crd["spec"]["names"]["plural"]
        for v in crd["spec"].get("versions") or []:
            self.registry.remove(group, str(v.get("name")), plural)
        self.store.drop_bucket_watchers(f"{group}/{plural}")

    def restore_crds(self) -> None:
        """Serve every stored CRD (start-up) and resume pending CRD deletions."""
        for so in self.store.list(CRD_BUCKET).items:
            try:
                self._register_crd(so.obj)
            except Exception:  # a broken stored CRD must not stop the server
                log.exception("cannot serve stored CRD %s", so.obj["metadata"].get("name"))
                continue
            if so.obj["metadata"].get("deletionTimestamp"):
                self._spawn(self._cleanup_crd(so.obj))

    async def _cleanup_crd(self, crd: Obj) -> None:
        """Delete every custom resource of ``crd``, then drop the cleanup finalizer."""
        group = crd["spec"]["group"]
        plural = crd["spec"]["names"]["plural"]
        bucket = f"{group}/{plural}"
        for so in self.store.list(bucket).items:
            m = so.obj["metadata"]
            current = self.store.get(bucket, str(m.get("namespace") or ""), str(m["name"]))
            if current is None:
                continue
            try:
                await self.store.delete(bucket, str(m.get("namespace") or ""), str(m["name"]))
            except NotFoundError:
                continue
        name = crd["metadata"]["name"]
        current = self.store.get(CRD_BUCKET, "", name)
        if current is None:
            return
        new = deep_copy(current.obj)
        fins = [f for f in new["metadata"].get("finalizers") or [] if f != CRD_CLEANUP_FINALIZER]
        if fins:
            new["metadata"]["finalizers"] = fins
            await self.store.update(CRD_BUCKET, new, expected_rv=current.rv)
        else:
            await self.store.delete(CRD_BUCKET, "", name, expected_rv=current.rv)
            self._unregister_crd(current.obj)

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain_background(self) -> None:
        """Wait for background work (CRD cleanup) to finish; used by shutdown and tests."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    # ------------------------------------------------------------------ misc

    def now(self) -> datetime:
        return datetime.now(UTC)
