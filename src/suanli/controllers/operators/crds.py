"""CustomResourceDefinitions for the device operators' cluster policies.

Both kinds are cluster-scoped with a ``status`` subresource. Every spec section is an
object with ``managed`` (boolean, default true) and ``imageSpec``, and keeps unknown
fields (``x-kubernetes-preserve-unknown-fields``), so upstream manifests are accepted as
written; the spec itself also keeps unknown sections.
"""

from __future__ import annotations

from typing import Any

from suanli.apimachinery.objects import Obj
from suanli.controllers.operators.kae import KAE_OPERATOR
from suanli.controllers.operators.npu import NPU_OPERATOR
from suanli.controllers.operators.state import OperatorConfig

__all__ = ["operator_crd", "operator_crds"]

_IMAGE_SPEC: dict[str, Any] = {
    "type": "object",
    "x-kubernetes-preserve-unknown-fields": True,
    "properties": {
        "repository": {"type": "string"},
        "image": {"type": "string"},
        "name": {"type": "string"},
        "tag": {"type": "string"},
        "version": {"type": "string"},
        "imagePullPolicy": {"type": "string"},
    },
}


def _section() -> dict[str, Any]:
    return {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
        "properties": {"managed": {"type": "boolean", "default": True}, "imageSpec": _IMAGE_SPEC},
    }


def operator_crd(config: OperatorConfig) -> Obj:
    """The CRD serving ``config``'s policy kind (``<plural>.<group>``)."""
    sections = {c.key: _section() for c in config.components}
    schema = {
        "type": "object",
        "properties": {
            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": sections},
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
    }
    columns = [
        {"name": "State", "type": "string", "jsonPath": ".status.state"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    singular = config.kind.lower()
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{config.plural}.{config.group}"},
        "spec": {
            "group": config.group,
            "scope": "Cluster",
            "names": {"kind": config.kind, "plural": config.plural, "singular": singular,
                      "listKind": f"{config.kind}List"},
            "versions": [{"name": config.version, "served": True, "storage": True,
                          "schema": {"openAPIV3Schema": schema}, "subresources": {"status": {}},
                          "additionalPrinterColumns": columns}],
        },
    }


def operator_crds() -> list[Obj]:
    """CRDs for ``NPUClusterPolicy`` (npu.openfuyao.com/v1) and ``KAEClusterPolicy`` (kae.openfuyao.com/v1)."""
    return [operator_crd(NPU_OPERATOR), operator_crd(KAE_OPERATOR)]
