"""The project's one error family. Each class carries its HTTP status and machine-readable code;
`shared.http` maps them to responses in one place, and adapters translate client-library
exceptions into them so services never see a Google exception."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError


@dataclass(frozen=True)
class FieldProblem:
    field: str
    problem: str


class SynqError(Exception):
    status = 500
    code = "INTERNAL"

    def __init__(self, message: str, details: list[FieldProblem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class InvalidArgumentError(SynqError):
    status = 400
    code = "INVALID_ARGUMENT"


class InvalidJsonError(InvalidArgumentError):
    code = "INVALID_JSON"


class UnauthenticatedError(SynqError):
    status = 401
    code = "UNAUTHENTICATED"


class PermissionDeniedError(SynqError):
    status = 403
    code = "PERMISSION_DENIED"


class NotFoundError(SynqError):
    status = 404
    code = "NOT_FOUND"


class MethodNotAllowedError(SynqError):
    status = 405
    code = "METHOD_NOT_ALLOWED"


class ConflictError(SynqError):
    status = 409
    code = "CONFLICT"


class IdempotencyKeyReusedError(SynqError):
    """An Idempotency-Key sent again with a different request."""

    status = 422
    code = "IDEMPOTENCY_KEY_REUSED"


class PayloadTooLargeError(SynqError):
    status = 413
    code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaTypeError(SynqError):
    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"


class TooManyRequestsError(SynqError):
    """The tenant holds as much running work as it may: the caller should retry after a while."""

    status = 429
    code = "TOO_MANY_REQUESTS"

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds  # sent as Retry-After


class UnavailableError(SynqError):
    """A dependency failed transiently: the caller (or Cloud Tasks) should retry."""

    status = 503
    code = "UNAVAILABLE"


class StoreRefusedError(SynqError):
    """The store refused data as invalid: a value the domain rules let through but Firestore cannot
    hold. A 400 to a caller. Deliberately not an InvalidArgumentError: a task that meets it is a
    gap in the rules, retried and logged, never silently abandoned."""

    status = 400
    code = "INVALID_ARGUMENT"

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(f"{what}: refused by the store: {reason}")
        self.reason = reason  # the store's own words


class PermanentTaskError(SynqError):
    """A task that can never succeed: record the failure and do not ask for a retry."""

    status = 200
    code = "TASK_ABANDONED"


class DeliveryError(SynqError):
    """A notification did not reach the tenant. `permanent`: trying again cannot help."""

    status = 502
    code = "DELIVERY_FAILED"

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def invalid(message: str, exc: ValidationError, prefix: str = "") -> InvalidArgumentError:
    """A 400 naming each field pydantic refused (a model-level rule is reported on `body`)."""
    problems = [
        FieldProblem(prefix + ".".join(str(p) for p in e["loc"]) or "body", e["msg"].removeprefix("Value error, "))
        for e in exc.errors()
    ]
    return InvalidArgumentError(message, problems)
