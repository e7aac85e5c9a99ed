"""Server-side apply, managedFields bookkeeping and the fieldsV1 encoding."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.patch import (
    field_paths,
    fields_of,
    from_fields_v1,
    list_meta_from_schema,
    managed_fields_of,
    record_update,
    server_side_apply,
    to_fields_v1,
)

T0, T1, T2 = "2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z", "2024-01-01T00:02:00Z"
KIND = "apps/Deployment"


def deploy(
    replicas: int | None = 2,
    labels: dict[str, str] | None = None,
    image: str = "nginx:1",
    extra_containers: tuple[dict[str, Any], ...] = (),
    **spec: Any,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "labels": labels if labels is not None else {"app": "web"},
        },
        "spec": {
            "template": {"spec": {"containers": [{"name": "nginx", "image": image}, *extra_containers]}},
            **spec,
        },
    }
    if replicas is not None:
        obj["spec"]["replicas"] = replicas
    return obj


def owners(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {k: to_fields_v1(v) for k, v in managed_fields_of(obj).items()}


# -- fieldsV1 -------------------------------------------------------------------------------


def test_fields_of_uses_upstream_fieldsv1_format() -> None:
    obj = deploy()
    obj["metadata"].update(resourceVersion="7", uid="u", finalizers=["example.com/x"])
    obj["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 80}]
    assert fields_of(obj, KIND) == {
        "f:metadata": {"f:finalizers": {'v:"example.com/x"': {}}, "f:labels": {"f:app": {}}},
        "f:spec": {
            "f:replicas": {},
            "f:template": {
                "f:spec": {
                    "f:containers": {
                        'k:{"name":"nginx"}': {
                            ".": {},
                            "f:image": {},
                            "f:name": {},
                            "f:ports": {
                                'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}
                            },
                        }
                    }
                }
            },
        },
    }


@pytest.mark.parametrize(
    "obj",
    [
        deploy(),
        {"metadata": {"labels": {}}, "spec": {"tolerations": [{"key": "a"}], "x": {"y": 1}}},
        {"metadata": {"finalizers": ["a", "b"], "ownerReferences": [{"uid": "1", "name": "o"}]}},
    ],
    ids=["deployment roundtrips", "empty map and atomic list roundtrip", "set and map lists roundtrip"],
)
def test_fieldsv1_roundtrip(obj: dict[str, Any]) -> None:
    paths = field_paths(obj, KIND)
    assert paths and from_fields_v1(to_fields_v1(paths)) == paths


def test_untracked_metadata_fields() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "p",
            "namespace": "d",
            "uid": "u",
            "resourceVersion": "1",
            "generation": 3,
            "creationTimestamp": T0,
            "managedFields": [{"manager": "m"}],
        },
        "status": {"phase": "Running"},
    }
    assert fields_of(obj, "Pod") == {}
    assert fields_of(obj, "Pod", subresource="status") == {"f:status": {"f:phase": {}}}


# -- server-side apply --------------------------------------------------------------------


def test_create_if_absent() -> None:
    applied = deploy()
    out = server_side_apply(None, applied, "kubectl", KIND, force=False, now=T0)
    assert {k: v for k, v in out.items() if k != "metadata"} == {
        k: v for k, v in applied.items() if k != "metadata"
    }
    assert out["metadata"]["managedFields"] == [
        {
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": fields_of(applied, KIND),
        }
    ]
    assert applied == deploy(), "input must not be mutated"


def test_apply_changes_own_field_without_conflict() -> None:
    live = server_side_apply(None, deploy(), "kubectl", KIND, force=False, now=T0)
    out = server_side_apply(live, deploy(replicas=5, image="nginx:2"), "kubectl", KIND, force=False, now=T1)
    assert out["spec"]["replicas"] == 5
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "nginx", "image": "nginx:2"}]
    assert out["metadata"]["managedFields"][0]["time"] == T1


DROPS = [
    (
        deploy(labels={"app": "web", "tier": "fe"}),
        deploy(),
        lambda o: o["metadata"]["labels"] == {"app": "web"},
    ),
    (deploy(), deploy(replicas=None), lambda o: "replicas" not in o["spec"]),
    (
        deploy(extra_containers=({"name": "side", "image": "s"},)),
        deploy(),
        lambda o: [c["name"] for c in o["spec"]["template"]["spec"]["containers"]] == ["nginx"],
    ),
    (deploy(paused=True), deploy(), lambda o: "paused" not in o["spec"]),
]


@pytest.mark.parametrize(
    ("first", "second", "check"),
    DROPS,
    ids=[
        "apply removes label dropped from config",
        "apply removes field dropped from config",
        "apply removes container dropped from config",
        "apply removes bool field",
    ],
)
def test_apply_removes_dropped_fields(first: Any, second: Any, check: Any) -> None:
    live = server_side_apply(None, first, "kubectl", KIND, force=False, now=T0)
    out = server_side_apply(live, second, "kubectl", KIND, force=False, now=T1)
    assert check(out), out
    assert managed_fields_of(out)[("kubectl", "Apply")] == field_paths(second, KIND)


def test_apply_keeps_field_owned_by_another_manager() -> None:
    live = server_side_apply(
        None, deploy(labels={"app": "web", "team": "a"}), "alice", KIND, force=False, now=T0
    )
    live = server_side_apply(
        live,
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"team": "a"}}},
        "bob",
        KIND,
        force=False,
        now=T1,
    )
    out = server_side_apply(live, deploy(labels={"app": "web"}), "alice", KIND, force=False, now=T2)
    assert out["metadata"]["labels"] == {"app": "web", "team": "a"}
    assert ("f:metadata", "f:labels", "f:team") in managed_fields_of(out)[("bob", "Apply")]


def test_apply_keeps_items_added_by_other_writers() -> None:
    live = server_side_apply(None, deploy(), "kubectl", KIND, force=False, now=T0)
    injected = copy.deepcopy(live)
    injected["spec"]["template"]["spec"]["containers"].append({"name": "proxy", "image": "envoy"})
    injected["metadata"]["finalizers"] = ["example.com/cleanup"]
    live = record_update(live, injected, "injector", KIND, T1)
    out = server_side_apply(live, deploy(image="nginx:2"), "kubectl", KIND, force=False, now=T2)
    assert out["spec"]["template"]["spec"]["containers"] == [
        {"name": "nginx", "image": "nginx:2"},
        {"name": "proxy", "image": "envoy"},
    ]
    assert out["metadata"]["finalizers"] == ["example.com/cleanup"]


def _client_side_created() -> dict[str, Any]:
    return record_update(None, deploy(replicas=2), "kubectl-client-side-apply", KIND, T0)


def test_apply_conflict_without_force_is_409() -> None:
    live = _client_side_created()
    with pytest.raises(ApiError) as err:
        server_side_apply(live, deploy(replicas=3), "kubectl", KIND, force=False, now=T1)
    e = err.value
    assert (e.code, e.reason) == (409, "Conflict")
    assert (
        e.message == 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply": .spec.replicas'
    )
    assert [c.field for c in e.causes] == [".spec.replicas"]


def test_apply_conflict_lists_every_field() -> None:
    live = _client_side_created()
    with pytest.raises(ApiError) as err:
        server_side_apply(live, deploy(replicas=3, image="nginx:9"), "kubectl", KIND, force=False, now=T1)
    assert err.value.message.startswith("Apply failed with 2 conflicts:")
    assert '.spec.template.spec.containers[name="nginx"].image' in err.value.message


def test_apply_force_takes_ownership() -> None:
    live = _client_side_created()
    out = server_side_apply(live, deploy(replicas=3), "kubectl", KIND, force=True, now=T1)
    assert out["spec"]["replicas"] == 3
    mf = managed_fields_of(out)
    assert ("f:spec", "f:replicas") in mf[("kubectl", "Apply")]
    assert ("f:spec", "f:replicas") not in mf[("kubectl-client-side-apply", "Update")]


def test_apply_same_value_shares_ownership() -> None:
    live = _client_side_created()
    out = server_side_apply(live, deploy(replicas=2), "kubectl", KIND, force=False, now=T1)
    mf = managed_fields_of(out)
    assert ("f:spec", "f:replicas") in mf[("kubectl", "Apply")]
    assert ("f:spec", "f:replicas") in mf[("kubectl-client-side-apply", "Update")]


def test_controller_update_then_reapply_conflicts() -> None:
    live = server_side_apply(None, deploy(replicas=2), "kubectl", KIND, force=False, now=T0)
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 7
    live = record_update(live, scaled, "hpa", KIND, T1)
    assert ("f:spec", "f:replicas") not in managed_fields_of(live)[("kubectl", "Apply")]
    with pytest.raises(ApiError) as err:
        server_side_apply(live, deploy(replicas=2), "kubectl", KIND, force=False, now=T2)
    assert 'conflict with "hpa": .spec.replicas' in err.value.message
    # dropping replicas from the config leaves the hpa's value alone
    out = server_side_apply(live, deploy(replicas=None), "kubectl", KIND, force=False, now=T2)
    assert out["spec"]["replicas"] == 7


def test_apply_custom_resource_with_schema_list_map() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "tasks": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {"type": "object"},
                    }
                },
            }
        },
    }
    meta = list_meta_from_schema(schema)
    kind = "batch.volcano.sh/Job"
    cr = {
        "apiVersion": "batch.volcano.sh/v1alpha1",
        "kind": "Job",
        "metadata": {"name": "j"},
        "spec": {"tasks": [{"name": "a", "replicas": 1}]},
    }
    live = server_side_apply(None, cr, "alice", kind, force=False, now=T0, extra=meta)
    bob = {**cr, "spec": {"tasks": [{"name": "b", "replicas": 2}]}}
    out = server_side_apply(live, bob, "bob", kind, force=False, now=T1, extra=meta)
    assert out["spec"]["tasks"] == [{"name": "a", "replicas": 1}, {"name": "b", "replicas": 2}]
    atomic = server_side_apply(live, bob, "bob", kind, force=True, now=T1)
    assert atomic["spec"]["tasks"] == [{"name": "b", "replicas": 2}]


def test_apply_rejects_missing_manager_and_non_object() -> None:
    with pytest.raises(ApiError) as err:
        server_side_apply(None, deploy(), "", KIND, force=False, now=T0)
    assert err.value.code == 400
    with pytest.raises(ApiError) as err:
        server_side_apply(None, [], "m", KIND, force=False, now=T0)  # type: ignore[arg-type]
    assert err.value.code == 400


# -- record_update ------------------------------------------------------------------------


def test_record_update_create_owns_everything() -> None:
    out = record_update(None, deploy(), "kubectl-create", KIND, T0)
    assert out["metadata"]["managedFields"][0]["operation"] == "Update"
    assert managed_fields_of(out) == {("kubectl-create", "Update"): field_paths(deploy(), KIND)}


def test_record_update_moves_changed_fields_and_drops_removed() -> None:
    live = record_update(None, deploy(labels={"app": "web", "tier": "fe"}), "creator", KIND, T0)
    new = copy.deepcopy(live)
    new["spec"]["replicas"] = 4
    del new["metadata"]["labels"]["tier"]
    out = record_update(live, new, "scaler", KIND, T1)
    mf = managed_fields_of(out)
    assert mf[("scaler", "Update")] == {("f:spec", "f:replicas")}
    assert ("f:spec", "f:replicas") not in mf[("creator", "Update")]
    assert ("f:metadata", "f:labels", "f:tier") not in mf[("creator", "Update")]
    times = {e["manager"]: e["time"] for e in out["metadata"]["managedFields"]}
    assert times == {"creator": T0, "scaler": T1}


def test_record_update_drops_manager_with_empty_set() -> None:
    live = record_update(None, deploy(), "creator", KIND, T0)
    live = record_update(live, {**live, "spec": {**live["spec"], "replicas": 9}}, "scaler", KIND, T1)
    again = copy.deepcopy(live)
    again["spec"]["replicas"] = 1
    out = record_update(live, again, "creator", KIND, T2)
    assert ("scaler", "Update") not in managed_fields_of(out)


def test_record_update_noop_adds_no_entry() -> None:
    live = record_update(None, deploy(), "creator", KIND, T0)
    out = record_update(live, copy.deepcopy(live), "other", KIND, T1)
    assert list(managed_fields_of(out)) == [("creator", "Update")]


def test_record_update_clear_with_empty_entry() -> None:
    live = record_update(None, deploy(), "creator", KIND, T0)
    cleared = copy.deepcopy(live)
    cleared["metadata"]["managedFields"] = [{}]
    assert "managedFields" not in record_update(live, cleared, "x", KIND, T1)["metadata"]


def test_status_subresource_update_tracks_status_only() -> None:
    live = record_update(None, deploy(), "creator", KIND, T0)
    new = {**copy.deepcopy(live), "status": {"replicas": 2}}
    out = record_update(live, new, "controller", KIND, T1, subresource="status")
    entry = next(e for e in out["metadata"]["managedFields"] if e["manager"] == "controller")
    assert entry["subresource"] == "status" and entry["fieldsV1"] == {"f:status": {"f:replicas": {}}}


# -- properties ---------------------------------------------------------------------------

_names = st.lists(st.sampled_from(["a", "b", "c", "d"]), unique=True, max_size=4)


@st.composite
def _configs(draw: st.DrawFn) -> dict[str, Any]:
    containers = [
        {
            "name": n,
            "image": draw(st.sampled_from(["x:1", "x:2"])),
            **(
                {"env": [{"name": e, "value": draw(st.sampled_from(["1", "2"]))} for e in draw(_names)]}
                if draw(st.booleans())
                else {}
            ),
        }
        for n in draw(_names.filter(bool))
    ]
    md: dict[str, Any] = {"name": "web"}
    labels = draw(st.dictionaries(st.sampled_from(["app", "tier", "team"]), st.sampled_from(["p", "q"])))
    if labels:
        md["labels"] = labels
    finalizers = draw(_names)
    if finalizers:
        md["finalizers"] = finalizers
    spec: dict[str, Any] = {"template": {"spec": {"containers": containers}}}
    if draw(st.booleans()):
        spec["replicas"] = draw(st.integers(0, 3))
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": md, "spec": spec}


def _without_managed(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["metadata"].pop("managedFields", None)
    return out


@settings(max_examples=150, deadline=None)
@given(a=_configs(), b=_configs())
def test_single_manager_reapply_yields_last_config_property(a: dict[str, Any], b: dict[str, Any]) -> None:
    live = server_side_apply(None, a, "kubectl", KIND, force=False, now=T0)
    out = server_side_apply(live, b, "kubectl", KIND, force=False, now=T1)
    assert _without_managed(out) == b
    assert managed_fields_of(out) == {("kubectl", "Apply"): field_paths(b, KIND)}


def test_apply_to_main_resource_ignores_status() -> None:
    applied = {**deploy(), "status": {"replicas": 9}}
    out = server_side_apply(None, applied, "kubectl", KIND, force=False, now=T0)
    assert "status" not in out
    crd_like = server_side_apply(
        None, applied, "kubectl", KIND, force=False, now=T0, status_subresource=False
    )
    assert crd_like["status"] == {"replicas": 9}
    assert ("f:status", "f:replicas") in managed_fields_of(crd_like)[("kubectl", "Apply")]


def test_apply_to_status_subresource_only_touches_status() -> None:
    live = server_side_apply(None, deploy(), "kubectl", KIND, force=False, now=T0)
    applied = {**deploy(replicas=9), "status": {"readyReplicas": 1}}
    out = server_side_apply(live, applied, "ctrl", KIND, force=False, now=T1, subresource="status")
    assert out["spec"]["replicas"] == 2 and out["status"] == {"readyReplicas": 1}
    entry = next(e for e in out["metadata"]["managedFields"] if e["manager"] == "ctrl")
    assert entry["subresource"] == "status" and entry["fieldsV1"] == {"f:status": {"f:readyReplicas": {}}}
