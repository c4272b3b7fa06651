"""Composition root: builds the Google clients (lazily, once per process) and the services bound
to one tenant. Entrypoints ask this module for a service; nothing else constructs adapters."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from google.cloud import firestore, storage, tasks_v2

from shared.adapters.cloud_tasks import CloudTasksQueue
from shared.adapters.firestore.audit import FirestoreAuditStore
from shared.adapters.firestore.catalog import FirestoreCatalogStore
from shared.adapters.firestore.jobs import FirestoreJobStore
from shared.adapters.firestore.quality import FirestoreIssueStore
from shared.adapters.firestore.sweep import FirestoreSweepStore
from shared.adapters.gcs_payloads import GcsPayloadStore
from shared.auth import TokenVerifier
from shared.domain.catalog import BRANDS, CATEGORIES
from shared.domain.tenancy import Scope
from shared.services.audit_log import AuditLog
from shared.services.bulk_jobs import BulkJobs, BulkLimits
from shared.services.bulk_processing import BulkJobProcessor
from shared.services.catalog import Catalog
from shared.services.quality import Quality
from shared.services.sweep import Sweep
from shared.services.taxonomy import Taxonomy
from shared.settings import get_settings


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
    s = get_settings()
    return CloudTasksQueue(
        tasks_client(),
        tasks_v2.CloudTasksClient.queue_path(s.gcp_project, s.tasks_location, s.tasks_queue),
        s.worker_url,
        service_account=s.tasks_service_account,
        task_token=s.task_auth_token,
    )


def payload_store() -> GcsPayloadStore:
    return GcsPayloadStore(storage_client(), get_settings().payload_bucket)


def bulk_jobs(scope: Scope) -> BulkJobs:
    s = get_settings()
    limits = BulkLimits(
        max_job_items=s.max_job_items,
        batch_max_items=s.batch_max_items,
        batch_max_bytes=s.batch_max_bytes,
        inline_payload_max_bytes=s.inline_payload_max_bytes,
    )
    return BulkJobs(FirestoreJobStore(firestore_client(), scope), payload_store(), task_queue(), limits, utc_now)


def bulk_job_processor(scope: Scope) -> BulkJobProcessor:
    return BulkJobProcessor(
        FirestoreJobStore(firestore_client(), scope),
        FirestoreCatalogStore(firestore_client(), scope),
        payload_store(),
        task_queue(),
        quality(scope),
        utc_now,
    )


def quality(scope: Scope) -> Quality:
    client = firestore_client()
    return Quality(scope, FirestoreCatalogStore(client, scope), FirestoreIssueStore(client, scope), utc_now)


def sweep() -> Sweep:
    client = firestore_client()
    return Sweep(FirestoreSweepStore(client), quality, lambda scope: FirestoreIssueStore(client, scope), utc_now)


def catalog(scope: Scope) -> Catalog:
    return Catalog(FirestoreCatalogStore(firestore_client(), scope), quality(scope), utc_now)


def brands(scope: Scope) -> Taxonomy:
    return Taxonomy(FirestoreCatalogStore(firestore_client(), scope), utc_now, BRANDS)


def categories(scope: Scope) -> Taxonomy:
    return Taxonomy(FirestoreCatalogStore(firestore_client(), scope), utc_now, CATEGORIES)


def audit_log(scope: Scope) -> AuditLog:
    return AuditLog(FirestoreAuditStore(firestore_client(), scope))


def reset() -> None:
    """Forget cached clients and settings (tests that change the environment call this)."""
    for cached in (firestore_client, storage_client, tasks_client, token_verifier, get_settings):
        cached.cache_clear()
