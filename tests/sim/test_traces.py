"""Trace readers: openb CSV variants, YAML pod lists, and located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from suanli.sim.traces import TraceError, load_nodes, load_pods

OPENB_HEADER = (
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,"
    "qos,pod_phase,creation_time,deletion_time,scheduled_time"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_full_openb_pod_row_loads(tmp_path: Path) -> None:
    p = write(
        tmp_path, "pods.csv", OPENB_HEADER + "\np0,6000,12288,1,460,V100M16|V100M32,LS,Running,0,10,0\n"
    )
    [pod] = load_pods(p)
    assert (pod.cpu_milli, pod.memory_mib, pod.num_gpu, pod.gpu_milli) == (6000, 12288, 1, 460)
    assert pod.gpu_spec == frozenset({"V100M16", "V100M32"})


def test_reduced_pod_columns_load(tmp_path: Path) -> None:
    p = write(
        tmp_path, "pods.csv", "name,cpu_milli,memory_mib,num_gpu,gpu_milli\na,1000,10,2,1000\nb,500,1,0,0\n"
    )
    pods = load_pods(p)
    assert [(x.name, x.num_gpu, x.gpu_spec) for x in pods] == [("a", 2, frozenset()), ("b", 0, frozenset())]


def test_yaml_pod_list_loads(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "pods.yaml",
        "pods:\n- {name: a, cpu_milli: 1000, memory_mib: 10, num_gpu: 1, gpu_milli: 300, gpu_spec: [T4]}\n"
        "- {name: b, cpu_milli: 10, memory_mib: 1, num_gpu: 0, gpu_milli: 0}\n",
    )
    pods = load_pods(p)
    assert pods[0].gpu_spec == frozenset({"T4"}) and pods[0].gpu_milli == 300 and pods[1].num_gpu == 0


def test_node_list_loads(tmp_path: Path) -> None:
    p = write(
        tmp_path, "nodes.csv", "sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,2,P100\nn1,32000,1024,0,\n"
    )
    nodes = load_nodes(p)
    assert [(n.name, n.gpu, n.model) for n in nodes] == [("n0", 2, "P100"), ("n1", 0, "")]


REDUCED = "name,cpu_milli,memory_mib,num_gpu,gpu_milli\n"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "pods.csv",
            REDUCED + "a,1,1,0,0\n" * 15 + "b,abc,1,0,0\n",
            "pods.csv:17: column 'cpu_milli': expected an integer, got 'abc'",
        ),
        (
            "pods.csv",
            "name,cpu_milli,num_gpu,gpu_milli\na,1,0,0\n",
            "pods.csv:1: missing column 'memory_mib'",
        ),
        ("pods.csv", REDUCED + "a,1,1\n", "pods.csv:2: expected 5 fields, got 3"),
        (
            "pods.csv",
            REDUCED + "a,1,1,2,500\n",
            "pods.csv:2: column 'gpu_milli': must be 1000 when num_gpu > 1",
        ),
        (
            "pods.csv",
            REDUCED + "a,1,1,1,1500\n",
            "pods.csv:2: column 'gpu_milli': must be between 0 and 1000",
        ),
        ("pods.csv", REDUCED + "a,-5,1,0,0\n", "pods.csv:2: column 'cpu_milli': must be non-negative"),
        ("pods.csv", REDUCED, "pods.csv:1: no pods"),
        (
            "pods.yaml",
            "- name: a\n  cpu_milli: 1\n  memory_mib: x\n  num_gpu: 0\n  gpu_milli: 0\n",
            "pods.yaml:3: column 'memory_mib': expected an integer, got 'x'",
        ),
        ("pods.yaml", "- name: a\n  cpu_milli: 1\n", "pods.yaml:1: missing column 'memory_mib'"),
        ("pods.yaml", "just text\n", "pods.yaml:1: expected a list of pods"),
    ],
    ids=[
        "bad-integer-names-line-and-column",
        "missing-column-names-header-line",
        "short-row-names-line",
        "multi-gpu-share-is-rejected",
        "milli-above-one-gpu-is-rejected",
        "negative-request-is-rejected",
        "empty-list-is-rejected",
        "yaml-bad-integer-names-value-line",
        "yaml-missing-key-names-item-line",
        "yaml-not-a-list",
    ],
)
def test_malformed_pod_lists_name_file_line_column(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    p = write(tmp_path, name, text)
    with pytest.raises(TraceError) as err:
        load_pods(p)
    assert str(err.value).startswith(str(tmp_path / message.split(":")[0]) + ":" + message.split(":", 1)[1])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "sn,cpu_milli,memory_mib,gpu,model\nn0,64000,1,two,T4\n",
            "nodes.csv:2: column 'gpu': expected an integer, got 'two'",
        ),
        (
            "sn,cpu_milli,memory_mib,gpu,model\nn0,1,1,1,T4\nn0,1,1,1,T4\n",
            "nodes.csv:3: column 'sn': duplicate node name",
        ),
        ("sn,cpu_milli,gpu\nn0,1,1\n", "nodes.csv:1: missing column 'memory_mib'"),
    ],
    ids=["bad-gpu-count", "duplicate-node", "missing-memory-column"],
)
def test_malformed_node_lists(tmp_path: Path, text: str, message: str) -> None:
    p = write(tmp_path, "nodes.csv", text)
    with pytest.raises(TraceError, match="^" + str(tmp_path / "") + "/" + message.replace("(", r"\(")):
        load_nodes(p)
