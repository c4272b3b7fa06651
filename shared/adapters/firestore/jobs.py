"""Firestore storage of one tenant's org: bulk jobs, their batch markers, and products.

Layout: tenants/{tenant}/orgs/{org}/bulk_jobs/{job}/batches/{index} and
tenants/{tenant}/orgs/{org}/products/{product}. The store is bound to one tenant and org when
created, so every path it can reach lies under them: another tenant's id is simply not found.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1 import FieldFilter, Increment

from shared.adapters.google_errors import translated
from shared.domain.bulk import BatchPlan, final_status
from shared.domain.models import BatchRange, BulkJob, ItemError, JobStatus, JobType, Page, Product
from shared.domain.tenancy import Scope
from shared.errors import ConflictError, FieldProblem, InvalidArgumentError, NotFoundError

JOB_ERRORS_KEPT = 100


class FirestoreTenantStore:
    """Implements JobStore and ProductStore for one tenant + org."""

    def __init__(self, client: firestore.Client, scope: Scope) -> None:
        self._client = client
        root = client.collection("tenants").document(scope.tenant_id).collection("orgs").document(scope.org_id)
        self._jobs = root.collection("bulk_jobs")
        self._products = root.collection("products")

    # --- bulk jobs -------------------------------------------------------------------------
    def create_job(self, job: BulkJob) -> None:
        with translated("bulk job"):
            self._jobs.document(job.id).create(job.model_dump(mode="python"))

    def get_job(self, job_id: str) -> BulkJob:
        with translated("bulk job"):
            snap = self._jobs.document(job_id).get()
        if not snap.exists:
            raise NotFoundError("bulk job not found")
        return BulkJob.model_validate(snap.to_dict())

    def list_jobs(self, job_type: JobType, limit: int, cursor: str | None) -> Page[BulkJob]:
        query = self._jobs.where(filter=FieldFilter("job_type", "==", job_type.value))
        docs = _newest_first(query, limit, cursor, "bulk jobs")
        return _page(BulkJob, docs, limit)

    def start_job(self, job_id: str, now: datetime) -> BulkJob:
        ref = self._jobs.document(job_id)

        @firestore.transactional
        def start(txn: firestore.Transaction) -> BulkJob:
            snap = ref.get(transaction=txn)
            if not snap.exists:
                raise NotFoundError("bulk job not found")
            job = BulkJob.model_validate(snap.to_dict())
            if job.status is not JobStatus.PENDING:
                return job
            changes = {
                "status": JobStatus.PROCESSING.value,
                "total_items": job.item_count,
                "started_at": now,
                "updated_at": now,
            }
            txn.update(ref, changes)
            return job.model_copy(update={**changes, "status": JobStatus.PROCESSING})

        with translated("bulk job"):
            started: BulkJob = start(self._client.transaction())
        return started

    def batch_done(self, job_id: str, batch_index: int) -> bool:
        with translated("bulk job batch"):
            return bool(self._marker(job_id, batch_index).get().exists)

    def commit_batch(self, job_id: str, batch: BatchRange, plan: BatchPlan, now: datetime) -> bool:
        marker = self._marker(job_id, batch.index)
        write = self._client.batch()
        # The marker's create() is the guard: if this batch was committed before, the whole
        # write is rejected and nothing is applied or counted twice.
        write.create(
            marker,
            {
                "index": batch.index,
                "first_item": batch.first_item,
                "processed": plan.processed,
                "failed": len(plan.errors),
                "has_errors": bool(plan.errors),
                "errors": [e.model_dump() for e in plan.errors],
                "committed_at": now,
            },
        )
        for change in plan.writes:
            ref = self._products.document(change.product_id)
            if change.kind == "create":
                write.create(ref, change.data)
            elif change.kind == "update":
                write.update(ref, change.data, option=self._client.write_option(last_update_time=change.version))
            else:
                write.delete(ref, option=self._client.write_option(last_update_time=change.version))
        write.update(
            self._jobs.document(job_id),
            {
                "processed_items": Increment(plan.processed),
                "failed_items": Increment(len(plan.errors)),
                "batches_done": Increment(1),
                "updated_at": now,
            },
        )
        try:
            with translated("bulk job batch"):
                write.commit()
        except ConflictError:
            if self.batch_done(job_id, batch.index):
                return False
            raise  # a product changed between our read and our write: retry the batch
        return True

    def finish_job_if_done(self, job_id: str, now: datetime) -> BulkJob:
        job = self.get_job(job_id)
        if job.status is not JobStatus.PROCESSING or job.batches_done < len(job.batches):
            return job  # only the batch that completes the job pays for a transaction
        errors = self._first_errors(job_id) if job.failed_items else []
        ref = self._jobs.document(job_id)

        @firestore.transactional
        def finish(txn: firestore.Transaction) -> BulkJob:
            current = BulkJob.model_validate(ref.get(transaction=txn).to_dict())
            if current.status is not JobStatus.PROCESSING:
                return current
            changes = {
                "status": final_status(current.processed_items, current.failed_items).value,
                "completed_at": now,
                "updated_at": now,
                "errors": [e.model_dump() for e in errors],
            }
            txn.update(ref, changes)
            return BulkJob.model_validate({**current.model_dump(), **changes})

        with translated("bulk job"):
            finished: BulkJob = finish(self._client.transaction())
        return finished

    def fail_job(self, job_id: str, reason: str, now: datetime) -> None:
        with translated("bulk job"):
            self._jobs.document(job_id).update(
                {
                    "status": JobStatus.FAILED.value,
                    "failure_reason": reason,
                    "completed_at": now,
                    "updated_at": now,
                }
            )

    def job_errors(self, job_id: str, limit: int, cursor: str | None) -> Page[ItemError]:
        # The cursor is (last item index returned, its batch): a page starts at that batch.
        after, from_batch = _decode_cursor(cursor, 2) if cursor else [-1, 0]
        if not isinstance(after, int) or not isinstance(from_batch, int):
            raise _invalid_cursor()
        query = (
            self._jobs.document(job_id)
            .collection("batches")
            .where(filter=FieldFilter("has_errors", "==", True))
            .where(filter=FieldFilter("index", ">=", from_batch))
            .order_by("index")
        )
        found: list[tuple[int, ItemError]] = []
        with translated("bulk job errors"):
            for snap in query.stream():
                found += [
                    (snap.get("index"), ItemError.model_validate(e)) for e in snap.get("errors") if e["index"] > after
                ]
                if len(found) > limit:
                    break
        page = found[:limit]
        next_cursor = _encode_cursor([page[-1][1].index, page[-1][0]]) if len(found) > limit else None
        return Page[ItemError](items=[e for _, e in page], next_cursor=next_cursor)

    def _first_errors(self, job_id: str) -> list[ItemError]:
        return self.job_errors(job_id, JOB_ERRORS_KEPT, None).items

    def _marker(self, job_id: str, batch_index: int) -> Any:
        return self._jobs.document(job_id).collection("batches").document(f"{batch_index:05d}")

    # --- products --------------------------------------------------------------------------
    def get_product(self, product_id: str) -> Product:
        with translated("product"):
            snap = self._products.document(product_id).get()
        if not snap.exists:
            raise NotFoundError("product not found")
        return Product.model_validate(snap.to_dict())

    def list_products(self, limit: int, cursor: str | None) -> Page[Product]:
        return _page(Product, _newest_first(self._products, limit, cursor, "products"), limit)

    def get_products(self, product_ids: list[str]) -> dict[str, tuple[Product, Any]]:
        if not product_ids:
            return {}
        refs = [self._products.document(pid) for pid in product_ids]
        with translated("products"):
            snaps = list(self._client.get_all(refs))
        return {s.id: (Product.model_validate(s.to_dict()), s.update_time) for s in snaps if s.exists}


def _newest_first(query: Any, limit: int, cursor: str | None, what: str) -> list[Any]:
    """Documents newest first, `limit + 1` of them so the caller knows whether more follow."""
    query = query.order_by("created_at", direction=firestore.Query.DESCENDING).order_by(
        "id", direction=firestore.Query.DESCENDING
    )
    if cursor:
        try:
            created_at, doc_id = _decode_cursor(cursor, 2)
            query = query.start_after({"created_at": datetime.fromisoformat(created_at), "id": doc_id})
        except (TypeError, ValueError) as exc:
            raise _invalid_cursor() from exc
    with translated(what):
        return list(query.limit(limit + 1).stream())


def _page(model: Any, docs: list[Any], limit: int) -> Page[Any]:
    items = [model.model_validate(d.to_dict()) for d in docs[:limit]]
    more = len(docs) > limit
    next_cursor = _encode_cursor([items[-1].created_at.isoformat(), items[-1].id]) if more else None
    return Page[Any](items=items, next_cursor=next_cursor)


def _encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, size: int) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise _invalid_cursor() from exc
    if not isinstance(values, list) or len(values) != size:
        raise _invalid_cursor()
    return values


def _invalid_cursor() -> InvalidArgumentError:
    return InvalidArgumentError("invalid cursor", [FieldProblem("cursor", "not a cursor of this list")])
