"""Kubernetes ``Status`` errors.

Every failure that reaches a client is an :class:`ApiError`; :meth:`ApiError.status`
renders it as a ``meta/v1 Status`` whose ``code`` equals the HTTP status. Constructors
name the reason so call sites read as the upstream apiserver's do::

    raise ApiError.invalid("Pod", "web", [Cause("spec.containers[0].name", "Required value")])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ApiError", "Cause"]


@dataclass(frozen=True)
class Cause:
    """One field-level cause of an error (``details.causes[]``)."""

    field: str
    message: str
    reason: str = "FieldValueInvalid"

    def as_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message, "field": self.field}

    def text(self) -> str:
        """``field: message`` as upstream joins causes into a Status message."""
        return f"{self.field}: {self.message}" if self.field else self.message


@dataclass
class ApiError(Exception):
    """An API failure with an HTTP ``code`` and a Kubernetes ``reason``."""

    code: int
    reason: str
    message: str
    kind: str = ""
    name: str = ""
    group: str = ""
    causes: list[Cause] = field(default_factory=list)
    retry_after_seconds: int | None = None

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)

    def __str__(self) -> str:
        return f"{self.code} {self.reason}: {self.message}"

    def status(self) -> dict[str, Any]:
        """Return the ``Status`` object for this error."""
        details: dict[str, Any] = {}
        if self.name:
            details["name"] = self.name
        if self.group:
            details["group"] = self.group
        if self.kind:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = [c.as_dict() for c in self.causes]
        if self.retry_after_seconds is not None:
            details["retryAfterSeconds"] = self.retry_after_seconds
        out: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if details:
            out["details"] = details
        return out

    # -- constructors, one per upstream reason -------------------------------------------------

    @classmethod
    def bad_request(cls, message: str, causes: list[Cause] | None = None) -> ApiError:
        return cls(400, "BadRequest", message, causes=causes or [])

    @classmethod
    def unauthorized(cls, message: str = "Unauthorized") -> ApiError:
        return cls(401, "Unauthorized", message)

    @classmethod
    def forbidden(cls, resource: str, name: str, message: str) -> ApiError:
        return cls(403, "Forbidden", message, kind=resource, name=name)

    @classmethod
    def not_found(cls, resource: str, name: str, group: str = "") -> ApiError:
        full = f"{resource}.{group}" if group else resource
        msg = f'{full} "{name}" not found' if name else f"the server could not find the requested resource ({full})"
        return cls(404, "NotFound", msg, kind=resource, name=name, group=group)

    @classmethod
    def no_route(cls, path: str) -> ApiError:
        return cls(404, "NotFound", f"the server could not find the requested resource (path {path})")

    @classmethod
    def already_exists(cls, resource: str, name: str, group: str = "") -> ApiError:
        full = f"{resource}.{group}" if group else resource
        return cls(409, "AlreadyExists", f'{full} "{name}" already exists', kind=resource, name=name, group=group)

    @classmethod
    def conflict(cls, resource: str, name: str, detail: str, group: str = "") -> ApiError:
        full = f"{resource}.{group}" if group else resource
        return cls(409, "Conflict", f'Operation cannot be fulfilled on {full} "{name}": {detail}',
                   kind=resource, name=name, group=group)

    @classmethod
    def gone(cls, message: str) -> ApiError:
        return cls(410, "Expired", message)

    @classmethod
    def method_not_allowed(cls, message: str) -> ApiError:
        return cls(405, "MethodNotAllowed", message)

    @classmethod
    def not_acceptable(cls, message: str) -> ApiError:
        return cls(406, "NotAcceptable", message)

    @classmethod
    def too_large(cls, message: str) -> ApiError:
        return cls(413, "RequestEntityTooLarge", message)

    @classmethod
    def unsupported_media_type(cls, content_type: str) -> ApiError:
        return cls(415, "UnsupportedMediaType", f"the body of the request was in an unknown format ({content_type})")

    @classmethod
    def invalid(cls, kind: str, name: str, causes: list[Cause], group: str = "") -> ApiError:
        text = ", ".join(c.text() for c in causes) or "invalid object"
        if len(causes) > 1:
            text = "[" + text + "]"
        full = f"{kind}.{group}" if group else kind
        label = f'{full} "{name}"' if name else full
        return cls(422, "Invalid", f"{label} is invalid: {text}", kind=kind, name=name, group=group,
                   causes=causes)

    @classmethod
    def unprocessable(cls, message: str) -> ApiError:
        """422 without field causes (e.g. a failed JSON-patch ``test``)."""
        return cls(422, "Invalid", message)

    @classmethod
    def too_many_requests(cls, message: str, retry_after: int = 1) -> ApiError:
        return cls(429, "TooManyRequests", message, retry_after_seconds=retry_after)

    @classmethod
    def internal(cls, message: str) -> ApiError:
        return cls(500, "InternalError", message)

    @classmethod
    def service_unavailable(cls, message: str) -> ApiError:
        return cls(503, "ServiceUnavailable", message)
