"""RFC 6902 JSON patches: input ``[document, operations]``; a new document, or an ``ApiError`` (4xx)."""

from __future__ import annotations

import atheris
import orjson

from tests.fuzz.harnesses._common import main, split_json

with atheris.instrument_imports():
    from suanli.apimachinery.errors import ApiError
    from suanli.apimachinery.patch import apply_json_patch


def one_input(data: bytes) -> None:
    parts = split_json(data, 2)
    if parts is None:
        return
    doc, ops = parts
    before = orjson.dumps(doc)
    try:
        apply_json_patch(doc, ops)
    except ApiError as exc:
        assert 400 <= exc.code < 500, exc
    assert orjson.dumps(doc) == before, "the input document was mutated"


if __name__ == "__main__":
    main(one_input)
