"""Token verification and tenant authorization, with locally generated keys (no network)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

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
    return TokenVerifier(
        Settings(auth_issuer=ISSUER, auth_audience=AUDIENCE, auth_jwks_url=None, auth_public_key_file=str(keys[1]))
    )


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
    with pytest.raises(UnauthenticatedError) as refused:
        authenticate(h, verifier)
    assert (
        refused.value.message
        == {
            "Authorization": "missing bearer token: send `Authorization: Bearer <token>`",
            "X-Tenant-ID": "missing X-Tenant-ID header",
            "X-Org-ID": "missing X-Org-ID header",
        }[drop]
    )


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
def test_an_invalid_token_is_401(keys: tuple[Path, Path], verifier: TokenVerifier, make_token, request) -> None:  # type: ignore[no-untyped-def]
    scope = new_scope()
    h = {"Authorization": f"Bearer {make_token(keys)}", "X-Tenant-ID": scope.tenant_id, "X-Org-ID": scope.org_id}
    with pytest.raises(UnauthenticatedError) as refused:
        authenticate(h, verifier)
    expired = request.node.callspec.id == "expired"
    assert refused.value.message == ("the bearer token has expired" if expired else "the bearer token is not valid")


def test_a_token_expired_within_the_leeway_is_accepted(keys: tuple[Path, Path], verifier: TokenVerifier) -> None:
    scope = new_scope()
    assert authenticate(headers(keys[0], scope, ttl=-10), verifier).scope == scope


def test_a_token_expired_by_the_leeway_to_the_second_is_refused(
    keys: tuple[Path, Path], verifier: TokenVerifier
) -> None:
    """Its expiry, a whole second, is at most now minus 30 seconds whenever it is checked, so it is
    refused every time; a leeway of 31 seconds accepts it while the second it was minted in lasts."""
    with pytest.raises(UnauthenticatedError, match=r"^the bearer token has expired$"):
        authenticate(headers(keys[0], new_scope(), ttl=-30), verifier)


@pytest.mark.parametrize("missing", ["exp", "iss", "aud"])
def test_a_token_without_expiry_issuer_or_audience_is_401(
    keys: tuple[Path, Path], verifier: TokenVerifier, missing: str
) -> None:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60, "email": "a@b.c", "role": "ADMIN"}
    del claims[missing]
    with pytest.raises(UnauthenticatedError, match="not valid"):
        verifier.claims(jwt.encode(claims, keys[0].read_text(), algorithm="RS256"))


def test_an_es256_token_verifies_with_its_key(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    public = tmp_path / "es256.pem"
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    verifier = TokenVerifier(
        Settings(auth_issuer=ISSUER, auth_audience=AUDIENCE, auth_jwks_url=None, auth_public_key_file=str(public))
    )
    claims = {"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60, "email": "es@example.com"}
    assert verifier.claims(jwt.encode(claims, key, algorithm="ES256"))["email"] == "es@example.com"


def test_a_verifier_needs_a_key_source() -> None:
    with pytest.raises(RuntimeError, match=r"^set AUTH_JWKS_URL or AUTH_PUBLIC_KEY_FILE to verify bearer tokens$"):
        # Both named, so a key file the environment may point at (the integration tier's) is not used.
        TokenVerifier(
            Settings(auth_issuer=ISSUER, auth_audience=AUDIENCE, auth_jwks_url=None, auth_public_key_file=None)
        )


@pytest.mark.parametrize(
    ("authorization", "accepted"),
    [
        ("Bearer {t}", True),
        ("bearer {t}", True),
        ("BEARER  {t} ", True),
        ("Basic {t}", False),
        ("Bearer ", False),
        ("Bearer    ", False),
        ("{t}", False),
    ],
)
def test_the_authorization_header_must_carry_a_bearer_token(
    keys: tuple[Path, Path], verifier: TokenVerifier, authorization: str, accepted: bool
) -> None:
    scope = new_scope()
    h = headers(keys[0], scope)
    h["Authorization"] = authorization.format(t=h["Authorization"].removeprefix("Bearer "))
    if accepted:
        assert authenticate(h, verifier).scope == scope
    else:
        with pytest.raises(UnauthenticatedError, match="missing bearer token"):
            authenticate(h, verifier)


@pytest.mark.parametrize("email", [None, "", 42])
def test_a_token_without_an_email_is_401(keys: tuple[Path, Path], verifier: TokenVerifier, email: object) -> None:
    scope = new_scope()
    token = mint(keys[0], tenant_id=scope.tenant_id, org_id=scope.org_id, email=email, sub="someone")  # type: ignore[arg-type]
    h = {"Authorization": f"Bearer {token}", "X-Tenant-ID": scope.tenant_id, "X-Org-ID": scope.org_id}
    with pytest.raises(UnauthenticatedError, match=r"^the bearer token carries no email$"):
        authenticate(h, verifier)


def test_ids_match_whatever_their_case(keys: tuple[Path, Path], verifier: TokenVerifier) -> None:
    scope = new_scope()
    token = mint(keys[0], tenant_id=scope.tenant_id.upper(), org_id=scope.org_id.upper())
    h = {"Authorization": f"Bearer {token}", "X-Tenant-ID": f" {scope.tenant_id.upper()} ", "X-Org-ID": scope.org_id}
    assert authenticate(h, verifier).scope == scope  # and the scope is the lower-case one


def test_a_token_of_another_tenant_or_org_is_403(keys: tuple[Path, Path], verifier: TokenVerifier) -> None:
    scope, other = new_scope(), new_scope()
    h = headers(keys[0], scope)
    with pytest.raises(PermissionDeniedError, match=r"^the token does not grant access to this tenant$"):
        authenticate({**h, "X-Tenant-ID": other.tenant_id}, verifier)
    with pytest.raises(PermissionDeniedError, match=r"^the token does not grant access to this organisation$"):
        authenticate({**h, "X-Org-ID": other.org_id}, verifier)


@pytest.mark.parametrize(
    "claims",
    [{"org_ids": "not-a-list"}, {"org_id": None}, {"org_ids": []}],
    ids=["org-ids-not-a-list", "no-org", "empty-org-ids"],
)
def test_a_token_granting_no_org_is_403(
    keys: tuple[Path, Path], verifier: TokenVerifier, claims: dict[str, object]
) -> None:
    scope = new_scope()
    token = mint(keys[0], tenant_id=scope.tenant_id, **{"org_id": scope.org_id, **claims})  # type: ignore[arg-type]
    if claims == {"org_ids": []}:  # an empty list falls back to org_id, which grants it
        h = {"Authorization": f"Bearer {token}", "X-Tenant-ID": scope.tenant_id, "X-Org-ID": scope.org_id}
        assert authenticate(h, verifier).scope == scope
        return
    h = {"Authorization": f"Bearer {token}", "X-Tenant-ID": scope.tenant_id, "X-Org-ID": scope.org_id}
    with pytest.raises(PermissionDeniedError, match="organisation"):
        authenticate(h, verifier)


def test_an_unknown_role_is_403(keys: tuple[Path, Path], verifier: TokenVerifier) -> None:
    with pytest.raises(PermissionDeniedError, match=r"^the token carries no known role$"):
        authenticate(headers(keys[0], new_scope(), role="superuser"), verifier)


@pytest.mark.parametrize("name", ["X-Tenant-ID", "X-Org-ID"])
def test_scope_headers_must_be_uuids(keys: tuple[Path, Path], verifier: TokenVerifier, name: str) -> None:
    h = headers(keys[0], new_scope())
    with pytest.raises(UnauthenticatedError, match=f"^{name} must be a UUID$"):
        authenticate({**h, name: "../../etc"}, verifier)
    with pytest.raises(UnauthenticatedError, match=f"^missing {name} header$"):
        authenticate({**h, name: "  "}, verifier)


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
