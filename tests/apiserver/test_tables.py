"""Server-side ``kubectl get`` Tables: columns, derived cells and row objects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from suanli.apimachinery.errors import ApiError
from suanli.apiserver.tables import (
    AGE,
    NAME,
    Column,
    human_duration,
    printer_for,
    register_printer,
    table_for,
    translate_timestamp,
)
from suanli.kinds.registry import PrinterColumn, ResourceType

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


def ago(**kw: float) -> str:
    return (NOW - timedelta(**kw)).strftime("%Y-%m-%dT%H:%M:%SZ")


def rt(
    group: str,
    plural: str,
    kind: str = "Thing",
    namespaced: bool = True,
    columns: tuple[PrinterColumn, ...] = (),
) -> ResourceType:
    return ResourceType(
        group=group,
        version="v1",
        kind=kind,
        plural=plural,
        singular=kind.lower(),
        namespaced=namespaced,
        printer_columns=columns,
    )


PODS = rt("", "pods", "Pod")
NODES = rt("", "nodes", "Node", namespaced=False)


def cells(res: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """Render one object and return its cells keyed by upper-cased column name (as kubectl prints)."""
    table = table_for(res, [obj], now=NOW)
    names = [c["name"].upper() for c in table["columnDefinitions"]]
    row = table["rows"][0]["cells"]
    assert len(row) == len(names)
    return dict(zip(names, row, strict=True))


# -- durations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-0.5, "0s"),
        (0, "0s"),
        (5, "5s"),
        (119, "119s"),
        (120, "2m"),
        (192, "3m12s"),
        (600, "10m"),
        (179 * 60, "179m"),
        (3 * 3600, "3h"),
        (4 * 3600 + 5 * 60, "4h5m"),
        (8 * 3600, "8h"),
        (47 * 3600, "47h"),
        (2 * 86400 + 5 * 3600, "2d5h"),
        (3 * 86400, "3d"),
        (13 * 86400, "13d"),
        (400 * 86400, "400d"),
        ((2 * 365 + 45) * 86400, "2y45d"),
        (3 * 365 * 86400, "3y"),
        (10 * 365 * 86400, "10y"),
    ],
    ids=[
        "far future is invalid",
        "slightly future is 0s",
        "zero",
        "seconds",
        "just under two minutes",
        "two minutes",
        "minutes and seconds",
        "ten minutes drops seconds",
        "minutes up to three hours",
        "three hours",
        "hours and minutes",
        "eight hours drops minutes",
        "hours up to two days",
        "age formatting 2d5h",
        "whole days",
        "days up to two years",
        "days past one year",
        "years and days",
        "whole years",
        "many years",
    ],
)
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_missing_creation_timestamp_is_unknown() -> None:
    assert translate_timestamp(None, NOW) == "<unknown>"
    assert cells(rt("x.io", "widgets"), {"metadata": {"name": "w"}})["AGE"] == "<unknown>"


# -- pods --------------------------------------------------------------------------------------


def pod(
    phase: str = "Running",
    containers: int = 1,
    statuses: list[dict[str, Any]] | None = None,
    init: list[dict[str, Any]] | None = None,
    init_statuses: list[dict[str, Any]] | None = None,
    deleting: bool = False,
    reason: str = "",
    conditions: list[dict[str, Any]] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    md: dict[str, Any] = {"name": "p", "namespace": "default", "creationTimestamp": ago(minutes=5)}
    if deleting:
        md["deletionTimestamp"] = ago(seconds=1)
    status: dict[str, Any] = {
        "phase": phase,
        "containerStatuses": statuses or [],
        "initContainerStatuses": init_statuses or [],
        "conditions": conditions or [],
    }
    if reason:
        status["reason"] = reason
    return {
        "metadata": md,
        "status": status,
        "spec": {
            "containers": [{"name": f"c{i}", "image": "img"} for i in range(containers)],
            "initContainers": init or [],
            **spec,
        },
    }


def running(name: str = "c0", ready: bool = True, restarts: int = 0, **extra: Any) -> dict[str, Any]:
    return {"name": name, "ready": ready, "restartCount": restarts, "state": {"running": {}}, **extra}


def waiting(reason: str, name: str = "c0", restarts: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "ready": False,
        "restartCount": restarts,
        "state": {"waiting": {"reason": reason}},
        **extra,
    }


def terminated(reason: str = "", code: int = 0, name: str = "c0", **extra: Any) -> dict[str, Any]:
    term: dict[str, Any] = {"exitCode": code}
    if reason:
        term["reason"] = reason
    return {"name": name, "ready": False, "restartCount": 0, "state": {"terminated": term}, **extra}


POD_CASES: list[tuple[dict[str, Any], str, str]] = [
    (pod(containers=2, statuses=[running("c0"), running("c1", ready=False)]), "1/2", "Running"),
    (pod(phase="Pending"), "0/1", "Pending"),
    (pod(phase="Pending", statuses=[waiting("ContainerCreating")]), "0/1", "ContainerCreating"),
    (pod(statuses=[waiting("CrashLoopBackOff", restarts=4)]), "0/1", "CrashLoopBackOff"),
    (pod(phase="Succeeded", statuses=[terminated("Completed")]), "0/1", "Completed"),
    (pod(phase="Failed", statuses=[terminated("Error", 1)]), "0/1", "Error"),
    (pod(phase="Failed", statuses=[terminated(code=137)]), "0/1", "ExitCode:137"),
    (pod(statuses=[running()], deleting=True), "1/1", "Terminating"),
    (pod(phase="Succeeded", statuses=[terminated("Completed")], deleting=True), "0/1", "Completed"),
    (pod(statuses=[running()], deleting=True, reason="NodeLost"), "1/1", "Unknown"),
    (pod(phase="Failed", reason="Evicted"), "0/1", "Evicted"),
    (
        pod(
            phase="Pending",
            init=[{"name": "i0"}, {"name": "i1"}],
            init_statuses=[terminated(code=0, name="i0"), waiting("PodInitializing", name="i1")],
            statuses=[waiting("PodInitializing")],
        ),
        "0/1",
        "Init:1/2",
    ),
    (
        pod(phase="Pending", init=[{"name": "i0"}], init_statuses=[waiting("CrashLoopBackOff", name="i0")]),
        "0/1",
        "Init:CrashLoopBackOff",
    ),
    (
        pod(phase="Pending", init=[{"name": "i0"}], init_statuses=[terminated(code=2, name="i0")]),
        "0/1",
        "Init:ExitCode:2",
    ),
    (
        pod(
            phase="Pending",
            conditions=[{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}],
        ),
        "0/1",
        "SchedulingGated",
    ),
    (
        pod(
            init=[{"name": "side", "restartPolicy": "Always"}],
            init_statuses=[running("side", started=True)],
            statuses=[running()],
            conditions=[{"type": "Initialized", "status": "True"}],
        ),
        "2/2",
        "Running",
    ),
    (
        pod(
            containers=2,
            statuses=[terminated("Completed", name="c0"), running("c1")],
            conditions=[{"type": "Ready", "status": "True"}],
        ),
        "1/2",
        "Running",
    ),
    (pod(containers=2, statuses=[terminated("Completed", name="c0"), running("c1")]), "1/2", "NotReady"),
]


@pytest.mark.parametrize(
    ("obj", "ready", "status"),
    POD_CASES,
    ids=[
        "pod with one of two containers ready shows 1/2",
        "unscheduled pod shows Pending",
        "pulling pod shows ContainerCreating",
        "crashing container shows CrashLoopBackOff",
        "finished pod shows Completed",
        "failed container shows Error",
        "terminated without reason shows exit code",
        "terminating pod shows Terminating",
        "deleted but finished pod keeps Completed",
        "terminating pod on lost node shows Unknown",
        "pod status reason wins over phase",
        "second init container running shows Init:1/2",
        "crashing init container shows Init:CrashLoopBackOff",
        "failed init container shows Init:ExitCode",
        "scheduling gated pod shows SchedulingGated",
        "started sidecar counts toward ready and total",
        "completed container next to running one shows Running when pod ready",
        "completed container next to running one shows NotReady otherwise",
    ],
)
def test_pod_ready_and_status(obj: dict[str, Any], ready: str, status: str) -> None:
    row = cells(PODS, obj)
    assert (row["READY"], row["STATUS"]) == (ready, status)


def test_pod_restarts_and_wide_cells() -> None:
    obj = pod(
        statuses=[running(restarts=3, lastState={"terminated": {"finishedAt": ago(minutes=2)}})],
        nodeName="n1",
        readinessGates=[{"conditionType": "x/ok"}, {"conditionType": "x/other"}],
        conditions=[{"type": "x/ok", "status": "True"}],
    )
    obj["status"]["podIP"] = "10.0.0.5"
    row = cells(PODS, obj)
    assert row["RESTARTS"] == "3 (2m ago)"
    assert row["AGE"] == "5m"
    assert (row["IP"], row["NODE"], row["NOMINATED NODE"], row["READINESS GATES"]) == (
        "10.0.0.5",
        "n1",
        "<none>",
        "1/2",
    )


def test_pod_without_restarts_has_integer_restarts_and_none_placeholders() -> None:
    row = cells(PODS, pod(phase="Pending"))
    assert row["RESTARTS"] == 0
    assert (row["IP"], row["NODE"], row["READINESS GATES"]) == ("<none>", "<none>", "<none>")


# -- nodes -------------------------------------------------------------------------------------


def node(
    ready: str | None = "True", unschedulable: bool = False, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    conditions = [] if ready is None else [{"type": "Ready", "status": ready}]
    return {
        "metadata": {"name": "n1", "labels": labels or {}, "creationTimestamp": ago(days=13)},
        "spec": {"unschedulable": unschedulable},
        "status": {
            "conditions": conditions,
            "addresses": [
                {"type": "Hostname", "address": "n1"},
                {"type": "InternalIP", "address": "192.168.0.2"},
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.31.0",
                "osImage": "Ubuntu",
                "kernelVersion": "6.8",
                "containerRuntimeVersion": "containerd://1.7",
            },
        },
    }


@pytest.mark.parametrize(
    ("obj", "status", "roles"),
    [
        (node(), "Ready", "<none>"),
        (node("False"), "NotReady", "<none>"),
        (node(None), "Unknown", "<none>"),
        (node(unschedulable=True), "Ready,SchedulingDisabled", "<none>"),
        (
            node(labels={"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/worker": "x"}),
            "Ready",
            "control-plane,worker",
        ),
        (node(labels={"kubernetes.io/role": "gpu"}), "Ready", "gpu"),
    ],
    ids=[
        "ready node",
        "not ready node",
        "node without Ready condition is Unknown",
        "node unschedulable shows SchedulingDisabled",
        "roles from node-role labels sorted",
        "legacy kubernetes.io/role label",
    ],
)
def test_node_status_and_roles(obj: dict[str, Any], status: str, roles: str) -> None:
    row = cells(NODES, obj)
    assert (row["STATUS"], row["ROLES"]) == (status, roles)


def test_node_wide_cells() -> None:
    row = cells(NODES, node())
    assert [
        row[k]
        for k in (
            "AGE",
            "VERSION",
            "INTERNAL-IP",
            "EXTERNAL-IP",
            "OS-IMAGE",
            "KERNEL-VERSION",
            "CONTAINER-RUNTIME",
        )
    ] == ["13d", "v1.31.0", "192.168.0.2", "<none>", "Ubuntu", "6.8", "containerd://1.7"]


# -- workloads ---------------------------------------------------------------------------------

TEMPLATE = {"spec": {"containers": [{"name": "app", "image": "nginx:1"}, {"name": "log", "image": "fluent"}]}}


def test_deployment_columns() -> None:
    obj = {
        "metadata": {"name": "web", "creationTimestamp": ago(hours=4)},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE},
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    row = cells(rt("apps", "deployments", "Deployment"), obj)
    assert row == {
        "NAME": "web",
        "READY": "2/3",
        "UP-TO-DATE": 3,
        "AVAILABLE": 2,
        "AGE": "4h",
        "CONTAINERS": "app,log",
        "IMAGES": "nginx:1,fluent",
        "SELECTOR": "app=web",
    }


def test_replicaset_and_statefulset_columns() -> None:
    rs = {
        "metadata": {"name": "web-1"},
        "spec": {"replicas": 3, "template": TEMPLATE},
        "status": {"replicas": 3, "readyReplicas": 1},
    }
    row = cells(rt("apps", "replicasets"), rs)
    assert (row["DESIRED"], row["CURRENT"], row["READY"]) == (3, 3, 1)
    sts = {
        "metadata": {"name": "db"},
        "spec": {"replicas": 2, "template": TEMPLATE},
        "status": {"readyReplicas": 2},
    }
    assert cells(rt("apps", "statefulsets"), sts)["READY"] == "2/2"


def test_daemonset_node_selector() -> None:
    ds = {
        "metadata": {"name": "agent"},
        "spec": {"template": {"spec": {"nodeSelector": {"b": "2", "a": "1"}, "containers": []}}},
        "status": {"desiredNumberScheduled": 4, "numberReady": 3},
    }
    row = cells(rt("apps", "daemonsets"), ds)
    assert (row["DESIRED"], row["READY"], row["NODE SELECTOR"]) == (4, 3, "a=1,b=2")


def job(conditions: list[str], deleting: bool = False, **spec: Any) -> dict[str, Any]:
    md: dict[str, Any] = {"name": "j", "creationTimestamp": ago(minutes=30)}
    if deleting:
        md["deletionTimestamp"] = ago(seconds=1)
    return {
        "metadata": md,
        "spec": {"template": TEMPLATE, **spec},
        "status": {
            "conditions": [{"type": c, "status": "True"} for c in conditions],
            "succeeded": 1,
            "startTime": ago(minutes=20),
            "completionTime": ago(minutes=17),
        },
    }


@pytest.mark.parametrize(
    ("obj", "status", "completions"),
    [
        (job(["Complete"], completions=1), "Complete", "1/1"),
        (job(["Failed"], completions=3), "Failed", "1/3"),
        (job(["Suspended"]), "Suspended", "1/1"),
        (job([], deleting=True), "Terminating", "1/1"),
        (job([], parallelism=4), "Running", "1/1 of 4"),
    ],
    ids=[
        "complete job",
        "failed job",
        "suspended job",
        "deleting job shows Terminating",
        "work queue job with parallelism",
    ],
)
def test_job_status_and_completions(obj: dict[str, Any], status: str, completions: str) -> None:
    row = cells(rt("batch", "jobs"), obj)
    assert (row["STATUS"], row["COMPLETIONS"], row["DURATION"]) == (status, completions, "3m")


def test_running_job_duration_counts_to_now() -> None:
    obj = job([])
    del obj["status"]["completionTime"]
    assert cells(rt("batch", "jobs"), obj)["DURATION"] == "20m"


def test_cronjob_columns() -> None:
    cj = {
        "metadata": {"name": "nightly"},
        "spec": {"schedule": "0 1 * * *", "suspend": False, "jobTemplate": {"spec": {"template": TEMPLATE}}},
        "status": {"active": [{"name": "a"}], "lastScheduleTime": ago(hours=2)},
    }
    row = cells(rt("batch", "cronjobs"), cj)
    assert [row[k] for k in ("SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE")] == [
        "0 1 * * *",
        "<none>",
        "False",
        1,
        "120m",
    ]


# -- services, config, events ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "status", "external", "ports"),
    [
        (
            {"clusterIP": "10.96.0.10", "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53}]},
            {},
            "<none>",
            "53/UDP,53/TCP",
        ),
        (
            {"type": "NodePort", "clusterIP": "10.0.0.1", "ports": [{"port": 80, "nodePort": 30080}]},
            {},
            "<none>",
            "80:30080/TCP",
        ),
        ({"type": "LoadBalancer", "clusterIP": "10.0.0.1", "ports": []}, {}, "<pending>", "<none>"),
        (
            {"type": "LoadBalancer", "clusterIP": "10.0.0.1"},
            {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}},
            "1.2.3.4",
            "<none>",
        ),
        ({"type": "ExternalName", "externalName": "db.example.com"}, {}, "db.example.com", "<none>"),
    ],
    ids=[
        "cluster IP service with two ports",
        "node port shows port:nodePort",
        "load balancer pending",
        "load balancer ingress IP",
        "external name",
    ],
)
def test_service_columns(spec: dict[str, Any], status: dict[str, Any], external: str, ports: str) -> None:
    row = cells(rt("", "services"), {"metadata": {"name": "s"}, "spec": spec, "status": status})
    assert (row["EXTERNAL-IP"], row["PORT(S)"]) == (external, ports)


def test_endpoints_truncate_after_three() -> None:
    ep = {
        "metadata": {"name": "e"},
        "subsets": [{"addresses": [{"ip": f"10.0.0.{i}"} for i in range(5)], "ports": [{"port": 80}]}],
    }
    assert cells(rt("", "endpoints"), ep)["ENDPOINTS"] == "10.0.0.0:80,10.0.0.1:80,10.0.0.2:80 + 2 more..."


def test_configmap_and_secret_data_counts() -> None:
    assert (
        cells(rt("", "configmaps"), {"metadata": {"name": "c"}, "data": {"a": "1"}, "binaryData": {"b": ""}})[
            "DATA"
        ]
        == 2
    )
    row = cells(
        rt("", "secrets"),
        {"metadata": {"name": "s"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}},
    )
    assert (row["TYPE"], row["DATA"]) == ("kubernetes.io/tls", 2)


def test_core_event_columns() -> None:
    ev = {
        "metadata": {"name": "p.123"},
        "type": "Warning",
        "reason": "BackOff",
        "message": " Back-off \n",
        "involvedObject": {"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{app}"},
        "source": {"component": "kubelet", "host": "n1"},
        "count": 5,
        "firstTimestamp": ago(hours=1),
        "lastTimestamp": ago(seconds=30),
    }
    row = cells(rt("", "events"), ev)
    assert row == {
        "LAST SEEN": "30s",
        "TYPE": "Warning",
        "REASON": "BackOff",
        "OBJECT": "pod/web-1",
        "SUBOBJECT": "spec.containers{app}",
        "SOURCE": "kubelet, n1",
        "MESSAGE": "Back-off",
        "FIRST SEEN": "60m",
        "COUNT": 5,
        "NAME": "p.123",
    }


def test_events_k8s_io_event_uses_renamed_fields() -> None:
    ev = {
        "metadata": {"name": "e"},
        "type": "Normal",
        "reason": "Scheduled",
        "note": "assigned",
        "regarding": {"kind": "Pod", "name": "p"},
        "eventTime": ago(seconds=10),
        "reportingController": "suanli-scheduler",
    }
    row = cells(rt("events.k8s.io", "events"), ev)
    assert (row["LAST SEEN"], row["OBJECT"], row["MESSAGE"], row["SOURCE"], row["COUNT"]) == (
        "10s",
        "pod/p",
        "assigned",
        "suanli-scheduler",
        1,
    )


# -- misc kinds --------------------------------------------------------------------------------


def test_hpa_targets() -> None:
    hpa = {
        "metadata": {"name": "h"},
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "maxReplicas": 5,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
                },
                {
                    "type": "Resource",
                    "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "1Gi"}},
                },
                {"type": "Pods", "pods": {"target": {"averageValue": "10"}}},
            ],
        },
        "status": {
            "currentReplicas": 2,
            "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 40}}}
            ],
        },
    }
    row = cells(rt("autoscaling", "horizontalpodautoscalers"), hpa)
    assert row["REFERENCE"] == "Deployment/web"
    assert row["TARGETS"] == "cpu: 40%/80%, memory: <unknown>/1Gi + 1 more..."
    assert (row["MINPODS"], row["MAXPODS"], row["REPLICAS"]) == ("<unset>", 5, 2)


def test_rolebinding_subjects_in_wide_columns() -> None:
    rb = {
        "metadata": {"name": "rb"},
        "roleRef": {"kind": "ClusterRole", "name": "view"},
        "subjects": [
            {"kind": "User", "name": "alice"},
            {"kind": "Group", "name": "devs"},
            {"kind": "ServiceAccount", "name": "bot", "namespace": "ci"},
        ],
    }
    row = cells(rt("rbac.authorization.k8s.io", "clusterrolebindings"), rb)
    assert (row["ROLE"], row["USERS"], row["GROUPS"], row["SERVICEACCOUNTS"]) == (
        "ClusterRole/view",
        "alice",
        "devs",
        "ci:bot",
    )


def test_priorityclass_and_lease_and_role() -> None:
    pc = {"metadata": {"name": "high"}, "value": 1000, "globalDefault": True}
    row = cells(rt("scheduling.k8s.io", "priorityclasses"), pc)
    assert (row["VALUE"], row["GLOBAL-DEFAULT"], row["PREEMPTIONPOLICY"]) == (
        1000,
        True,
        "PreemptLowerPriority",
    )
    lease = {"metadata": {"name": "l"}, "spec": {"holderIdentity": "node-a"}}
    assert cells(rt("coordination.k8s.io", "leases"), lease)["HOLDER"] == "node-a"
    role = {"metadata": {"name": "r", "creationTimestamp": "2024-01-02T03:04:05Z"}}
    assert cells(rt("rbac.authorization.k8s.io", "roles"), role) == {
        "NAME": "r",
        "CREATED AT": "2024-01-02T03:04:05Z",
    }


# -- CRDs and generic resources ----------------------------------------------------------------

WIDGET_COLUMNS = (
    PrinterColumn("Ready", "string", '.status.conditions[?(@.type=="Ready")].status'),
    PrinterColumn("Replicas", "integer", ".spec.replicas"),
    PrinterColumn("Ratio", "number", ".spec.ratio"),
    PrinterColumn("Paused", "boolean", ".spec.paused"),
    PrinterColumn("Tags", "string", ".spec.tags", priority=1),
    PrinterColumn("Started", "date", ".status.startTime"),
    PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
)


def test_crd_printer_column_from_jsonpath() -> None:
    obj = {
        "metadata": {"name": "w", "creationTimestamp": ago(days=2, hours=5)},
        "spec": {"replicas": 3.0, "ratio": 0.5, "paused": False, "tags": ["a", "b"]},
        "status": {"conditions": [{"type": "Ready", "status": "True"}], "startTime": ago(seconds=42)},
    }
    row = cells(rt("example.com", "widgets", columns=WIDGET_COLUMNS), obj)
    assert row == {
        "NAME": "w",
        "READY": "True",
        "REPLICAS": 3,
        "RATIO": 0.5,
        "PAUSED": False,
        "TAGS": '["a","b"]',
        "STARTED": "42s",
        "AGE": "2d5h",
    }


def test_crd_printer_column_missing_value_is_null() -> None:
    row = cells(rt("example.com", "widgets", columns=WIDGET_COLUMNS), {"metadata": {"name": "w"}})
    assert row["READY"] is None and row["REPLICAS"] is None and row["AGE"] is None


def test_crd_columns_keep_declared_order_and_priority() -> None:
    table = table_for(rt("example.com", "widgets", columns=WIDGET_COLUMNS), [], now=NOW)
    assert [(c["name"], c["type"], c["priority"]) for c in table["columnDefinitions"]] == [
        ("Name", "string", 0),
        ("Ready", "string", 0),
        ("Replicas", "integer", 0),
        ("Ratio", "number", 0),
        ("Paused", "boolean", 0),
        ("Tags", "string", 1),
        ("Started", "date", 0),
        ("Age", "date", 0),
    ]


def test_resource_without_columns_gets_name_and_age() -> None:
    row = cells(
        rt("example.com", "gadgets"), {"metadata": {"name": "g", "creationTimestamp": ago(seconds=7)}}
    )
    assert row == {"NAME": "g", "AGE": "7s"}


def test_invalid_printer_column_path_yields_null_cell() -> None:
    res = rt("example.com", "broken", columns=(PrinterColumn("Bad", "string", "spec[["),))
    assert cells(res, {"metadata": {"name": "b"}})["BAD"] is None


# -- table shape -------------------------------------------------------------------------------

BUILTINS = [
    ("", "pods"),
    ("", "nodes"),
    ("", "namespaces"),
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "daemonsets"),
    ("apps", "statefulsets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
    ("", "services"),
    ("", "endpoints"),
    ("", "configmaps"),
    ("", "secrets"),
    ("", "serviceaccounts"),
    ("", "events"),
    ("events.k8s.io", "events"),
    ("coordination.k8s.io", "leases"),
    ("scheduling.k8s.io", "priorityclasses"),
    ("autoscaling", "horizontalpodautoscalers"),
    ("rbac.authorization.k8s.io", "roles"),
    ("rbac.authorization.k8s.io", "clusterroles"),
    ("rbac.authorization.k8s.io", "rolebindings"),
    ("rbac.authorization.k8s.io", "clusterrolebindings"),
    ("apiextensions.k8s.io", "customresourcedefinitions"),
]


@pytest.mark.parametrize(("group", "plural"), BUILTINS, ids=[f"{g or 'core'}/{p}" for g, p in BUILTINS])
def test_every_builtin_printer_survives_a_bare_object(group: str, plural: str) -> None:
    row = cells(rt(group, plural), {"metadata": {"name": "x"}})
    assert "x" in row.values()


WIDE = {
    ("", "pods"): ["IP", "Node", "Nominated Node", "Readiness Gates"],
    ("", "nodes"): ["Internal-IP", "External-IP", "OS-Image", "Kernel-Version", "Container-Runtime"],
    ("apps", "deployments"): ["Containers", "Images", "Selector"],
    ("batch", "jobs"): ["Containers", "Images", "Selector"],
    ("", "services"): ["Selector"],
    ("", "events"): ["Subobject", "Source", "First Seen", "Count", "Name"],
}


@pytest.mark.parametrize("key", list(WIDE), ids=[f"wide columns have priority 1 ({p})" for _, p in WIDE])
def test_wide_columns_have_priority_1(key: tuple[str, str]) -> None:
    cols = table_for(rt(*key), [], now=NOW)["columnDefinitions"]
    assert [c["name"] for c in cols if c["priority"] == 1] == WIDE[key]


def test_default_pod_columns_are_kubectls() -> None:
    cols = table_for(PODS, [], now=NOW)["columnDefinitions"]
    assert [c["name"].upper() for c in cols if c["priority"] == 0] == [
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
    ]
    assert cols[0]["format"] == "name"


OBJ = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p", "namespace": "ns", "labels": {"a": "b"}},
    "spec": {"containers": []},
}


def test_row_object_is_partial_object_metadata_by_default() -> None:
    table = table_for(
        PODS, [OBJ], now=NOW, list_meta={"resourceVersion": "42", "continue": "tok", "remainingItemCount": 3}
    )
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "42", "continue": "tok", "remainingItemCount": 3}
    assert table["rows"][0]["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": OBJ["metadata"],
    }


@pytest.mark.parametrize(
    ("include", "expected"),
    [("Object", OBJ), ("None", None)],
    ids=["includeObject=Object embeds the full object", "includeObject=None omits it"],
)
def test_include_object_modes(include: str, expected: dict[str, Any] | None) -> None:
    row = table_for(PODS, [OBJ], include_object=include, now=NOW)["rows"][0]
    assert row.get("object") == expected


def test_unknown_include_object_is_bad_request() -> None:
    with pytest.raises(ApiError) as info:
        table_for(PODS, [OBJ], include_object="Everything", now=NOW)
    assert info.value.code == 400


def test_empty_list_meta_is_omitted_and_no_headers_drops_columns() -> None:
    table = table_for(
        PODS, [OBJ], now=NOW, list_meta={"resourceVersion": "7", "continue": ""}, no_headers=True
    )
    assert table["metadata"] == {"resourceVersion": "7"}
    assert table["columnDefinitions"] == []
    assert len(table["rows"]) == 1


def test_register_printer_overrides_generic_rendering() -> None:
    res = rt("custom.example", "gizmos")
    register_printer(
        "custom.example",
        "gizmos",
        (NAME, Column("Size", "integer"), AGE),
        lambda o, now: [o["metadata"]["name"], o["spec"]["size"], "1s"],
    )
    assert printer_for(res).columns[1].name == "Size"
    assert cells(res, {"metadata": {"name": "g"}, "spec": {"size": 9}}) == {
        "NAME": "g",
        "SIZE": 9,
        "AGE": "1s",
    }
