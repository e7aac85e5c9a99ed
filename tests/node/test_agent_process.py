"""Process runtime: real subprocesses for pods bound to the host node (real clock, in-process API)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from suanli.apimachinery.objects import Obj
from suanli.apiserver.logs import FileLogBackend
from suanli.apiserver.service import ApiService
from suanli.client.local import LocalClient
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.registry import Registry
from suanli.node.agent import METRICS_BUCKETS, AgentConfig, ProcessAgent
from suanli.node.agent.framework import PODS
from suanli.storage import Store

NODE = "test-host"
PY = sys.executable


class Stack:
    def __init__(self, log_root: Path) -> None:
        self.registry = Registry()
        self.registry.add_all(builtin_resource_types())
        self.store = Store(None, compaction_interval=0, ttl_check_interval=0, volatile_buckets=METRICS_BUCKETS)
        self.service = ApiService(self.store, self.registry)
        self.client = LocalClient(self.service)
        self.logs = FileLogBackend(log_root)
        self.agent = ProcessAgent(self.client, log_root, node_name=NODE,
                                  config=AgentConfig(workers=4, backoff_base=0.2, metrics_interval=0.3),
                                  kill_timeout=2.0)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.store.start()
        self.store.add_index("pods", "spec.nodeName", lambda p: [str((p.get("spec") or {}).get("nodeName") or "")])
        ns_rt = self.registry.get("", "v1", "namespaces")
        assert ns_rt is not None
        for ns in ("default", "kube-node-lease"):
            await self.service.create(ns_rt, "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        self.task = asyncio.create_task(self.agent.run())
        await asyncio.wait_for(self.agent.ready.wait(), 5)

    async def stop(self) -> None:
        await self.agent.stop()
        if self.task is not None:
            await self.task
        await self.store.stop()

    async def eventually(self, fn: Callable[[], Any], timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = fn()
            except (KeyError, TypeError, IndexError, AttributeError):
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not reached: {fn}")
            await asyncio.sleep(0.01)

    def pod(self, name: str) -> Obj | None:
        so = self.store.get("pods", "default", name)
        return so.obj if so else None

    def phase(self, name: str) -> str | None:
        return ((self.pod(name) or {}).get("status") or {}).get("phase")

    def events(self, pod: str) -> list[tuple[str, str]]:
        items = self.store.list("events", "default").items
        return [(e.obj["reason"], e.obj["message"]) for e in items if e.obj["involvedObject"]["name"] == pod]


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    s = Stack(tmp_path / "pod-logs")
    await s.start()
    yield s
    await s.stop()


#: The opt-in every pod needs to run on the host node.
HOST_TOLERATION: Obj = {"key": "suanli.io/host", "operator": "Exists", "effect": "NoSchedule"}


def pod(name: str, command: list[str] | None, *, restart: str = "Never", env: list[Obj] | None = None,
        grace: int = 30, working_dir: str = "") -> Obj:
    c: Obj = {"name": "main", "image": "python:3.11"}
    if command is not None:
        c["command"] = command
    if env:
        c["env"] = env
    if working_dir:
        c["workingDir"] = working_dir
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "labels": {"app": "x"}},
            "spec": {"nodeName": NODE, "restartPolicy": restart, "terminationGracePeriodSeconds": grace,
                     "tolerations": [HOST_TOLERATION], "containers": [c]}}


async def test_host_node_registered_with_real_capacity(stack: Stack) -> None:
    node = await stack.eventually(lambda: stack.store.get("nodes", "", NODE))
    obj = node.obj
    assert obj["metadata"]["annotations"]["suanli.io/runtime"] == "process"
    assert obj["metadata"]["labels"]["kubernetes.io/hostname"] == NODE
    assert obj["status"]["capacity"]["cpu"] == str(os.cpu_count())
    assert obj["status"]["capacity"]["pods"] == "110"
    assert obj["status"]["capacity"]["memory"].endswith("Ki")
    assert obj["status"]["nodeInfo"]["kernelVersion"] == os.uname().release
    assert {a["type"] for a in obj["status"]["addresses"]} == {"InternalIP", "Hostname"}
    assert obj["spec"]["taints"] == [{"key": "suanli.io/host", "value": "true", "effect": "NoSchedule"}]


@pytest.mark.parametrize(("tolerations", "runs"), [
    ([], False),
    ([{"key": "suanli.io/host", "operator": "Equal", "value": "false", "effect": "NoSchedule"}], False),
    ([{"key": "suanli.io/host", "operator": "Exists", "effect": "NoExecute"}], False),
    ([{"key": "suanli.io/host", "operator": "Equal", "value": "true", "effect": "NoSchedule"}], True),
    ([{"operator": "Exists"}], True),
], ids=["no-toleration-rejected", "wrong-value-rejected", "wrong-effect-rejected", "exact-toleration-runs",
        "tolerate-everything-runs"])
async def test_host_node_runs_only_pods_tolerating_its_taint(stack: Stack, tolerations: list[Obj],
                                                             runs: bool) -> None:
    body = pod("optin", [PY, "-c", "print('ran')"])
    body["spec"]["tolerations"] = tolerations
    await stack.client.create(PODS, body)
    await stack.eventually(lambda: stack.phase("optin") in ("Succeeded", "Failed"))
    status = stack.pod("optin")["status"]
    if runs:
        assert status["phase"] == "Succeeded"
        assert stack.logs.read("default", "optin", "main") == b"ran\n"
    else:
        assert status["phase"] == "Failed" and status["reason"] == "UnexpectedAdmissionError"
        assert "suanli.io/host" in status["message"]
        assert stack.logs.read("default", "optin", "main") == b""


async def test_print_42_succeeds_with_logs_and_events(stack: Stack) -> None:
    await stack.client.create(PODS, pod("hello", [PY, "-c", "print(42)"]))
    await stack.eventually(lambda: stack.phase("hello") == "Succeeded")
    assert stack.logs.read("default", "hello", "main") == b"42\n"
    term = stack.pod("hello")["status"]["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 0 and term["reason"] == "Completed" and term["startedAt"] and term["finishedAt"]
    reasons = [r for r, _ in stack.events("hello")]
    assert "Pulled" in reasons and "Started" in reasons
    pulled = dict(stack.events("hello"))["Pulled"]
    assert "python:3.11" in pulled and "not pulled" in pulled


async def test_failing_command_fails_pod_with_exit_code(stack: Stack) -> None:
    await stack.client.create(PODS, pod("bad", [PY, "-c", "import sys; print('oops', file=sys.stderr); "
                                                "sys.exit(3)"]))
    await stack.eventually(lambda: stack.phase("bad") == "Failed")
    term = stack.pod("bad")["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (3, "Error")
    assert stack.logs.read("default", "bad", "main") == b"oops\n"


async def test_missing_command_is_a_config_error(stack: Stack) -> None:
    await stack.client.create(PODS, pod("nocmd", None))
    waiting = await stack.eventually(
        lambda: stack.pod("nocmd")["status"]["containerStatuses"][0]["state"].get("waiting"))
    assert waiting["reason"] == "CreateContainerConfigError"
    assert stack.phase("nocmd") == "Pending"
    await stack.eventually(lambda: any(r == "Failed" and "entrypoint" in m for r, m in stack.events("nocmd")))


async def test_deleting_long_running_pod_terminates_process(stack: Stack) -> None:
    await stack.client.create(PODS, pod("sleeper", [PY, "-c", "import time; print('up', flush=True); "
                                                    "time.sleep(600)"]))
    await stack.eventually(lambda: stack.phase("sleeper") == "Running")
    procs = stack.agent.processes()
    assert len(procs) == 1
    proc = next(iter(procs.values()))
    await stack.eventually(lambda: stack.logs.read("default", "sleeper", "main") == b"up\n")
    await stack.client.delete(PODS, "sleeper", "default")
    await stack.eventually(lambda: stack.pod("sleeper") is None)
    assert proc.returncode == -15  # SIGTERM was enough
    assert stack.agent.processes() == {}
    assert "Killing" in [r for r, _ in stack.events("sleeper")]


async def test_sigterm_ignored_escalates_to_sigkill(stack: Stack) -> None:
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ok', flush=True); " \
           "time.sleep(600)"
    await stack.client.create(PODS, pod("stubborn", [PY, "-c", code], grace=1))
    await stack.eventually(lambda: stack.logs.read("default", "stubborn", "main") == b"ok\n")
    proc = next(iter(stack.agent.processes().values()))
    await stack.client.delete(PODS, "stubborn", "default")
    await stack.eventually(lambda: stack.pod("stubborn") is None)
    assert proc.returncode == -9


async def test_env_value_from_and_working_dir(stack: Stack, tmp_path: Path) -> None:
    await stack.client.create(PODS, pod("envy", ["sh", "-c", "echo $A $B $POD $NS $NODE $IP $UIDX; pwd"], env=[
        {"name": "A", "value": "one"},
        {"name": "B", "value": "$(A)-two"},
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "UIDX", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
    ], working_dir=str(tmp_path)))
    await stack.eventually(lambda: stack.phase("envy") == "Succeeded")
    out = stack.logs.read("default", "envy", "main").decode().splitlines()
    words = out[0].split()
    p = stack.pod("envy")
    assert words[:5] == ["one", "one-two", "envy", "default", NODE]
    assert words[5] == p["status"]["podIP"] and words[6] == p["metadata"]["uid"]
    assert out[1] == str(tmp_path)


async def test_on_failure_restarts_and_keeps_previous_log(stack: Stack, tmp_path: Path) -> None:
    marker = tmp_path / "ran-once"
    code = (f"import os, sys; p = {str(marker)!r}; first = not os.path.exists(p); open(p, 'a').close(); "
            "print('first' if first else 'second'); sys.exit(1 if first else 0)")
    await stack.client.create(PODS, pod("retry", [PY, "-c", code], restart="OnFailure"))
    await stack.eventually(lambda: stack.phase("retry") == "Succeeded")
    cs = stack.pod("retry")["status"]["containerStatuses"][0]
    assert cs["restartCount"] == 1
    assert cs["lastState"]["terminated"]["exitCode"] == 1
    assert stack.logs.read("default", "retry", "main") == b"second\n"
    assert stack.logs.read("default", "retry", "main", previous=True) == b"first\n"
    assert "BackOff" in [r for r, _ in stack.events("retry")]


async def test_process_metrics_and_shutdown_kills_children(tmp_path: Path) -> None:
    s = Stack(tmp_path / "logs")
    await s.start()
    try:
        await s.client.create(PODS, pod("busy", [PY, "-c", "x = bytearray(30 << 20); print('ready', flush=True)\n"
                                                 "while True: pass"]))
        await s.eventually(lambda: s.logs.read("default", "busy", "main") == b"ready\n")
        pm = await s.eventually(lambda: (o := s.store.get("metrics.k8s.io/pods", "default", "busy")) and
                                int(o.obj["containers"][0]["usage"]["cpu"][:-1]) > 0 and o.obj)
        assert int(pm["containers"][0]["usage"]["memory"][:-2]) > 30 * 1024  # > 30 MiB resident
        nm = s.store.get("metrics.k8s.io/nodes", "", NODE)
        assert nm is not None and int(nm.obj["usage"]["memory"][:-2]) > 0
        proc = next(iter(s.agent.processes().values()))
    finally:
        await s.stop()
    assert proc.returncode is not None
