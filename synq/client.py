"""A small typed client of the Synq PIM bulk-operations API, used by the `synq` command, the
benchmarks and the end-to-end tests.

It speaks the public API only (the same calls any integration makes). Creating calls carry an
`Idempotency-Key`, so a call that timed out is retried without creating a second job or export.
"""

from __future__ import annotations

import heapq
import itertools
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, TypeVar

import requests
from pydantic import BaseModel, ConfigDict, ValidationError

API = "/api/v1/pim"
JobType = Literal["BULK_IMPORT", "BULK_UPDATE", "BULK_DELETE"]
JOB_TYPES: tuple[JobType, ...] = ("BULK_IMPORT", "BULK_UPDATE", "BULK_DELETE")
FINAL_JOB_STATUSES = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
FINAL_EXPORT_STATUSES = frozenset({"COMPLETED", "FAILED"})
# Answers worth the same request again (with the same idempotency key for a creating call).
RETRIED_STATUSES = frozenset({429, 502, 503, 504})
ATTEMPTS = 4
CHUNK = 1024 * 1024


class SynqError(Exception):
    """Any failure the caller should show as one line: an API error answer or no answer at all."""

    def __init__(self, message: str, code: str = "CLIENT_ERROR", status: int | None = None) -> None:
        super().__init__(message)
        self.message, self.code, self.status = message, code, status

    def __str__(self) -> str:
        return f"{self.message} (HTTP {self.status} {self.code})" if self.status else self.message


class _Resource(BaseModel):
    # Fields the API adds later are kept, not refused: an older client keeps working.
    model_config = ConfigDict(extra="allow")


R = TypeVar("R", bound=_Resource)


def _parse(model: type[R], data: Any) -> R:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise SynqError(f"unexpected answer from the API: {exc.errors()[0]['msg']}", "BAD_ANSWER") from exc


class Job(_Resource):
    id: str
    job_type: str
    status: str
    total_items: int | None = None  # known once the job is planned
    processed_items: int = 0
    failed_items: int = 0
    failure_reason: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINAL_JOB_STATUSES

    @property
    def done_items(self) -> int:
        return self.processed_items + self.failed_items


class Export(_Resource):
    id: str
    status: str
    format: str
    row_count: int | None = None
    excluded_count: int | None = None
    size_bytes: int | None = None
    download_url: str | None = None
    failure_reason: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINAL_EXPORT_STATUSES


class Upload(_Resource):
    id: str
    format: str
    upload_url: str
    method: str = "PUT"
    headers: dict[str, str] = {}
    max_bytes: int | None = None


@dataclass(frozen=True)
class Config:
    url: str
    token: str
    tenant_id: str
    org_id: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, **given: str | None) -> Config:
        """Flags win over SYNQ_URL, SYNQ_TOKEN, SYNQ_TENANT_ID and SYNQ_ORG_ID."""
        values = {name: given.get(name) or environ.get(f"SYNQ_{name.upper()}", "") for name in _FIELDS}
        missing = [f"SYNQ_{name.upper()}" for name, value in values.items() if not value]
        if missing:
            raise SynqError(f"missing configuration: set {', '.join(missing)} (or pass the flags)", "CONFIG")
        return cls(**values)


_FIELDS = ("url", "token", "tenant_id", "org_id")


