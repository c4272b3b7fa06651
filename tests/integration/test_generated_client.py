"""Clients are generated from the OpenAPI document, so the document is tried as a client author
would: openapi-python-client generates a client from it without a single warning, and that
client creates and reads a product and runs a bulk job to completion, parsing every answer."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from functions.openapi import document
from shared.domain.tenancy import Scope

PACKAGE = "synq_pim_client"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("client")
    spec = root / "openapi.json"
    spec.write_text(json.dumps(document()))
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [
            str(bin_dir / "openapi-python-client"),
            "generate",
            f"--path={spec}",
            "--meta=none",
            f"--output-path={root / PACKAGE}",
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},  # its ruff post-hook
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning" not in (result.stdout + result.stderr).lower(), result.stdout + result.stderr
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def sdk(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


@pytest.fixture()
def api_client(generated: Any, app: Any, auth: dict[str, str]) -> Any:
    token = auth["Authorization"].removeprefix("Bearer ")
    return generated.AuthenticatedClient(
        base_url="http://synq.test",
        token=token,
        raise_on_unexpected_status=True,
        httpx_args={"transport": httpx.WSGITransport(app=app)},
    )


def test_the_generated_client_creates_and_reads_a_product(api_client: Any, scope: Scope) -> None:
    models = sdk("models")
    ids = {"x_tenant_id": scope.tenant_id, "x_org_id": scope.org_id}
    created = sdk("api.products.create_product").sync(
        client=api_client, body=models.ProductFields(title="Desk Lamp", sku="DL-1"), **ids
    )
    assert isinstance(created, models.Product) and created.title == "Desk Lamp"
    read = sdk("api.products.get_product").sync(created.id, client=api_client, **ids)
    assert isinstance(read, models.Product) and read.sku == "DL-1" and read.id == created.id

    missing = sdk("api.products.get_product").sync(uuid.uuid4(), client=api_client, **ids)
    assert isinstance(missing, models.Error) and missing.code == "NOT_FOUND"


def test_the_generated_client_runs_a_bulk_job_to_completion(api_client: Any, scope: Scope) -> None:
    models = sdk("models")
    ids = {"x_tenant_id": scope.tenant_id, "x_org_id": scope.org_id}
    items = [models.ImportJobRequestPayloadType0Item.from_dict({"title": f"Item {i}"}) for i in range(3)]
    items.append(models.ImportJobRequestPayloadType0Item.from_dict({"sku": "no title"}))
    job = sdk("api.bulk_jobs.create_bulk_job").sync(
        client=api_client, body=models.ImportJobRequest(job_type="BULK_IMPORT", payload=items), **ids
    )
    assert isinstance(job, models.BulkJobView) and job.status == models.JobStatus.PENDING

    deadline = time.monotonic() + 60
    while job.status not in (models.JobStatus.COMPLETED, models.JobStatus.FAILED):
        assert time.monotonic() < deadline, "the job did not finish"
        time.sleep(0.2)
        job = sdk("api.bulk_jobs.get_bulk_job").sync(job.id, client=api_client, **ids)
    assert (job.status, job.total_items, job.processed_items, job.failed_items) == (models.JobStatus.COMPLETED, 4, 3, 1)
    assert [(e.index, e.code) for e in job.errors] == [(3, "INVALID_ITEM")]

    page = sdk("api.bulk_jobs.list_bulk_jobs").sync(client=api_client, job_type=models.JobType.BULK_IMPORT, **ids)
    assert [j.id for j in page.items] == [job.id]
    errors = sdk("api.bulk_jobs.list_bulk_job_errors").sync(job.id, client=api_client, **ids)
    assert [e.index for e in errors.items] == [3]
