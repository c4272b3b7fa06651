"""Tokens verified against the issuer's JWKS endpoint (AUTH_JWKS_URL), as production does, with the
endpoint served by a local HTTP server: the key is picked by the token's `kid`."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from local.tokens import AUDIENCE, ISSUER, ensure_keypair
from shared.auth import TokenVerifier, authenticate
from shared.errors import UnauthenticatedError
from shared.settings import Settings
from tests.support import new_scope


@pytest.fixture(scope="module")
def jwks_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A JWKS endpoint publishing one key, `k1`; the URL and the key's private half."""
    private, _ = ensure_keypair(tmp_path_factory.mktemp("jwks"))
    key = serialization.load_pem_private_key(private.read_bytes(), password=None)
    jwk = {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())), "kid": "k1", "use": "sig"}  # type: ignore[arg-type]
    body = json.dumps({"keys": [jwk]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json", private
    server.shutdown()


def token(private: Path, kid: str, **claims: Any) -> str:
    payload = {"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60, "email": "j@example.com", **claims}
    return jwt.encode(payload, private.read_text(), algorithm="RS256", headers={"kid": kid})


def test_a_token_is_verified_with_the_key_its_kid_names(jwks_url: tuple[str, Path], tmp_path: Path) -> None:
    url, private = jwks_url
    verifier = TokenVerifier(
        Settings(auth_issuer=ISSUER, auth_audience=AUDIENCE, auth_jwks_url=url, auth_public_key_file=None)
    )
    scope = new_scope()

    def hdrs(signed: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {signed}", "X-Tenant-ID": scope.tenant_id, "X-Org-ID": scope.org_id}

    claims = {"tenant_id": scope.tenant_id, "org_id": scope.org_id, "role": "EDITOR"}
    assert authenticate(hdrs(token(private, "k1", **claims)), verifier).scope == scope
    for forged in (
        token(private, "k2", **claims),  # a key the issuer does not publish
        token(ensure_keypair(tmp_path)[0], "k1", **claims),  # signed by another key under k1's name
    ):
        with pytest.raises(UnauthenticatedError, match="not valid"):
            authenticate(hdrs(forged), verifier)
