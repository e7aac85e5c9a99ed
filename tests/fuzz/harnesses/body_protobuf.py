"""Protobuf request bodies: a JSON-encodable object, or ``ProtobufError`` (the server's 400)."""

from __future__ import annotations

import atheris
import orjson

from tests.fuzz.harnesses._common import main

with atheris.instrument_imports():
    from suanli.apimachinery.protobuf import MAGIC, ProtobufError, decode_k8s_protobuf


def one_input(data: bytes) -> None:
    body = data if data.startswith(MAGIC) else MAGIC + data
    try:
        obj = decode_k8s_protobuf(body)
    except ProtobufError:
        return
    assert isinstance(obj, dict)
    orjson.dumps(obj)


if __name__ == "__main__":
    main(one_input)
