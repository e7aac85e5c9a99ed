"""Strategic merge patches on Pods and Deployments: input ``[original, patch]``; a result or a 4xx ``ApiError``."""

from __future__ import annotations

import atheris

from tests.fuzz.harnesses._common import main, split_json

with atheris.instrument_imports():
    from suanli.apimachinery.errors import ApiError
    from suanli.apimachinery.patch import strategic_merge_patch


def one_input(data: bytes) -> None:
    parts = split_json(data, 2)
    if parts is None:
        return
    original, patch = parts
    for kind in ("Pod", "apps/Deployment"):
        try:
            strategic_merge_patch(original, patch, kind)
        except ApiError as exc:
            assert 400 <= exc.code < 500, exc


if __name__ == "__main__":
    main(one_input)
