"""Process runtime: the real host as a Node, pod containers as local process groups.

The host registers as Node ``node_name`` (default: the sanitised hostname) with its real
capacity, nodeInfo, addresses, labels ``kubernetes.io/{hostname,os,arch}`` and
``suanli.io/runtime: process``, annotation ``suanli.io/runtime: process`` and the taint
``suanli.io/host=true:NoSchedule``: only pods tolerating it run (even when bound by
``spec.nodeName``; others fail ``UnexpectedAdmissionError``). For each container of a pod bound to it:

* ``command`` + ``args`` run with ``$(VAR)`` expansion (no command → waiting
  ``CreateContainerConfigError`` and a ``Failed`` event: there is no image entrypoint);
  ``image`` is ignored (a ``Pulled`` event says so); ``workingDir``; ``env`` with
  ``valueFrom``; device-visibility variables from the allocation; ``PATH``/``HOME``/``LANG``
  from the agent; ``HOSTNAME`` = pod name. Pods share the host network (podIP = hostIP).
* stdout and stderr, interleaved, go to ``<log_root>/<ns>/<pod>/<container>.log``
  (:class:`~suanli.apiserver.logs.FileLogBackend` layout); a restart moves the previous
  run to ``<container>.previous.log``.
* Exits become terminated states and, through ``restartPolicy``, restarts with back-off.
* Deleting the pod sends SIGTERM to each process group and SIGKILL after the grace
  period; then the pod object is removed. Stopping the agent kills every child.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import re
import shutil
import signal
import socket
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.nodeaffinity import tolerates
from suanli.apimachinery.objects import Obj, parse_time
from suanli.apiserver.streaming import RUNTIME_ANNOTATION, StreamIO
from suanli.client.protocol import Client
from suanli.node.agent.containers import ShimContainer, ShimStartError, adopt, alive, spawn
from suanli.node.agent.envvars import EnvError, expand, resolve_env
from suanli.node.agent.framework import NODES, PODS, AgentConfig, NodeAgent, NodeRecord
from suanli.node.agent.host import ProcSampler, host_addresses, host_capacity, host_node_info, process_start_ticks
from suanli.node.agent.metrics import Usage
from suanli.node.agent.status import ContainerState, PodState, node_conditions
from suanli.node.devices.api import DeviceRegistry
from suanli.node.shim import RunDir
from suanli.runtime.clock import Clock
from suanli.runtime.informer import object_key
from suanli.wire import CONFIGMAPS, SECRETS

__all__ = ["HOST_TAINT", "RUNTIME_ANNOTATION", "ProcessAgent", "default_node_name", "host_taint_rejection"]

log = logging.getLogger(__name__)

#: ``<prefix><container>: "<pid>:<start ticks>"`` — the process a container runs as.
PROCESS_ANNOTATION_PREFIX = "process.suanli.io/"
_PASSTHROUGH_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ")
#: The host node's taint: running a command on this machine is opt-in by toleration.
HOST_TAINT: dict[str, str] = {"key": "suanli.io/host", "value": "true", "effect": "NoSchedule"}


def host_taint_rejection(pod: Obj) -> str | None:
    """Why the host node refuses ``pod`` (it does not tolerate :data:`HOST_TAINT`), or None.

    Stricter than a kubelet, which only rejects untolerated ``NoExecute`` taints: a pod bound by
    ``spec.nodeName`` bypasses the scheduler, and the host node must never run a command that
    did not opt in.
    """
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    if any(isinstance(t, dict) and tolerates(t, HOST_TAINT) for t in tolerations):
        return None
    return ("Predicate TaintToleration failed: node(s) had untolerated taint {suanli.io/host: true}; "
            "pods run as processes on this machine only with a toleration for suanli.io/host=true:NoSchedule")


def default_node_name() -> str:
    """The hostname as a DNS-1123 subdomain (lower case, invalid characters → ``-``)."""
    name = re.sub(r"[^a-z0-9.-]+", "-", socket.gethostname().lower()).strip("-.")
    return name or "localhost"


class ProcessAgent(NodeAgent):
    """Runs pods bound to the host node as subprocesses; logs under ``log_root``."""

    def __init__(self, client: Client, log_root: Path, *, node_name: str | None = None, clock: Clock | None = None,
                 devices: DeviceRegistry | None = None, config: AgentConfig | None = None,
                 data_path: Path | None = None, kill_timeout: float = 5.0, kubelet_port: int = 10250) -> None:
        """``kubelet_port`` is published as ``status.daemonEndpoints.kubeletEndpoint.Port`` (where the
        node's kubelet API is served: :class:`~suanli.node.agent.kubelet_server.KubeletServer`)."""
        self.node_name = node_name or default_node_name()
        self.kubelet_port = kubelet_port
        super().__init__(client, clock=clock, devices=devices, config=config)
        self.log_root = Path(log_root)
        self.data_path = data_path or self.log_root
        self.kill_timeout = kill_timeout
        self.sampler = ProcSampler()
        #: where each container attempt's shim keeps its files: ``<run_root>/<pod uid>/<container>``
        self.run_root = self.data_path / "_shims"
        self._procs: dict[tuple[str, str], ShimContainer] = {}  # (pod key, container) -> running attempt
        self._supervisors: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ node

    def node_field_selector(self) -> str:
        return f"metadata.name={self.node_name}"

    def pod_field_selectors(self) -> list[str]:
        return [f"spec.nodeName={self.node_name}"]

    def manages(self, node: Obj) -> bool:
        return str(node["metadata"]["name"]) == self.node_name

    def _labels(self) -> dict[str, str]:
        info = host_node_info()
        return {"kubernetes.io/hostname": self.node_name, "kubernetes.io/os": info["operatingSystem"],
                "kubernetes.io/arch": info["architecture"], RUNTIME_ANNOTATION: "process"}

    def _host_status(self) -> Obj:
        cap = host_capacity(self.data_path)
        return {"capacity": cap, "allocatable": dict(cap), "nodeInfo": host_node_info(),
                "addresses": host_addresses(self.node_name),
                "daemonEndpoints": {"kubeletEndpoint": {"Port": self.kubelet_port}}, "phase": "Running"}

    async def setup(self) -> None:
        """Create the host Node (with status) or refresh its labels and annotation."""
        self._spawn(self._reap_orphans())
        labels = self._labels()
        try:
            await self.client.get(NODES, self.node_name)
        except ApiError as exc:
            if exc.code != 404:
                raise
            status = self._host_status()
            status["conditions"] = node_conditions([], self.clock.now(), failed=False)
            body: Obj = {"apiVersion": "v1", "kind": "Node",
                         "metadata": {"name": self.node_name, "labels": labels,
                                      "annotations": {RUNTIME_ANNOTATION: "process"}},
                         "spec": {"taints": [dict(HOST_TAINT)]}, "status": status}
            with contextlib.suppress(ApiError):
                await self.client.create(NODES, body)
                return
        await self.client.patch(NODES, self.node_name, {"metadata": {"annotations": {RUNTIME_ANNOTATION: "process"}}},
                                field_manager=self.field_manager)
        await self._ensure_taint()

    async def _ensure_taint(self) -> None:
        """Put :data:`HOST_TAINT` back on an existing host Node (restart, or removed by hand)."""
        node = await self.client.get(NODES, self.node_name)
        taints = list((node.get("spec") or {}).get("taints") or [])
        if any(t.get("key") == HOST_TAINT["key"] and t.get("effect") == HOST_TAINT["effect"] for t in taints):
            return
        taints.append(dict(HOST_TAINT))
        await self.client.patch(NODES, self.node_name, {"spec": {"taints": taints}}, field_manager=self.field_manager)

    def admission_rejection(self, pod: Obj, node: Obj) -> str | None:
        return host_taint_rejection(pod)

    def initial_status(self, node: Obj, rec: NodeRecord) -> tuple[Obj, dict[str, str]]:
        labels = (node.get("metadata") or {}).get("labels") or {}
        return self._host_status(), {k: v for k, v in self._labels().items() if k not in labels}

    def pod_addresses(self, ps: PodState, node: Obj, rec: NodeRecord) -> tuple[str, str]:
        ip = "127.0.0.1"
        for a in (node.get("status") or {}).get("addresses") or []:
            if a.get("type") == "InternalIP":
                ip = str(a.get("address"))
                break
        return ip, ip

    # ------------------------------------------------------------------ containers

    def _container_spec(self, pod: Obj, name: str) -> Obj:
        for c in (pod.get("spec") or {}).get("containers") or []:
            if c.get("name") == name:
                return dict(c)
        return {}

    async def _lookup(self, kind: str, namespace: str, name: str, key: str) -> str | None:
        try:
            obj = await self.client.get(CONFIGMAPS if kind == "configmap" else SECRETS, name, namespace)
        except ApiError:
            return None
        if kind == "secret":
            if key in (obj.get("stringData") or {}):
                return str(obj["stringData"][key])
            raw = (obj.get("data") or {}).get(key)
            return base64.b64decode(raw).decode(errors="replace") if raw is not None else None
        value = (obj.get("data") or {}).get(key)
        return str(value) if value is not None else None

    async def start_container(self, ps: PodState, c: ContainerState, pod: Obj, env: dict[str, str]) -> None:
        spec = self._container_spec(pod, c.name)
        if (changed := ps.extra.pop("sandbox_changed", None)) is not None:
            await self.emit_event(ps, "SandboxChanged", str(changed))
        if c.restart_count == 0:
            await self.emit_event(ps, "Pulled", f'Container image "{c.image}" is not pulled: the process runtime '
                                  "runs the container's command on the host and ignores the image", container=c.name)
        base = {k: os.environ[k] for k in _PASSTHROUGH_ENV if k in os.environ}
        base["HOSTNAME"] = ps.name
        base.update(env)
        try:
            full_env = await resolve_env(pod, spec, pod_ip=ps.pod_ip, host_ip=ps.host_ip, base=base,
                                         lookup=self._lookup)
        except (EnvError, ValueError) as exc:
            self._config_error(ps, c, str(exc))
            await self.emit_event(ps, "Failed", f"Error: {exc}", "Warning", container=c.name)
            return
        command = [expand(str(a), full_env) for a in spec.get("command") or []]
        args = [expand(str(a), full_env) for a in spec.get("args") or []]
        if not command:
            msg = ("no command: the process runtime has no image entrypoint, so containers must set "
                   "`command`")
            self._config_error(ps, c, msg)
            await self.emit_event(ps, "Failed", f"Error: {msg}", "Warning", container=c.name)
            return
        path = self.log_root / ps.namespace / ps.name / f"{c.name}.log"
        previous = path.with_name(f"{c.name}.previous.log")
        path.parent.mkdir(parents=True, exist_ok=True)
        if c.restart_count > 0 and path.exists():
            os.replace(path, previous)
        elif c.restart_count == 0:
            with contextlib.suppress(FileNotFoundError):
                previous.unlink()
        path.write_bytes(b"")
        c.started_at = self.clock.now()
        c.restart_at = None
        try:
            handle = await spawn(self._run_dir(ps, c.name), {
                "command": [*command, *args], "env": full_env, "cwd": spec.get("workingDir") or None,
                "stdin": bool(spec.get("stdin")), "log": str(path), "deviceEnv": env})
        except ShimStartError as exc:
            self.container_exited(ps, c, 128, reason="StartError", message=exc.message)
            await self.emit_event(ps, "Failed", f"Error: {exc.message}", "Warning", container=c.name)
            return
        await self._record_process(ps, c.name, handle.pid)
        c.state, c.reason, c.message = "running", "", ""
        self._procs[(ps.key, c.name)] = handle
        ps.extra.setdefault("exits", {}).pop(c.name, None)
        self._spawn(self._supervise(ps, c.name, handle))
        await self.emit_event(ps, "Started", f"Started container {c.name}", container=c.name)

    def _run_dir(self, ps: PodState, container: str) -> RunDir:
        return RunDir(self.run_root / ps.uid / container)

    async def _record_process(self, ps: PodState, container: str, pid: int) -> None:
        """Remember ``pid`` and its start time on the pod (where a person looking for the process finds it)."""
        started = process_start_ticks(pid)
        if started is None:
            return
        with contextlib.suppress(ApiError):
            await self.client.patch(PODS, ps.name, {"metadata": {"annotations": {
                f"{PROCESS_ANNOTATION_PREFIX}{container}": f"{pid}:{started}"}}}, ps.namespace,
                field_manager=self.field_manager)

    def recover_pod(self, ps: PodState, pod: Obj) -> bool:
        """Take over a pod that was Running under the previous server, container by container.

        * its shim still runs: *adopted* — same process, same ``restartCount``, logs keep coming;
        * its shim ended and left the exit code: the container *terminated* with that code while
          no server watched, and ``restartPolicy`` applies as to any exit;
        * otherwise (shim killed, or a clean stop of the server stopped it): it starts again with
          ``restartCount`` + 1 and a ``SandboxChanged`` event says why; a leftover process of a
          killed shim is SIGKILLed first, so it never runs twice.

        Returns False (the pod is admitted afresh) only when the host would refuse it now.
        """
        if host_taint_rejection(pod) is not None:
            return False
        statuses = {str(s.get("name")): s for s in (pod.get("status") or {}).get("containerStatuses") or []}
        mono, lost, killed = self.clock.monotonic(), [], []
        for c in ps.containers:
            status = statuses.get(c.name) or {}
            c.restart_count = int(status.get("restartCount") or 0)
            started = ((status.get("state") or {}).get("running") or {}).get("startedAt")
            c.started_at = parse_time(str(started)).timestamp() if started else self.clock.now()
            if status.get("lastState", {}).get("terminated"):
                c.last_terminated = dict(status["lastState"]["terminated"])
            run = self._run_dir(ps, c.name)
            spec = run.read_json(run.spec) or {}
            ps.extra.setdefault("device_env", dict(spec.get("deviceEnv") or {}))
            state = status.get("state") or {}
            if "terminated" in state:  # finished before the restart, and not to be restarted: stays so
                done = state["terminated"]
                c.state, c.exit_code = "terminated", int(done.get("exitCode") or 0)
                c.reason, c.message = str(done.get("reason") or ""), str(done.get("message") or "")
                c.started_at = parse_time(str(done["startedAt"])).timestamp() if done.get("startedAt") else 0.0
                c.finished_at = parse_time(str(done["finishedAt"])).timestamp() if done.get("finishedAt") else 0.0
                continue
            handle = None if run.stopped.exists() or not started else adopt(run)
            exit_status = run.read_json(run.exit) if handle is None and not run.stopped.exists() else None
            if "waiting" in state and exit_status is not None:  # in back-off: its restart is due by now
                c.state, c.reason = "waiting", str(state["waiting"].get("reason") or "CrashLoopBackOff")
                c.restart_at = mono
            elif handle is not None:
                c.state, c.reason, c.message = "running", "", ""
                self._procs[(ps.key, c.name)] = handle
                self._spawn(self._supervise(ps, c.name, handle))
            elif exit_status is not None and started:
                code = int(exit_status.get("returncode", 1))
                c.state = "running"
                self.container_exited(ps, c, 128 - code if code < 0 else code,
                                      reason=str(exit_status.get("reason") or ""),
                                      message=str(exit_status.get("message") or ""))
                c.finished_at = float(exit_status.get("finishedAt") or c.finished_at)
            else:
                leader = run.read_pid(run.container)
                if leader is not None and alive(*leader):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(leader[0], signal.SIGKILL)
                        killed.append(f"{c.name} (pid {leader[0]})")
                c.state, c.reason, c.message = "waiting", "ContainerCreating", ""
                c.restart_at = mono  # _restart_due counts the restart and starts it now
                lost.append(c.name)
        if lost:
            left = f"; killed the leftover process of {', '.join(killed)}" if killed else ""
            ps.extra["sandbox_changed"] = ("Pod sandbox changed, it will be killed and re-created: the Suanli server "
                                           f"restarted and lost the process of {', '.join(lost)}{left}")
        start = (pod.get("status") or {}).get("startTime")
        if start:
            ps.start_time = parse_time(str(start)).timestamp()
        self.enqueue_pod(ps)
        return True

    async def _reap_orphans(self) -> None:
        """Once the pod cache is synced: stop shims of pods deleted while no server ran, drop their run dirs."""
        began = time.time()  # run dirs made from now on belong to pods this server starts
        await self.ready.wait()
        if not self.run_root.is_dir():
            return
        known = {str(p["metadata"].get("uid")) for inf in self.pod_informers for p in inf.list()}
        for pod_dir in self.run_root.iterdir():
            with contextlib.suppress(OSError):
                if pod_dir.name in known or pod_dir.stat().st_mtime >= began:
                    continue
            for run in (RunDir(d) for d in pod_dir.iterdir() if d.is_dir()):
                if (handle := adopt(run)) is not None:
                    log.warning("stopping %s: its pod (uid %s) no longer exists", handle.pid, pod_dir.name)
                    handle.signal(signal.SIGKILL)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(handle.wait(), self.kill_timeout)
                elif (leader := run.read_pid(run.container)) is not None and alive(*leader):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(leader[0], signal.SIGKILL)
            shutil.rmtree(pod_dir, ignore_errors=True)

    def release_pod(self, ps: PodState) -> None:
        """A terminal or deleted pod's shims are gone: drop its run dirs (its logs stay)."""
        if ps.uid and not any(k[0] == ps.key for k in self._procs):
            shutil.rmtree(self.run_root / ps.uid, ignore_errors=True)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._supervisors.add(task)
        task.add_done_callback(self._supervisors.discard)

    def _config_error(self, ps: PodState, c: ContainerState, message: str) -> None:
        c.state, c.reason, c.message = "waiting", "CreateContainerConfigError", message

    async def _supervise(self, ps: PodState, name: str, handle: ShimContainer) -> None:
        code = await handle.wait()
        if self._procs.get((ps.key, name)) is handle:
            del self._procs[(ps.key, name)]
        self.sampler.forget(handle.pid)
        ps.extra.setdefault("exits", {})[name] = 128 - code if code < 0 else code  # -9 → 137
        if ps.stopping and not any(k[0] == ps.key for k in self._procs):
            ps.stopped = True
        self.enqueue_pod(ps)

    async def sync_containers(self, ps: PodState, pod: Obj) -> None:
        exits: dict[str, int] = ps.extra.get("exits") or {}
        for c in ps.containers:
            if c.state == "running" and c.name in exits:
                code = exits.pop(c.name)
                if self.container_exited(ps, c, code):
                    await self.emit_event(ps, "BackOff", f"Back-off restarting failed container {c.name} in pod "
                                          f"{ps.name}_{ps.namespace}({ps.uid})", "Warning", container=c.name)

    async def kill_pod(self, ps: PodState, pod: Obj, grace: float) -> None:
        for c in ps.containers:
            c.restart_at = None
        live = [(name, p) for (key, name), p in self._procs.items() if key == ps.key and p.returncode is None]
        if not live:
            ps.stopped = True
            return
        for name, p in live:
            if ps.namespace and grace > 0:
                await self.emit_event(ps, "Killing", f"Stopping container {name}", container=name)
            p.signal(signal.SIGTERM if grace > 0 else signal.SIGKILL)
        self._spawn(self._escalate([p for _, p in live], grace, ps))

    async def _escalate(self, procs: list[ShimContainer], grace: float, ps: PodState | None) -> None:
        """SIGKILL whatever is still alive after ``grace`` seconds, then wait for it."""
        waiter: asyncio.Future[Any] = asyncio.ensure_future(asyncio.gather(*(p.wait() for p in procs)))
        timer: asyncio.Future[Any] = asyncio.ensure_future(self.clock.sleep(grace))
        await asyncio.wait([waiter, timer], return_when=asyncio.FIRST_COMPLETED)
        timer.cancel()
        if not waiter.done():
            for p in procs:
                if p.returncode is None:
                    p.signal(signal.SIGKILL)
        await waiter
        if ps is not None:
            ps.stopped = True
            self.enqueue_pod(ps)

    async def teardown(self) -> None:
        """Stop every container (SIGTERM, SIGKILL after ``kill_timeout``), marking each run dir ``stopped``
        so the next server restarts them (counted, with an event) instead of reporting a kill as an exit."""
        procs = [p for p in self._procs.values() if p.returncode is None]
        for p in procs:
            with contextlib.suppress(OSError):
                p.run.stopped.touch()
            p.signal(signal.SIGTERM)
        if procs:
            try:
                await asyncio.wait_for(asyncio.gather(*(p.wait() for p in procs)), self.kill_timeout)
            except TimeoutError:
                for p in procs:
                    p.signal(signal.SIGKILL)
                await asyncio.gather(*(p.wait() for p in procs))
        for t in list(self._supervisors):
            t.cancel()
        for t in list(self._supervisors):
            with contextlib.suppress(BaseException):
                await t

    # ------------------------------------------------------------------ streaming (exec, attach, port-forward)

    def serves(self, pod: Obj) -> bool:
        return (pod.get("spec") or {}).get("nodeName") == self.node_name

    def _running(self, pod: Obj, container: str) -> tuple[tuple[str, str], ShimContainer]:
        meta = pod["metadata"]
        key = (object_key(pod), container)
        proc = self._procs.get(key)
        if proc is None or proc.returncode is not None:
            raise ApiError.bad_request(f'container "{container}" in pod "{meta["name"]}" is not running')
        return key, proc

    async def check(self, pod: Obj, container: str, sub: str) -> None:
        if container or sub != "portforward":
            self._running(pod, container)
            return
        key = object_key(pod)
        if not any(k[0] == key and p.returncode is None for k, p in self._procs.items()):
            raise ApiError.bad_request(f'pod "{pod["metadata"]["name"]}" has no running container to forward a port to')

    async def open_port(self, pod: Obj, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Connect to ``port`` on the host (host pods share its network): 127.0.0.1, then ::1.

        The failure reads as a CRI runtime's: ``failed to connect to localhost:<port> …, IPv4: … IPv6 …``.
        """
        errors: list[str] = []
        for family, host in (("tcp4", "127.0.0.1"), ("tcp6", "::1")):
            try:
                return await asyncio.open_connection(host, port)
            except OSError as exc:
                shown = f"[{host}]" if ":" in host else host
                why = "connection refused" if isinstance(exc, ConnectionRefusedError) else (exc.strerror or str(exc))
                errors.append(f"dial {family} {shown}:{port}: connect: {why}")
        raise ConnectionRefusedError(f"failed to connect to localhost:{port} inside the host network of pod "
                                     f'"{pod["metadata"]["name"]}", IPv4: {errors[0]} IPv6 {errors[1]}')

    async def exec(self, pod: Obj, container: str, command: list[str], io: StreamIO) -> int:
        """Run ``command`` with the container's environment and working dir, in its own process group."""
        _, handle = self._running(pod, container)
        env, cwd = handle.env, handle.cwd
        try:
            proc = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.PIPE if io.stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT if io.tty else asyncio.subprocess.PIPE,
                cwd=cwd, env=env or None, start_new_session=True)
        except OSError as exc:  # as a shell (and runc) reports it: 127 not found, 126 not executable
            missing = isinstance(exc, FileNotFoundError)
            why = "executable file not found in $PATH" if missing else exc.strerror
            io.out(2, f'exec failed: exec: "{command[0]}": {why}\n'.encode())
            return 127 if missing else 126
        feeder = asyncio.ensure_future(_feed(io.stdin, proc.stdin)) if io.stdin is not None else None
        try:
            await asyncio.gather(_copy(proc.stdout, 1, io), _copy(proc.stderr, 2, io))
            return await proc.wait()
        finally:
            if feeder is not None:
                feeder.cancel()
            if proc.returncode is None:
                _signal_group(proc, signal.SIGKILL)
                await proc.wait()

    async def attach(self, pod: Obj, container: str, io: StreamIO) -> None:
        """Relay the container's new output and feed its stdin (``stdin: true``) until it exits.

        Goes through the shim's attach socket, so it works on adopted containers too.
        """
        _, handle = self._running(pod, container)
        spec = self._container_spec(pod, container)
        stdin = io.stdin if spec.get("stdin") else None
        try:
            await handle.attach(lambda stream, data: io.out(1 if stream == 1 or io.tty else 2, data), stdin,
                                close_stdin=bool(spec.get("stdinOnce")))
        except OSError as exc:  # the shim ended between the check and the connect
            raise ApiError.bad_request(f'container "{container}" in pod "{pod["metadata"]["name"]}" is not '
                                       f"running: {exc}") from None

    # ------------------------------------------------------------------ usage

    def pod_usage(self, ps: PodState, pod: Obj) -> dict[str, Usage]:
        now = self.clock.monotonic()
        out: dict[str, Usage] = {}
        for c in ps.containers:
            p = self._procs.get((ps.key, c.name))
            if p is not None and p.returncode is None:
                cpu, mem = self.sampler.group_usage(p.pid, now)
                out[c.name] = Usage(cpu, mem)
            else:
                out[c.name] = Usage(0, 0)
        return out

    def node_usage(self, rec: NodeRecord, node: Obj, pods: list[Usage]) -> Usage:
        cpu, mem = self.sampler.host_usage()
        return Usage(max(cpu, sum(u.nanocores for u in pods)), max(mem, sum(u.memory_bytes for u in pods)))

    def processes(self) -> dict[tuple[str, str], Any]:
        """Live children by (pod key, container) (for tests and diagnostics)."""
        return {k: p for k, p in self._procs.items() if p.returncode is None}


async def _copy(stream: asyncio.StreamReader | None, channel: int, io: StreamIO) -> None:
    if stream is None:
        return
    while chunk := await stream.read(65536):
        io.out(channel, chunk)


async def _feed(source: asyncio.Queue[bytes | None] | None, sink: asyncio.StreamWriter | None, *,
                close: bool = True) -> None:
    """Copy client stdin into ``sink``; at its end close ``sink`` when ``close``."""
    if source is None or sink is None:
        return
    with contextlib.suppress(ConnectionError, BrokenPipeError):
        while (data := await source.get()) is not None:
            sink.write(data)
            await sink.drain()
        if close:
            sink.close()


def _signal_group(proc: asyncio.subprocess.Process, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
