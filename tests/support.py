"""Helpers the test tiers share: tokens, headers, tenants, waiting for a job, racing calls."""

from __future__ import annotations

import datetime as dt
import ipaddress
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from local.tokens import mint
from shared.domain.tenancy import Scope

FIXTURES = Path(__file__).parent / "fixtures"
T = TypeVar("T")


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


def concurrently(*calls: Callable[[], T], timeout: float = 120.0) -> list[T | BaseException]:
    """Run every call in a thread of its own, all at once; what each returned or raised, in call
    order. Where the calls must meet (to be sure they overlap) is the caller's barrier's business."""
    results: list[T | BaseException | None] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test, which judges it
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
        assert not t.is_alive(), f"a concurrent call did not return within {timeout}s"
    return results  # type: ignore[return-value]


def retried(exc: BaseException) -> bool:
    """Whether Cloud Tasks delivers a task again after the worker raised `exc` (answered 503).
    The Firestore client gives up on a contended transaction after 5 attempts with a plain
    ValueError, which the worker answers 500; Cloud Tasks retries that too."""
    from shared.errors import ConflictError, UnavailableError

    return isinstance(exc, UnavailableError | ConflictError) or (
        isinstance(exc, ValueError) and "Failed to commit transaction" in str(exc)
    )


def deliver(handle: Callable[[Any], str], task: Any, attempts: int = 5) -> str:
    """One task as Cloud Tasks delivers it: again after a failure it retries, at most `attempts`
    times; what the last delivery answered."""
    for attempt in range(1, attempts + 1):
        try:
            return handle(task)
        except Exception as exc:
            if attempt == attempts or not retried(exc):
                raise
    raise AssertionError("unreachable")


def self_signed_certificate(folder: Path, *addresses: str) -> tuple[Path, Path]:
    """A self-signed certificate for `localhost` (and the IP `addresses` given): (certificate, key)
    PEM files in `folder`, for TLS receivers on the loopback."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    alt_names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    alt_names += [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path
