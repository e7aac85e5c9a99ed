"""Installing Suanli with ``kubectl apply --server-side -f <(suanli manifests)`` into ``suanli up --only api``.

Every object is accepted, the CRDs are Established, a second apply is conflict-free, and the kinds
the CRDs serve accept upstream samples afterwards. The embedded server already serves these kinds
from the same CRD objects (it creates them at start-up as field manager ``suanli``), so applying the
shipped CRDs co-owns identical fields; a CRD that differs from the served one conflicts, as
server-side apply does upstream, and leaves the served definition in place.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from suanli.deploy.crds import served_crds
from suanli.kinds.volcano import default_queue, root_queue
from tests.conftest import Kubectl, Server, kubectl_binary, start_server
from tests.deploy._helm import RELEASE, render_chart, template_text
from tests.e2e.conftest import manifest, unique

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Kubectl, str, str]]:
    """A ``--only api`` server with ``suanli manifests`` applied: (kubectl, manifests, apply output)."""
    base = tmp_path_factory.mktemp("install")
    srv: Server = start_server(base / "data", base / "kubeconfig", extra=["--only", "api"])
    try:
        kubectl = Kubectl(kubectl_binary(), srv.kubeconfig)
        text = subprocess.run([sys.executable, "-m", "suanli.cli.main", "manifests"], check=True, capture_output=True,
                              text=True, cwd=str(REPO)).stdout
        out = kubectl("apply", "--server-side", "-f", "-", input=text)
        yield kubectl, text, out
    finally:
        srv.stop()


def _docs(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def test_every_object_is_accepted(installed: tuple[Kubectl, str, str]) -> None:
    kubectl, text, out = installed
    docs = _docs(text)
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == len(docs) and all(line.endswith(" serverside-applied") for line in lines), out
    # and every one is stored: `kubectl get -f` resolves each document to an existing object
    names = kubectl("get", "-f", "-", "-o", "name", input=text).split()
    assert len(names) == len(docs)


def test_crds_become_established(installed: tuple[Kubectl, str, str]) -> None:
    kubectl, _, _ = installed
    names = [f"crd/{c['metadata']['name']}" for c in served_crds()]
    out = kubectl.run("wait", "--for=condition=Established", "--timeout=60s", *names).stdout
    assert out.count("condition met") == len(names)


def test_applying_again_is_conflict_free(installed: tuple[Kubectl, str, str]) -> None:
    kubectl, text, _ = installed
    out = kubectl("apply", "--server-side", "-f", "-", input=text)
    assert len(out.splitlines()) == len(_docs(text))


def test_component_workloads_and_rbac_are_stored_as_shipped(installed: tuple[Kubectl, str, str]) -> None:
    kubectl, text, _ = installed
    deploy = json.loads(kubectl("get", "-n", "suanli-system", "deployment", "suanli-scheduler", "-o", "json"))
    assert deploy["spec"]["replicas"] == 2
    assert "--leader-elect" in deploy["spec"]["template"]["spec"]["containers"][0]["args"]
    role = json.loads(kubectl("get", "-n", "kube-system", "role", "suanli-controllers", "-o", "json"))
    shipped = [d for d in _docs(text) if d["kind"] == "Role" and d["metadata"]["namespace"] == "kube-system"
               and d["metadata"]["name"] == "suanli-controllers"]
    assert len(shipped) == 1
    assert role["rules"] == shipped[0]["rules"]


def test_served_kinds_accept_upstream_samples(installed: tuple[Kubectl, str, str]) -> None:
    kubectl, _, _ = installed
    ns = unique("samples")
    kubectl("create", "namespace", ns)
    # the root and default Queues, which Volcano's components create when they start
    kubectl("apply", "--server-side", "-f", "-", input=manifest(root_queue(), default_queue()))
    for sample in ("volcano/queue-capacity.yaml", "npu-cluster-policy.yaml", "kae-cluster-policy.yaml",
                   "nfd-rules-ascend-kae.yaml"):
        kubectl("apply", "--server-side", "-f", str(EXAMPLES / sample))
    kubectl("apply", "--server-side", "-n", ns, "-f", str(EXAMPLES / "volcano" / "vcjob-mpi.yaml"))
    job = json.loads(kubectl("get", "-n", ns, "vj", "mpi-hello", "-o", "json"))  # short name from the CRD
    assert job["spec"]["minAvailable"] == 3 and job["spec"]["queue"] == "default"  # defaulted by the server
    assert {"team-a", "team-b"} <= set(kubectl("get", "q", "-o", "name").replace("queue.scheduling.volcano.sh/", "")
                                           .split())


def test_a_crd_differing_from_the_served_one_conflicts_and_changes_nothing(installed: tuple[Kubectl, str, str],
                                                                           ) -> None:
    kubectl, _, _ = installed
    crd = next(c for c in served_crds() if c["metadata"]["name"] == "jobs.batch.volcano.sh")
    crd["spec"]["versions"][0]["additionalPrinterColumns"][0]["name"] = "PHASE"
    proc = kubectl.run("apply", "--server-side", "-f", "-", input=manifest(crd), check=False)
    assert proc.returncode != 0 and "conflict" in proc.stderr.lower()
    stored = json.loads(kubectl("get", "crd", "jobs.batch.volcano.sh", "-o", "json"))
    assert stored["spec"]["versions"][0]["additionalPrinterColumns"][0]["name"] == "STATUS"


def test_the_helm_chart_render_applies_over_the_same_install(installed: tuple[Kubectl, str, str]) -> None:
    """The chart's default render (real ``helm template``) is accepted too, with Helm's labels added."""
    kubectl, _, _ = installed
    objs = render_chart()
    out = kubectl("apply", "--server-side", "--field-manager=helm", "-f", "-", input=manifest(*objs))
    assert len(out.splitlines()) == len(objs)
    sa = json.loads(kubectl("get", "-n", "suanli-system", "serviceaccount", "suanli-agent", "-o", "json"))
    assert sa["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"


@pytest.fixture(scope="module")
def bare_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubectl]:
    """A fresh ``--only api`` server with only the release namespace (``helm install --create-namespace``)."""
    base = tmp_path_factory.mktemp("helm-install")
    srv: Server = start_server(base / "data", base / "kubeconfig", extra=["--only", "api"])
    try:
        kubectl = Kubectl(kubectl_binary(), srv.kubeconfig)
        kubectl("create", "namespace", RELEASE["Namespace"])
        yield kubectl
    finally:
        srv.stop()


# applied in this order into one server: each release render is accepted as a whole
_HELM_VARIANTS = [
    ("crds-only", {"scheduler": {"enabled": False}, "controllers": {"enabled": False}, "agent": {"enabled": False}}),
    ("scheduler-off", {"scheduler": {"enabled": False}}),
    ("controllers-off", {"controllers": {"enabled": False}}),
    ("agent-off", {"agent": {"enabled": False}}),
    ("crds-off-no-leader-election", {"crds": {"enabled": False}, "leaderElection": {"enabled": False}}),
    ("defaults", {}),
]


@pytest.mark.parametrize(("variant", "values"), _HELM_VARIANTS, ids=[v for v, _ in _HELM_VARIANTS])
def test_helm_template_output_applies_server_side(bare_api: Kubectl, variant: str, values: dict[str, Any]) -> None:
    text = template_text(values).stdout
    docs = _docs(text)
    components = {d["metadata"].get("labels", {}).get("app.kubernetes.io/component") for d in docs}
    for component in ("scheduler", "controllers", "agent"):
        assert (component in components) == (values.get(component, {}).get("enabled", True)), variant
    out = bare_api("apply", "--server-side", "--field-manager=helm", "-f", "-", input=text)
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == len(docs) and all(line.endswith(" serverside-applied") for line in lines), out
    names = bare_api("get", "-f", "-", "-o", "name", input=text).split()
    assert len(names) == len(docs)
