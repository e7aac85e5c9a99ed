"""RFC 7386 merge patches: input ``[target, patch]``; apply and diff never fail, and the diff round-trips."""

from __future__ import annotations

import atheris

from tests.fuzz.harnesses._common import main, split_json

with atheris.instrument_imports():
    from suanli.apimachinery.patch import create_merge_patch, json_merge_patch
    from suanli.apimachinery.patch._json import json_equal


def one_input(data: bytes) -> None:
    parts = split_json(data, 2)
    if parts is None:
        return
    target, patch = parts
    result = json_merge_patch(target, patch)
    if isinstance(target, dict) and isinstance(result, dict):
        diff = create_merge_patch(target, result)
        assert json_equal(json_merge_patch(target, diff), result), (target, result, diff)


if __name__ == "__main__":
    main(one_input)
