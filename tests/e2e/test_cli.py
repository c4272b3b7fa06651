"""The `synq` command as a person or a script runs it: the installed console script, against the
local stack, configured by environment variables."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local.stack import LocalStack
from tests.support import new_scope, wait_until

pytestmark = pytest.mark.emulators

SYNQ = Path(sys.executable).parent / "synq"  # the console script `make venv` installs
EXIT_ITEMS_FAILED = 3


@pytest.fixture()
def synq(stack: LocalStack) -> Any:
    """Runs `synq ARGS` as an ADMIN of a tenant of the test's own; the finished process."""
    scope = new_scope()
    env = {
        "PATH": "/usr/bin:/bin",
        "SYNQ_URL": stack.url,
        "SYNQ_TOKEN": stack.token(tenant_id=scope.tenant_id, org_id=scope.org_id),
        "SYNQ_TENANT_ID": scope.tenant_id,
        "SYNQ_ORG_ID": scope.org_id,
    }

    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(SYNQ), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)

    return run


def products(count: int) -> list[dict[str, Any]]:
    return [
        {"title": f"CLI {i}", "sku": f"CLI-{i}", "description": "d", "barcode": "4006381333931"} for i in range(count)
    ]


def test_an_import_waits_for_the_job_and_prints_it_as_json(synq: Any, tmp_path: Path) -> None:
    file = tmp_path / "products.json"
    file.write_text(json.dumps(products(120)))
    done = synq("import", str(file), "--wait", "--json")
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)  # stdout holds the result only; progress went to stderr
    assert (job["job_type"], job["status"], job["total_items"], job["processed_items"], job["failed_items"]) == (
        "BULK_IMPORT",
        "COMPLETED",
        120,
        120,
        0,
    )
    assert "120/120 done" in done.stderr

    listed = synq("jobs", "--json")
    assert [j["id"] for j in json.loads(listed.stdout)] == [job["id"]]
    skus = {p["sku"] for p in json.loads(synq("products", "--json", "--limit", "500").stdout)}
    assert skus == {f"CLI-{i}" for i in range(120)}


def test_without_wait_the_job_id_is_printed_for_scripts(synq: Any, tmp_path: Path) -> None:
    file = tmp_path / "products.json"
    file.write_text(json.dumps(products(3)))
    started = synq("import", str(file))
    assert started.returncode == 0, started.stderr
    job_id = started.stdout.strip()
    shown = synq("job", job_id, "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["id"] == job_id


def test_a_table_fits_eighty_columns(synq: Any, tmp_path: Path) -> None:
    file = tmp_path / "products.json"
    file.write_text(json.dumps([{**p, "title": "A rather long product title " * 4} for p in products(5)]))
    assert synq("import", str(file), "--wait").returncode == 0
    table = synq("products")
    lines = table.stdout.splitlines()
    assert table.returncode == 0 and len(lines) == 1 + 5  # a header, then one line per product
    assert max(len(line) for line in lines) <= 80
    assert table.stderr.strip() == "5 rows"


def test_an_export_is_waited_for_and_downloaded(synq: Any, tmp_path: Path) -> None:
    file = tmp_path / "products.json"
    file.write_text(json.dumps(products(40)))
    assert synq("import", str(file), "--wait").returncode == 0
    dest = tmp_path / "catalog.csv"
    done = synq("export", "--output", str(dest))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(dest)
    with dest.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["sku"] for r in rows) == sorted(f"CLI-{i}" for i in range(40))
    assert not list(tmp_path.glob("*.part"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["job", "00000000-0000-4000-8000-000000000000"], "error: bulk job not found (HTTP 404 NOT_FOUND)"),
        (["jobs", "--limit", "0"], "Invalid value for '--limit'"),
    ],
)
def test_an_error_is_one_line_and_a_nonzero_exit(synq: Any, args: list[str], message: str) -> None:
    failed = synq(*args)
    assert failed.returncode in (1, 2)
    assert message in failed.stderr and "Traceback" not in failed.stderr
    assert failed.stdout == ""


