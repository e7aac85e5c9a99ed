"""``labelSelector`` query parameters: parse, render and match, or a 400 ``ApiError``."""

from __future__ import annotations

import atheris

from tests.fuzz.harnesses._common import main, text

with atheris.instrument_imports():
    from suanli.apimachinery.errors import ApiError
    from suanli.apimachinery.selectors import parse_label_selector

_LABELS = {"app": "web", "tier": "front", "example.com/x": "1"}


def one_input(data: bytes) -> None:
    try:
        selector = parse_label_selector(text(data))
    except ApiError as exc:
        assert exc.code == 400, exc
        return
    selector.matches(_LABELS)
    # What a selector renders to parses again to the same selector (kubectl echoes selectors back).
    again = parse_label_selector(str(selector))
    assert str(again) == str(selector), (str(selector), str(again))


if __name__ == "__main__":
    main(one_input)
