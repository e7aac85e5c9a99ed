"""Field errors as kube-apiserver reports them (``k8s.io/apimachinery/pkg/util/validation/field``).

:class:`FieldErrors` collects :class:`~suanli.apimachinery.errors.Cause` values worded like
upstream's ``field.ErrorList``; the API server turns a non-empty list into a 422 Status whose
causes carry ``reason`` (``FieldValueInvalid`` …), ``field`` (the path) and ``message``:

* ``required("spec.x")`` → ``Required value``
* ``forbidden("spec.podCIDRs", "node updates may not change …")`` → ``Forbidden: node updates …``
* ``invalid("spec.selector", value, "field is immutable")`` → ``Invalid value: {…}: field is immutable``
* ``not_supported("spec.type", "X", ("A", "B"))`` → ``Unsupported value: "X": supported values: "A", "B"``
* ``immutable(path, new, old)`` — upstream ``ValidateImmutableField``: one ``invalid`` when the
  two differ.

Values are rendered as upstream's field errors render them (strings quoted, JSON otherwise).
"""

from __future__ import annotations

from typing import Any

from suanli.apimachinery.errors import Cause
from suanli.apimachinery.schema import format_value

__all__ = ["FIELD_IMMUTABLE", "FieldErrors"]

#: upstream ``apimachineryvalidation.FieldImmutableErrorMsg``
FIELD_IMMUTABLE = "field is immutable"


class FieldErrors:
    """An ordered list of field errors (``items``), built with upstream's constructors."""

    def __init__(self) -> None:
        self.items: list[Cause] = []

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def extend(self, causes: list[Cause]) -> None:
        self.items.extend(causes)

    def required(self, path: str, detail: str = "") -> None:
        self.items.append(Cause(path, f"Required value: {detail}" if detail else "Required value",
                                "FieldValueRequired"))

    def forbidden(self, path: str, detail: str) -> None:
        self.items.append(Cause(path, f"Forbidden: {detail}" if detail else "Forbidden", "FieldValueForbidden"))

    def invalid(self, path: str, value: Any, detail: str) -> None:
        self.items.append(Cause(path, f"Invalid value: {format_value(value)}: {detail}", "FieldValueInvalid"))

    def not_supported(self, path: str, value: Any, supported: tuple[str, ...]) -> None:
        values = ", ".join(f'"{s}"' for s in supported)
        self.items.append(Cause(path, f"Unsupported value: {format_value(value)}: supported values: {values}",
                                "FieldValueNotSupported"))

    # the name the older validators in kinds/defaults.py use
    unsupported = not_supported

    def duplicate(self, path: str, value: Any) -> None:
        self.items.append(Cause(path, f"Duplicate value: {format_value(value)}", "FieldValueDuplicate"))

    def not_found(self, path: str, value: Any) -> None:
        self.items.append(Cause(path, f"Not found: {format_value(value)}", "FieldValueNotFound"))

    def too_many(self, path: str, actual: int, maximum: int) -> None:
        self.items.append(Cause(path, f"Too many: {actual}: must have at most {maximum} items",
                                "FieldValueTooMany"))

    def immutable(self, path: str, new: Any, old: Any) -> None:
        """Upstream ``ValidateImmutableField``: ``new`` must equal ``old`` (absent = ``None``)."""
        if new != old:
            self.invalid(path, new, FIELD_IMMUTABLE)
