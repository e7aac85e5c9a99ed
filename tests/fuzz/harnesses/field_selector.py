"""``fieldSelector`` query parameters: parse and match, or a 400 ``ApiError``."""

from __future__ import annotations

import atheris

from tests.fuzz.harnesses._common import main, text

with atheris.instrument_imports():
    from suanli.apimachinery.errors import ApiError
    from suanli.apimachinery.selectors import parse_field_selector

_POD = {"metadata": {"name": "web", "namespace": "default"}, "spec": {"nodeName": "n1"},
        "status": {"phase": "Running"}}
_ALLOWED = ("spec.nodeName", "status.phase")


def one_input(data: bytes) -> None:
    try:
        selector = parse_field_selector(text(data), _ALLOWED)
    except ApiError as exc:
        assert exc.code == 400, exc
        return
    selector.matches(_POD)
    str(selector)


if __name__ == "__main__":
    main(one_input)
