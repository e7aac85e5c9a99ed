"""The ``suanli up`` overload flags (kube-apiserver's names where it has them) and their :class:`LimitsConfig`."""

from __future__ import annotations

import argparse

from suanli.apiserver.limits import LimitsConfig
from suanli.cli.authn_flags import _duration

__all__ = ["add_limits_arguments", "limits_config"]


def _count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid count {text!r}: must be an integer") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"invalid count {text!r}: must not be negative")
    return n


def add_limits_arguments(up: argparse.ArgumentParser) -> None:
    """Add the in-flight, queueing and timeout flags to the ``up`` parser."""
    d = LimitsConfig()
    up.add_argument("--max-requests-inflight", type=_count, default=d.max_requests_inflight,
                    help="read-only requests executing at once; 0 = no limit "
                         f"(default {d.max_requests_inflight})")
    up.add_argument("--max-mutating-requests-inflight", type=_count, default=d.max_mutating_requests_inflight,
                    help="mutating requests executing at once; 0 = no limit "
                         f"(default {d.max_mutating_requests_inflight})")
    up.add_argument("--max-queued-requests-per-user", type=_count, default=d.max_queued_requests_per_user,
                    help="requests of one user waiting for a seat (per pool) before 429s "
                         f"(default {d.max_queued_requests_per_user})")
    up.add_argument("--max-long-running-requests-per-user", type=_count,
                    default=d.max_long_running_requests_per_user,
                    help="watches, logs and exec/attach/port-forward sessions one user may hold open; 0 = no cap "
                         f"(default {d.max_long_running_requests_per_user})")
    up.add_argument("--request-timeout", type=_duration, default=d.request_timeout,
                    help="time limit of a non-long-running request, e.g. 60s (default 1m0s)")


def limits_config(args: argparse.Namespace) -> LimitsConfig:
    """The :class:`LimitsConfig` the parsed ``up`` flags describe."""
    return LimitsConfig(max_requests_inflight=args.max_requests_inflight,
                        max_mutating_requests_inflight=args.max_mutating_requests_inflight,
                        request_timeout=args.request_timeout,
                        max_long_running_requests_per_user=args.max_long_running_requests_per_user,
                        max_queued_requests_per_user=args.max_queued_requests_per_user)
