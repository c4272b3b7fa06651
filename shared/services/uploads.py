"""Upload use cases: hand out a signed URL a file of items is sent to, and tell whether it arrived."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.domain.models import UploadFormat
from shared.domain.tenancy import Principal, Scope
from shared.domain.uploads import CreatedUpload, StoredObject, Upload, UploadView
from shared.services.ports import UploadFiles, UploadStore


@dataclass(frozen=True)
class UploadPolicy:
    max_bytes: int
    url_ttl: timedelta


def upload_object(scope: Scope, upload_id: str) -> str:
    """Where an upload's bytes lie in the uploads bucket (the lifecycle rule expires `uploads/`)."""
    return f"uploads/{scope.tenant_id}/{scope.org_id}/{upload_id}"


def working_object(scope: Scope, job_id: str) -> str:
    """Where a planning of a job puts its working copy of the items (a JSON upload's items as JSON
    Lines): a name of its own each time, so that two plannings racing (a start delivered twice at
    once) never replace the copy the other one's job will read."""
    return f"jobs/{scope.tenant_id}/{scope.org_id}/{job_id}/items-{uuid.uuid4().hex}.jsonl"


@dataclass
class Uploads:
    uploads: UploadStore
    files: UploadFiles
    policy: UploadPolicy
    clock: Callable[[], datetime]

    def create(self, actor: Principal, filename: str, fmt: UploadFormat) -> CreatedUpload:
        upload_id = str(uuid.uuid4())
        now = self.clock()
        upload = Upload(
            id=upload_id,
            tenant_id=actor.scope.tenant_id,
            org_id=actor.scope.org_id,
            filename=filename,
            format=fmt,
            object=upload_object(actor.scope, upload_id),
            max_bytes=self.policy.max_bytes,
            created_by=actor.email,
            created_at=now,
            expires_at=now + self.policy.url_ttl,
        )
        url, headers = self.files.upload_url(upload.object, fmt.content_type, upload.max_bytes, self.policy.url_ttl)
        self.uploads.create(upload)
        view = upload_view(upload, None)
        return CreatedUpload(**view.model_dump(), upload_url=url, method="PUT", headers=headers)

    def get(self, upload_id: str) -> UploadView:
        upload = self.uploads.get(upload_id)
        return upload_view(upload, self.files.stat(upload.object))


def upload_view(upload: Upload, stored: StoredObject | None) -> UploadView:
    return UploadView(
        id=upload.id,
        format=upload.format,
        filename=upload.filename,
        arrived=stored is not None,
        bytes=stored.size if stored else None,
        max_bytes=upload.max_bytes,
        job_id=upload.job_id,
        created_at=upload.created_at,
        expires_at=upload.expires_at,
    )
