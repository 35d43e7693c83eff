"""Domain errors with stable codes. The API turns them into {code, message, fields}."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class ThudoError(Exception):
    """Base of every domain error: a stable machine code, a translatable message, field errors."""

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 400
    default_message: ClassVar[str | Promise] = _("The request could not be completed.")

    def __init__(
        self,
        message: str | Promise | None = None,
        *,
        fields: Mapping[str, str | Promise | list[str | Promise]] | None = None,
        code: str | None = None,
    ) -> None:
        self.message = message if message is not None else self.default_message
        self.fields = dict(fields or {})
        if code:
            self.code = code  # type: ignore[misc]
        super().__init__(str(self.message))

    def as_dict(self) -> dict[str, Any]:
        """The JSON error body, rendered in the active language."""
        fields: dict[str, list[str]] = {}
        for name, value in self.fields.items():
            values = value if isinstance(value, list) else [value]
            fields[name] = [str(v) for v in values]
        return {"code": self.code, "message": str(self.message), "fields": fields}


class ValidationFailed(ThudoError):
    code = "validation_failed"
    status = 422
    default_message = _("Some fields are not valid.")


class NotFound(ThudoError):
    code = "not_found"
    status = 404
    default_message = _("The requested object does not exist.")


class PermissionDenied(ThudoError):
    code = "permission_denied"
    status = 403
    default_message = _("You are not allowed to do this.")


class AuthenticationFailed(ThudoError):
    code = "authentication_failed"
    status = 401
    default_message = _("Authentication is required.")


class Throttled(ThudoError):
    code = "throttled"
    status = 429
    default_message = _("Too many attempts. Please wait and try again.")

    def __init__(
        self, message: str | Promise | None = None, *, retry_after: int = 0, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class InvalidTransition(ThudoError):
    code = "invalid_transition"
    status = 409
    default_message = _("This action is not allowed in the object's current state.")
