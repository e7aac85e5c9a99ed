"""Volcano Job plugins (``spec.plugins``: name → arguments), as Volcano's job controller runs them.

A plugin is built from its arguments (Go ``flag`` syntax, :mod:`.flags`) and has four hooks,
called by the controller exactly where upstream calls them:

* :meth:`JobPlugin.on_pod_create` — mutates every new pod before it is created;
* :meth:`JobPlugin.on_job_add` — objects to create when the job is initiated (phase ``""`` or
  ``Pending``) and ``status.controlledResources["plugin-<name>"]`` is not yet ``<name>``; the
  controller then records that key;
* :meth:`JobPlugin.on_job_update` — objects to create-or-update on every later sync;
* :meth:`JobPlugin.on_job_delete` — objects to delete when the whole job is killed (restart,
  abort, complete, terminate) and the ``controlledResources`` key is present; the key is removed.

Objects are returned as :class:`Owned` (controller-owned by the job, so deleting the job
garbage-collects them). Implemented: ``env``, ``svc``, ``ssh`` (modules of this package).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.wire import CONFIGMAPS, SECRETS, SERVICES

__all__ = ["CONFIGMAPS", "SECRETS", "SERVICES", "JobPlugin", "Owned", "PluginBuilder", "controlled_key"]


@dataclass(frozen=True)
class Owned:
    """An object a plugin keeps for its job. ``replace``: an existing object whose ``data``
    differs is updated (ConfigMaps and Secrets, upstream's CreateOrUpdate); otherwise an
    existing object is left alone (upstream's create-if-not-exist)."""

    gvr: GVR
    obj: Obj
    replace: bool = False


class JobPlugin(Protocol):
    """One built plugin (see the module docstring for when each hook runs)."""

    @property
    def name(self) -> str: ...

    @property
    def error(self) -> str | None:
        """The argument parse error (upstream logs it and keeps the flags parsed before it)."""

    def on_pod_create(self, pod: Obj, job: Obj) -> None: ...

    def on_job_add(self, job: Obj) -> list[Owned]: ...

    def on_job_update(self, job: Obj) -> list[Owned]: ...

    def on_job_delete(self, job: Obj) -> list[tuple[GVR, str]]: ...


PluginBuilder = Callable[[Sequence[str]], JobPlugin]


def controlled_key(name: str) -> str:
    """The ``status.controlledResources`` key recording that plugin ``name`` ran its add hook."""
    return f"plugin-{name}"


def pod_name(job: str, task: str, index: int) -> str:
    """``<job>-<task>-<index>`` (upstream ``MakePodName``)."""
    return f"{job}-{task}-{index}"


def task_hosts(job: Obj) -> list[tuple[str, list[tuple[str, str]]]]:
    """Per task (in spec order): its name and ``(hostname, hostname.subdomain)`` per host.

    A pod's hostname is the template's ``hostname`` or the pod name, its subdomain the
    template's ``subdomain`` or the job name; a task whose template fixes ``hostname`` has one
    host whatever its replicas (upstream ``GenerateHosts``/``generateSSHConfig``).
    """
    name = str(job["metadata"]["name"])
    out: list[tuple[str, list[tuple[str, str]]]] = []
    for i, t in enumerate((job.get("spec") or {}).get("tasks") or []):
        task = str(t.get("name") or f"default{i}")
        tspec = (t.get("template") or {}).get("spec") or {}
        fixed = str(tspec.get("hostname") or "")
        subdomain = str(tspec.get("subdomain") or "") or name
        hosts: list[tuple[str, str]] = []
        for index in range(int(t.get("replicas") or 0)):
            host = fixed or pod_name(name, task, index)
            hosts.append((host, f"{host}.{subdomain}"))
            if fixed:
                break
        out.append((task, hosts))
    return out


def add_volume(pod: Obj, volume: Obj, mount: Obj) -> None:
    """Append ``volume`` to the pod and ``mount`` to every container and init container."""
    spec = pod.setdefault("spec", {})
    spec.setdefault("volumes", []).append(volume)
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or []:
            c.setdefault("volumeMounts", []).append(dict(mount))


def add_env(pod: Obj, env: list[Obj]) -> None:
    """Append ``env`` to every container and init container."""
    spec = pod.setdefault("spec", {})
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or []:
            c.setdefault("env", []).extend(dict(e) for e in env)
