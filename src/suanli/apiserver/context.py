"""Per-request options shared by the HTTP handlers and the in-process client."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["ADMIN", "FieldValidation", "RequestContext", "UserInfo"]

FieldValidation = Literal["Strict", "Warn", "Ignore"]


@dataclass(frozen=True)
class UserInfo:
    """The authenticated identity of a request, as kube-apiserver's ``user.Info``.

    Authenticators produce it; the authorizer, admission (``AdmissionReview.request.userInfo``)
    and audit read it. ``groups`` always includes ``system:authenticated`` for an authenticated
    user and ``system:unauthenticated`` for ``system:anonymous``.
    """

    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def as_review(self) -> dict[str, object]:
        """The ``userInfo`` object of an AdmissionReview / TokenReview / SelfSubjectReview."""
        out: dict[str, object] = {"username": self.name, "groups": list(self.groups)}
        if self.uid:
            out["uid"] = self.uid
        if self.extra:
            out["extra"] = {k: list(v) for k, v in self.extra}
        return out


#: the identity of the generated admin token and of in-process components
ADMIN = UserInfo("system:admin", groups=("system:masters", "system:authenticated"))


@dataclass
class RequestContext:
    """Options of one API request; ``warnings`` collects ``Warning`` headers to send back."""

    user: str = "system:admin"
    user_info: UserInfo = ADMIN
    dry_run: bool = False
    field_manager: str | None = None
    field_validation: FieldValidation = "Warn"
    force: bool = False
    warnings: list[str] = field(default_factory=list)
