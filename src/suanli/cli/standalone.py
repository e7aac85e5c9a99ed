"""``suanli scheduler|controllers|agent``: one component as its own process against any API server.

Each command builds the same components ``suanli up`` runs in-process (the registration
functions in :mod:`suanli.cli.platform`), but over an :class:`~suanli.client.http.HttpClient`
from ``--kubeconfig`` (or, without one, the pod's in-cluster configuration, as client-go's
``rest.InClusterConfig``). Contract of :func:`run_component`:

* ``/healthz``, ``/livez``, ``/readyz`` and ``/metrics`` on ``--health-port`` (0 = any free;
  the port is printed as ``health: http://HOST:PORT``); with ``--leader-elect`` the
  ``leaderElection`` check fails when the leader has not renewed for lease + 20 s;
* with ``--leader-elect`` the component runs only while it holds the Lease
  ``kube-system/suanli-<component>``; informers start at once, so a standby's caches are
  warm when it takes over;
* SIGINT/SIGTERM stop the component, release the Lease and exit 0; a leader that fails to
  renew stops the component and exits 1 (as kube-scheduler does); a failing component
  exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import signal
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from suanli.apimachinery.duration import parse_duration
from suanli.client.http import HttpClient
from suanli.client.kubeconfig import KubeConfig, KubeConfigError, load_incluster_config, load_kubeconfig
from suanli.runtime.component import Component, ComponentGroup, HealthCheck, health_checks_of
from suanli.runtime.events import EventRecorder
from suanli.runtime.health import HealthServer
from suanli.runtime.informer_factory import SharedInformerFactory
from suanli.runtime.leaderelection import (
    LeaderElectedComponent,
    LeaderElectionConfig,
    LeaderElector,
    LeadershipLost,
    LeaseLock,
    default_identity,
)
from suanli.runtime.metrics import default_registry

if TYPE_CHECKING:
    from suanli.node.devices import DeviceRegistry

__all__ = ["AGENT_LABEL", "DEFAULT_HEALTH_PORTS", "LEASE_NAMESPACE", "add_component_parsers", "agent_name",
           "run_component"]

log = logging.getLogger(__name__)

LEASE_NAMESPACE = "kube-system"
#: Node label naming the ``suanli agent --sim-nodes`` that owns a simulated node; each agent
#: manages only the nodes labelled with its name, so several agents can share a cluster
AGENT_LABEL = "agent.suanli.io/name"
#: kube-scheduler's and kube-controller-manager's secure ports, the kubelet's healthz port
DEFAULT_HEALTH_PORTS = {"scheduler": 10259, "controllers": 10257, "agent": 10248}


def _go_duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def _leader_flags(p: argparse.ArgumentParser, command: str) -> None:
    """kube-scheduler's / kube-controller-manager's ``--leader-elect*`` flags (client-go defaults)."""
    p.add_argument("--leader-elect", action="store_true",
                   help=f"run only while holding the Lease {LEASE_NAMESPACE}/suanli-{command}")
    p.add_argument("--leader-elect-lease-duration", type=_go_duration, default=15.0, metavar="DURATION",
                   help="how long a standby waits after the last observed renewal before taking over (default 15s)")
    p.add_argument("--leader-elect-renew-deadline", type=_go_duration, default=10.0, metavar="DURATION",
                   help="how long the leader retries renewing before it stops leading (default 10s)")
    p.add_argument("--leader-elect-retry-period", type=_go_duration, default=2.0, metavar="DURATION",
                   help="wait between acquire and renew attempts (default 2s)")


def _common(p: argparse.ArgumentParser, command: str) -> None:
    p.add_argument("--kubeconfig", type=Path, default=None,
                   help="kubeconfig of the API server (default: in-cluster configuration)")
    p.add_argument("--health-port", type=int, default=DEFAULT_HEALTH_PORTS[command],
                   help=f"port of /healthz, /readyz and /metrics (default {DEFAULT_HEALTH_PORTS[command]}; "
                        "0 = any free; -1 = off)")
    p.add_argument("--health-bind-address", default="0.0.0.0", help="address of the health port (default 0.0.0.0)")  # nosec B104  # health port default as kube components (--health-bind-address)
    p.add_argument("--log-level", default="info", help="log level (debug, info, warning)")


def add_component_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``scheduler``, ``controllers`` and ``agent`` to the ``suanli`` command."""
    s = sub.add_parser("scheduler", help="run the scheduler against an API server")
    _common(s, "scheduler")
    s.add_argument("--scheduler-config", type=Path, default=None,
                   help="Volcano scheduler configuration (volcano-scheduler.conf format)")
    _leader_flags(s, "scheduler")
    c = sub.add_parser("controllers", help="run the controllers against an API server")
    _common(c, "controllers")
    _leader_flags(c, "controllers")
    c.add_argument("--controllers", default="*",
                   help="comma-separated controllers to run: '*' all, 'foo' enables, '-foo' disables "
                        "(kube-controller-manager's syntax; default '*')")
    c.add_argument("--cluster-cidr", default="10.244.0.0/16", help="range of node pod subnets (default 10.244.0.0/16)")
    c.add_argument("--node-cidr-mask-size", type=int, default=24, help="prefix length of each node's pod subnet")
    a = sub.add_parser("agent", help="run node agents against an API server")
    _common(a, "agent")
    mode = a.add_mutually_exclusive_group(required=True)
    mode.add_argument("--sim-nodes", type=int, metavar="N", help="create and run N simulated (kwok-style) nodes")
    mode.add_argument("--host", action="store_true", help="run this host as a node (pods as local processes)")
    a.add_argument("--profile", default="openb-cpu-32",
                   help="hardware profile of the simulated nodes (default openb-cpu-32)")
    a.add_argument("--agent-name", default=None,
                   help="this agent's name: its simulated nodes carry the label "
                        f"{AGENT_LABEL}=NAME and it manages only those (default: $NODE_NAME, else the host name)")
    a.add_argument("--node-prefix", default=None,
                   help="simulated nodes are named PREFIX-<profile>-<i> (default: the agent name)")
    a.add_argument("--data-dir", type=Path, default=Path.home() / ".suanli" / "agent",
                   help="where --host keeps pod logs and volumes")
    a.add_argument("--kubelet-port", type=int, default=10250,
                   help="with --host: port of the kubelet API the API server proxies pods/log to "
                        "(default 10250; 0 = any free)")
    a.add_argument("--kubelet-address", default="0.0.0.0",  # nosec B104  # upstream kubelet's --address default
                   help="with --host: address the kubelet API binds (default 0.0.0.0)")


