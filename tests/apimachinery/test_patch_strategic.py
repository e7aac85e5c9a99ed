"""Strategic merge patch, including patches shaped like kubectl apply/edit generate."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.patch import (
    create_strategic_merge_patch,
    list_meta_from_schema,
    strategic_merge_patch,
)


def deploy(containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web", "tier": "fe"}},
        "spec": {**spec, "template": {"spec": {"containers": containers}}},
    }


def tmpl(pod_spec: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"template": {"spec": pod_spec}}}


APP = {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}
SIDE = {"name": "side", "image": "side:1"}
BASE = deploy([APP, SIDE], replicas=2, strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}})


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return obj["spec"]["template"]["spec"]["containers"]


CASES: list[tuple[dict[str, Any], Any]] = [
    ({"spec": {"replicas": 3}}, lambda r: r["spec"]["replicas"] == 3),
    ({"metadata": {"labels": {"tier": None}}}, lambda r: r["metadata"]["labels"] == {"app": "web"}),
    (
        tmpl({"containers": [{"name": "app", "image": "app:2"}]}),
        lambda r: containers(r)[0] == {**APP, "image": "app:2"} and containers(r)[1] == SIDE,
    ),
    (
        tmpl({"containers": [{"name": "app", "env": [{"name": "A", "value": "9"}]}]}),
        lambda r: containers(r)[0]["env"] == [{"name": "A", "value": "9"}, {"name": "B", "value": "2"}],
    ),
    (
        tmpl({"containers": [{"name": "app", "env": [{"name": "C", "value": "3"}]}]}),
        lambda r: [e["name"] for e in containers(r)[0]["env"]] == ["A", "B", "C"],
    ),
    (
        tmpl({"containers": [{"name": "side", "$patch": "delete"}]}),
        lambda r: [c["name"] for c in containers(r)] == ["app"],
    ),
    (
        tmpl({"containers": [{"name": "new", "image": "n:1"}]}),
        lambda r: [c["name"] for c in containers(r)] == ["app", "side", "new"],
    ),
    (
        tmpl({"$setElementOrder/containers": [{"name": "side"}, {"name": "app"}]}),
        lambda r: [c["name"] for c in containers(r)] == ["side", "app"],
    ),
    (
        tmpl({"containers": [{"$patch": "replace"}, {"name": "only", "image": "o:1"}]}),
        lambda r: containers(r) == [{"name": "only", "image": "o:1"}],
    ),
    (
        {"spec": {"strategy": {"$patch": "replace", "type": "Recreate"}}},
        lambda r: r["spec"]["strategy"] == {"type": "Recreate"},
    ),
    ({"spec": {"strategy": {"$patch": "delete"}}}, lambda r: "strategy" not in r["spec"]),
    (
        {"spec": {"strategy": {"$patch": "merge", "type": "Recreate"}}},
        lambda r: r["spec"]["strategy"] == {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}},
    ),
    (
        {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None}}},
        lambda r: r["spec"]["strategy"] == {"type": "Recreate"},
    ),
    (
        {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
        lambda r: r["spec"]["strategy"] == {"type": "Recreate"},
    ),
    (
        tmpl({"containers": [{"name": "app", "args": ["--b"]}], "tolerations": [{"key": "k"}]}),
        lambda r: (
            containers(r)[0]["args"] == ["--b"]
            and r["spec"]["template"]["spec"]["tolerations"] == [{"key": "k"}]
        ),
    ),
    ({"metadata": {"finalizers": ["b", "a"]}}, lambda r: r["metadata"]["finalizers"] == ["b", "a"]),
    (
        tmpl({"containers": [{"name": "app", "env": [{"name": "B", "$patch": "delete"}]}]}),
        lambda r: containers(r)[0]["env"] == [{"name": "A", "value": "1"}],
    ),
    (
        tmpl(
            {"containers": [{"name": "x", "env": [{"name": "E", "value": None, "valueFrom": {"a": None}}]}]}
        ),
        lambda r: containers(r)[2] == {"name": "x", "env": [{"name": "E", "valueFrom": {}}]},
    ),
]
IDS = [
    "scalar field replaced",
    "label removed via null",
    "container image changed by name",
    "container env merged by name",
    "new env var appended",
    "$patch delete removes list item",
    "new container appended",
    "$setElementOrder reorders",
    "$patch replace inside list replaces list",
    "$patch replace on map replaces map",
    "$patch delete on map removes it",
    "$patch merge is default",
    "$retainKeys drops unlisted keys",
    "$retainKeys drops keys even without null",
    "atomic lists replaced",
    "finalizers set on empty original",
    "delete directive inside nested list",
    "nulls stripped from new items",
]


@pytest.mark.parametrize(("patch", "check"), CASES, ids=IDS)
def test_strategic_merge_patch(patch: dict[str, Any], check: Any) -> None:
    before, before_patch = copy.deepcopy(BASE), copy.deepcopy(patch)
    result = strategic_merge_patch(BASE, patch, "apps/Deployment")
    assert check(result), result
    assert before == BASE and patch == before_patch, "inputs must not be mutated"
    assert "$" not in repr(result), "directives must not leak"


FINALIZERS = [
    (["a", "b"], {"finalizers": ["c", "a"]}, ["a", "b", "c"]),
    (["a", "b", "c"], {"$deleteFromPrimitiveList/finalizers": ["b"]}, ["a", "c"]),
    (["a", "b"], {"$deleteFromPrimitiveList/finalizers": ["a"], "finalizers": ["z"]}, ["b", "z"]),
    (["a", "b"], {"$setElementOrder/finalizers": ["b", "a"]}, ["b", "a"]),
]


@pytest.mark.parametrize(
    ("orig", "meta", "want"),
    FINALIZERS,
    ids=[
        "primitive merge list unioned",
        "$deleteFromPrimitiveList removes value",
        "delete then add",
        "$setElementOrder orders primitives",
    ],
)
def test_primitive_merge_list(orig: list[str], meta: dict[str, Any], want: list[str]) -> None:
    obj = {"metadata": {"name": "p", "finalizers": orig}}
    assert strategic_merge_patch(obj, {"metadata": meta}, "Pod")["metadata"]["finalizers"] == want


# -- patches in the shape kubectl apply computes (three-way diff) -----------------------------


KUBECTL = [
    (
        {
            "spec": {
                "template": {
                    "spec": {
                        "$setElementOrder/containers": [{"name": "app"}, {"name": "side"}],
                        "containers": [{"image": "app:2", "name": "app"}],
                    }
                }
            }
        },
        [{**APP, "image": "app:2"}, SIDE],
    ),
    (
        {
            "spec": {
                "template": {
                    "spec": {
                        "$setElementOrder/containers": [{"name": "app"}, {"name": "side"}],
                        "containers": [
                            {
                                "$setElementOrder/env": [{"name": "A"}, {"name": "C"}, {"name": "B"}],
                                "env": [{"name": "C", "value": "3"}],
                                "name": "app",
                            }
                        ],
                    }
                }
            }
        },
        [
            {
                **APP,
                "env": [
                    {"name": "A", "value": "1"},
                    {"name": "C", "value": "3"},
                    {"name": "B", "value": "2"},
                ],
            },
            SIDE,
        ],
    ),
    (
        {
            "spec": {
                "template": {
                    "spec": {
                        "$setElementOrder/containers": [{"name": "app"}, {"name": "side"}],
                        "containers": [
                            {
                                "$setElementOrder/env": [{"name": "A"}],
                                "env": [{"$patch": "delete", "name": "B"}],
                                "name": "app",
                            }
                        ],
                    }
                }
            }
        },
        [{**APP, "env": [{"name": "A", "value": "1"}]}, SIDE],
    ),
    (
        {
            "spec": {
                "template": {
                    "spec": {
                        "$setElementOrder/containers": [{"name": "app"}],
                        "containers": [{"$patch": "delete", "name": "side"}],
                    }
                }
            }
        },
        [APP],
    ),
]


@pytest.mark.parametrize(
    ("patch", "want"),
    KUBECTL,
    ids=[
        "kubectl image change",
        "kubectl env var added in middle",
        "kubectl env var removed",
        "kubectl container removed",
    ],
)
def test_kubectl_generated_patches(patch: dict[str, Any], want: list[dict[str, Any]]) -> None:
    assert containers(strategic_merge_patch(BASE, patch, "apps/Deployment")) == want


def test_set_element_order_interleaves_server_only_items_by_live_position() -> None:
    # "injected" is not named by the patch: it keeps its place relative to the live list.
    live = {"spec": {"containers": [{"name": "a"}, {"name": "injected"}, {"name": "b"}]}}
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
            "containers": [{"name": "b", "image": "b:2"}],
        }
    }
    out = strategic_merge_patch(live, patch, "Pod")
    assert [c["name"] for c in out["spec"]["containers"]] == ["injected", "b", "a"]
    live2 = {"spec": {"containers": [{"name": "injected"}, {"name": "a"}, {"name": "b"}]}}
    out2 = strategic_merge_patch(live2, patch, "Pod")
    assert [c["name"] for c in out2["spec"]["containers"]] == ["injected", "b", "a"]
    live3 = {"spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "injected"}]}}
    out3 = strategic_merge_patch(live3, patch, "Pod")
    assert [c["name"] for c in out3["spec"]["containers"]] == ["b", "a", "injected"]


def test_volume_retain_keys_switches_source() -> None:
    live = {
        "spec": {"volumes": [{"name": "data", "hostPath": {"path": "/d"}}, {"name": "x", "emptyDir": {}}]}
    }
    patch = {"spec": {"volumes": [{"$retainKeys": ["emptyDir", "name"], "emptyDir": {}, "name": "data"}]}}
    out = strategic_merge_patch(live, patch, "Pod")
    assert out["spec"]["volumes"] == [{"name": "data", "emptyDir": {}}, {"name": "x", "emptyDir": {}}]


def test_cronjob_embedded_pod_spec_merges_by_name() -> None:
    cj = {"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [APP]}}}}}}
    patch = {
        "spec": {
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {"containers": [{"name": "app", "env": [{"name": "Z", "value": "z"}]}]}
                    }
                }
            }
        }
    }
    out = strategic_merge_patch(cj, patch, "batch/CronJob")
    env = out["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert [e["name"] for e in env] == ["A", "B", "Z"]


def test_status_conditions_merged_by_type() -> None:
    pod = {
        "status": {
            "conditions": [{"type": "Ready", "status": "False"}, {"type": "Scheduled", "status": "True"}]
        }
    }
    out = strategic_merge_patch(pod, {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}, "Pod")
    assert out["status"]["conditions"] == [
        {"type": "Ready", "status": "True"},
        {"type": "Scheduled", "status": "True"},
    ]


def test_custom_resource_with_schema_metadata() -> None:
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
    cr = {"spec": {"tasks": [{"name": "a", "replicas": 1}, {"name": "b", "replicas": 1}]}}
    patch = {"spec": {"tasks": [{"name": "b", "replicas": 5}]}}
    merged = strategic_merge_patch(cr, patch, "batch.volcano.sh/Job", extra=list_meta_from_schema(schema))
    assert merged["spec"]["tasks"] == [{"name": "a", "replicas": 1}, {"name": "b", "replicas": 5}]
    replaced = strategic_merge_patch(cr, patch, "batch.volcano.sh/Job")
    assert replaced["spec"]["tasks"] == [{"name": "b", "replicas": 5}]


BAD = [
    [1, 2],
    tmpl({"containers": [{"image": "no-name"}]}),
    tmpl({"containers": ["app"]}),
    {"spec": {"$patch": "explode"}},
    {"spec": {"strategy": {"$retainKeys": "type"}}},
    {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 2}}}},
    {"metadata": {"finalizers": [{"a": 1}]}},
]
BAD_IDS = [
    "non-object patch is 400",
    "merge list item without merge key is 400",
    "merge list scalar item is 400",
    "unknown $patch value is 400",
    "$retainKeys not a list is 400",
    "$retainKeys missing a patched key is 400",
    "object in primitive merge list is 400",
]


@pytest.mark.parametrize("patch", BAD, ids=BAD_IDS)
def test_malformed_strategic_patch_is_400(patch: Any) -> None:
    with pytest.raises(ApiError) as err:
        strategic_merge_patch(BASE, patch, "apps/Deployment")
    assert err.value.code == 400


TWO_WAY = [
    deploy([{**APP, "image": "app:2"}, SIDE], replicas=2),
    deploy([SIDE, APP], replicas=2),
    deploy([{**APP, "env": [{"name": "B", "value": "2"}]}], replicas=5),
    {**deploy([APP, SIDE]), "metadata": {"name": "web", "finalizers": ["x"]}},
]


@pytest.mark.parametrize(
    "modified",
    TWO_WAY,
    ids=["image change", "reorder", "env and container removed", "labels dropped and finalizer added"],
)
def test_create_strategic_merge_patch_roundtrip(modified: dict[str, Any]) -> None:
    patch = create_strategic_merge_patch(BASE, modified, "apps/Deployment")
    assert strategic_merge_patch(BASE, patch, "apps/Deployment") == modified


_names = st.lists(st.sampled_from(["a", "b", "c", "d"]), unique=True, max_size=4)


@st.composite
def _deployments(draw: st.DrawFn) -> dict[str, Any]:
    containers = [
        {
            "name": n,
            "image": draw(st.sampled_from(["x:1", "x:2"])),
            **(
                {"env": [{"name": e, "value": draw(st.sampled_from(["1", "2"]))} for e in draw(_names)]}
                if draw(st.booleans())
                else {}
            ),
            **(
                {"args": draw(st.lists(st.sampled_from(["-v", "-q"]), max_size=2))}
                if draw(st.booleans())
                else {}
            ),
        }
        for n in draw(_names)
    ]
    md: dict[str, Any] = {"name": "web"}
    labels = draw(st.dictionaries(st.sampled_from(["app", "tier"]), st.sampled_from(["p", "q"])))
    if labels:
        md["labels"] = labels
    finalizers = draw(_names)
    if finalizers:
        md["finalizers"] = finalizers
    return {
        "metadata": md,
        "spec": {"replicas": draw(st.integers(0, 2)), "template": {"spec": {"containers": containers}}},
    }


@settings(max_examples=200, deadline=None)
@given(a=_deployments(), b=_deployments())
def test_strategic_two_way_roundtrip_property(a: dict[str, Any], b: dict[str, Any]) -> None:
    patch = create_strategic_merge_patch(a, b, "apps/Deployment")
    assert strategic_merge_patch(a, patch, "apps/Deployment") == b
