"""The ``ssh`` job plugin: one key pair per job in Secret ``<job>-ssh``, mounted in every pod.

Arguments (Go flags, current Volcano): ``--ssh-key-file-path`` (default ``/root/.ssh``),
``--ssh-private-key`` and ``--ssh-public-key`` (use this key pair instead of generating a
2048-bit RSA one), ``--ssh-port`` (default 22; outside 1..65535 falls back to 22). Older
Volcano releases also had ``--no-root``; current Volcano removed it, so it is a parse error
that stops reading the remaining arguments (as upstream; admission warns).

* Secret data: ``id_rsa`` (PEM ``RSA PRIVATE KEY``), ``id_rsa.pub`` and ``authorized_keys``
  (OpenSSH public key line), ``config`` (:func:`ssh_config`: ``StrictHostKeyChecking no``,
  ``UserKnownHostsFile /dev/null``, then per host ``Host <hostname>`` / ``HostName
  <hostname>.<subdomain>`` / ``Port <port>``). Created when the job is initiated; deleted when
  the whole job is killed, so a restarted job gets a new key.
* Pods: a Secret volume ``<job>-ssh`` with the four keys under ``.ssh/``, default mode 0600
  (0644 when the key path is not ``/root/.ssh``), mounted at the key path with ``subPath: .ssh``
  in every container and init container.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from suanli.apimachinery.goflags import parse_flags
from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.controllers._pods import owner_reference
from suanli.controllers.volcanojob.plugins import SECRETS, Owned, add_volume, task_hosts
from suanli.kinds.volcano import JOB_PLUGIN_FLAGS

__all__ = ["ABSOLUTE_PATH", "KEYS", "SshPlugin", "generate_key_pair", "ssh_config"]

ABSOLUTE_PATH = "/root/.ssh"
RELATIVE_PATH = ".ssh"
PRIVATE_KEY, PUBLIC_KEY, AUTHORIZED_KEYS, CONFIG = "id_rsa", "id_rsa.pub", "authorized_keys", "config"
KEYS = (PRIVATE_KEY, PUBLIC_KEY, AUTHORIZED_KEYS, CONFIG)


def ssh_config(job: Obj, port: int) -> str:
    """The ``config`` file for ``job``'s hosts (module docstring)."""
    lines = ["StrictHostKeyChecking no", "UserKnownHostsFile /dev/null"]
    for _, hosts in task_hosts(job):
        for host, domain in hosts:
            lines += [f"Host {host}", f"  HostName {domain}", f"  Port {port}"]
    return "\n".join(lines) + "\n"


def generate_key_pair() -> tuple[str, str]:
    """A fresh 2048-bit RSA key: (PKCS#1 PEM private key, OpenSSH public key line + newline)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return private, public.decode() + "\n"


@dataclass(frozen=True)
class SshPlugin:
    key_file_path: str = ABSOLUTE_PATH
    private_key: str = ""
    public_key: str = ""
    port: int = 22
    error: str | None = None
    name: str = "ssh"

    @classmethod
    def build(cls, args: Sequence[str]) -> SshPlugin:
        values, error = parse_flags(
            args,
            JOB_PLUGIN_FLAGS["ssh"],
            {"ssh-key-file-path": ABSOLUTE_PATH, "ssh-private-key": "", "ssh-public-key": "", "ssh-port": 22},
        )
        port = int(values["ssh-port"])
        return cls(
            key_file_path=str(values["ssh-key-file-path"]),
            private_key=str(values["ssh-private-key"]),
            public_key=str(values["ssh-public-key"]),
            port=port if 0 < port <= 65535 else 22,
            error=error,
        )

    @staticmethod
    def secret_name(job: Obj) -> str:
        return f"{job['metadata']['name']}-ssh"

    def on_pod_create(self, pod: Obj, job: Obj) -> None:
        name = self.secret_name(job)
        volume: Obj = {
            "name": name,
            "secret": {
                "secretName": name,
                "items": [{"key": k, "path": f"{RELATIVE_PATH}/{k}"} for k in KEYS],
                "defaultMode": 0o600 if self.key_file_path == ABSOLUTE_PATH else 0o644,
            },
        }
        add_volume(pod, volume, {"name": name, "mountPath": self.key_file_path, "subPath": RELATIVE_PATH})

    def secret_data(self, job: Obj) -> dict[str, str]:
        """The Secret's string data: the given key pair, else a generated one, and the config."""
        if self.private_key:
            private, public = self.private_key, self.public_key
        else:
            private, public = generate_key_pair()
        return {PRIVATE_KEY: private, PUBLIC_KEY: public, AUTHORIZED_KEYS: public, CONFIG: ssh_config(job, self.port)}

    def on_job_add(self, job: Obj) -> list[Owned]:
        m = job["metadata"]
        data = {k: base64.b64encode(v.encode()).decode() for k, v in self.secret_data(job).items()}
        body: Obj = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": self.secret_name(job), "namespace": m["namespace"],
                         "ownerReferences": [owner_reference(job)]},
            "type": "Opaque",
            "data": data,
        }
        return [Owned(SECRETS, body, replace=True)]

    def on_job_update(self, job: Obj) -> list[Owned]:
        return []

    def on_job_delete(self, job: Obj) -> list[tuple[GVR, str]]:
        return [(SECRETS, self.secret_name(job))]