class SynqClient:
    def __init__(self, config: Config, timeout: float = 30.0, session: requests.Session | None = None) -> None:
        self.base = config.url.rstrip("/")
        self.timeout = timeout
        self.http = session or requests.Session()
        self.http.headers.update(
            {"Authorization": f"Bearer {config.token}", "X-Tenant-ID": config.tenant_id, "X-Org-ID": config.org_id}
        )

    # --- bulk jobs

    def create_job(
        self,
        job_type: JobType,
        *,
        payload: list[Any] | None = None,
        upload_id: str | None = None,
        dry_run: bool = False,
        idempotency_key: str | None = None,
    ) -> Job:
        body: dict[str, Any] = {"job_type": job_type}
        if upload_id is not None:
            body["upload_id"] = upload_id
        else:
            body["payload"] = payload
        if dry_run:
            body["dry_run"] = True
        return _parse(Job, self._create("/bulk-jobs", body, idempotency_key))

    def get_job(self, job_id: str) -> Job:
        return _parse(Job, self._json("GET", f"/bulk-jobs/{job_id}"))

    def list_jobs(self, job_type: str | None = None, limit: int = 100) -> Iterator[dict[str, Any]]:
        """Jobs newest first; of every type unless one is given (the API lists one type at a
        time, so the three listings are merged)."""
        if job_type is not None:
            return self._pages("/bulk-jobs", {"job_type": job_type}, limit)
        listings = [self._pages("/bulk-jobs", {"job_type": t}, limit) for t in JOB_TYPES]
        newest_first = heapq.merge(*listings, key=lambda job: job["created_at"], reverse=True)
        return itertools.islice(newest_first, limit)

    def job_errors(self, job_id: str, limit: int = 100_000) -> Iterator[dict[str, Any]]:
        return self._pages(f"/bulk-jobs/{job_id}/errors", {}, limit)

    def job_errors_csv(self, job_id: str) -> bytes:
        """The failed items as a CSV a merchant can fix and upload again."""
        return self._request("GET", f"/bulk-jobs/{job_id}/errors", params={"format": "csv"}).content

    def cancel_job(self, job_id: str) -> Job:
        return _parse(Job, self._json("POST", f"/bulk-jobs/{job_id}/cancel"))

    def wait_for_job(
        self, job_id: str, on_progress: Callable[[Job], None] = lambda _: None, interval: float = 1.0
    ) -> Job:
        """Poll until the job reaches a final status, telling `on_progress` each reading. It reads
        the newest page of the job's type, not the job itself, which would carry its whole payload
        (up to 10 MB) each time; a job no longer on that page is read by id."""
        job = self.get_job(job_id)
        while True:
            on_progress(job)
            if job.finished:
                return job
            time.sleep(interval)
            page = self._json("GET", "/bulk-jobs", params={"job_type": job.job_type, "limit": 100})["items"]
            found = next((j for j in page if j.get("id") == job_id), None)
            job = _parse(Job, found) if found is not None else self.get_job(job_id)

    # --- staged uploads

    def create_upload(self, filename: str, file_format: str, idempotency_key: str | None = None) -> Upload:
        body = {"filename": filename, "format": file_format}
        return _parse(Upload, self._create("/uploads", body, idempotency_key))

    def send_upload(self, upload: Upload, file: IO[bytes], on_bytes: Callable[[int], None] = lambda _: None) -> None:
        """The file's bytes straight to storage, at the signed URL the API gave (no token: the URL
        is the permission), streamed with its length declared."""
        body = _CountingReader(file, os.fstat(file.fileno()).st_size, on_bytes)
        try:
            resp = requests.request(upload.method, upload.upload_url, data=body, headers=upload.headers, timeout=300)
        except requests.RequestException as exc:
            raise SynqError(f"upload to storage failed: {type(exc).__name__}", "UPLOAD_FAILED") from exc
        if resp.status_code >= 300:
            raise SynqError(f"storage refused the upload: {resp.text[:200]}", "UPLOAD_REFUSED", resp.status_code)

    def upload_file(self, path: Path, file_format: str, on_bytes: Callable[[int], None] = lambda _: None) -> Upload:
        upload = self.create_upload(path.name, file_format, idempotency_key=str(uuid.uuid4()))
        with path.open("rb") as file:
            self.send_upload(upload, file, on_bytes)
        return upload

    # --- exports

    def create_export(self, export_format: str = "CSV", idempotency_key: str | None = None) -> Export:
        return _parse(Export, self._create("/exports", {"format": export_format}, idempotency_key))

    def get_export(self, export_id: str) -> Export:
        return _parse(Export, self._json("GET", f"/exports/{export_id}"))

    def wait_for_export(
        self, export_id: str, on_progress: Callable[[Export], None] = lambda _: None, interval: float = 1.0
    ) -> Export:
        while True:
            export = self.get_export(export_id)
            on_progress(export)
            if export.finished:
                return export
            time.sleep(interval)

    def download(self, url: str, dest: Path, on_bytes: Callable[[int, int | None], None] = lambda *_: None) -> int:
        """The file at a signed download URL into `dest`; the bytes written. Written beside `dest`
        first, so an interrupted download never leaves a truncated file under the name asked for."""
        partial = dest.with_name(dest.name + ".part")
        written = 0
        try:
            with requests.get(url, stream=True, timeout=self.timeout) as resp:
                if resp.status_code != 200:
                    raise SynqError(f"download refused: {resp.text[:200]}", "DOWNLOAD_FAILED", resp.status_code)
                total = int(resp.headers["Content-Length"]) if "Content-Length" in resp.headers else None
                with partial.open("wb") as out:
                    for chunk in resp.iter_content(CHUNK):
                        out.write(chunk)
                        written += len(chunk)
                        on_bytes(written, total)
        except requests.RequestException as exc:
            partial.unlink(missing_ok=True)
            raise SynqError(f"download failed: {type(exc).__name__}", "DOWNLOAD_FAILED") from exc
        partial.replace(dest)
        return written

    # --- listings

    def list_products(self, limit: int = 100) -> Iterator[dict[str, Any]]:
        return self._pages("/products", {}, limit)

    def list_issues(
        self, severity: str | None = None, code: str | None = None, product_id: str | None = None, limit: int = 100
    ) -> Iterator[dict[str, Any]]:
        return self._pages("/validation-issues", {"severity": severity, "code": code, "product_id": product_id}, limit)

    def list_audit_events(
        self,
        resource_id: str | None = None,
        resource_type: str | None = None,
        action: str | None = None,
        limit: int = 100,
    ) -> Iterator[dict[str, Any]]:
        query = {"resource_id": resource_id, "resource_type": resource_type, "action": action}
        return self._pages("/audit-logs", query, limit)

    # --- transport

    def _pages(self, path: str, query: dict[str, str | None], limit: int) -> Iterator[dict[str, Any]]:
        """Up to `limit` items, following cursors page by page."""
        params: dict[str, Any] = {k: v for k, v in query.items() if v is not None}
        left = limit
        while left > 0:
            page = self._json("GET", path, params={**params, "limit": min(left, 100)})
            items = page["items"][:left]
            yield from items
            left -= len(items)
            if not page.get("next_cursor") or not items:
                return
            params["cursor"] = page["next_cursor"]

    def _create(self, path: str, body: dict[str, Any], idempotency_key: str | None) -> Any:
        key = idempotency_key or str(uuid.uuid4())
        return self._json("POST", path, json=body, headers={"Idempotency-Key": key})

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, path, **kwargs).json()

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One API call. Reads, and creations carrying an idempotency key, are retried when the
        service is briefly unavailable or the connection fails; any other error answer raises."""
        retried = method == "GET" or "Idempotency-Key" in kwargs.get("headers", {})
        for attempt in range(1, ATTEMPTS + 1):
            try:
                resp = self.http.request(method, f"{self.base}{API}{path}", timeout=self.timeout, **kwargs)
            except requests.RequestException as exc:
                if retried and attempt < ATTEMPTS:
                    time.sleep(_backoff(attempt, None))
                    continue
                raise SynqError(f"no answer from {self.base}: {type(exc).__name__}", "UNREACHABLE") from exc
            if resp.status_code in RETRIED_STATUSES and retried and attempt < ATTEMPTS:
                time.sleep(_backoff(attempt, resp.headers.get("Retry-After")))
                continue
            if resp.status_code >= 400:
                raise _error(resp)
            return resp
        raise AssertionError("unreachable")  # the last attempt returns or raises


class _CountingReader:
    """A file as a request body: its length known (so it is sent with Content-Length, not
    chunked), each read told to `on_bytes`."""

    def __init__(self, file: IO[bytes], size: int, on_bytes: Callable[[int], None]) -> None:
        self.file, self.size, self.on_bytes = file, size, on_bytes

    def __len__(self) -> int:
        return self.size

    def read(self, n: int = -1) -> bytes:
        chunk = self.file.read(n)
        self.on_bytes(len(chunk))
        return chunk


def _backoff(attempt: int, retry_after: str | None) -> float:
    if retry_after and retry_after.isdigit():
        return min(float(retry_after), 30.0)
    return 0.5 * 2.0 ** (attempt - 1)


def _error(resp: requests.Response) -> SynqError:
    """The API's `{"error", "code", "details"}` as one line; anything else (a proxy's page) as
    its first 200 characters."""
    try:
        body = resp.json()
        details = "; ".join(f"{d['field']}: {d['problem']}" for d in body.get("details") or [])
        message = f"{body['error']}: {details}" if details else str(body["error"])
        return SynqError(message, str(body["code"]), resp.status_code)
    except (ValueError, KeyError, TypeError, AttributeError):
        return SynqError(resp.text[:200] or resp.reason, "HTTP_ERROR", resp.status_code)
