"""Token verification and tenant authorization, with locally generated keys (no network)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jwt
import pytest

from local.tokens import AUDIENCE, ISSUER, ensure_keypair, mint
from shared.auth import TokenVerifier, authenticate
from shared.domain.tenancy import Role, Scope
from shared.errors import PermissionDeniedError, UnauthenticatedError
from shared.settings import Settings
from tests.support import headers, new_scope


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return ensure_keypair(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def verifier(keys: tuple[Path, Path]) -> TokenVerifier:
    return TokenVerifier(Settings(auth_issuer=ISSUER, auth_audience=AUDIENCE, auth_public_key_file=str(keys[1])))


def test_a_valid_token_gives_the_principal(keys: tuple[Path, Path], verifier: TokenVerifier) -> None:
    scope = new_scope()
    principal = authenticate(headers(keys[0], scope, role="member", email="e@x.io"), verifier)
    assert (principal.email, principal.role, principal.scope) == ("e@x.io", Role.EDITOR, scope)


def test_an_org_list_claim_grants_each_of_its_orgs(keys: tuple[Path, Path], verifier: TokenVerifier) -> None:
    scope, other = new_scope(), new_scope()
    h = headers(keys[0], scope, org_ids=[other.org_id, scope.org_id])
    assert authenticate(h, verifier).scope == scope


@pytest.mark.parametrize("drop", ["Authorization", "X-Tenant-ID", "X-Org-ID"])
def test_a_missing_header_is_401(keys: tuple[Path, Path], verifier: TokenVerifier, drop: str) -> None:
    h = headers(keys[0], new_scope())
    del h[drop]
    with pytest.raises(UnauthenticatedError):
        authenticate(h, verifier)


@pytest.mark.parametrize(
    "make_token",
    [
        lambda k: "not-a-jwt",
        lambda k: mint(k[0], ttl=-120),  # expired beyond the leeway
        lambda k: mint(k[0], iss="someone-else"),
        lambda k: mint(k[0], aud="another-api"),
        lambda k: jwt.encode(
            {"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60, "email": "a@b.c"}, None, algorithm="none"
        ),
        lambda k: jwt.encode(
            {"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60, "email": "a@b.c"},
            "shared-secret-guess-that-is-long-enough",
            algorithm="HS256",
        ),
        lambda k: mint(ensure_keypair(k[0].parent / "other")[0]),  # signed by another key
    ],
    ids=["garbage", "expired", "issuer", "audience", "alg-none", "hs256", "foreign-key"],
)
def test_an_invalid_token_is_401(keys: tuple[Path, Path], verifier: TokenVerifier, make_token) -> None:  # type: ignore[no-untyped-def]
    scope = new_scope()
    h = {"Authorization": f"Bearer {make_token(keys)}", "X-Tenant-ID": scope.tenant_id, "X-Org-ID": scope.org_id}
    with pytest.raises(UnauthenticatedError):
        authenticate(h, verifier)


def test_a_token_of_another_tenant_or_org_is_403(keys: tuple[Path, Path], verifier: TokenVerifier) -> None:
    scope, other = new_scope(), new_scope()
    h = headers(keys[0], scope)
    with pytest.raises(PermissionDeniedError, match="tenant"):
        authenticate({**h, "X-Tenant-ID": other.tenant_id}, verifier)
    with pytest.raises(PermissionDeniedError, match="organisation"):
        authenticate({**h, "X-Org-ID": other.org_id}, verifier)


def test_an_unknown_role_is_403(keys: tuple[Path, Path], verifier: TokenVerifier) -> None:
    with pytest.raises(PermissionDeniedError, match="role"):
        authenticate(headers(keys[0], new_scope(), role="superuser"), verifier)


def test_scope_headers_must_be_uuids(keys: tuple[Path, Path], verifier: TokenVerifier) -> None:
    h = headers(keys[0], new_scope())
    with pytest.raises(UnauthenticatedError, match="UUID"):
        authenticate({**h, "X-Tenant-ID": "../../etc"}, verifier)


@pytest.mark.parametrize(
    ("claim", "role"),
    [
        ("ADMIN", Role.ADMIN),
        ("admin", Role.ADMIN),
        ("Member", Role.EDITOR),
        ("EDITOR", Role.EDITOR),
        ("viewer", Role.VIEWER),
        ("root", None),
        (None, None),
        (3, None),
    ],
)
def test_roles_are_read_case_insensitively(claim: object, role: Role | None) -> None:
    assert Role.from_claim(claim) is role


def test_only_viewers_cannot_write() -> None:
    assert [r for r in Role if not r.can_write] == [Role.VIEWER]


def test_an_authenticated_principal_cannot_be_changed(keys: tuple[Path, Path], verifier: TokenVerifier) -> None:
    """Nothing downstream of the edge can point a caller at another tenant or raise its role."""
    scope = new_scope()
    principal = authenticate(headers(keys[0], scope, role="VIEWER"), verifier)
    with pytest.raises(dataclasses.FrozenInstanceError):
        principal.role = Role.ADMIN  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        principal.scope.tenant_id = new_scope().tenant_id  # type: ignore[misc]
    assert {principal.scope, Scope(scope.tenant_id, scope.org_id)} == {scope}  # a value: equal by content


def test_the_token_header_is_configurable_for_a_gateway_in_front(
    keys: tuple[Path, Path], verifier: TokenVerifier
) -> None:
    scope = new_scope()
    h = headers(keys[0], scope)
    forwarded = {**h, "X-Forwarded-Authorization": h["Authorization"], "Authorization": "Bearer gateway-token"}
    assert authenticate(forwarded, verifier, "X-Forwarded-Authorization").scope == scope
    with pytest.raises(UnauthenticatedError):
        authenticate(forwarded, verifier)
