"""Upload records in Firestore, under the tenant's root."""

from __future__ import annotations

from google.cloud import firestore

from shared.adapters.firestore.base import TenantRoot
from shared.adapters.google_errors import translated
from shared.domain.tenancy import Scope
from shared.domain.uploads import Upload
from shared.errors import NotFoundError

UPLOADS = "uploads"


class FirestoreUploadStore:
    """Implements UploadStore for one tenant + org."""

    def __init__(self, client: firestore.Client, scope: Scope) -> None:
        self._uploads = TenantRoot(client, scope).collection(UPLOADS)

    def create(self, upload: Upload) -> None:
        with translated("upload"):
            self._uploads.document(upload.id).create(upload.model_dump(mode="python"))

    def get(self, upload_id: str) -> Upload:
        with translated("upload"):
            snap = self._uploads.document(upload_id).get()
        if not snap.exists:
            raise NotFoundError("upload not found")
        return Upload.model_validate(snap.to_dict())
