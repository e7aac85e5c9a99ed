"""The Helm chart ``charts/suanli``: metadata, values, and templates that render to ``suanli manifests``.

Rendered and linted by the real ``helm`` (:mod:`tests.deploy._helm`). With default values the chart
yields exactly the objects of ``suanli manifests`` except the release namespace and Helm's release
labels; each component can be switched off on its own.
"""

from __future__ import annotations

import copy
import json
import re
import tempfile
from typing import Any

import jsonschema
import pytest
import yaml

from suanli import __version__
from suanli.deploy.chart import HELM_LABELS, chart_files, default_values, values_schema
from suanli.deploy.manifests import ManifestOptions, render
from tests.deploy import _helm

CHART = _helm.CHART
RELEASE = _helm.RELEASE
_render = _helm.render_chart


def _strip_helm_labels(obj: dict[str, Any]) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    for meta in (obj.get("metadata"), ((obj.get("spec") or {}).get("template") or {}).get("metadata")):
        if isinstance(meta, dict) and "labels" in meta:
            meta["labels"] = {k: v for k, v in meta["labels"].items() if k not in HELM_LABELS}
    return obj


def _key(obj: dict[str, Any]) -> tuple[str, str, str]:
    return obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def _values(**changes: Any) -> dict[str, Any]:
    values = default_values()
    for dotted, value in changes.items():
        node = values
        *parents, leaf = dotted.split("__")
        for p in parents:
            node = node[p]
        node[leaf] = value
    return values


def test_chart_yaml_is_an_openfuyao_extension_chart() -> None:
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert meta["apiVersion"] == "v2"
    assert meta["name"] == "suanli"
    assert meta["version"] == meta["appVersion"] == __version__
    assert "openfuyao-extension" in meta["keywords"]
    assert meta["description"]


def test_default_render_equals_suanli_manifests_but_the_release_namespace_and_helm_labels() -> None:
    chart = sorted((_strip_helm_labels(o) for o in _render()), key=_key)
    plain = sorted((o for o in render(ManifestOptions()) if _key(o) != ("Namespace", "", "suanli-system")), key=_key)
    assert [_key(o) for o in chart] == [_key(o) for o in plain]
    assert chart == plain


def test_every_rendered_object_carries_the_helm_release_labels() -> None:
    for obj in _render():
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "Helm", _key(obj)
        assert labels["app.kubernetes.io/instance"] == "suanli", _key(obj)
        assert labels["helm.sh/chart"] == f"suanli-{__version__}", _key(obj)


@pytest.mark.parametrize(("component", "kind"), [
    ("scheduler", "Deployment"), ("controllers", "Deployment"), ("agent", "DaemonSet"),
], ids=["scheduler", "controllers", "agent"])
def test_disabling_a_component_drops_all_its_objects(component: str, kind: str) -> None:
    objs = _render(_values(**{f"{component}__enabled": False}))
    labelled = [o for o in objs if o["metadata"]["labels"].get("app.kubernetes.io/component") == component]
    assert labelled == []
    assert f"suanli-{component}" not in {o["metadata"]["name"] for o in objs if o["kind"] == kind}
    others = {"scheduler", "controllers", "agent"} - {component}
    assert others <= {o["metadata"]["labels"].get("app.kubernetes.io/component") for o in objs}


def _aggregation_or_crd(obj: dict[str, Any]) -> bool:
    return obj["kind"] == "CustomResourceDefinition" or obj["metadata"]["name"].startswith("suanli-aggregate-to-")


def test_disabling_crds_drops_the_crds_and_their_aggregated_roles_only() -> None:
    with_crds, without = _render(), _render(_values(crds__enabled=False))
    assert sorted(map(_key, without)) == sorted(_key(o) for o in with_crds if not _aggregation_or_crd(o))
    # NFD 3, operators 2, Volcano 4, kwok usage 2
    assert sum(o["kind"] == "CustomResourceDefinition" for o in with_crds) == 11


def _workloads(objs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objs if o["kind"] in ("Deployment", "DaemonSet")}


