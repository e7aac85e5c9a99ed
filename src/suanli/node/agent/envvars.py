"""Container environment as the kubelet builds it: ``env`` values, ``valueFrom`` and ``$(VAR)`` expansion.

Supported ``valueFrom`` sources: ``fieldRef`` (``metadata.name|namespace|uid``,
``metadata.labels['k']``, ``metadata.annotations['k']``, ``spec.nodeName``,
``spec.serviceAccountName``, ``status.podIP``, ``status.hostIP``), ``resourceFieldRef``
(``limits.cpu`` etc., rounded up to the divisor: 1500m with divisor 1 → ``"2"``),
``configMapKeyRef`` / ``secretKeyRef`` (looked up through a callback; ``optional``
honoured). ``$(NAME)`` expands earlier variables; ``$$(NAME)`` is a literal ``$(NAME)``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable

from suanli.apimachinery.objects import Obj
from suanli.apimachinery.quantity import parse_quantity

__all__ = ["EnvError", "LookupKey", "expand", "resolve_env"]

LookupKey = Callable[[str, str, str, str], Awaitable[str | None]]  # (kind, namespace, name, key) -> value

_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.\-]*)\)")
_MAP_FIELD = re.compile(r"metadata\.(labels|annotations)\['([^']+)'\]")


class EnvError(Exception):
    """A variable cannot be resolved (missing required ConfigMap/Secret key, bad fieldPath)."""


def expand(text: str, env: dict[str, str]) -> str:
    """Replace ``$(NAME)`` by ``env[NAME]`` (unknown names stay as written); ``$$`` → ``$``."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env.get(name, m.group(0))

    return _REF.sub(sub, text)


def _field(pod: Obj, path: str, pod_ip: str, host_ip: str) -> str:
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    simple = {
        "metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"), "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName") or "default",
        "status.podIP": pod_ip, "status.hostIP": host_ip, "status.podIPs": pod_ip, "status.hostIPs": host_ip,
    }
    if path in simple:
        return str(simple[path] or "")
    m = _MAP_FIELD.fullmatch(path)
    if m:
        return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
    raise EnvError(f"unsupported fieldPath {path!r}")


def _resource(container: Obj, ref: Obj) -> str:
    part, _, res = str(ref.get("resource") or "").partition(".")
    resources = container.get("resources") or {}
    value = (resources.get(part) or {}).get(res)
    if value is None and part == "requests":
        value = (resources.get("limits") or {}).get(res)
    if value is None:
        return "0"
    divisor = parse_quantity(str(ref.get("divisor") or "1"))
    return str(math.ceil(parse_quantity(str(value)) / divisor))


async def resolve_env(pod: Obj, container: Obj, *, pod_ip: str, host_ip: str, base: dict[str, str],
                      lookup: LookupKey | None = None) -> dict[str, str]:
    """``base`` updated with the container's ``env`` list, in order, expanding ``$(VAR)``."""
    env = dict(base)
    ns = str((pod.get("metadata") or {}).get("namespace") or "")
    for item in container.get("env") or []:
        name = str(item.get("name") or "")
        if not name:
            continue
        src = item.get("valueFrom")
        if not src:
            env[name] = expand(str(item.get("value") or ""), env)
            continue
        if "fieldRef" in src:
            env[name] = _field(pod, str((src["fieldRef"] or {}).get("fieldPath") or ""), pod_ip, host_ip)
        elif "resourceFieldRef" in src:
            env[name] = _resource(container, src["resourceFieldRef"] or {})
        elif "configMapKeyRef" in src or "secretKeyRef" in src:
            kind = "configmap" if "configMapKeyRef" in src else "secret"
            ref = src.get("configMapKeyRef") or src.get("secretKeyRef") or {}
            value = await lookup(kind, ns, str(ref.get("name")), str(ref.get("key"))) if lookup else None
            if value is None:
                if ref.get("optional"):
                    continue
                raise EnvError(f"couldn't find key {ref.get('key')} in {kind} {ns}/{ref.get('name')}")
            env[name] = value
    return env
