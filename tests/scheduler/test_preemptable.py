"""``volcano.sh/preemptable`` as current Volcano reads it (``GetPodPreemptable``, pkg/scheduler/api/pod_info.go):
the annotation first, then the label, values parsed like Go's ``strconv.ParseBool`` (anything else is
false), and a pod with neither is preemptable unless the configuration's ``defaultPreemptable`` says
otherwise. The one-shot and the incremental snapshot agree, including when only a label changes."""

from __future__ import annotations

import pytest

from suanli.apimachinery.objects import Obj
from suanli.scheduler.core.snapshot import SnapshotConfig, pod_preemptable, snapshot_from_objects
from suanli.scheduler.core.snapshot_builder import SnapshotBuilder

from ._builders import build_node, build_pod

KEY = "volcano.sh/preemptable"


def meta(annotation: str | None = None, label: str | None = None) -> Obj:
    out: Obj = {}
    if annotation is not None:
        out["annotations"] = {KEY: annotation}
    if label is not None:
        out["labels"] = {KEY: label}
    return out


@pytest.mark.parametrize(
    ("annotation", "label", "default", "expected"),
    [
        (None, None, True, True),
        (None, None, False, False),
        ("true", None, False, True),
        ("false", None, True, False),
        (None, "true", False, True),
        (None, "false", True, False),
        ("false", "true", True, False),
        ("true", "false", False, True),
        ("True", None, False, True),
        ("TRUE", None, False, True),
        ("t", None, False, True),
        ("1", None, False, True),
        ("F", None, True, False),
        ("0", None, True, False),
        ("yes", None, True, False),
        ("", None, True, False),
        ("maybe", "true", True, False),
        (None, "sure", True, False),
    ],
    ids=[
        "neither-is-preemptable", "neither-with-old-default-false", "annotation-true", "annotation-false",
        "label-true", "label-false", "annotation-wins-over-label-false", "annotation-wins-over-label-true",
        "parsebool-True", "parsebool-TRUE", "parsebool-t", "parsebool-1", "parsebool-F", "parsebool-0",
        "yes-is-not-a-go-bool", "empty-is-invalid", "invalid-annotation-is-false-not-label", "invalid-label-is-false",
    ],
)
def test_pod_preemptable_follows_volcano(annotation: str | None, label: str | None, default: bool,
                                         expected: bool) -> None:
    assert pod_preemptable(meta(annotation, label), default) is expected


def _task_preemptable(pods: list[Obj], config: SnapshotConfig) -> dict[str, bool]:
    snap = snapshot_from_objects([build_node("n1", {"cpu": "8"})], pods, [], [], [], config=config)
    return {t.name: t.preemptable for t in snap.tasks}


@pytest.mark.parametrize("default", [True, False], ids=["default-true", "default-false"])
def test_one_shot_and_incremental_snapshots_read_label_and_annotation_alike(default: bool) -> None:
    config = SnapshotConfig(scheduler_names=frozenset({"volcano"}), default_preemptable=default)
    pods = [build_pod("ns", "plain", "n1", "Running", {"cpu": "1"}),
            build_pod("ns", "ann-false", "n1", "Running", {"cpu": "1"}, preemptable=False),
            build_pod("ns", "label-false", "n1", "Running", {"cpu": "1"}, labels={KEY: "false"}),
            build_pod("ns", "label-true", "n1", "Running", {"cpu": "1"}, labels={KEY: "true"})]
    expected = {"plain": default, "ann-false": False, "label-false": False, "label-true": True}
    assert _task_preemptable(pods, config) == expected
    builder = SnapshotBuilder(config)
    builder.upsert_node(build_node("n1", {"cpu": "8"}))
    for p in pods:
        builder.upsert_pod(p)
    assert {t.name: t.preemptable for t in builder.snapshot().tasks} == expected


def test_incremental_snapshot_sees_a_label_only_change() -> None:
    builder = SnapshotBuilder(SnapshotConfig(scheduler_names=frozenset({"volcano"})))
    builder.upsert_node(build_node("n1", {"cpu": "8"}))
    pod = build_pod("ns", "p", "n1", "Running", {"cpu": "1"})
    builder.upsert_pod(pod)
    assert [t.preemptable for t in builder.snapshot().tasks] == [True]
    relabelled = {**pod, "metadata": {**pod["metadata"], "labels": {KEY: "false"}}}
    builder.upsert_pod(relabelled)
    assert [t.preemptable for t in builder.snapshot().tasks] == [False]
