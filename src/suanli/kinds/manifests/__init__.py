"""Kubernetes manifests shipped as package data (CRDs served by default).

Each ``<name>.yaml`` file in this package is a multi-document YAML stream. YAML anchors
are resolved and every returned object is an independent copy.

>>> [o["metadata"]["name"] for o in load_manifest("nfd")][:1]
['nodefeatures.nfd.k8s-sigs.io']
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml

from suanli.apimachinery.objects import Obj, deep_copy

__all__ = ["load_manifest", "manifest_names"]


@cache
def _documents(name: str) -> tuple[Obj, ...]:
    text = resources.files(__package__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    return tuple(doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict))


def manifest_names() -> list[str]:
    """Names (file stems) of the shipped manifest files, sorted."""
    return sorted(e.name[:-5] for e in resources.files(__package__).iterdir() if e.name.endswith(".yaml"))


def load_manifest(name: str) -> list[Obj]:
    """The objects of ``<name>.yaml`` (fresh copies); raises FileNotFoundError if unknown."""
    return [deep_copy(doc) for doc in _documents(name)]
