"""``NamespaceLifecycle`` admission, delete half (upstream ``apiserver/pkg/admission/plugin/namespace/lifecycle``).

``default``, ``kube-system`` and ``kube-public`` cannot be deleted: 403
``namespaces "default" is forbidden: this namespace may not be deleted``. The create half (404
for a missing namespace, 403 for a terminating one) is in :meth:`ApiService.create`, which
checks before any other admission runs, as upstream's plug-in comes first in the chain.
"""

from __future__ import annotations

from suanli.apimachinery.errors import ApiError
from suanli.apiserver.admission import AdmissionRequest

__all__ = ["IMMORTAL_NAMESPACES", "NamespaceLifecycle"]

IMMORTAL_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})


class NamespaceLifecycle:
    """Validating plug-in refusing to delete the immortal namespaces."""

    name = "NamespaceLifecycle"
    resources = frozenset({"namespaces"})

    def validate(self, request: AdmissionRequest) -> None:
        if request.operation == "DELETE" and request.name in IMMORTAL_NAMESPACES:
            raise ApiError.forbidden("namespaces", request.name,
                                     f'namespaces "{request.name}" is forbidden: this namespace may not be deleted')
