"""Reading and writing kubeconfig files.

:func:`write_kubeconfig` merges one cluster/user/context triple (all named after
``context``, default ``suanli``) into a kubeconfig, makes it current and keeps every
other entry; the file is written atomically with mode 0600.

:func:`load_kubeconfig` resolves one context into a flat :class:`KubeConfig`. With no
path it uses the first existing entry of ``$KUBECONFIG`` (``os.pathsep``-separated),
then ``~/.kube/config``. Relative file references (``certificate-authority``,
``tokenFile``, …) are resolved against the kubeconfig's directory, as kubectl does.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["KubeConfig", "KubeConfigError", "load_incluster_config", "load_kubeconfig", "write_kubeconfig"]

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class KubeConfigError(Exception):
    """The kubeconfig is missing, malformed or lacks the requested context."""


@dataclass
class KubeConfig:
    """Everything needed to reach one API server as one user.

    Byte fields hold PEM data; ``*_file`` fields are absolute paths. When both the data
    and the file form are set the data wins.
    """

    server: str
    ca_data: bytes | None = None
    ca_file: str | None = None
    token: str | None = None
    token_file: str | None = None
    client_cert_data: bytes | None = None
    client_cert_file: str | None = None
    client_key_data: bytes | None = None
    client_key_file: str | None = None
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None
    namespace: str = "default"
    context: str = ""

    def bearer_token(self) -> str | None:
        """The token, reading ``token_file`` when no inline token is set."""
        if self.token:
            return self.token
        if self.token_file:
            return Path(self.token_file).read_text().strip() or None
        return None

    def ca_pem(self) -> bytes | None:
        """The CA bundle as PEM bytes (inline data or the file's content)."""
        if self.ca_data:
            return self.ca_data
        if self.ca_file:
            return Path(self.ca_file).read_bytes()
        return None


def write_kubeconfig(path: str | os.PathLike[str], *, server: str, ca_pem: bytes | None, token: str | None,
                     context: str = "suanli", insecure: bool = False, namespace: str | None = None) -> Path:
    """Merge our cluster, user and context (each named ``context``) into ``path`` and make it current.

    Entries with other names are kept; ours are replaced. Returns the path written.
    """
    target = Path(path).expanduser()
    doc: dict[str, Any] = {}
    if target.exists():
        loaded = yaml.safe_load(target.read_text())
        if isinstance(loaded, dict):
            doc = loaded
    doc.setdefault("apiVersion", "v1")
    doc.setdefault("kind", "Config")
    doc.setdefault("preferences", {})

    cluster: dict[str, Any] = {"server": server}
    if insecure:
        cluster["insecure-skip-tls-verify"] = True
    elif ca_pem:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode("ascii")
    user: dict[str, Any] = {"token": token} if token else {}
    ctx: dict[str, Any] = {"cluster": context, "user": context}
    if namespace:
        ctx["namespace"] = namespace

    for section, body in (("clusters", {"cluster": cluster}), ("users", {"user": user}),
                          ("contexts", {"context": ctx})):
        entries = doc.get(section)
        kept = [e for e in entries if isinstance(e, dict) and e.get("name") != context] \
            if isinstance(entries, list) else []
        doc[section] = [*kept, {"name": context, **body}]
    doc["current-context"] = context

    target.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def default_kubeconfig_path() -> Path | None:
    """First existing ``$KUBECONFIG`` entry, else ``~/.kube/config`` if it exists."""
    env = os.environ.get("KUBECONFIG", "")
    for entry in env.split(os.pathsep):
        if entry and Path(entry).expanduser().is_file():
            return Path(entry).expanduser()
    home = Path.home() / ".kube" / "config"
    return home if home.is_file() else None


def load_kubeconfig(path: str | os.PathLike[str] | None = None, context: str | None = None) -> KubeConfig:
    """Resolve ``context`` (default: the current context) of a kubeconfig into a :class:`KubeConfig`."""
    file = Path(path).expanduser() if path is not None else default_kubeconfig_path()
    if file is None or not file.is_file():
        raise KubeConfigError(f"kubeconfig not found: {file or '$KUBECONFIG / ~/.kube/config'}")
    doc = yaml.safe_load(file.read_text())
    if not isinstance(doc, dict):
        raise KubeConfigError(f"{file}: not a kubeconfig mapping")
    name = context or doc.get("current-context")
    if not name:
        raise KubeConfigError(f"{file}: no context given and no current-context set")
    ctx = _named(doc, "contexts", "context", str(name), file)
    cluster = _named(doc, "clusters", "cluster", str(ctx.get("cluster", "")), file)
    user = _named(doc, "users", "user", str(ctx.get("user", "")), file) if ctx.get("user") else {}
    base = file.parent

    def rel(value: Any) -> str | None:
        if not value:
            return None
        p = Path(str(value)).expanduser()
        return str(p if p.is_absolute() else (base / p).resolve())

    server = cluster.get("server")
    if not server:
        raise KubeConfigError(f"{file}: cluster {ctx.get('cluster')!r} has no server")
    return KubeConfig(
        server=str(server).rstrip("/"),
        ca_data=_b64(cluster.get("certificate-authority-data")),
        ca_file=rel(cluster.get("certificate-authority")),
        token=str(user["token"]) if user.get("token") else None,
        token_file=rel(user.get("tokenFile")),
        client_cert_data=_b64(user.get("client-certificate-data")),
        client_cert_file=rel(user.get("client-certificate")),
        client_key_data=_b64(user.get("client-key-data")),
        client_key_file=rel(user.get("client-key")),
        insecure_skip_tls_verify=bool(cluster.get("insecure-skip-tls-verify", False)),
        tls_server_name=cluster.get("tls-server-name") or None,
        namespace=str(ctx.get("namespace") or "default"),
        context=str(name),
    )


def load_incluster_config(root: Path = SERVICE_ACCOUNT_DIR) -> KubeConfig:
    """The pod's service-account configuration (``KUBERNETES_SERVICE_HOST``/``_PORT``)."""
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise KubeConfigError("not running in a cluster: KUBERNETES_SERVICE_HOST is unset")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    ns_file = root / "namespace"
    return KubeConfig(
        server=f"https://{host}:{port}",
        ca_file=str(root / "ca.crt"),
        token_file=str(root / "token"),
        namespace=ns_file.read_text().strip() if ns_file.exists() else "default",
        context="in-cluster",
    )


def _named(doc: dict[str, Any], section: str, key: str, name: str, file: Path) -> dict[str, Any]:
    for entry in doc.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            body = entry.get(key)
            return body if isinstance(body, dict) else {}
    raise KubeConfigError(f"{file}: no {key} named {name!r}")


def _b64(value: Any) -> bytes | None:
    return base64.b64decode(str(value)) if value else None