def test_values_set_replicas_image_resources_and_leader_election() -> None:
    resources = {"requests": {"cpu": "2", "memory": "4Gi"}}
    objs = _render(_values(scheduler__replicas=3, image__repository="registry.example/suanli", image__tag="9.9",
                           leaderElection__enabled=False, controllers__resources=resources))
    work = _workloads(objs)
    assert work["suanli-scheduler"]["spec"]["replicas"] == 3
    assert work["suanli-controllers"]["spec"]["replicas"] == 2
    for w in work.values():
        container = w["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == "registry.example/suanli:9.9"
        assert "--leader-elect" not in container["args"]
    # Helm merges a user's map into the chart's default map: requests replaced, default limits kept
    expected = {**resources, "limits": default_values()["controllers"]["resources"]["limits"]}
    assert work["suanli-controllers"]["spec"]["template"]["spec"]["containers"][0]["resources"] == expected


def test_release_namespace_holds_the_workloads_and_binding_subjects() -> None:
    objs = _render(default_values(), release={**RELEASE, "Namespace": "batch-system"})
    assert {o["metadata"]["namespace"] for o in objs if o["kind"] in ("Deployment", "DaemonSet", "ServiceAccount")} \
        == {"batch-system"}
    subjects = [s for o in objs if o["kind"] in ("RoleBinding", "ClusterRoleBinding") for s in o["subjects"]]
    assert subjects and {s["namespace"] for s in subjects} == {"batch-system"}


def _paths(values: Any, prefix: str = "") -> set[str]:
    out = {prefix} if prefix else set()
    if isinstance(values, dict):
        for k, v in values.items():
            out |= _paths(v, f"{prefix}.{k}")
    return out


def test_templates_reference_only_values_that_exist() -> None:
    known = _paths(yaml.safe_load((CHART / "values.yaml").read_text()))
    used = {m for p in (CHART / "templates").iterdir()
            for m in re.findall(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)", p.read_text())}
    assert used and used <= known


def test_every_value_is_used_by_a_template() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    text = "".join(p.read_text() for p in (CHART / "templates").iterdir())
    leaves_or_blocks = {p for p in _paths(values) if f".Values{p} " in text or f".Values{p}\n" in text}
    for top, section in values.items():
        for key in section:
            assert f".{top}.{key}" in leaves_or_blocks, f"values.yaml {top}.{key} is not used by any template"


def test_helm_lint_strict_passes() -> None:
    proc = _helm.helm("lint", "--strict", str(CHART), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in proc.stdout


@pytest.mark.parametrize("component", ["scheduler", "controllers", "agent", "crds", "leaderElection"])
def test_helm_lint_passes_with_each_switch_off(component: str) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as fh:
        yaml.safe_dump({component: {"enabled": False}}, fh)
        fh.flush()
        proc = _helm.helm("lint", "--strict", str(CHART), "-f", fh.name, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_notes_render_with_the_release_namespace() -> None:
    out = _helm.helm("install", "suanli", str(CHART), "--namespace", "batch-system", "--dry-run=client").stdout
    assert f"Suanli {__version__} is installed in namespace batch-system" in out


@pytest.mark.parametrize(("changes", "complaint"), [
    ({"scheduler__replicas": "two"}, "/scheduler/replicas"), ({"agent__enabled": "yes"}, "/agent/enabled"),
    ({"scheduler__replica": 2}, "replica"),
], ids=["replicas-not-a-number", "enabled-not-a-boolean", "misspelt-key"])
def test_helm_refuses_values_the_schema_rejects(changes: dict[str, Any], complaint: str) -> None:
    proc = _helm.template_text(_values(**changes), check=False)
    assert proc.returncode != 0
    assert complaint in proc.stderr


def test_checked_in_chart_equals_the_generator() -> None:
    files = chart_files()
    on_disk = {str(p.relative_to(CHART)): p.read_text() for p in CHART.rglob("*") if p.is_file()}
    assert sorted(on_disk) == sorted(files), "run: python scripts/gen_deploy.py"
    for rel, text in files.items():
        assert on_disk[rel] == text, f"charts/suanli/{rel} is stale; run: python scripts/gen_deploy.py"


def test_values_yaml_satisfies_values_schema() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema == values_schema()
    jsonschema.validate(yaml.safe_load((CHART / "values.yaml").read_text()), schema)


@pytest.mark.parametrize("changes", [
    {"scheduler__replicas": "two"}, {"scheduler__replicas": -1}, {"agent__enabled": "yes"},
    {"image__tag": ""}, {"scheduler__replica": 2},
], ids=["replicas-not-a-number", "negative-replicas", "enabled-not-a-boolean", "empty-image-tag", "misspelt-key"])
def test_values_schema_rejects_bad_values(changes: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(_values(**changes), values_schema())
