"""Helpers the test tiers share: tokens, headers, tenants, waiting for a job."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from local.tokens import mint
from shared.domain.tenancy import Scope

FIXTURES = Path(__file__).parent / "fixtures"


def new_scope() -> Scope:
    """A tenant and org nobody else uses: tests isolate by tenant, as production data does."""
    return Scope(tenant_id=str(uuid.uuid4()), org_id=str(uuid.uuid4()))


def headers(
    private_key: Path, scope: Scope, role: str = "ADMIN", email: str = "tester@example.com", **claims: Any
) -> dict[str, str]:
    token = mint(private_key, tenant_id=scope.tenant_id, org_id=scope.org_id, role=role, email=email, **claims)
    return {"Authorization": f"Bearer {token}", "X-Tenant-ID": scope.tenant_id, "X-Org-ID": scope.org_id}


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
