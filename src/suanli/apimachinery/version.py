"""The Kubernetes release Suanli serves: one home for the API level every component reports.

The built-in schemas are generated from the official client for this release
(``scripts/gen_builtin_schemas.py``; ``kubernetes==37.0.2`` is ``release-1.37``), and the
pinned kubectl is 1.37, so ``/version`` says 1.37 (no client skew warning) and nodes report
kubelets of the same release (within the supported kubelet skew).
"""

from __future__ import annotations

__all__ = ["KUBE_MAJOR", "KUBE_MINOR", "KUBE_RELEASE", "kubelet_version"]

KUBE_MAJOR = 1
KUBE_MINOR = 37
#: ``vMAJOR.MINOR.PATCH`` of the served API level.
KUBE_RELEASE = f"v{KUBE_MAJOR}.{KUBE_MINOR}.0"


def kubelet_version(runtime: str) -> str:
    """The ``nodeInfo.kubeletVersion`` a Suanli node runtime reports (``v1.37.0-suanli[-sim]``)."""
    return f"{KUBE_RELEASE}-{runtime}"
