"""The ``suanli`` command.

``suanli up`` runs the embedded platform in the foreground until SIGINT/SIGTERM;
``suanli scheduler|controllers|agent`` run one component against any API server
(:mod:`suanli.cli.standalone`);
``suanli version`` prints the version; ``suanli sim …`` runs the trace simulator;
``suanli kubeconfig create`` issues a client-certificate kubeconfig for a user;
``suanli manifests`` prints the install manifests.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from suanli import __version__
from suanli.cli import kubeconfig_create
from suanli.cli.authn_flags import add_authn_arguments, authn_options
from suanli.cli.limits_flags import add_limits_arguments, limits_config
from suanli.cli.security_flags import add_security_arguments, audit_options
from suanli.deploy import command as deploy_command

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="suanli", description="Suanli control plane")
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="run the embedded platform in the foreground")
    up.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    up.add_argument("--port", type=int, default=6443, help="port to listen on (default 6443; 0 = any free)")
    up.add_argument("--data-dir", type=Path, default=Path.home() / ".suanli" / "data",
                    help="data directory (default ~/.suanli/data)")
    up.add_argument("--kubeconfig", type=Path, default=Path.home() / ".suanli" / "kubeconfig",
                    help="where to write the kubeconfig (default ~/.suanli/kubeconfig)")
    up.add_argument("--no-demo", action="store_true", help="start with no nodes")
    up.add_argument("--only", choices=["api"], default=None,
                    help="'api': serve the API server alone (no controllers, scheduler, nodes or demo pool), "
                         "e.g. for the real kube-scheduler and kube-controller-manager")
    up.add_argument("--insecure-http", action="store_true", help="serve plain HTTP instead of HTTPS")
    up.add_argument("--anonymous", action="store_true", help="allow requests without a bearer token")
    add_authn_arguments(up)
    add_limits_arguments(up)
    up.add_argument("--admission-control-config-file", type=Path, default=None,
                    help="AdmissionConfiguration file (kube-apiserver format): ResourceQuota limitedResources")
    add_security_arguments(up)
    up.add_argument("--authorization-mode", choices=["RBAC", "AlwaysAllow"], default="RBAC",
                    help="how requests are authorised after authentication (default RBAC: the bootstrap roles, "
                         "cluster-admin bound to system:masters, which the generated admin token belongs to)")
    up.add_argument("--fsync", action="store_true", help="fsync every commit (survive power loss, slower)")
    up.add_argument("--scheduler-config", type=Path, default=None,
                    help="Volcano scheduler configuration (volcano-scheduler.conf format), written into the "
                         "ConfigMap volcano-system/volcano-scheduler-configmap (what the scheduler runs) "
                         "unless a user edited that ConfigMap")
    up.add_argument("--log-level", default="info", help="log level (debug, info, warning)")
    up.add_argument("--cluster-cidr", default="10.244.0.0/16",
                    help="range node pod subnets (spec.podCIDR) are allocated from (default 10.244.0.0/16)")
    up.add_argument("--node-cidr-mask-size", type=int, default=24,
                    help="prefix length of each node's pod subnet (default 24: 256 nodes in a /16)")
    up.add_argument("--virtual-time-rate", type=float, default=None, metavar="R",
                    help="simulated usage (ResourceUsage expressions, sim-* annotations) follows a virtual clock "
                         "running R times real time (8640: a day in 10 s; 0: frozen, moved only by "
                         "--clock-offset-file)")
    # end-to-end tests only: the CronJob controller's clock runs ahead by the seconds in this file
    up.add_argument("--clock-offset-file", type=Path, default=None, help=argparse.SUPPRESS)
    from suanli.cli.standalone import add_component_parsers

    add_component_parsers(sub)
    sub.add_parser("version", help="print the version")
    kubeconfig_create.add_parser(sub)
    deploy_command.add_arguments(sub.add_parser(
        "manifests", help="print the manifests that install the components on a Kubernetes cluster"))
    sim = sub.add_parser("sim", help="trace-driven scheduling simulator", add_help=False)
    sim.add_argument("args", nargs=argparse.REMAINDER)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "sim":
        from suanli.sim.cli import main as sim_main

        return sim_main(argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "version":
        print(f"suanli {__version__}")
        return 0
    if args.command == "kubeconfig":
        return kubeconfig_create.run(args)
    if args.command == "manifests":
        return deploy_command.run(args)
    if args.command == "up":
        logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.INFO),
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        from suanli.cli.eventloop import run

        return run(_up(args))
    if args.command in ("scheduler", "controllers", "agent"):
        logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.INFO),
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        from suanli.cli.eventloop import run
        from suanli.cli.standalone import run_component

        return run(run_component(args.command, args))
    return 2


async def _up(args: argparse.Namespace) -> int:
    from suanli.cli.platform import Platform, PlatformOptions
    from suanli.scheduler.core.config import ConfigError

    only_api = args.only == "api"
    opts = PlatformOptions(host=args.host, port=args.port, data_dir=args.data_dir, kubeconfig=args.kubeconfig,
                           tls=not args.insecure_http, anonymous=args.anonymous, demo=not (args.no_demo or only_api),
                           host_node=not (args.no_demo or only_api), only_api=only_api,
                           scheduler_config=args.scheduler_config,
                           fsync=args.fsync, clock_offset_file=args.clock_offset_file,
                           cluster_cidr=args.cluster_cidr, node_cidr_mask_size=args.node_cidr_mask_size,
                           authn=authn_options(args), authorization_mode=args.authorization_mode,
                           limits=limits_config(args),
                           admission_config=args.admission_control_config_file,
                           virtual_time_rate=args.virtual_time_rate,
                           encryption_provider_config=args.encryption_provider_config, audit=audit_options(args))
    os.umask(0o077)  # everything the platform creates is private to its user (data directory contract)
    try:
        platform = Platform(opts)
    except ConfigError as err:
        print(f"error: --scheduler-config {args.scheduler_config}: {err}", file=sys.stderr, flush=True)
        return 2
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await platform.start()
    print(f"Suanli {__version__} is up at {platform.url}", flush=True)
    print(f"  kubeconfig: {opts.kubeconfig}", flush=True)
    print(f"  try:        kubectl --kubeconfig {opts.kubeconfig} get namespaces", flush=True)
    print(f"  or:         export KUBECONFIG={opts.kubeconfig}; kubectl api-resources", flush=True)
    print(f"  data:       {opts.data_dir}", flush=True)
    await stop.wait()
    print("shutting down", flush=True)
    await platform.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
