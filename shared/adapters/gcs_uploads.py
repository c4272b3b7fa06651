"""Uploaded files in Cloud Storage: written by clients through V4 signed PUT URLs, read by the
bulk-job worker streamed (planning) or by byte range (batches), always at the generation the job
was made from, so a file uploaded again under the same URL cannot change a job's items."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any

from google.cloud import storage

from shared.adapters.gcs_signing import signed_url
from shared.adapters.google_errors import translated
from shared.domain.uploads import StoredObject

# Planning reads the file this much at a time: the worker holds a few chunks at most, whatever the
# file's size (measured in docs/benchmarks.md).
READ_CHUNK_BYTES = 1024 * 1024
UPLOAD_CHUNK_BYTES = 8 * 1024 * 1024


class GcsUploadFiles:
    """Implements UploadFiles on the uploads bucket."""

    def __init__(self, client: storage.Client, bucket: str, signer: Any = None, public_url: str | None = None) -> None:
        self._client = client
        self._bucket = client.bucket(bucket)
        self._signer = signer
        self._public_url = public_url

    def upload_url(self, path: str, content_type: str, max_bytes: int, ttl: timedelta) -> tuple[str, dict[str, str]]:
        # Both headers are signed: Cloud Storage refuses a PUT without them, or one over max_bytes.
        headers = {"Content-Type": content_type, "x-goog-content-length-range": f"0,{max_bytes}"}
        with translated("upload"):
            url = signed_url(
                self._bucket.blob(path),
                self._client,
                ttl,
                "PUT",
                signer=self._signer,
                public_url=self._public_url,
                headers=headers,
            )
        return url, headers

    def stat(self, path: str) -> StoredObject | None:
        with translated("upload"):
            blob = self._bucket.get_blob(path)
        if blob is None or blob.size is None or blob.generation is None:
            return None
        return StoredObject(int(blob.size), int(blob.generation))

    def chunks(self, path: str, generation: int) -> Iterator[bytes]:
        """The whole object, streamed in chunks (NotFoundError if that generation is gone)."""
        blob = self._bucket.blob(path, generation=generation)
        with translated("upload"), blob.open("rb", chunk_size=READ_CHUNK_BYTES) as stream:
            while chunk := stream.read(READ_CHUNK_BYTES):
                yield chunk

    def read(self, path: str, generation: int, start: int, end: int) -> bytes:
        """Bytes [start, end) of the object at that generation."""
        with translated("upload"):
            # The client's `end` is inclusive; ours is exclusive.
            return bytes(self._bucket.blob(path, generation=generation).download_as_bytes(start=start, end=end - 1))

    def write(self, path: str, chunks: Iterable[bytes]) -> int:
        """Stream `chunks` into the object (visible only once whole); returns its generation."""
        blob = self._bucket.blob(path)
        with translated("upload"):
            with blob.open("wb", chunk_size=UPLOAD_CHUNK_BYTES, content_type="application/jsonl") as out:
                for chunk in chunks:
                    out.write(chunk)
            if blob.generation is None:
                blob.reload()
            return int(blob.generation or 0)
