"""kubectl discovery commands: api-resources, api-versions, version, cluster-info, explain."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Kubectl

pytestmark = pytest.mark.e2e


def _api_resources(kubectl: Kubectl) -> dict[tuple[str, str], list[str]]:
    """Parse `kubectl api-resources` into {(name, apiversion): [shortnames, namespaced, kind]}."""
    header, *lines = kubectl("api-resources", "-o", "wide").splitlines()
    rows: dict[tuple[str, str], list[str]] = {}
    cols = ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND", "VERBS"]
    starts = [header.index(c) for c in cols]
    for line in lines:
        cells = [line[s:e].strip() for s, e in zip(starts, [*starts[1:], None], strict=True)]
        rows[(cells[0], cells[2])] = [cells[1], cells[3], cells[4], cells[5]]
    return rows


@pytest.mark.parametrize(
    ("resource", "version", "short", "namespaced", "kind"),
    [
        ("pods", "v1", "po", "true", "Pod"),
        ("namespaces", "v1", "ns", "false", "Namespace"),
        ("nodes", "v1", "no", "false", "Node"),
        ("configmaps", "v1", "cm", "true", "ConfigMap"),
        ("deployments", "apps/v1", "deploy", "true", "Deployment"),
        ("customresourcedefinitions", "apiextensions.k8s.io/v1", "crd,crds", "false", "CustomResourceDefinition"),
        ("jobs", "batch/v1", "", "true", "Job"),
    ],
    ids=[
        "pods-short-po-namespaced",
        "namespaces-cluster-scoped",
        "nodes-cluster-scoped",
        "configmaps-cm",
        "deployments-in-apps",
        "crds-two-short-names",
        "jobs-no-short-name",
    ],
)
def test_api_resources_lists_kind_short_names_and_scope(
    kubectl: Kubectl, resource: str, version: str, short: str, namespaced: str, kind: str
) -> None:
    rows = _api_resources(kubectl)
    assert (resource, version) in rows, sorted(rows)
    got_short, got_namespaced, got_kind, verbs = rows[(resource, version)]
    assert (got_short, got_namespaced, got_kind) == (short, namespaced, kind)
    verb_set = set(verbs.strip("[]").replace(",", " ").split())
    assert {"create", "get", "list", "watch", "delete", "patch", "update"} <= verb_set


@pytest.mark.parametrize(("resource", "version", "namespaced", "kind"), [
    ("tokenreviews", "authentication.k8s.io/v1", "false", "TokenReview"),
    ("selfsubjectreviews", "authentication.k8s.io/v1", "false", "SelfSubjectReview"),
    ("localsubjectaccessreviews", "authorization.k8s.io/v1", "true", "LocalSubjectAccessReview"),
    ("selfsubjectaccessreviews", "authorization.k8s.io/v1", "false", "SelfSubjectAccessReview"),
    ("selfsubjectrulesreviews", "authorization.k8s.io/v1", "false", "SelfSubjectRulesReview"),
    ("subjectaccessreviews", "authorization.k8s.io/v1", "false", "SubjectAccessReview"),
], ids=["tokenreviews", "selfsubjectreviews", "localsubjectaccessreviews-namespaced", "selfsubjectaccessreviews",
        "selfsubjectrulesreviews", "subjectaccessreviews"])
def test_review_kinds_are_create_only_as_upstream(kubectl: Kubectl, resource: str, version: str, namespaced: str,
                                                  kind: str) -> None:
    rows = _api_resources(kubectl)
    assert rows.get((resource, version)) == ["", namespaced, kind, "create"]


def test_api_resources_filters_by_namespaced_and_group(kubectl: Kubectl) -> None:
    cluster = kubectl("api-resources", "--namespaced=false", "-o", "name").split()
    assert "namespaces" in cluster and "nodes" in cluster and "pods" not in cluster
    apps = kubectl("api-resources", "--api-group=apps", "-o", "name").split()
    assert "deployments.apps" in apps and all(r.endswith(".apps") for r in apps)


def test_api_versions_lists_core_and_groups(kubectl: Kubectl) -> None:
    versions = kubectl("api-versions").split()
    assert {"v1", "apps/v1", "batch/v1", "apiextensions.k8s.io/v1", "coordination.k8s.io/v1"} <= set(versions)


def test_version_reports_server_version(kubectl: Kubectl) -> None:
    info = json.loads(kubectl("version", "-o", "json"))
    server = info["serverVersion"]
    assert server["major"] == "1" and server["minor"].isdigit()
    assert server["gitVersion"].startswith("v1.")


def test_cluster_info_names_the_control_plane_url(kubectl: Kubectl) -> None:
    out = kubectl("cluster-info")
    assert "is running at https://127.0.0.1:" in out


@pytest.mark.parametrize(
    ("target", "fields"),
    [
        ("pods.spec.containers", ["image", "env", "resources", "name"]),
        ("deployment.spec.strategy", ["rollingUpdate", "type"]),
        ("jobs.spec", ["backoffLimit", "template", "parallelism"]),
    ],
    ids=["pod-containers", "deployment-strategy", "job-spec"],
)
def test_explain_lists_fields_of_builtin_path(kubectl: Kubectl, target: str, fields: list[str]) -> None:
    out = kubectl("explain", target)
    assert "FIELDS:" in out
    for field in fields:
        assert f"\n  {field}\t" in out, f"{field} missing from:\n{out}"


def test_explain_recursive_shows_nested_fields(kubectl: Kubectl) -> None:
    out = kubectl("explain", "deployment.spec.strategy", "--recursive")
    assert "maxSurge" in out and "maxUnavailable" in out
