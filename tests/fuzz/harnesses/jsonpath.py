"""JSONPath (CRD ``additionalPrinterColumns``): compile and evaluate, or ``ValueError``."""

from __future__ import annotations

import atheris

from tests.fuzz.harnesses._common import main, text

with atheris.instrument_imports():
    from suanli.apimachinery.jsonpath import compile

_OBJ = {"metadata": {"name": "a", "labels": {"x": "1"}},
        "spec": {"items": [{"n": 1, "v": "a"}, {"n": 2, "v": None}, 3, [4]], "flag": True},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]}}


def one_input(data: bytes) -> None:
    try:
        path = compile(text(data))
    except ValueError:
        return
    path.find(_OBJ)


if __name__ == "__main__":
    main(one_input)
