"""Signing keys and bearer tokens for the local stack and the tests (never used in production,
where an identity provider signs the tokens).

`python -m local.tokens` prints a token for the running local stack; TENANT_ID, ORG_ID, ROLE and
EMAIL choose its claims.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

STATE_DIR = Path(__file__).resolve().parent.parent / ".local"
DEMO_TENANT_ID = "11111111-1111-4111-8111-111111111111"
DEMO_ORG_ID = "22222222-2222-4222-8222-222222222222"
DEMO_EMAIL = "demo@synq.local"
ISSUER = "synq-local"
AUDIENCE = "synq-pim"


def ensure_keypair(directory: Path) -> tuple[Path, Path]:
    """An RS256 key pair in `directory`, generated on first use."""
    private, public = directory / "auth-private.pem", directory / "auth-public.pem"
    if not private.exists():
        directory.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        private.chmod(0o600)
        public.write_bytes(
            key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
    return private, public


def ensure_signing_key(directory: Path) -> Path:
    """A throwaway service-account key that signs download URLs offline (the storage emulator
    does not check signatures; Google would reject this key)."""
    path = directory / "url-signer.json"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        info = {
            "type": "service_account",
            "project_id": "synq-local",
            "private_key_id": "local",
            "private_key": pem.decode(),
            "client_email": "url-signer@synq-local.iam.gserviceaccount.com",
            "client_id": "0",
            "token_uri": "https://oauth2.googleapis.com/token",
        }
        path.write_text(json.dumps(info))
        path.chmod(0o600)
    return path


def mint(
    private_key_file: Path,
    *,
    tenant_id: str = DEMO_TENANT_ID,
    org_id: str = DEMO_ORG_ID,
    role: str = "ADMIN",
    email: str = DEMO_EMAIL,
    ttl: int = 3600,
    **extra: Any,
) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": email,
        "email": email,
        "tenant_id": tenant_id,
        "org_id": org_id,
        "role": role,
        "iat": now,
        "exp": now + ttl,
        **extra,
    }
    return jwt.encode(claims, private_key_file.read_text(), algorithm="RS256")


def main() -> None:
    private, _ = ensure_keypair(STATE_DIR)
    print(
        mint(
            private,
            tenant_id=os.environ.get("TENANT_ID", DEMO_TENANT_ID),
            org_id=os.environ.get("ORG_ID", DEMO_ORG_ID),
            role=os.environ.get("ROLE", "ADMIN"),
            email=os.environ.get("EMAIL", DEMO_EMAIL),
        )
    )


if __name__ == "__main__":
    main()
