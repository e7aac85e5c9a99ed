"""The ``suanli up`` flags for data at rest and auditing (kube-apiserver's names)."""

from __future__ import annotations

import argparse
from pathlib import Path

from suanli.apiserver.audit import AuditOptions

__all__ = ["add_security_arguments", "audit_options"]


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must not be negative")
    return value


def add_security_arguments(up: argparse.ArgumentParser) -> None:
    """Add ``--encryption-provider-config`` and the ``--audit-*`` flags to the ``up`` parser."""
    up.add_argument("--encryption-provider-config", type=Path, default=None,
                    help="EncryptionConfiguration (apiserver.config.k8s.io/v1) naming the resources to encrypt "
                         "at rest and their providers (aesgcm, aescbc, secretbox, identity; the first encrypts)")
    up.add_argument("--audit-policy-file", type=Path, default=None,
                    help="audit Policy (audit.k8s.io/v1); without it nothing is audited")
    up.add_argument("--audit-log-path", default=None,
                    help="write audit events (JSON lines, audit.k8s.io/v1 Event) to this file; '-' = stdout")
    up.add_argument("--audit-log-maxage", type=_non_negative, default=0,
                    help="days to keep rotated audit logs, by the time in their names (0: no limit)")
    up.add_argument("--audit-log-maxbackup", type=_non_negative, default=0,
                    help="rotated audit logs to keep (0: no limit)")
    up.add_argument("--audit-log-maxsize", type=_non_negative, default=0,
                    help="megabytes an audit log reaches before it is rotated (0: 100)")


def audit_options(args: argparse.Namespace) -> AuditOptions:
    return AuditOptions(policy_file=args.audit_policy_file, log_path=args.audit_log_path,
                        max_age_days=args.audit_log_maxage, max_backups=args.audit_log_maxbackup,
                        max_size_mb=args.audit_log_maxsize)
