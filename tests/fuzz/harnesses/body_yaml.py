"""YAML request bodies (create/update and apply patches): a value the server can re-encode, or a 400."""

from __future__ import annotations

import atheris
import orjson

from tests.fuzz.harnesses._common import main

with atheris.instrument_imports():  # the parser itself; the server module is too large to instrument
    import yaml  # noqa: F401

from suanli.apimachinery.errors import ApiError
from suanli.apiserver.http import ApiApp


def one_input(data: bytes) -> None:
    try:
        value = ApiApp._loads_yaml(data)
    except ApiError as exc:
        assert exc.code == 400, exc
        return
    orjson.dumps(value)


if __name__ == "__main__":
    main(one_input)