def test_a_bad_token_and_missing_settings_are_one_line_each(stack: LocalStack, tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "SYNQ_URL": stack.url}
    missing = subprocess.run([str(SYNQ), "jobs"], env=env, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1
    assert missing.stderr == (
        "error: missing configuration: set SYNQ_TOKEN, SYNQ_TENANT_ID, SYNQ_ORG_ID (or pass the flags)\n"
    )
    scope = new_scope()
    flags = ["--token", "not-a-token", "--tenant", scope.tenant_id, "--org", scope.org_id, "jobs"]
    refused = subprocess.run([str(SYNQ), *flags], env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and refused.stderr.startswith("error: ")
    assert "(HTTP 401 UNAUTHENTICATED)" in refused.stderr and len(refused.stderr.splitlines()) == 1


def test_a_file_of_unknown_kind_is_refused_before_any_call(synq: Any, tmp_path: Path) -> None:
    file = tmp_path / "products.xlsx"
    file.write_bytes(b"PK")
    refused = synq("import", str(file))
    assert refused.returncode == 2 and "must end in .csv, .jsonl, .ndjson, .json" in refused.stderr


def test_a_csv_with_bad_rows_is_uploaded_and_its_errors_come_back_as_a_csv_to_fix(synq: Any, tmp_path: Path) -> None:
    file = tmp_path / "supplier-feed.csv"
    rows = [{"title": f"Feed {i}", "sku": f"FEED-{i}", "attributes.color": "red"} for i in range(300)]
    rows[10]["title"] = ""  # an empty cell is "not given": an import without a title
    rows[250]["title"] = ""
    with file.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["title", "sku", "attributes.color"])
        writer.writeheader()
        writer.writerows(rows)

    done = synq("import", str(file), "--wait", "--json")
    assert done.returncode == EXIT_ITEMS_FAILED, done.stderr
    job = json.loads(done.stdout)
    assert (job["status"], job["total_items"], job["processed_items"], job["failed_items"]) == (
        "COMPLETED",
        300,
        298,
        2,
    )
    assert job["source"]["format"] == "CSV" and job["source"]["filename"] == "supplier-feed.csv"
    errors_file = tmp_path / "supplier-feed.errors.csv"
    assert f"fix them in {errors_file}" in done.stderr
    with errors_file.open(newline="") as f:
        failed = list(csv.DictReader(f))
    assert [(r["sku"], r["line"], r["error_code"]) for r in failed] == [
        ("FEED-10", "12", "INVALID_ITEM"),  # the header is line 1
        ("FEED-250", "252", "INVALID_ITEM"),
    ]

    for row in failed:  # fixed as a merchant would, in the file the command saved
        row["title"] = f"Fixed {row['sku']}"
    with errors_file.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(failed[0]))
        writer.writeheader()
        writer.writerows(failed)
    again = synq("import", str(errors_file), "--wait", "--json")
    assert again.returncode == 0, again.stderr
    assert (json.loads(again.stdout)["processed_items"], json.loads(again.stdout)["failed_items"]) == (2, 0)
    skus = {p["sku"] for p in json.loads(synq("products", "--json", "--limit", "1000").stdout)}
    assert skus == {f"FEED-{i}" for i in range(300)}


def test_a_dry_run_reports_and_changes_nothing(synq: Any, tmp_path: Path) -> None:
    file = tmp_path / "products.jsonl"
    file.write_text("".join(json.dumps(p) + "\n" for p in products(30)) + "not json\n")
    done = synq("import", str(file), "--dry-run", "--wait", "--json")
    job = json.loads(done.stdout)
    assert done.returncode == EXIT_ITEMS_FAILED, done.stderr
    assert (job["status"], job["dry_run_report"]["creates"], job["failed_items"]) == ("COMPLETED", 30, 1)
    assert json.loads(synq("products", "--json").stdout) == []


def test_a_running_job_is_cancelled_and_a_finished_one_cannot_be(synq: Any, tmp_path: Path) -> None:
    file = tmp_path / "products.json"
    file.write_text(json.dumps(products(3000)))  # 25 batches: far from done when the cancel arrives
    job_id = synq("import", str(file)).stdout.strip()
    cancelled = synq("cancel", job_id)
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.startswith(f"BULK_IMPORT {job_id} CANCELLED: ")

    # What the cancel left applied is exactly what the job says it applied (a batch between its
    # parts may land one more part just after the answer, counted as it lands).
    def settled() -> dict[str, Any] | None:
        job = json.loads(synq("job", job_id, "--json").stdout)
        listed = json.loads(synq("products", "--json", "--limit", "5000").stdout)
        return job if job["processed_items"] == len(listed) else None

    assert wait_until(settled, timeout=60, interval=1)["status"] == "CANCELLED"
    refused = synq("cancel", job_id)
    assert refused.returncode == 1 and "only a running job can be cancelled (HTTP 409" in refused.stderr
