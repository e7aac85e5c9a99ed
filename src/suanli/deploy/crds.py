"""The CustomResourceDefinitions of every kind Suanli serves beyond Kubernetes' built-ins.

One list for both uses: the embedded server installs exactly these at start-up
(``suanli.cli.platform``) and ``suanli manifests`` / the Helm chart ship them, so the
schemas a real cluster validates against are the ones the embedded server serves. Each
CRD's home stays with its kind (Volcano in ``suanli.kinds.volcano``, NFD in
``suanli.kinds.manifests/nfd.yaml``, kwok's usage kinds in ``…/kwok.yaml``, the operator policies in
``suanli.controllers.operators.crds``); this module only gathers them.
"""

from __future__ import annotations

from suanli.apimachinery.objects import Obj
from suanli.controllers.operators.crds import operator_crds
from suanli.kinds.volcano import volcano_crds
from suanli.node.nfd.crds import nfd_crds
from suanli.node.usage.rules import kwok_usage_crds

__all__ = ["served_crds"]


def served_crds() -> list[Obj]:
    """Fresh copies of every CRD Suanli serves, in installation order (NFD, operators, Volcano, kwok usage)."""
    return [*nfd_crds(), *operator_crds(), *volcano_crds(), *kwok_usage_crds()]
