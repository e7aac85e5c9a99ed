"""Server-side apply with managedFields: input ``[first, second]`` configurations applied by two managers.

``first`` creates the object as manager ``a``; ``second`` is applied by ``b`` without and with
force. Each step returns an object or raises a 4xx ``ApiError`` (a conflict is 409).
"""

from __future__ import annotations

import atheris

from tests.fuzz.harnesses._common import main, split_json

with atheris.instrument_imports():
    from suanli.apimachinery.errors import ApiError
    from suanli.apimachinery.patch import server_side_apply

_NOW = "2026-01-01T00:00:00Z"


def one_input(data: bytes) -> None:
    parts = split_json(data, 2)
    if parts is None:
        return
    first, second = parts
    try:
        live = server_side_apply(None, first, "a", "apps/Deployment", force=False, now=_NOW)
    except ApiError as exc:
        assert 400 <= exc.code < 500, exc
        return
    for force in (False, True):
        try:
            server_side_apply(live, second, "b", "apps/Deployment", force=force, now=_NOW)
        except ApiError as exc:
            assert 400 <= exc.code < 500, exc


if __name__ == "__main__":
    main(one_input)
