"""Who is calling and on whose data: the principal a verified token grants, and the scope
(tenant + org) every stored record belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "ADMIN"
    EDITOR = "EDITOR"
    VIEWER = "VIEWER"

    @classmethod
    def from_claim(cls, value: object) -> Role | None:
        """Roles as tokens spell them: ADMIN/EDITOR/VIEWER, or admin/member (member = EDITOR)."""
        if not isinstance(value, str):
            return None
        name = value.strip().upper()
        if name == "MEMBER":
            return cls.EDITOR
        return cls.__members__.get(name)

    @property
    def can_write(self) -> bool:
        return self is not Role.VIEWER


@dataclass(frozen=True)
class Scope:
    tenant_id: str
    org_id: str


@dataclass(frozen=True)
class Principal:
    email: str
    role: Role
    scope: Scope


@dataclass(frozen=True)
class RunningLimit:
    """How many records of one kind (bulk jobs, exports) a tenant may have running at once; a
    request for one more is refused, to be retried after `retry_after_seconds`."""

    most: int
    retry_after_seconds: int
