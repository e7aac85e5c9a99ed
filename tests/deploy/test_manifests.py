"""``suanli manifests``: the objects that install Suanli, and the checked-in ``deploy/suanli.yaml``."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from suanli.cli.main import main
from suanli.deploy.crds import served_crds
from suanli.deploy.manifests import HEALTH_PORTS, ManifestOptions, render
from suanli.deploy.rbac import COMPONENTS
from suanli.kinds.crd import validate_crd
from suanli.scheduler.configmap import APPLIED_ANNOTATION
from suanli.scheduler.core.config import DEFAULT_CONFIG_TEXT, parse_config

ROOT = Path(__file__).resolve().parents[2]


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, Any]]:
    assert main(["manifests", *args]) == 0
    return [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]


def _by(objs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objs if o["kind"] == kind}


def test_checked_in_deploy_yaml_equals_suanli_manifests(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifests"]) == 0
    assert (ROOT / "deploy" / "suanli.yaml").read_text() == capsys.readouterr().out, \
        "deploy/suanli.yaml is stale; run: python scripts/gen_deploy.py"


def test_crds_are_the_ones_the_embedded_server_installs() -> None:
    crds = _by(render(), "CustomResourceDefinition")
    for crd in served_crds():
        shipped = crds[crd["metadata"]["name"]]
        assert shipped["spec"] == crd["spec"]
        assert validate_crd(shipped) == []
    assert len(crds) == len(served_crds())


@pytest.mark.parametrize(("name", "kind", "scope", "short", "subresources"), [
    ("jobs.batch.volcano.sh", "Job", "Namespaced", ["vcjob", "vj"], {"status"}),
    ("queues.scheduling.volcano.sh", "Queue", "Cluster", ["q", "queue-v1beta1"], {"status"}),
    ("podgroups.scheduling.volcano.sh", "PodGroup", "Namespaced", ["pg", "podgroup-v1beta1"], {"status"}),
    ("commands.bus.volcano.sh", "Command", "Namespaced", [], set()),
    ("nodefeatures.nfd.k8s-sigs.io", "NodeFeature", "Namespaced", None, set()),
    ("nodefeaturerules.nfd.k8s-sigs.io", "NodeFeatureRule", "Cluster", ["nfr"], set()),
    ("nodefeaturegroups.nfd.k8s-sigs.io", "NodeFeatureGroup", "Namespaced", ["nfg"], {"status"}),
    ("npuclusterpolicies.npu.openfuyao.com", "NPUClusterPolicy", "Cluster", None, {"status"}),
    ("kaeclusterpolicies.kae.openfuyao.com", "KAEClusterPolicy", "Cluster", None, {"status"}),
], ids=lambda v: v if isinstance(v, str) and "." in v else None)
def test_crd_names_scope_and_subresources_follow_upstream(name: str, kind: str, scope: str, short: list[str] | None,
                                                          subresources: set[str]) -> None:
    crd = _by(render(), "CustomResourceDefinition")[name]
    spec = crd["spec"]
    assert (spec["names"]["kind"], spec["scope"], spec["names"].get("shortNames")) == (kind, scope, short)
    assert [v["name"] for v in spec["versions"] if v["storage"]] and all(v["served"] for v in spec["versions"])
    assert {s for v in spec["versions"] for s in v.get("subresources", {})} == subresources


@pytest.mark.parametrize(("name", "kind", "args"), [
    ("suanli-scheduler", "Deployment", ["scheduler", "--leader-elect", "--health-port", "10251"]),
    ("suanli-controllers", "Deployment", ["controllers", "--leader-elect", "--health-port", "10252"]),
    ("suanli-agent", "DaemonSet", ["agent", "--host", "--health-port", "10248"]),
], ids=["scheduler", "controllers", "agent"])
def test_workloads_run_the_component_in_cluster_with_probes_and_least_privilege(name: str, kind: str,
                                                                                args: list[str]) -> None:
    work = _by(render(), kind)[name]
    pod = work["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"] == ["suanli"] and container["args"] == args
    assert not any(a.startswith("--kubeconfig") for a in container["args"])  # in-cluster configuration
    port = HEALTH_PORTS[args[0]]
    assert container["ports"] == [{"name": "health", "containerPort": port, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    assert container["resources"]["requests"].keys() == {"cpu", "memory"}
    assert pod["serviceAccountName"] == name
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}}
    selector = work["spec"]["selector"]["matchLabels"]
    assert selector.items() <= work["spec"]["template"]["metadata"]["labels"].items()
    if kind == "Deployment":
        assert work["spec"]["replicas"] == 2


def test_every_component_gets_its_service_account_roles_and_bindings() -> None:
    objs = render()
    for rbac in COMPONENTS:
        sa = rbac.service_account
        assert _by(objs, "ServiceAccount")[sa]["metadata"]["namespace"] == "suanli-system"
        role = _by(objs, "ClusterRole")[sa]
        assert role["rules"] == [r.as_obj() for r in rbac.cluster_rules]
        binding = _by(objs, "ClusterRoleBinding")[sa]
        assert binding["roleRef"]["name"] == sa
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa, "namespace": "suanli-system"}]
        roles = {o["metadata"]["namespace"]: o for o in objs if o["kind"] == "Role" and o["metadata"]["name"] == sa}
        assert {ns: r["rules"] for ns, r in roles.items()} == {
            ns: [r.as_obj() for r in rules] for ns, rules in rbac.namespaced_rules.items()}
        bound = {o["metadata"]["namespace"] for o in objs if o["kind"] == "RoleBinding" and o["metadata"]["name"] == sa}
        assert bound == set(rbac.namespaced_rules)


def test_namespaces_and_crds_come_before_the_objects_that_need_them() -> None:
    kinds = [o["kind"] for o in render()]
    last_ns = max(i for i, k in enumerate(kinds) if k == "Namespace")
    first_other = min(i for i, k in enumerate(kinds) if k not in ("Namespace", "CustomResourceDefinition"))
    last_crd = max(i for i, k in enumerate(kinds) if k == "CustomResourceDefinition")
    assert last_ns < first_other and last_crd < first_other
    namespaced = {o["metadata"].get("namespace") for o in render()} - {None}
    created = set(_by(render(), "Namespace")) | {"kube-system", "kube-node-lease"}
    assert namespaced <= created


def test_namespace_and_image_options(capsys: pytest.CaptureFixture[str]) -> None:
    objs = _cli(capsys, "--namespace", "batch", "--image", "registry.example/suanli:1.2")
    assert "batch" in _by(objs, "Namespace") and "suanli-system" not in _by(objs, "Namespace")
    for w in [*_by(objs, "Deployment").values(), *_by(objs, "DaemonSet").values()]:
        assert w["metadata"]["namespace"] == "batch"
        assert w["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/suanli:1.2"
    subjects = {s["namespace"] for o in objs if o["kind"].endswith("Binding") for s in o["subjects"]}
    assert subjects == {"batch"}


def test_without_and_no_crds_leave_out_what_they_name(capsys: pytest.CaptureFixture[str]) -> None:
    objs = _cli(capsys, "--without", "agent", "--no-crds")
    assert not [o for o in objs if o["kind"] == "CustomResourceDefinition"]
    assert not [o for o in objs if o["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "agent"]
    assert set(_by(objs, "Deployment")) == {"suanli-scheduler", "suanli-controllers"}


def test_scheduler_configmap_is_volcanos_default_marked_as_applied() -> None:
    cm = next(o for o in render() if o["kind"] == "ConfigMap")
    assert (cm["metadata"]["namespace"], cm["metadata"]["name"]) == ("volcano-system", "volcano-scheduler-configmap")
    text = cm["data"]["volcano-scheduler.conf"]
    assert text == DEFAULT_CONFIG_TEXT and not parse_config(text).warnings
    assert cm["metadata"]["annotations"][APPLIED_ANNOTATION] == hashlib.sha256(text.encode()).hexdigest()


def test_disabling_leader_election_drops_the_flag() -> None:
    objs = render(ManifestOptions(leader_elect=False))
    for w in _by(objs, "Deployment").values():
        assert "--leader-elect" not in w["spec"]["template"]["spec"]["containers"][0]["args"]
