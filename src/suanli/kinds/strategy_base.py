"""The per-kind strategy extension point (kube-apiserver's ``rest.RESTCreateStrategy``,
``RESTUpdateStrategy`` and ``TableConvertor`` of one kind).

Every :class:`~suanli.kinds.registry.ResourceType` carries a :class:`Strategy`
(``rt.strategy``); the API server calls its hooks and never looks a kind up by name. On a
write to a built-in kind:

1. create: ``prepare_for_create(obj)`` (e.g. drop client-sent ``status``), before defaulting;
2. ``default(obj)`` — upstream defaulting, in place on the private copy;
3. ``validate(obj)`` — name, labels and the kind's semantic rules (non-empty → 422);
4. update: ``prepare_for_update(old, new)`` then ``validate_update(old, new)``;
5. reads as a Table: ``printer`` (``None`` → the resource's CRD columns or NAME + AGE).

``own_name_rules`` says the kind checks ``metadata.name`` its own way (RBAC names are path
segments, APIService names ``<version>.<group>``), so the generic DNS-subdomain check is skipped.

:class:`KindStrategy` is the implementation assembled from a kind's functions; the built-in
kinds' strategies are in :mod:`suanli.kinds.strategy`. Custom resources use
:data:`DEFAULT_STRATEGY` or :data:`STATUS_SUBRESOURCE_STRATEGY` (their defaulting and
validation come from the CRD schema instead).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from suanli.apimachinery.errors import Cause
from suanli.apimachinery.objects import Obj
from suanli.kinds.defaults import check_labels, check_name
from suanli.kinds.field import FieldErrors
from suanli.kinds.printers import Printer

__all__ = ["DEFAULT_STRATEGY", "STATUS_SUBRESOURCE_STRATEGY", "Defaulter", "KindStrategy", "NameStyle", "Strategy",
           "Validator"]

Defaulter = Callable[[Obj, bool], None]
"""Applies a kind's defaults to an object in place; the flag is "on create"."""
Validator = Callable[[FieldErrors, Obj], None]
"""Adds a kind's semantic errors for an object to the list."""
NameStyle = Literal["subdomain", "label", "dns1035", "path"]


class Strategy(Protocol):
    """What the API server asks of a kind (see the module docstring for when)."""

    @property
    def printer(self) -> Printer | None: ...

    @property
    def own_name_rules(self) -> bool: ...

    def prepare_for_create(self, obj: Obj) -> None:
        """Adjust a new object (a private copy) before defaulting, e.g. reset its status."""

    def default(self, obj: Obj, create: bool = True) -> None:
        """Apply the kind's defaults to ``obj`` (a private copy) in place."""

    def validate(self, obj: Obj) -> list[Cause]:
        """The object's field errors (empty = valid)."""

    def prepare_for_update(self, old: Obj, new: Obj) -> None:
        """Adjust ``new`` (a private copy) from ``old`` before validation."""

    def validate_update(self, old: Obj, new: Obj) -> FieldErrors:
        """Errors that forbid changing ``old`` into ``new``."""


@dataclass(frozen=True)
class KindStrategy:
    """A :class:`Strategy` assembled from a kind's parts.

    ``defaulter``/``validator`` are the kind's functions (none → no defaults / only the
    generic name and label checks); ``name_style`` is how ``metadata.name`` is checked;
    ``reset_status_on_create`` drops a client-sent ``status`` on create (upstream
    ``PrepareForCreate`` of kinds with a status subresource). Subclasses add update rules.
    """

    defaulter: Defaulter | None = None
    validator: Validator | None = None
    name_style: NameStyle = "subdomain"
    reset_status_on_create: bool = False
    own_name_rules: bool = False
    printer: Printer | None = None

    def prepare_for_create(self, obj: Obj) -> None:
        if self.reset_status_on_create:
            obj.pop("status", None)

    def default(self, obj: Obj, create: bool = True) -> None:
        if self.defaulter is not None:
            self.defaulter(obj, create)

    def validate(self, obj: Obj) -> list[Cause]:
        errs = FieldErrors()
        check_name(errs, obj, self.name_style)
        meta = obj.get("metadata")
        if isinstance(meta, dict):
            check_labels(errs, meta.get("labels"), "metadata.labels")
        if self.validator is not None:
            self.validator(errs, obj)
        return errs.items

    def prepare_for_update(self, old: Obj, new: Obj) -> None:
        """Default: nothing."""

    def validate_update(self, old: Obj, new: Obj) -> FieldErrors:
        """Default: every update allowed."""
        return FieldErrors()


#: kinds without rules of their own (and custom resources without a status subresource)
DEFAULT_STRATEGY = KindStrategy()
#: custom resources with a status subresource: a create does not set status
STATUS_SUBRESOURCE_STRATEGY = KindStrategy(reset_status_on_create=True)
