"""Resource quantities: ``parse_quantity`` returns or raises ``ValueError``; what parses also formats."""

from __future__ import annotations

import atheris

from tests.fuzz.harnesses._common import main, text

with atheris.instrument_imports():
    from suanli.apimachinery.quantity import format_quantity, parse_quantity, to_milli


def one_input(data: bytes) -> None:
    try:
        value = parse_quantity(text(data))
    except ValueError:
        return
    # A quantity the API accepted is stored and later rendered (tables, quota, scheduler): never an error.
    format_quantity(value)
    format_quantity(value, binary=True)
    to_milli(value)


if __name__ == "__main__":
    main(one_input)
