"""Bulk-job payloads in Cloud Storage: one object per job, read back in per-batch byte ranges."""

from __future__ import annotations

from google.cloud import storage

from shared.adapters.google_errors import translated


class GcsPayloadStore:
    def __init__(self, client: storage.Client, bucket: str) -> None:
        self._bucket = client.bucket(bucket)

    def put_new(self, path: str, data: bytes) -> None:
        with translated("payload"):
            # if_generation_match=0: never overwrite a job's payload once written.
            self._bucket.blob(path).upload_from_string(data, content_type="application/json", if_generation_match=0)

    def read(self, path: str, start: int | None = None, end: int | None = None) -> bytes:
        with translated("payload"):
            blob = self._bucket.blob(path)
            if start is None:
                return bytes(blob.download_as_bytes())
            # The client's `end` is inclusive; ours is exclusive.
            return bytes(blob.download_as_bytes(start=start, end=(end or start) - 1))
