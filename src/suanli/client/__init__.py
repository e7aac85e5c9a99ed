"""Client layer: one :class:`Client` protocol, an HTTP implementation and kubeconfig handling.

``LocalClient`` (in-process, in ``suanli.client.local``) is imported lazily so that
importing this package never pulls in the API server.
"""

from __future__ import annotations

from typing import Any

from suanli.client.http import PATCH_CONTENT_TYPES, HttpClient, api_error_from_status
from suanli.client.kubeconfig import (
    KubeConfig,
    KubeConfigError,
    load_incluster_config,
    load_kubeconfig,
    write_kubeconfig,
)
from suanli.client.protocol import Client, PatchType, WatchEventDict

__all__ = [
    "PATCH_CONTENT_TYPES",
    "Client",
    "HttpClient",
    "KubeConfig",
    "KubeConfigError",
    "LocalClient",
    "PatchType",
    "WatchEventDict",
    "api_error_from_status",
    "load_incluster_config",
    "load_kubeconfig",
    "write_kubeconfig",
]


def __getattr__(name: str) -> Any:
    if name == "LocalClient":
        from suanli.client.local import LocalClient  # type: ignore[import-not-found,import-untyped,unused-ignore]

        return LocalClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
