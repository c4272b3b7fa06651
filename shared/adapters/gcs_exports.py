"""Export files in Cloud Storage: streamed in by a resumable upload, published by a server-side
copy, handed out by V4 signed URLs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from google.cloud import storage

from shared.adapters.gcs_signing import signed_url
from shared.adapters.google_errors import translated
from shared.errors import NotFoundError

# A resumable upload sends the file in chunks of this size, so memory holds one chunk at most.
UPLOAD_CHUNK_BYTES = 8 * 1024 * 1024


class GcsExportFiles:
    """Implements ExportFiles on one bucket.

    `signer`: credentials holding a private key (the local stack's throwaway key). Without one,
    URLs are signed through IAM as the function's own service account, which then needs
    roles/iam.serviceAccountTokenCreator on itself.
    """

    def __init__(self, client: storage.Client, bucket: str, signer: Any = None, public_url: str | None = None) -> None:
        self.bucket = bucket
        self._client = client
        self._bucket = client.bucket(bucket)
        self._signer = signer
        self._public_url = public_url

    def write(self, path: str, content_type: str, chunks: Iterable[bytes]) -> int:
        size = 0
        blob = self._bucket.blob(path)
        # Leaving the block by an exception cancels the upload: no partial object appears.
        with (
            translated("export file"),
            blob.open("wb", chunk_size=UPLOAD_CHUNK_BYTES, content_type=content_type) as out,
        ):
            for chunk in chunks:
                out.write(chunk)
                size += len(chunk)
        return size

    def publish(self, staged: str, path: str, filename: str) -> None:
        source = self._bucket.blob(staged)
        target = self._bucket.blob(path)
        target.content_disposition = f'attachment; filename="{filename}"'
        with translated("export file"):
            source.reload()
            target.content_type = source.content_type
            token = None
            while True:  # a large object may take several rewrite calls
                token, _, _ = target.rewrite(source, token=token)
                if token is None:
                    return

    def delete(self, path: str) -> None:
        with contextlib.suppress(NotFoundError), translated("export file"):
            self._bucket.blob(path).delete()

    def signed_url(self, path: str, ttl: timedelta) -> str:
        with translated("export file"):
            blob = self._bucket.blob(path)
            return signed_url(blob, self._client, ttl, "GET", signer=self._signer, public_url=self._public_url)
