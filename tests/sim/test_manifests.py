"""Kubernetes manifests as simulator input: expansion of workloads and located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from suanli.scheduler.core import parse_config
from suanli.sim.cli import main
from suanli.sim.export import policy_config_text
from suanli.sim.manifests import load_manifests
from suanli.sim.replay import replay_volcano
from suanli.sim.traces import TraceError

NODE = """apiVersion: v1
kind: Node
metadata: {name: n0, annotations: {kwok.x-k8s.io/node: fake}}
status:
  allocatable: {cpu: "8", memory: 16Gi, pods: "110", volcano.sh/gpu-number: "2", volcano.sh/gpu-memory: "2000"}
"""
POD = """apiVersion: v1
kind: Pod
metadata:
  name: {name}
  annotations: {{suanli.io/sim-creation-time: "{t}"}}
spec:
  containers:
  - name: c
    resources:
      requests: {{cpu: "{cpu}", volcano.sh/gpu-memory: "500"}}
"""
VCJOB = """apiVersion: batch.volcano.sh/v1alpha1
kind: Job
metadata: {name: train, namespace: ml}
spec:
  minAvailable: 3
  queue: research
  tasks:
  - name: ps
    replicas: 1
    template: {spec: {containers: [{name: c, resources: {requests: {cpu: "1"}}}]}}
  - name: worker
    replicas: 3
    minAvailable: 2
    template: {spec: {containers: [{name: c, resources: {requests: {cpu: "2"}}}]}}
