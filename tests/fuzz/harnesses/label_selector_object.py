"""``metav1.LabelSelector`` objects (workload ``spec.selector``): a selector, or a 400 ``ApiError`` with causes."""

from __future__ import annotations

import atheris

from tests.fuzz.harnesses._common import json_or_none, main

with atheris.instrument_imports():
    from suanli.apimachinery.errors import ApiError
    from suanli.apimachinery.selectors import label_selector_from_object, parse_label_selector

_LABELS = {"app": "web", "tier": "front"}


def one_input(data: bytes) -> None:
    value = json_or_none(data)
    if not isinstance(value, dict):
        return
    try:
        selector = label_selector_from_object(value)
    except ApiError as exc:
        assert exc.code == 400 and exc.causes, exc
        return
    selector.matches(_LABELS)
    # A valid selector object renders to a query string that parses (kubectl and controllers use it).
    parse_label_selector(str(selector))


if __name__ == "__main__":
    main(one_input)
