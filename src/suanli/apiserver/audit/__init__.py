"""kube-apiserver-compatible auditing: policy (:mod:`.policy`), events (:mod:`.event`), log (:mod:`.backend`).

:func:`build_auditor` turns the ``--audit-*`` options into an :class:`Auditor`, or ``None`` when
auditing is off (no policy file or no log path, as kube-apiserver: without a policy nothing is
audited).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from suanli.apiserver.audit.backend import LogBackend
from suanli.apiserver.audit.event import Auditor, AuditRequest
from suanli.apiserver.audit.policy import Policy, PolicyError, load_policy, parse_policy

__all__ = ["AuditOptions", "AuditRequest", "Auditor", "Policy", "PolicyError", "build_auditor", "load_policy",
           "parse_policy"]


@dataclass(frozen=True)
class AuditOptions:
    """kube-apiserver's ``--audit-policy-file``, ``--audit-log-path`` (``-``: stdout) and rotation flags."""

    policy_file: Path | None = None
    log_path: str | None = None
    max_age_days: int = 0
    max_backups: int = 0
    max_size_mb: int = 0


def build_auditor(options: AuditOptions) -> Auditor | None:
    """The auditor for ``options`` (PolicyError if the policy is invalid), or ``None`` when auditing is off."""
    if options.policy_file is None or not options.log_path:
        return None
    policy = load_policy(options.policy_file)
    backend = LogBackend(options.log_path, max_size_mb=options.max_size_mb, max_backups=options.max_backups,
                         max_age_days=options.max_age_days)
    return Auditor(policy, backend)
