"""``--admission-control-config-file``: kube-apiserver's ``AdmissionConfiguration``.

The file (YAML or JSON) is an ``apiserver.config.k8s.io/v1`` (or ``v1alpha1``, or the legacy
``apiserver.k8s.io/v1alpha1``) ``AdmissionConfiguration`` whose ``plugins`` name a plug-in and
carry its configuration inline (``configuration``) or in a file (``path``, relative to the
admission configuration file). :func:`plugin_configuration` returns the configuration of one
plug-in (None when it has none); a malformed file is a ``ValueError`` naming the file and field.
Which plug-ins read it: ResourceQuota (:func:`suanli.apiserver.admission_quota.load_limited_resources`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["ADMISSION_CONFIG_VERSIONS", "plugin_configuration"]

ADMISSION_CONFIG_VERSIONS = ("apiserver.config.k8s.io/v1", "apiserver.config.k8s.io/v1alpha1",
                             "apiserver.k8s.io/v1alpha1")


def _load(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ValueError(f"--admission-control-config-file {path}: {err}") from None


def plugin_configuration(path: Path, plugin: str) -> dict[str, Any] | None:
    """The configuration object ``path`` gives ``plugin`` (None when the plug-in is not listed)."""
    doc = _load(path)
    where = f"--admission-control-config-file {path}"
    if not isinstance(doc, dict):
        raise ValueError(f"{where}: not an AdmissionConfiguration object")
    if doc.get("kind") != "AdmissionConfiguration" or doc.get("apiVersion") not in ADMISSION_CONFIG_VERSIONS:
        raise ValueError(f"{where}: kind/apiVersion: Invalid value: \"{doc.get('apiVersion')}, "
                         f"Kind={doc.get('kind')}\": must be AdmissionConfiguration in one of "
                         f"{', '.join(ADMISSION_CONFIG_VERSIONS)}")
    plugins = doc.get("plugins") or []
    if not isinstance(plugins, list):
        raise ValueError(f"{where}: plugins: Invalid value: must be a list")
    for i, entry in enumerate(plugins):
        if not isinstance(entry, dict) or entry.get("name") != plugin:
            continue
        if entry.get("configuration") is not None:
            config = entry["configuration"]
        elif entry.get("path"):
            config = _load(path.parent / str(entry["path"]))
        else:
            return None
        if not isinstance(config, dict):
            raise ValueError(f"{where}: plugins[{i}].configuration: Invalid value: must be an object")
        return config
    return None