def _client_config(path: Path | None) -> KubeConfig:
    return load_kubeconfig(path) if path is not None else load_incluster_config()


def enabled(names: list[str], spec: str) -> list[str]:
    """kube-controller-manager's ``--controllers``: ``*`` = all, ``foo`` adds, ``-foo`` removes.

    >>> enabled(["a", "b", "c"], "*,-b")
    ['a', 'c']
    >>> enabled(["a", "b", "c"], "c,a")
    ['a', 'c']
    """
    items = [s.strip() for s in spec.split(",") if s.strip()]
    star = "*" in items
    on = {s for s in items if s != "*" and not s.startswith("-")}
    off = {s[1:] for s in items if s.startswith("-")}
    unknown = (on | off) - set(names)
    if unknown:
        raise ValueError(f"--controllers: unknown controller(s) {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(names)}")
    return [n for n in names if n not in off and (star or n in on)]


async def _build(command: str, args: argparse.Namespace, client: HttpClient,
                 factory: SharedInformerFactory) -> Component:
    from suanli.cli import platform

    if command == "scheduler":
        return platform.scheduler_component(client, factory, args.scheduler_config)
    if command == "controllers":
        ctx = platform.ControllerContext(client, factory, cluster_cidr=args.cluster_cidr,
                                         node_cidr_mask_size=args.node_cidr_mask_size,
                                         ca_pem=client.config.ca_pem())
        registered = platform.controller_components(ctx)
        wanted = set(enabled([n for n, _ in registered], args.controllers))
        group = ComponentGroup([build() for name, build in registered if name in wanted], name="controllers")
        if "queue" in wanted:
            await platform.ensure_default_queues(client)
        return group
    from suanli.node.demo import ensure_demo_pool, simulated_node
    from suanli.node.devices import registry_for_profiles

    devices = registry_for_profiles(operator_classes=frozenset({"npu", "kae"}))
    if args.host:
        args.data_dir.mkdir(parents=True, exist_ok=True)
        return await _host_agent(args, client, devices)
    agent = agent_name(args.agent_name)
    prefix = args.node_prefix or agent
    nodes = [simulated_node(f"{prefix}-{args.profile}-{i}", args.profile, labels={AGENT_LABEL: agent})
             for i in range(args.sim_nodes)]
    await ensure_demo_pool(client, nodes)
    return ComponentGroup(platform.agent_components(client, devices, require_pod_cidr=False,
                                                    node_selector=f"{AGENT_LABEL}={agent}"), name="agent")


