"""The bootstrap RBAC policy kube-apiserver creates at start, and its reconciliation.

Roles and bindings follow upstream's plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go
(checked against its testdata/cluster-roles.yaml fixture)
(the user-facing part; controller roles are not needed, our own components' least-privilege
roles ship with the manifests): ``cluster-admin`` bound to ``system:masters``; the aggregated
``admin`` ⊇ ``edit`` ⊇ ``view`` (``edit`` carries the ``aggregate-to-admin`` label and ``view``
the ``aggregate-to-edit`` one, so each level contains the next) filled from
``system:aggregate-to-{admin,edit,view}``; ``system:discovery``, ``system:basic-user`` and
``system:public-info-viewer`` with their bindings. Every object carries the label
``kubernetes.io/bootstrapping: rbac-defaults`` and the annotation
``rbac.authorization.kubernetes.io/autoupdate: "true"``.

Suanli adds ``suanli:aggregate-to-view`` and ``suanli:aggregate-to-edit``: read, and write, on
every kind of the CustomResourceDefinitions Suanli ships (Volcano, NFD, the operators — whatever
list the platform installs), so ``view``/``edit``/``admin`` cover them as they cover built-ins.
A CRD a user creates needs its own aggregated role, as upstream.

:func:`reconcile_bootstrap_policy` runs at every start, as upstream's ``EnsureRBACPolicy``:
missing objects are created; an existing one whose autoupdate annotation is not ``"false"``
gets missing labels, annotations, rules (not for aggregated roles, whose rules the aggregation
controller owns), aggregation selectors and subjects added — user additions are never removed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj, deep_copy
from suanli.apiserver.authz.rules import Rule
from suanli.apiserver.service import ApiService

__all__ = ["AUTOUPDATE_ANNOTATION", "aggregate_label", "bootstrap_cluster_role_bindings", "bootstrap_cluster_roles",
           "bootstrap_namespace_policy",
           "reconcile_bootstrap_policy"]

RBAC_API = "rbac.authorization.k8s.io/v1"
AUTOUPDATE_ANNOTATION = "rbac.authorization.kubernetes.io/autoupdate"
BOOTSTRAP_LABEL = {"kubernetes.io/bootstrapping": "rbac-defaults"}

READ = ("get", "list", "watch")
WRITE = ("create", "update", "patch", "delete", "deletecollection")
READ_WRITE = READ + WRITE


def aggregate_label(level: str) -> str:
    """``rbac.authorization.k8s.io/aggregate-to-<level>`` (level: admin, edit or view)."""
    return f"rbac.authorization.k8s.io/aggregate-to-{level}"


def _rule(verbs: Sequence[str], groups: Sequence[str] = (), resources: Sequence[str] = (),
          urls: Sequence[str] = ()) -> Rule:
    return Rule(tuple(verbs), tuple(groups), tuple(resources), (), tuple(urls))


_VIEW = (
    _rule(READ, [""], ["pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services",
                       "services/status", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status",
                       "configmaps"]),
    _rule(READ, [""], ["limitranges", "resourcequotas", "bindings", "events", "pods/status", "resourcequotas/status",
                       "namespaces/status", "replicationcontrollers/status", "pods/log"]),
    _rule(READ, [""], ["namespaces"]),
    _rule(READ, ["discovery.k8s.io"], ["endpointslices"]),
    _rule(READ, ["apps"], ["controllerrevisions", "statefulsets", "statefulsets/status", "statefulsets/scale",
                           "daemonsets", "daemonsets/status", "deployments", "deployments/status", "deployments/scale",
                           "replicasets", "replicasets/status", "replicasets/scale"]),
    _rule(READ, ["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
    _rule(READ, ["batch"], ["jobs", "jobs/status", "cronjobs", "cronjobs/status"]),
    _rule(READ, ["extensions"], ["daemonsets", "daemonsets/status", "deployments", "deployments/scale",
                                 "deployments/status", "ingresses", "ingresses/status", "replicasets",
                                 "replicasets/scale", "replicasets/status", "replicationcontrollers/scale",
                                 "networkpolicies"]),
    _rule(READ, ["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
    _rule(READ, ["networking.k8s.io"], ["networkpolicies", "ingresses", "ingresses/status"]),
)
_EDIT = (
    _rule(READ, [""], ["pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets", "services/proxy"]),
    _rule(["impersonate"], [""], ["serviceaccounts"]),
    _rule(WRITE, [""], ["pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"]),
    _rule(["create"], [""], ["pods/eviction"]),
    _rule(WRITE, [""], ["replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services",
                        "services/proxy", "persistentvolumeclaims", "configmaps", "secrets", "events"]),
    _rule(["create"], [""], ["serviceaccounts/token"]),
    _rule(WRITE, ["apps"], ["statefulsets", "statefulsets/scale", "daemonsets", "deployments", "deployments/scale",
                            "deployments/rollback", "replicasets", "replicasets/scale"]),
    _rule(WRITE, ["autoscaling"], ["horizontalpodautoscalers"]),
    _rule(WRITE, ["batch"], ["jobs", "cronjobs"]),
    _rule(WRITE, ["extensions"], ["daemonsets", "deployments", "deployments/scale", "deployments/rollback",
                                  "ingresses", "replicasets", "replicasets/scale", "replicationcontrollers/scale",
                                  "networkpolicies"]),
    _rule(WRITE, ["policy"], ["poddisruptionbudgets"]),
    _rule(WRITE, ["networking.k8s.io"], ["networkpolicies", "ingresses"]),
    _rule(READ_WRITE, ["coordination.k8s.io"], ["leases"]),
)
_ADMIN = (
    _rule(["create"], ["authorization.k8s.io"], ["localsubjectaccessreviews"]),
    _rule(READ_WRITE, ["rbac.authorization.k8s.io"], ["roles", "rolebindings"]),
)
_HEALTH_URLS = ("/livez", "/readyz", "/healthz", "/version", "/version/")


def _meta(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"name": name, "labels": {**BOOTSTRAP_LABEL, **(labels or {})},
            "annotations": {AUTOUPDATE_ANNOTATION: "true"}}


def _role(name: str, rules: Iterable[Rule], labels: dict[str, str] | None = None,
          aggregate_from: str | None = None) -> Obj:
    obj: Obj = {"apiVersion": RBAC_API, "kind": "ClusterRole", "metadata": _meta(name, labels),
                "rules": [r.as_obj() for r in rules]}
    if aggregate_from is not None:
        obj["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {aggregate_label(aggregate_from): "true"}}]}
    return obj


def crd_rules(crds: Iterable[Obj], *, write: bool) -> list[Rule]:
    """One rule per CRD group: read (with ``status``) or write (with ``scale`` where served) its kinds."""
    by_group: dict[str, list[str]] = {}
    for crd in crds:
        spec = crd.get("spec") or {}
        plural = str((spec.get("names") or {}).get("plural") or "")
        subs: set[str] = set()
        for v in spec.get("versions") or []:
            subs.update((v.get("subresources") or {}).keys())
        res = by_group.setdefault(str(spec.get("group") or ""), [])
        res.append(plural)
        if not write and "status" in subs:
            res.append(f"{plural}/status")
        if "scale" in subs:
            res.append(f"{plural}/scale")
    return [_rule(WRITE if write else READ, [g], res) for g, res in sorted(by_group.items())]


def bootstrap_cluster_roles(shipped_crds: Iterable[Obj] = ()) -> list[Obj]:
    """The bootstrap ClusterRoles; ``shipped_crds`` are the CRDs Suanli installs itself."""
    crds = list(shipped_crds)
    return [
        _role("cluster-admin", [_rule(["*"], ["*"], ["*"]), _rule(["*"], urls=["*"])]),
        _role("admin", [], aggregate_from="admin"),
        _role("edit", [], {aggregate_label("admin"): "true"}, aggregate_from="edit"),
        _role("view", [], {aggregate_label("edit"): "true"}, aggregate_from="view"),
        _role("system:aggregate-to-admin", _ADMIN, {aggregate_label("admin"): "true"}),
        _role("system:aggregate-to-edit", _EDIT, {aggregate_label("edit"): "true"}),
        _role("system:aggregate-to-view", _VIEW, {aggregate_label("view"): "true"}),
        _role("system:discovery", [_rule(["get"], urls=[*_HEALTH_URLS, "/api", "/api/*", "/apis", "/apis/*",
                                                         "/openapi", "/openapi/*"])]),
        _role("system:basic-user", [
            _rule(["create"], ["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
            _rule(["create"], ["authentication.k8s.io"], ["selfsubjectreviews"])]),
        _role("system:public-info-viewer", [_rule(["get"], urls=_HEALTH_URLS)]),
        _role("system:auth-delegator", [_rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
                                        _rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews"])]),
        _role("suanli:aggregate-to-view", crd_rules(crds, write=False), {aggregate_label("view"): "true"}),
        _role("suanli:aggregate-to-edit", crd_rules(crds, write=True), {aggregate_label("edit"): "true"}),
    ]


def _binding(name: str, *groups: str) -> Obj:
    return {"apiVersion": RBAC_API, "kind": "ClusterRoleBinding", "metadata": _meta(name),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g} for g in groups]}


def bootstrap_cluster_role_bindings() -> list[Obj]:
    """The bootstrap ClusterRoleBindings (each named like the ClusterRole it binds)."""
    return [
        _binding("cluster-admin", "system:masters"),
        _binding("system:discovery", "system:authenticated"),
        _binding("system:basic-user", "system:authenticated"),
        _binding("system:public-info-viewer", "system:authenticated", "system:unauthenticated"),
    ]


def bootstrap_namespace_policy() -> list[tuple[str, Obj]]:
    """The bootstrap Roles/RoleBindings of kube-system Suanli needs, as ``(plural, object)``:
    upstream's ``extension-apiserver-authentication-reader`` (read the
    ``extension-apiserver-authentication`` ConfigMap, which extension API servers are bound to) and
    its ``system::extension-apiserver-authentication-reader`` binding."""
    role = "extension-apiserver-authentication-reader"
    reader: Obj = {"apiVersion": RBAC_API, "kind": "Role", "metadata": {**_meta(role), "namespace": "kube-system"},
                   "rules": [Rule(("get", "list", "watch"), ("",), ("configmaps",),
                                  ("extension-apiserver-authentication",)).as_obj()]}
    binding: Obj = {"apiVersion": RBAC_API, "kind": "RoleBinding",
                    "metadata": {**_meta(f"system::{role}"), "namespace": "kube-system"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
                    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": u}
                                 for u in ("system:kube-controller-manager", "system:kube-scheduler")]}
    return [("roles", reader), ("rolebindings", binding)]


def _merge_role(current: Obj, want: Obj) -> Obj | None:
    """``current`` with what ``want`` adds, or None when nothing is missing."""
    new = deep_copy(current)
    meta = new.setdefault("metadata", {})
    changed = False
    for key in ("labels", "annotations"):
        have = meta.setdefault(key, {}) or {}
        meta[key] = have
        for k, v in want["metadata"][key].items():
            if k not in have:
                have[k] = v
                changed = True
    if "aggregationRule" in want:
        agg = new.setdefault("aggregationRule", {})
        selectors = agg.setdefault("clusterRoleSelectors", [])
        for sel in want["aggregationRule"]["clusterRoleSelectors"]:
            if sel not in selectors:
                selectors.append(sel)
                changed = True
    elif "rules" in want:
        have_rules = {Rule.from_obj(r) for r in new.get("rules") or []}
        for r in want["rules"]:
            if Rule.from_obj(r) not in have_rules:
                new.setdefault("rules", []).append(r)
                changed = True
    if "subjects" in want:
        subjects = new.setdefault("subjects", [])
        for s in want["subjects"]:
            if not any(h.get("kind") == s["kind"] and h.get("name") == s["name"] for h in subjects):
                subjects.append(s)
                changed = True
    return new if changed else None


async def _ensure_namespace(service: ApiService, name: str) -> None:
    """Create namespace ``name`` when missing (upstream's ``tryEnsureNamespace`` before a Role)."""
    if service.store.get("namespaces", "", name) is not None:
        return
    try:
        await service.create(service.resource("", "v1", "namespaces"), "",
                             {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    except ApiError as err:
        if err.code != 409:
            raise


async def reconcile_bootstrap_policy(service: ApiService, shipped_crds: Iterable[Obj] = ()) -> None:
    """Create the bootstrap roles and bindings, or add to them what they miss (see module doc)."""
    wanted = [*(("clusterroles", o) for o in bootstrap_cluster_roles(shipped_crds)),
              *(("clusterrolebindings", o) for o in bootstrap_cluster_role_bindings()),
              *bootstrap_namespace_policy()]
    for plural, want in wanted:
        rt = service.resource("rbac.authorization.k8s.io", "v1", plural)
        name, ns = want["metadata"]["name"], str(want["metadata"].get("namespace") or "")
        current = service.store.get(rt.storage_key, ns, name)
        if current is None:
            if ns:
                await _ensure_namespace(service, ns)
            try:
                await service.create(rt, ns, deep_copy(want))
            except ApiError as err:
                if err.code != 409:
                    raise
            continue
        if (current.obj["metadata"].get("annotations") or {}).get(AUTOUPDATE_ANNOTATION) == "false":
            continue
        merged = _merge_role(current.obj, want)
        if merged is not None:
            await service.update(rt, ns, name, merged)
