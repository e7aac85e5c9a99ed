"""Write ``deploy/suanli.yaml`` and the Helm chart ``charts/suanli`` from ``suanli.deploy``.

Run after changing a CRD, a component's RBAC or the workloads: ``python scripts/gen_deploy.py``.
``tests/deploy/test_generated_files.py`` fails while the checked-in files differ from the generator.
"""

from __future__ import annotations

from pathlib import Path

from suanli.deploy.chart import CHART_NAME, chart_files
from suanli.deploy.manifests import HEADER, render, to_yaml

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    (ROOT / "deploy").mkdir(exist_ok=True)
    (ROOT / "deploy" / "suanli.yaml").write_text(to_yaml(render(), header=HEADER), encoding="utf-8")
    chart = ROOT / "charts" / CHART_NAME
    for rel, text in chart_files().items():
        path = chart / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
