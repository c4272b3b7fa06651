"""V4 signed URLs, for export downloads and upload PUTs alike."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import google.auth.transport.requests
from google.cloud import storage


def signed_url(
    blob: storage.Blob,
    client: storage.Client,
    ttl: timedelta,
    method: str,
    *,
    signer: Any = None,
    public_url: str | None = None,
    headers: dict[str, str] | None = None,
) -> str:
    """A URL that lets its holder make `method` on the object (with exactly `headers`) until
    `ttl` has passed. `signer`: credentials holding a private key (the local stack's throwaway
    key); without one the URL is signed through IAM as the function's own service account, which
    then needs roles/iam.serviceAccountTokenCreator on itself. `public_url`: the storage host the
    URL names (local: the emulator)."""
    credentials: dict[str, Any]
    if signer is not None:
        credentials = {"credentials": signer}
    else:
        own = client._credentials
        if not own.valid:
            own.refresh(google.auth.transport.requests.Request())
        credentials = {"service_account_email": own.service_account_email, "access_token": own.token}
    endpoint = {"api_access_endpoint": public_url} if public_url else {}
    # A copy: the client library adds `Host` to the dict it is given (every client sends that one itself).
    signed = dict(headers) if headers else None
    return str(
        blob.generate_signed_url(version="v4", expiration=ttl, method=method, headers=signed, **endpoint, **credentials)
    )
