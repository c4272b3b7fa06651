"""Bearer-token authentication and tenant authorization.

Tokens are JWTs from the tenant's identity provider: signature, expiry, issuer and audience are
verified; claims give `email`, `tenant_id`, `org_id` (or `org_ids`) and `role`. The request's
X-Tenant-ID / X-Org-ID must be granted by those claims.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Protocol

import jwt

from shared.domain.tenancy import Principal, Role, Scope
from shared.errors import PermissionDeniedError, UnauthenticatedError
from shared.settings import Settings


class Headers(Protocol):
    def get(self, key: str, default: str) -> str: ...


ALGORITHMS = ["RS256", "ES256"]
LEEWAY_SECONDS = 30


class TokenVerifier:
    def __init__(self, settings: Settings) -> None:
        self._issuer = settings.auth_issuer
        self._audience = settings.auth_audience
        self._jwks = jwt.PyJWKClient(settings.auth_jwks_url, cache_keys=True) if settings.auth_jwks_url else None
        self._key = Path(settings.auth_public_key_file).read_text() if settings.auth_public_key_file else None
        if self._jwks is None and self._key is None:
            raise RuntimeError("set AUTH_JWKS_URL or AUTH_PUBLIC_KEY_FILE to verify bearer tokens")

    def claims(self, token: str) -> dict[str, Any]:
        try:
            key: Any = self._jwks.get_signing_key_from_jwt(token).key if self._jwks else self._key
            return jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self._audience,
                issuer=self._issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise UnauthenticatedError("the bearer token has expired") from exc
        except jwt.PyJWTError as exc:
            raise UnauthenticatedError("the bearer token is not valid") from exc


def authenticate(headers: Headers, verifier: TokenVerifier, token_header: str = "Authorization") -> Principal:
    """The caller, or 401 (no valid token or scope headers) / 403 (token does not grant them)."""
    scheme, _, token = headers.get(token_header, "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthenticatedError("missing bearer token: send `Authorization: Bearer <token>`")
    tenant_id = _uuid_header(headers, "X-Tenant-ID")
    org_id = _uuid_header(headers, "X-Org-ID")
    claims = verifier.claims(token.strip())
    email = claims.get("email")
    if not isinstance(email, str) or not email:
        raise UnauthenticatedError("the bearer token carries no email")
    if str(claims.get("tenant_id", "")).lower() != tenant_id:
        raise PermissionDeniedError("the token does not grant access to this tenant")
    orgs = claims.get("org_ids") or [claims.get("org_id")]
    if not isinstance(orgs, list) or org_id not in {str(o).lower() for o in orgs}:
        raise PermissionDeniedError("the token does not grant access to this organisation")
    role = Role.from_claim(claims.get("role"))
    if role is None:
        raise PermissionDeniedError("the token carries no known role")
    return Principal(email=email, role=role, scope=Scope(tenant_id=tenant_id, org_id=org_id))


def _uuid_header(headers: Headers, name: str) -> str:
    value = headers.get(name, "").strip()
    if not value:
        raise UnauthenticatedError(f"missing {name} header")
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise UnauthenticatedError(f"{name} must be a UUID") from exc
