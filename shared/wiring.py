"""Composition root: builds the Google clients (lazily, once per process) and the services bound
to one tenant. Entrypoints ask this module for a service; nothing else constructs adapters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from google.cloud import firestore, storage, tasks_v2
from google.oauth2 import service_account

from shared.adapters.cloud_tasks import CloudTasksQueue
from shared.adapters.firestore.audit import FirestoreAuditStore
from shared.adapters.firestore.catalog import FirestoreCatalogStore
from shared.adapters.firestore.exports import FirestoreExportStore, FirestoreNotificationSettingsStore
from shared.adapters.firestore.idempotency import FirestoreIdempotencyStore
from shared.adapters.firestore.jobs import FirestoreJobStore
from shared.adapters.firestore.quality import FirestoreIssueStore
from shared.adapters.firestore.stats import FirestoreStatsStore
from shared.adapters.firestore.sweep import FirestoreSweepStore
from shared.adapters.firestore.uploads import FirestoreUploadStore
from shared.adapters.firestore.watchdog import FirestoreWatchdogStore
from shared.adapters.gcs_exports import GcsExportFiles
from shared.adapters.gcs_payloads import GcsPayloadStore
from shared.adapters.gcs_uploads import GcsUploadFiles
from shared.adapters.smtp_mail import SmtpMailer
from shared.adapters.webhooks import HttpWebhookSender, resolve
from shared.auth import TokenVerifier
from shared.domain.bulk import Pacing
from shared.domain.catalog import ATTRIBUTES, BRANDS, CATEGORIES, TEMPLATES
from shared.domain.tenancy import RunningLimit, Scope
from shared.services.attributes import AttributeGuard, Reevaluations, TemplateGuard
from shared.services.audit_log import AuditLog
from shared.services.bulk_jobs import BulkJobs, BulkLimits
from shared.services.bulk_processing import BulkJobProcessor
from shared.services.catalog import Catalog
from shared.services.exports import ExportPolicy, ExportProcessor, Exports
from shared.services.idempotency import Idempotency
from shared.services.job_notifications import JobNotifications
from shared.services.notification_settings import NotificationSettingsService
from shared.services.notifications import Notifier, NotifyPolicy
from shared.services.quality import Quality
from shared.services.reevaluation import Reevaluation
from shared.services.stats import Stats
from shared.services.sweep import Sweep
from shared.services.taxonomy import Taxonomy
from shared.services.uploads import UploadPolicy, Uploads
from shared.services.watchdog import Watchdog, WatchdogPolicy
from shared.settings import get_settings

EXPORT_DISPATCH_DEADLINE = timedelta(minutes=30)  # Cloud Tasks' longest; the export worker's timeout


def utc_now() -> datetime:
    return datetime.now(UTC)


@cache
def firestore_client() -> firestore.Client:
    # FIRESTORE_EMULATOR_HOST, when set, points the client at the emulator.
    return firestore.Client(project=get_settings().gcp_project)


@cache
def storage_client() -> storage.Client:
    # STORAGE_EMULATOR_HOST, when set, points the client at the emulator.
    return storage.Client(project=get_settings().gcp_project)


@cache
def tasks_client() -> tasks_v2.CloudTasksClient:
    host = get_settings().tasks_emulator_host
    if host:  # the Cloud Tasks client reads no emulator variable of its own
        import grpc
        from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

        return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=grpc.insecure_channel(host)))
    return tasks_v2.CloudTasksClient()


@cache
def token_verifier() -> TokenVerifier:
    return TokenVerifier(get_settings())


def task_queue() -> CloudTasksQueue:
    """The bulk-job queue."""
    s = get_settings()
    return _queue(s.tasks_queue, s.worker_url, s.worker_audience)


def export_queue() -> CloudTasksQueue:
    """The exports queue. Cloud Tasks waits 10 minutes for an answer by default; an export run may
    take longer."""
    s = get_settings()
    return _queue(s.exports_queue, s.export_worker_url, s.export_worker_audience, EXPORT_DISPATCH_DEADLINE)


def notify_queue() -> CloudTasksQueue:
    """The notifications queue: every delivery attempt of an export's or a job's announcement, to the
    export worker, on a queue of its own so that export runs (up to 30 minutes each) cannot hold them."""
    s = get_settings()
    return _queue(s.notify_queue, s.export_worker_url, s.export_worker_audience)


def _queue(
    queue: str, worker_url: str, audience: str | None, dispatch_deadline: timedelta | None = None
) -> CloudTasksQueue:
    s = get_settings()
    return CloudTasksQueue(
        tasks_client(),
        tasks_v2.CloudTasksClient.queue_path(s.gcp_project, s.tasks_location, queue),
        worker_url,
        service_account=s.tasks_service_account,
        task_token=s.task_auth_token,
        dispatch_deadline=dispatch_deadline,
        audience=audience,
    )


@cache
def url_signer() -> Any:
    path = get_settings().signing_key_file
    return service_account.Credentials.from_service_account_file(path) if path else None


def payload_store() -> GcsPayloadStore:
    return GcsPayloadStore(storage_client(), get_settings().payload_bucket)


def upload_files() -> GcsUploadFiles:
    s = get_settings()
    return GcsUploadFiles(storage_client(), s.upload_bucket, url_signer(), s.storage_public_url)


def uploads(scope: Scope) -> Uploads:
    s = get_settings()
    policy = UploadPolicy(max_bytes=s.upload_max_bytes, url_ttl=timedelta(seconds=s.upload_url_ttl_seconds))
    return Uploads(FirestoreUploadStore(firestore_client(), scope), upload_files(), policy, utc_now)


def bulk_limits() -> BulkLimits:
    s = get_settings()
    return BulkLimits(
        max_job_items=s.max_job_items,
        batch_max_items=s.batch_max_items,
        batch_max_bytes=s.batch_max_bytes,
        inline_payload_max_bytes=s.inline_payload_max_bytes,
        max_upload_items=s.max_upload_job_items,
        running=RunningLimit(s.tenant_max_running_jobs, s.tenant_limit_retry_after_seconds),
    )


def bulk_jobs(scope: Scope) -> BulkJobs:
    return BulkJobs(
        FirestoreJobStore(firestore_client(), scope),
        payload_store(),
        task_queue(),
        bulk_limits(),
        utc_now,
        uploads=FirestoreUploadStore(firestore_client(), scope),
        files=upload_files(),
        notices=notify_queue(),
    )


def bulk_job_processor(scope: Scope) -> BulkJobProcessor:
    s = get_settings()
    return BulkJobProcessor(
        FirestoreJobStore(firestore_client(), scope, stats_shards()),
        FirestoreCatalogStore(firestore_client(), scope),
        payload_store(),
        task_queue(),
        quality(scope),
        utc_now,
        s.batch_max_attempts,
        files=upload_files(),
        limits=bulk_limits(),
        notices=notify_queue(),
        max_in_flight=s.job_max_in_flight_batches,
        pacing=Pacing(s.tenant_ramp_start_products_per_second, s.tenant_max_products_per_second),
    )


def quality(scope: Scope) -> Quality:
    client = firestore_client()
    return Quality(
        scope, FirestoreCatalogStore(client, scope), FirestoreIssueStore(client, scope, stats_shards()), utc_now
    )


def sweep() -> Sweep:
    client = firestore_client()
    return Sweep(
        FirestoreSweepStore(client),
        quality,
        lambda scope: FirestoreIssueStore(client, scope),
        utc_now,
        min_interval=timedelta(hours=get_settings().sweep_min_interval_hours),
        counters_for=lambda scope: FirestoreStatsStore(client, scope, stats_shards()),
    )


def watchdog(tenant_ids: set[str] | None = None) -> Watchdog:
    """`tenant_ids` limits it to those tenants (tests)."""
    s = get_settings()
    client = firestore_client()
    policy = WatchdogPolicy(
        job_stall=timedelta(seconds=s.watchdog_job_stall_seconds),
        export_stall=timedelta(seconds=s.watchdog_export_stall_seconds),
        max_rescues=s.watchdog_max_rescues,
        max_in_flight=s.job_max_in_flight_batches,
    )
    return Watchdog(
        FirestoreWatchdogStore(client, tenant_ids),
        lambda scope: FirestoreJobStore(client, scope),
        lambda scope: FirestoreExportStore(client, scope),
        task_queue(),
        export_queue(),
        policy,
        utc_now,
        notify_tasks=notify_queue(),
    )


def catalog(scope: Scope) -> Catalog:
    return Catalog(FirestoreCatalogStore(firestore_client(), scope, stats_shards()), quality(scope), utc_now)


def brands(scope: Scope) -> Taxonomy:
    return Taxonomy(FirestoreCatalogStore(firestore_client(), scope), utc_now, BRANDS)


def categories(scope: Scope) -> Taxonomy:
    return Taxonomy(FirestoreCatalogStore(firestore_client(), scope), utc_now, CATEGORIES)


def attributes(scope: Scope) -> Taxonomy:
    store = FirestoreCatalogStore(firestore_client(), scope)
    return Taxonomy(store, utc_now, ATTRIBUTES, AttributeGuard(store, Reevaluations(scope, task_queue())))


def product_templates(scope: Scope) -> Taxonomy:
    store = FirestoreCatalogStore(firestore_client(), scope)
    return Taxonomy(store, utc_now, TEMPLATES, TemplateGuard(store, Reevaluations(scope, task_queue())))


def reevaluation(scope: Scope) -> Reevaluation:
    """Products re-evaluated after a definition or template changed, pages of them per task (bulk-job queue)."""
    store, settings = FirestoreCatalogStore(firestore_client(), scope), get_settings()
    return Reevaluation(
        scope,
        store,
        quality(scope),
        task_queue(),
        settings.reevaluation_page_size,
        settings.reevaluation_task_budget_seconds,
    )


def audit_log(scope: Scope) -> AuditLog:
    return AuditLog(FirestoreAuditStore(firestore_client(), scope))


def export_files() -> GcsExportFiles:
    s = get_settings()
    return GcsExportFiles(storage_client(), s.export_bucket, url_signer(), s.storage_public_url)


def export_policy() -> ExportPolicy:
    s = get_settings()
    return ExportPolicy(
        max_attempts=s.export_max_attempts,
        url_ttl=timedelta(seconds=s.export_url_ttl_seconds),
        notify_max_attempts=s.notify_max_attempts,
        notify_backoff_seconds=s.notify_backoff_seconds,
        notify_backoff_max_seconds=s.notify_backoff_max_seconds,
        running=RunningLimit(s.tenant_max_running_exports, s.tenant_limit_retry_after_seconds),
    )


def exports(scope: Scope) -> Exports:
    return Exports(
        scope, FirestoreExportStore(firestore_client(), scope), export_files(), export_queue(), export_policy(), utc_now
    )


def notifier(scope: Scope) -> Notifier:
    s = get_settings()
    return Notifier(
        FirestoreNotificationSettingsStore(firestore_client(), scope),
        HttpWebhookSender(s.webhook_allow_private, s.webhook_timeout_seconds),
        SmtpMailer(s.smtp_host, s.smtp_port, s.mail_from, s.smtp_username, s.smtp_password, s.smtp_starttls),
        NotifyPolicy(s.notify_max_attempts, s.notify_backoff_seconds, s.notify_backoff_max_seconds),
        utc_now,
    )


def job_notifications(scope: Scope) -> JobNotifications:
    return JobNotifications(
        scope, FirestoreJobStore(firestore_client(), scope), notifier(scope), notify_queue(), utc_now
    )


def export_processor(scope: Scope) -> ExportProcessor:
    s = get_settings()
    client = firestore_client()
    return ExportProcessor(
        scope,
        FirestoreExportStore(client, scope),
        FirestoreNotificationSettingsStore(client, scope),
        export_files(),
        export_queue(),
        HttpWebhookSender(s.webhook_allow_private, s.webhook_timeout_seconds),
        SmtpMailer(s.smtp_host, s.smtp_port, s.mail_from, s.smtp_username, s.smtp_password, s.smtp_starttls),
        export_policy(),
        utc_now,
        notices=notify_queue(),
        catalog=FirestoreCatalogStore(client, scope),
    )


def idempotency(scope: Scope) -> Idempotency:
    return Idempotency(FirestoreIdempotencyStore(firestore_client(), scope), utc_now)


def notification_settings(scope: Scope) -> NotificationSettingsService:
    return NotificationSettingsService(
        FirestoreNotificationSettingsStore(firestore_client(), scope),
        get_settings().webhook_allow_private,
        resolve,
        utc_now,
    )


def reset() -> None:
    """Forget cached clients and settings (tests that change the environment call this)."""
    for cached in (firestore_client, storage_client, tasks_client, token_verifier, url_signer, get_settings):
        cached.cache_clear()


def stats_shards() -> int:
    """Shards of the catalog counters: the stores that commit counted writes spread them over these."""
    return get_settings().stats_shards


def stats(scope: Scope) -> Stats:
    client = firestore_client()
    return Stats(scope, FirestoreStatsStore(client, scope), FirestoreExportStore(client, scope), utc_now)
