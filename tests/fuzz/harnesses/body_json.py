"""JSON request bodies as the server decodes them: a value the server can re-encode, or a 400."""

from __future__ import annotations

import orjson

# The parser is orjson (native code, no Python coverage); the server module is too large to instrument.
from suanli.apimachinery.errors import ApiError
from suanli.apiserver.http import ApiApp
from tests.fuzz.harnesses._common import main


def one_input(data: bytes) -> None:
    try:
        value = ApiApp._loads_json(data)
    except ApiError as exc:
        assert exc.code == 400, exc
        return
    orjson.dumps(value)  # the decoded body is stored and echoed as JSON


if __name__ == "__main__":
    main(one_input)