"""
DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  template: {spec: {containers: [{name: c, resources: {requests: {cpu: 100m}}}]}}
"""
QUEUE = """apiVersion: scheduling.volcano.sh/v1beta1
kind: Queue
metadata: {name: research}
spec: {weight: 1}
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_directory_of_multi_document_files_expands_workloads(tmp_path: Path) -> None:
    write(tmp_path / "a-cluster.yaml", NODE + "---\n" + QUEUE + "---\napiVersion: v1\nkind: Namespace\n"
          "metadata: {name: ml}\n")
    write(tmp_path / "sub" / "jobs.yml", VCJOB + "---\n" + DEPLOY)
    wl = load_manifests(tmp_path)
    assert [n["metadata"]["name"] for n in wl.nodes] == ["n0"]
    assert [q["metadata"]["name"] for q in wl.queues] == ["research"]
    names = [f"{p.obj['metadata']['namespace']}/{p.obj['metadata']['name']}" for p in wl.pods]
    assert names == ["ml/train-ps-0", "ml/train-worker-0", "ml/train-worker-1", "ml/train-worker-2",
                     "default/web-0", "default/web-1"]
    [pg] = wl.podgroups
    assert pg["metadata"] == {"name": "train", "namespace": "ml"}
    assert pg["spec"]["minMember"] == 3 and pg["spec"]["queue"] == "research"
    assert pg["spec"]["minTaskMember"] == {"ps": 1, "worker": 2}
    assert pg["spec"]["minResources"]["cpu"] == "5"  # ps 1 + 2 workers x 2
    ann = wl.pods[1].obj["metadata"]["annotations"]
    assert ann["scheduling.k8s.io/group-name"] == "train" and ann["volcano.sh/task-spec"] == "worker"
    assert wl.pods[1].obj["spec"]["schedulerName"] == "volcano"
    assert wl.ignored == {"Namespace": 1}


def test_gang_job_runs_through_the_volcano_engine(tmp_path: Path) -> None:
    write(tmp_path / "m.yaml", NODE + "---\n" + QUEUE + "---\n" + VCJOB)
    run = replay_volcano(load_manifests(tmp_path / "m.yaml"), parse_config(policy_config_text("fgd")))
    assert {p.name: p.node for p in run.pods} == {  # 1 + 3 x 2 = 7 of 8 CPUs: the whole gang fits
        "ml/train-ps-0": "n0", "ml/train-worker-0": "n0", "ml/train-worker-1": "n0", "ml/train-worker-2": "n0"}


def test_gang_that_cannot_reach_min_available_places_nothing(tmp_path: Path) -> None:
    big = VCJOB.replace('requests: {cpu: "2"}', 'requests: {cpu: "4"}')  # 1 + 2 x 4 > 8 CPUs
    write(tmp_path / "m.yaml", NODE + "---\n" + QUEUE + "---\n" + big)
    run = replay_volcano(load_manifests(tmp_path / "m.yaml"), parse_config(policy_config_text("fgd")))
    assert [p.outcome for p in run.pods] == ["pending"] * 4


def test_pod_times_come_from_annotations(tmp_path: Path) -> None:
    write(tmp_path / "m.yaml", NODE + "---\n" + POD.format(name="p0", t=5, cpu=1) + "---\n"
          + POD.format(name="p1", t=9, cpu=1))
    wl = load_manifests(tmp_path / "m.yaml")
    assert [(p.creation, p.deletion) for p in wl.pods] == [(5.0, None), (9.0, None)]


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("kind: Pod\nmetadata: {name: a\n", "m.yaml:3:1", "invalid YAML"),
        (NODE + "---\n" + POD.format(name="p", t=0, cpu="lots"), "m.yaml:16:23",
         "Pod default/p: spec.containers[0].resources.requests.cpu: invalid quantity 'lots'"),
        ("apiVersion: v1\nmetadata: {name: x}\n", "m.yaml:1:1", "missing 'kind'"),
        ("apiVersion: v1\nkind: Pod\nmetadata: {namespace: x}\nspec: {containers: [{name: c}]}\n", "m.yaml:3:11",
         "Pod: metadata.name is required"),
        (POD.format(name="p", t="soon", cpu=1), "m.yaml:5:46", "suanli.io/sim-creation-time: expected a non-negative"),
        (DEPLOY.replace("replicas: 2", "replicas: two"), "m.yaml:5:13",
         "Deployment default/web: spec.replicas: expected a non-negative integer, got 'two'"),
        (VCJOB.replace("replicas: 3", "replicas: -1"), "m.yaml:12:15", "spec.tasks[1].replicas"),
        ("- 1\n- 2\n", "m.yaml:1:1", "expected a Kubernetes object"),
    ],
    ids=[
        "unclosed-flow-mapping",
        "bad-quantity-points-at-the-value",
        "missing-kind-points-at-the-document",
        "missing-name-points-at-metadata",
        "bad-time-annotation",
        "non-integer-replicas",
        "negative-task-replicas",
        "document-is-not-an-object",
    ],
)
def test_malformed_manifests_name_file_line_and_column(tmp_path: Path, text: str, where: str,
                                                       message: str) -> None:
    write(tmp_path / "m.yaml", text)
    with pytest.raises(TraceError) as err:
        load_manifests(tmp_path / "m.yaml")
    file, line, col = where.split(":")
    assert str(err.value).startswith(f"{tmp_path / file}:{line}:{col}: "), str(err.value)
    assert message in str(err.value)


def test_duplicate_pods_are_rejected(tmp_path: Path) -> None:
    write(tmp_path / "m.yaml", POD.format(name="p", t=0, cpu=1) + "---\n" + POD.format(name="p", t=1, cpu=1))
    with pytest.raises(TraceError, match="duplicate Pod default/p"):
        load_manifests(tmp_path / "m.yaml")


def test_cli_reports_manifest_errors_with_location_and_exit_code_1(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path / "m.yaml", NODE + "---\n" + POD.format(name="p", t=0, cpu="lots"))
    assert main(["replay", "--manifests", str(bad), "--policy", "fgd", "--out", str(tmp_path / "o")]) == 1
    assert f"{bad}:16:23: " in capsys.readouterr().err


def test_export_then_replay_round_trip(tmp_path: Path) -> None:
    write(tmp_path / "nodes.csv", "sn,cpu_milli,memory_mib,gpu,model\nn0,8000,16384,2,T4\nn1,4000,8192,0,\n")
    write(tmp_path / "pods.csv", "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,creation_time,deletion_time\n"
          "a,1000,10,1,300,T4,0,10\nb,1000,10,2,1000,,5,\nc,500,10,0,0,,6,7\n")
    assert main(["export-manifests", "--nodes", str(tmp_path / "nodes.csv"), "--pods", str(tmp_path / "pods.csv"),
                 "--policy", "fgd", "--queue", "q", "--out", str(tmp_path / "m")]) == 0
    wl = load_manifests(tmp_path / "m")
    assert [(p.creation, p.deletion) for p in wl.pods] == [(0.0, 10.0), (5.0, None), (6.0, 7.0)]
    a = wl.pods[0].obj
    assert a["spec"]["containers"][0]["resources"]["requests"]["volcano.sh/gpu-memory"] == "300"
    terms = a["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == ["T4"]
    assert [q["metadata"]["name"] for q in wl.queues] == ["q"]
    run = replay_volcano(wl, parse_config((tmp_path / "m" / "scheduler.conf").read_text()))
    assert {p.name: (p.node, p.scheduled) for p in run.pods} == {
        "default/a": ("n0", 0.0), "default/b": ("n0", 10.0), "default/c": ("n0", 6.0)}
