"""``suanli kubeconfig create``: a kubeconfig for a new user, authenticated by a client certificate.

The certificate is signed by the cluster CA of ``--data-dir`` (``CN`` = ``--user``, ``O`` = each
``--group``, valid for ``--expiry``, a Go duration, default ``8760h``), so the API server's x509
authenticator accepts it as that user in those groups. The server URL is ``--server``, else the
one in the admin kubeconfig ``suanli up`` wrote (``--kubeconfig``). The output file (mode 0600)
has one cluster, user and context, all named ``suanli-<user>``; nothing else is changed.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization

from suanli.apimachinery.duration import parse_duration
from suanli.apiserver.tls import issue_client_certificate, load_ca

__all__ = ["add_parser", "create_kubeconfig", "run"]

DEFAULT_EXPIRY = "8760h"


def add_parser(sub: Any) -> None:
    """Add ``kubeconfig create`` to the ``suanli`` sub-command parsers ``sub``."""
    kc = sub.add_parser("kubeconfig", help="issue kubeconfigs for users")
    kc_sub = kc.add_subparsers(dest="kubeconfig_command", required=True)
    create = kc_sub.add_parser("create", help="a kubeconfig with a client certificate signed by the cluster CA")
    create.add_argument("--user", required=True, help="user name (certificate CN)")
    create.add_argument("--group", action="append", default=[], help="group (certificate O); repeatable")
    create.add_argument("--expiry", default=DEFAULT_EXPIRY, help=f"validity, a Go duration (default {DEFAULT_EXPIRY})")
    create.add_argument("--data-dir", type=Path, default=Path.home() / ".suanli" / "data",
                        help="the data directory of `suanli up` (holds the cluster CA)")
    create.add_argument("--kubeconfig", type=Path, default=Path.home() / ".suanli" / "kubeconfig",
                        help="the admin kubeconfig to take the server URL from")
    create.add_argument("--server", default=None, help="API server URL (default: the admin kubeconfig's)")
    create.add_argument("--out", type=Path, required=True, help="the kubeconfig file to write")


def _server_of(kubeconfig: Path) -> str:
    doc = yaml.safe_load(kubeconfig.read_text())
    clusters = doc.get("clusters") if isinstance(doc, dict) else None
    if not clusters:
        raise ValueError(f"{kubeconfig}: no clusters; pass --server")
    return str(clusters[0]["cluster"]["server"])


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def create_kubeconfig(*, data_dir: Path, user: str, groups: list[str], expiry: float, server: str, out: Path) -> Path:
    """Write a client-certificate kubeconfig for ``user`` to ``out``; ``expiry`` in seconds."""
    ca = load_ca(data_dir)
    cert_pem, key_pem = issue_client_certificate(ca, user, groups, validity=dt.timedelta(seconds=expiry))
    name = f"suanli-{user}"
    doc = {"apiVersion": "v1", "kind": "Config", "preferences": {},
           "clusters": [{"name": name, "cluster": {
               "server": server,
               "certificate-authority-data": _b64(ca[0].public_bytes(serialization.Encoding.PEM))}}],
           "users": [{"name": name, "user": {"client-certificate-data": _b64(cert_pem),
                                             "client-key-data": _b64(key_pem)}}],
           "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
           "current-context": name}
    out = out.expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(yaml.safe_dump(doc, sort_keys=False))
    os.chmod(out, 0o600)
    return out


def run(args: argparse.Namespace) -> int:
    """``suanli kubeconfig create``: 0 on success, 2 with a message on bad input."""
    try:
        expiry = parse_duration(args.expiry)
        server = args.server or _server_of(args.kubeconfig)
        out = create_kubeconfig(data_dir=args.data_dir, user=args.user, groups=args.group, expiry=expiry,
                                server=server, out=args.out)
    except (OSError, ValueError, KeyError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        return 2
    print(f"kubeconfig for user {args.user!r} written to {out}", flush=True)
    return 0
