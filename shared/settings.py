"""One typed settings object, read from the environment once and validated at start."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every variable the functions read. The README documents each one."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    gcp_project: str = Field("synq-local", description="Google Cloud project id.")
    payload_bucket: str = Field("synq-local-payloads", description="Bucket for bulk-job payloads.")

    tasks_location: str = Field("us-central1", description="Cloud Tasks location.")
    tasks_queue: str = Field("bulk-jobs", description="Cloud Tasks queue for bulk-job work.")
    tasks_emulator_host: str | None = Field(
        None, description="host:port of a Cloud Tasks emulator (the client has no env var of its own)."
    )
    worker_url: str = Field(
        "http://127.0.0.1:8080/_tasks/bulk-jobs", description="URL Cloud Tasks calls to process bulk-job work."
    )
    tasks_service_account: str | None = Field(
        None, description="Service account whose OIDC token Cloud Tasks attaches to worker calls."
    )
    worker_audience: str | None = Field(
        None,
        description="Audience of the OIDC token Cloud Tasks attaches to bulk-job tasks: the worker's service "
        "URL (unset: the scheme and host of WORKER_URL).",
    )
    task_auth_token: str | None = Field(
        None, description="Shared secret the worker requires in X-Synq-Task-Token (unset: not checked)."
    )

    auth_header: str = Field(
        "Authorization",
        description="Header carrying the caller's bearer token: behind API Gateway with backend auth, "
        "X-Forwarded-Authorization (the gateway puts its own token in Authorization).",
    )
    auth_issuer: str = Field("synq-local", description="Expected `iss` of bearer tokens.")
    auth_audience: str = Field("synq-pim", description="Expected `aud` of bearer tokens.")
    auth_jwks_url: str | None = Field(None, description="JWKS URL of the token issuer (production).")
    auth_public_key_file: str | None = Field(
        None, description="PEM public key verifying RS256 tokens (local stack and tests)."
    )

    max_body_bytes: int = Field(10_000_000, description="Largest accepted request body (413 above).")
    # Each item writes its product and its audit event; with the batch marker and the job's
    # counters, 249 items make 500 writes, the most one Firestore commit should carry.
    batch_max_items: int = Field(249, ge=1, le=249, description="Items per bulk-job batch (one commit).")
    batch_max_bytes: int = Field(4_000_000, ge=1024, description="Payload bytes per bulk-job batch.")
    inline_payload_max_bytes: int = Field(
        256 * 1024, description="Payloads up to this size are also kept on the job document."
    )
    max_job_items: int = Field(100_000, ge=1, description="Most items one bulk job's inline payload may carry.")

    # --- staged uploads (files of items a job is made from) ---
    upload_bucket: str = Field("synq-local-uploads", description="Bucket for uploaded files and their working copies.")
    upload_max_bytes: int = Field(2 * 1024**3, ge=1, description="Largest file an upload URL accepts (bytes).")
    upload_url_ttl_seconds: int = Field(
        3600, ge=60, le=7 * 24 * 3600, description="Life of an upload's signed PUT URL (V4: 7 days at most)."
    )
    max_upload_job_items: int = Field(1_000_000, ge=1, description="Most items one job made from an upload may carry.")
    # The queues must allow more attempts than this (infra/config.sh), or the last one never runs.
    batch_max_attempts: int = Field(
        10,
        ge=1,
        description="Deliveries of one bulk-job task before it gives up: a batch's items are then "
        "recorded NOT_APPLIED, a start fails its job.",
    )
    job_max_in_flight_batches: int = Field(
        2,
        ge=1,
        description="Batches of one bulk job queued or running at once: a job starts this many and each batch "
        "queues the one this many places after it, so one tenant's large job never fills the queue.",
    )
    tenant_ramp_start_products_per_second: float = Field(
        250,
        gt=0,
        description="Products/s a tenant's jobs may write in its first 5 minutes (500/50/5 ramp: 500 ops/s on a "
        "new collection, 2 per product); the rate grows by half every 5 minutes.",
    )
    tenant_max_products_per_second: float = Field(
        450,
        gt=0,
        description="Products/s one bulk job may write at most, once ramped (a margin under the 500 writes/s "
        "a timestamp-led index takes).",
    )
    reevaluation_page_size: int = Field(
        300,
        ge=1,
        le=1000,
        description="Products a re-evaluation task reads and judges at a time after an attribute definition or a "
        "product template changed (one page in memory at a time).",
    )
    reevaluation_task_budget_seconds: float = Field(
        60,
        gt=0,
        le=480,
        description="A re-evaluation task streams page after page from one query until this is spent, then "
        "queues its successor from where it stopped (well under the worker's 540 s timeout: the page in hand "
        "still finishes).",
    )
    sweep_min_interval_hours: float = Field(
        24,
        ge=0,
        description="The validation sweep starts a new pass of every catalog no sooner than this after the last "
        "one ended (0: back to back). Writes are evaluated as they happen; the sweep catches what they missed.",
    )
    stats_shards: int = Field(
        16,
        ge=1,
        le=500,
        description="Counter documents per tenant and org behind GET /stats, summed on read. Each commit that "
        "changes a counted value increments one (chosen by the document it writes), so a large import's "
        "batches do not all write one document.",
    )

    # --- exports and notifications ---
    export_bucket: str = Field("synq-local-exports", description="Bucket export files are written to.")
    exports_queue: str = Field("exports", description="Cloud Tasks queue for export runs.")
    notify_queue: str = Field(
        "notifications",
        description="Cloud Tasks queue for notification attempts (of exports and bulk jobs), so that long export "
        "runs never hold them; its tasks go to the export worker.",
    )
    export_worker_url: str = Field(
        "http://127.0.0.1:8081/_tasks/exports", description="URL Cloud Tasks calls to run exports and notify."
    )
    export_worker_audience: str | None = Field(
        None,
        description="Audience of the OIDC token on export tasks: the export worker's service URL (unset: the "
        "scheme and host of EXPORT_WORKER_URL).",
    )
    export_max_attempts: int = Field(3, ge=1, description="Runs of one export before it is marked FAILED.")
    export_url_ttl_seconds: int = Field(
        3600, ge=60, le=7 * 24 * 3600, description="Life of an export's signed download URL (V4: 7 days at most)."
    )
    signing_key_file: str | None = Field(
        None,
        description="Service-account JSON key that signs download URLs (local stack). Unset: signed "
        "through IAM as the function's own service account.",
    )
    storage_public_url: str | None = Field(
        None, description="Base URL download links point at (local: the storage emulator; unset: Google's)."
    )
    notify_max_attempts: int = Field(6, ge=1, description="Delivery attempts per export event before FAILED.")
    notify_backoff_seconds: float = Field(
        30.0, gt=0, description="Wait after a failed delivery attempt; doubles each attempt."
    )
    notify_backoff_max_seconds: float = Field(900.0, gt=0, description="Longest wait between delivery attempts.")
    webhook_timeout_seconds: float = Field(10.0, gt=0, description="Deadline of one whole webhook attempt.")
    webhook_allow_private: bool = Field(
        False,
        description="Accept http:// webhook URLs and private or loopback addresses (local stack only: "
        "in production a webhook URL must be https and resolve to public addresses).",
    )
    smtp_host: str | None = Field(None, description="Mail server for email notifications (unset: email fails).")
    # 587 (submission) with STARTTLS: Google Cloud blocks outbound port 25.
    smtp_port: int = Field(587, description="Mail server port; 465 means implicit TLS.")
    smtp_username: str | None = Field(None, description="Mail server login, if it needs one.")
    smtp_password: str | None = Field(None, description="Mail server password.")
    smtp_starttls: bool = Field(
        True, description="Upgrade the mail connection with STARTTLS (refused for good if the server lacks it)."
    )
    mail_from: str = Field("Synq PIM <no-reply@synq.local>", description="From address of notification emails.")

    # --- per-tenant limits (fairness: one tenant cannot fill the queues) ---
    tenant_max_running_jobs: int = Field(
        2,
        ge=1,
        description="Bulk jobs (dry runs included) a tenant may have PENDING or PROCESSING at once; POST "
        "/bulk-jobs answers one more with 429 and Retry-After.",
    )
    tenant_max_running_exports: int = Field(
        1,
        ge=1,
        description="Exports a tenant may have QUEUED or RUNNING at once; POST /exports answers one more with 429 "
        "and Retry-After.",
    )
    tenant_limit_retry_after_seconds: int = Field(
        30, ge=1, description="The Retry-After of a 429 from a per-tenant limit (seconds)."
    )

    # --- the job watchdog (scheduled): jobs and exports whose tasks were lost ---
    watchdog_job_stall_seconds: int = Field(
        600,
        ge=60,
        description="A bulk job PENDING or PROCESSING, or a notification past its next attempt, silent this long "
        "is rescued.",
    )
    # Above the export run's 30-minute dispatch deadline: a long but healthy run writes nothing until it ends.
    watchdog_export_stall_seconds: int = Field(
        2700, ge=1800, description="An export QUEUED or RUNNING silent this long is rescued."
    )
    watchdog_max_rescues: int = Field(
        3, ge=0, description="Rescues of one job, export or notification before it is recorded FAILED."
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