async def _host_agent(args: argparse.Namespace, client: HttpClient, devices: DeviceRegistry) -> Component:
    """The host's ProcessAgent and its kubelet API (started here, so the Node publishes the bound port)."""
    from suanli.apiserver.logs import FileLogBackend
    from suanli.node.agent import ProcessAgent
    from suanli.node.agent.kubelet_server import KubeletServer, running_in

    agent = ProcessAgent(client, args.data_dir / "pod-logs", devices=devices, data_path=args.data_dir)
    kubelet = KubeletServer(client, agent.node_name, FileLogBackend(agent.log_root), running=running_in(agent),
                            cert_dir=args.data_dir / "kubelet", client_ca_pem=client.config.ca_pem(),
                            host=args.kubelet_address, port=args.kubelet_port, streamer=agent)
    agent.kubelet_port = await kubelet.start()
    print(f"kubelet: https://{args.kubelet_address}:{agent.kubelet_port}", flush=True)
    return ComponentGroup([kubelet, agent], name="agent")


def agent_name(given: str | None) -> str:
    """The agent's name: ``given``, else ``$NODE_NAME`` (a DaemonSet pod's node), else the host
    name, lower-cased with characters a label value or node name cannot hold replaced by ``-``.

    Raises ``ValueError`` when nothing usable is left.

    >>> agent_name("Rack_7.host")
    'rack-7-host'
    """
    raw = given or os.environ.get("NODE_NAME") or socket.gethostname()
    name = re.sub(r"[^a-z0-9-]+", "-", raw.lower()).strip("-")[:40].strip("-")
    if not name:
        raise ValueError(f"--agent-name: {raw!r} holds no letters or digits")
    return name


async def run_component(command: str, args: argparse.Namespace) -> int:
    """Run ``command`` (``scheduler``, ``controllers`` or ``agent``) until a signal; the exit code."""
    election: LeaderElectionConfig | None = None
    if getattr(args, "leader_elect", False):
        try:
            election = LeaderElectionConfig(lease_duration=args.leader_elect_lease_duration,
                                            renew_deadline=args.leader_elect_renew_deadline,
                                            retry_period=args.leader_elect_retry_period)
        except ValueError as err:
            print(f"error: --leader-elect-*: {err}", file=sys.stderr, flush=True)
            return 2
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request otherwise
    try:
        config = _client_config(args.kubeconfig)
    except (KubeConfigError, OSError) as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        return 2
    client = HttpClient(config, max_connections=1000, user_agent=f"suanli-{command}")
    factory = SharedInformerFactory(client)
    try:
        component = await _build(command, args, client, factory)
    except (ValueError, KeyError, OSError) as err:
        await client.close()
        print(f"error: {err}", file=sys.stderr, flush=True)
        return 2
    if election is not None:
        identity = default_identity()
        elector = LeaderElector(LeaseLock(client, LEASE_NAMESPACE, f"suanli-{command}", identity), election,
                                events=EventRecorder(client, f"suanli-{command}"),
                                on_new_leader=lambda who: log.info("new leader elected: %s", who))
        component = LeaderElectedComponent(component, elector)
        print(f"leader election: {LEASE_NAMESPACE}/suanli-{command} as {identity}", flush=True)

    def checks() -> dict[str, HealthCheck]:
        return health_checks_of(component)  # with --leader-elect: leaderElection

    synced = asyncio.Event()
    health: HealthServer | None = None
    if args.health_port >= 0:
        health = HealthServer(checks, metrics=default_registry().render, ready=synced.is_set,
                              host=args.health_bind_address, port=args.health_port)
        port = await health.start()
        print(f"health: http://{args.health_bind_address}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    factory.start()  # warm caches, also on a standby
    runner = asyncio.create_task(component.run())
    waiter = asyncio.create_task(stop.wait())
    syncer = asyncio.create_task(factory.wait_synced())
    syncer.add_done_callback(lambda _t: synced.set())
    print(f"suanli {command} started", flush=True)
    code = 0
    try:
        await asyncio.wait({runner, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if runner.done():
            try:
                runner.result()
                code = 0 if stop.is_set() else 1
            except LeadershipLost as err:
                log.error("%s", err)
                code = 1
            except Exception:
                log.exception("%s failed", command)
                code = 1
        else:
            print("shutting down", flush=True)
            await component.stop()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(runner, timeout=15)
    finally:
        waiter.cancel()
        syncer.cancel()
        if not runner.done():
            runner.cancel()
        await factory.stop()
        if health is not None:
            await health.stop()
        await client.close()
    return code
