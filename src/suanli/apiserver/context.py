"""Per-request options shared by the HTTP handlers and the in-process client."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["FieldValidation", "RequestContext"]

FieldValidation = Literal["Strict", "Warn", "Ignore"]


@dataclass
class RequestContext:
    """Options of one API request; ``warnings`` collects ``Warning`` headers to send back."""

    user: str = "system:admin"
    dry_run: bool = False
    field_manager: str | None = None
    field_validation: FieldValidation = "Warn"
    force: bool = False
    warnings: list[str] = field(default_factory=list)
