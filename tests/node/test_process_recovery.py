"""What the process runtime makes of a pod that was Running under the previous server, per container.

The run dirs are laid out as a previous server's shims leave them; a live shim is a real one.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tests.node.test_agent_process import HOST_TOLERATION, NODE, Stack

from suanli.apimachinery.objects import Obj
from suanli.node.agent import ProcessAgent
from suanli.node.agent.containers import ShimContainer, spawn
from suanli.node.agent.status import ContainerState, PodState
from suanli.node.shim import RunDir

STARTED = "2026-12-07T10:00:00Z"
RUNNING: Obj = {"running": {"startedAt": STARTED}}


@pytest.fixture
async def agent(tmp_path: Path) -> AsyncIterator[ProcessAgent]:
    stack = Stack(tmp_path / "logs")  # not started: recover_pod is called directly
    yield stack.agent
    await stack.agent.teardown()  # stops adopted containers, cancels their supervisors


def _pod(state: Obj, *, restart: str = "Always", restarts: int = 2, tolerate: bool = True) -> Obj:
    spec: Obj = {"nodeName": NODE, "restartPolicy": restart, "containers": [{"name": "main", "image": "x"}]}
    if tolerate:
        spec["tolerations"] = [HOST_TOLERATION]
    return {"metadata": {"name": "p", "namespace": "default", "uid": "uid-1"}, "spec": spec,
            "status": {"phase": "Running", "startTime": STARTED, "containerStatuses": [
                {"name": "main", "restartCount": restarts, "state": state}]}}


def _ps(pod: Obj) -> PodState:
    return PodState(key="default/p", namespace="default", name="p", uid="uid-1", node=NODE,
                    restart_policy=pod["spec"]["restartPolicy"], containers=[ContainerState("main", "x")])


def _run(agent: ProcessAgent, **files: Any) -> RunDir:
    run = RunDir(agent.run_root / "uid-1" / "main")
    run.path.mkdir(parents=True, exist_ok=True)
    run.write_atomic(run.spec, json.dumps({"command": ["true"], "env": {}, "deviceEnv": {"DEV": "1"}}))
    for name, value in files.items():
        (run.path / name.replace("_", ".")).write_text(value if isinstance(value, str) else json.dumps(value))
    return run


@pytest.mark.parametrize(
    ("state", "restart", "files", "expect"),
    [
        (RUNNING, "Never", {"exit_json": {"returncode": 3, "finishedAt": 1.0}}, ("terminated", "Error", 2, False)),
        (RUNNING, "Always", {"exit_json": {"returncode": -9, "finishedAt": 1.0}},
         ("waiting", "CrashLoopBackOff", 2, True)),
        (RUNNING, "OnFailure", {"exit_json": {"returncode": 0, "finishedAt": 1.0}}, ("terminated", "Completed", 2,
                                                                                       False)),
        (RUNNING, "Always", {}, ("waiting", "ContainerCreating", 2, True)),
        (RUNNING, "Always", {"stopped": "", "exit_json": {"returncode": -15}}, ("waiting", "ContainerCreating", 2,
                                                                                 True)),
        ({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": STARTED, "finishedAt": STARTED}},
         "OnFailure", {}, ("terminated", "Completed", 2, False)),
        ({"waiting": {"reason": "CrashLoopBackOff"}}, "Always", {"exit_json": {"returncode": 1}},
         ("waiting", "CrashLoopBackOff", 2, True)),
    ],
    ids=["exited-meanwhile-never-reports-its-code", "exited-meanwhile-always-backs-off",
         "completed-meanwhile-onfailure-succeeds", "no-shim-no-exit-is-lost-and-restarts",
         "clean-stop-marker-is-lost-and-restarts", "terminated-before-stays-terminated",
         "in-back-off-restarts-when-due"],
)
async def test_recovery_decides_per_container(agent: ProcessAgent, state: Obj, restart: str, files: dict[str, Any],
                                              expect: tuple[str, str, int, bool]) -> None:
    _run(agent, **files)
    pod = _pod(state, restart=restart)
    ps = _ps(pod)
    assert agent.recover_pod(ps, pod) is True
    c = ps.containers[0]
    assert (c.state, c.reason, c.restart_count, c.restart_at is not None) == expect
    lost = expect[1] == "ContainerCreating"
    assert ("sandbox_changed" in ps.extra) == lost  # only a lost process is explained as a sandbox change
    if "exit_json" in files and not lost and state is RUNNING:
        code = files["exit_json"]["returncode"]
        assert (c.last_terminated or {}).get("exitCode", c.exit_code) == (128 - code if code < 0 else code)
    assert ps.extra["device_env"] == {"DEV": "1"}  # a restart gets the device grant again
    assert agent.processes() == {}


async def test_a_live_shim_is_adopted_without_a_restart(agent: ProcessAgent) -> None:
    run = RunDir(agent.run_root / "uid-1" / "main")
    live: ShimContainer = await spawn(run, {"command": [sys.executable, "-c", "import time; time.sleep(600)"],
                                            "env": {}, "log": str(run.path.parent / "main.log")})
    pod = _pod(RUNNING)
    ps = _ps(pod)
    assert agent.recover_pod(ps, pod) is True
    c = ps.containers[0]
    assert (c.state, c.restart_count, c.restart_at) == ("running", 2, None)
    assert "sandbox_changed" not in ps.extra
    adopted = agent.processes()[("default/p", "main")]
    assert (adopted.pid, adopted.shim_pid) == (live.pid, live.shim_pid)
    live.signal(signal.SIGKILL)
    await asyncio.wait_for(live.wait(), 60)
    await asyncio.wait_for(adopted.wait(), 60)
    assert adopted.returncode == -signal.SIGKILL


async def test_a_pod_without_the_host_toleration_is_not_recovered(agent: ProcessAgent) -> None:
    _run(agent, exit_json={"returncode": 0})
    pod = _pod(RUNNING, tolerate=False)
    assert agent.recover_pod(_ps(pod), pod) is False


async def test_a_killed_shims_leftover_container_is_killed_before_the_restart(agent: ProcessAgent) -> None:
    run = RunDir(agent.run_root / "uid-1" / "main")
    live = await spawn(run, {"command": [sys.executable, "-c", "import time; time.sleep(600)"], "env": {},
                             "log": str(run.path.parent / "main.log")})
    os.kill(live.shim_pid, signal.SIGSTOP)  # a shim that cannot react: its container is left over
    try:
        run.shim.write_text("1:1")  # the recorded shim is gone (pid 1 never started at tick 1)
        pod = _pod(RUNNING)
        ps = _ps(pod)
        assert agent.recover_pod(ps, pod) is True
        assert f"killed the leftover process of main (pid {live.pid})" in ps.extra["sandbox_changed"]
    finally:
        os.kill(live.shim_pid, signal.SIGCONT)
    assert await asyncio.wait_for(live.wait(), 60) == -signal.SIGKILL
