"""The one call the HTTP layer makes to start auditing a request (ASGI scope -> :meth:`Auditor.begin`)."""

from __future__ import annotations

from typing import Any

from suanli.apiserver.audit.event import Auditor, AuditRequest
from suanli.apiserver.context import UserInfo

__all__ = ["begin_audit", "source_ips"]


def source_ips(scope: dict[str, Any], headers: dict[str, str]) -> list[str]:
    """kube's ``SourceIPs``: ``X-Forwarded-For`` entries, then ``X-Real-Ip``, then the peer address,
    without repeats."""
    client = scope.get("client")
    if "x-forwarded-for" not in headers and "x-real-ip" not in headers:
        return [str(client[0])] if client and client[0] else []
    out: list[str] = []
    for ip in (*(h.strip() for h in headers.get("x-forwarded-for", "").split(",")),
               headers.get("x-real-ip", "").strip()):
        if ip and ip not in out:
            out.append(ip)
    if client and client[0] and client[0] not in out:
        out.append(str(client[0]))
    return out


def begin_audit(auditor: Auditor, scope: dict[str, Any], query: dict[str, str], headers: dict[str, str],
                user: UserInfo | None) -> AuditRequest | None:
    """Start the audit record of the request in ``scope`` (``None`` when the policy skips it)."""
    raw_path = scope.get("raw_path") or scope["path"].encode()
    qs = scope.get("query_string", b"")
    uri = (raw_path + (b"?" + qs if qs else b"")).decode("latin-1")
    return auditor.begin(method=scope["method"], path=scope["path"], raw_uri=uri, query=query, user=user,
                         source_ips=source_ips(scope, headers), user_agent=headers.get("user-agent", ""),
                         audit_id=headers.get("audit-id") or None)
