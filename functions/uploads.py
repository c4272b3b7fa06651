"""`uploads`: staged uploads, files of items a bulk job is made from, sent straight to storage."""

from __future__ import annotations

from typing import Any

import functions_framework
from pydantic import BaseModel, ConfigDict, Field

from shared import wiring
from shared.domain.models import UploadFormat
from shared.domain.uploads import CreatedUpload, Filename, UploadView
from shared.http import Api, Call, Reply

api = Api("uploads", tag="Uploads")
BASE = "/api/v1/pim/uploads"


class CreateUploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: Filename = Field(description="The file's name, as the merchant knows it (recorded, shown on the job).")
    format: UploadFormat = Field(description="CSV (with a header row), JSONL (one item a line) or JSON (one array).")


@api.route(
    BASE,
    "POST",
    write=True,
    body=CreateUploadRequest,
    response=CreatedUpload,
    status=201,
    idempotent=True,
    summary="Start an upload: a signed URL the file of items is sent to",
)
def create_upload(call: Call) -> Reply:
    body = call.body(CreateUploadRequest)
    return wiring.uploads(call.principal.scope).create(call.principal, body.filename, body.format), 201


@api.route(f"{BASE}/<upload_id>", "GET", response=UploadView, summary="One upload: whether its file has arrived")
def get_upload(call: Call, upload_id: str) -> Reply:
    return wiring.uploads(call.principal.scope).get(upload_id), 200


@functions_framework.http
def uploads(request: Any) -> Any:
    return api(request)
