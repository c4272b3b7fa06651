"""`synq`: bulk imports, exports, jobs and data quality of a Synq PIM catalog from the terminal.

Progress bars and prompts go to stderr, results to stdout, so `synq jobs --json | jq` works.
Exit codes: 0 done, 1 an error (one line on stderr, never a traceback), 2 bad usage, 3 a job that
completed with failed items (their CSV saved), 130 interrupted.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.prompt import Confirm

from synq import tables
from synq.client import Config, Job, JobType, SynqClient, SynqError

# A JSON file up to this size goes inline in the job request; anything larger, and every CSV or
# JSON Lines file, is a staged upload straight to storage.
INLINE_MAX_BYTES = 1024 * 1024
FORMATS = {".csv": "CSV", ".jsonl": "JSONL", ".ndjson": "JSONL", ".json": "JSON"}
EXIT_ITEMS_FAILED = 3
EXIT_INTERRUPTED = 130

app = typer.Typer(
    help=__doc__,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
out = Console(soft_wrap=True)  # results: never wrapped, so pipes and scripts read whole lines
term = Console(stderr=True, soft_wrap=True)  # progress, prompts, errors


class Severity(StrEnum):
    ERROR = "ERROR"
    WARNING = "WARNING"
    INFO = "INFO"


class ExportFormat(StrEnum):
    csv = "csv"
    ndjson = "ndjson"


class JobTypeName(StrEnum):
    BULK_IMPORT = "BULK_IMPORT"
    BULK_UPDATE = "BULK_UPDATE"
    BULK_DELETE = "BULK_DELETE"


AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]
Limit = Annotated[int, typer.Option(min=1, max=100_000, help="At most this many rows.")]


@app.callback()
def configure(
    ctx: typer.Context,
    url: Annotated[str | None, typer.Option(envvar="SYNQ_URL", help="API base URL.")] = None,
    token: Annotated[str | None, typer.Option(envvar="SYNQ_TOKEN", help="Bearer token.", show_default=False)] = None,
    tenant_id: Annotated[str | None, typer.Option("--tenant", envvar="SYNQ_TENANT_ID", help="Tenant id.")] = None,
    org_id: Annotated[str | None, typer.Option("--org", envvar="SYNQ_ORG_ID", help="Org id.")] = None,
) -> None:
    ctx.obj = {"url": url, "token": token, "tenant_id": tenant_id, "org_id": org_id}


def client(ctx: typer.Context) -> SynqClient:
    return SynqClient(Config.from_env({}, **ctx.obj))


# --- bulk jobs


@app.command("import")
def import_file(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help=".csv, .jsonl or .json")],
    update: Annotated[bool, typer.Option("--update", help="Update existing products (ids required).")] = False,
    delete: Annotated[bool, typer.Option("--delete", help="Delete the products the file names.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check everything, change nothing.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the job with a progress bar until it ends.")] = False,
    as_json: AsJson = False,
) -> None:
    """Import, update or delete products from a file, as one bulk job."""
    if update and delete:
        raise typer.BadParameter("choose --update or --delete, not both")
    job_type: JobType = "BULK_DELETE" if delete else "BULK_UPDATE" if update else "BULK_IMPORT"
    file_format = FORMATS.get(file.suffix.lower())
    if file_format is None:
        raise typer.BadParameter(f"{file.name}: the name must end in {', '.join(FORMATS)}", param_hint="FILE")
    api = client(ctx)
    key = str(uuid.uuid4())  # one per invocation: a retried call never starts a second job
    if file_format == "JSON" and file.stat().st_size <= INLINE_MAX_BYTES:
        payload = _json_array(file)
        job = api.create_job(job_type, payload=payload, dry_run=dry_run, idempotency_key=key)
    else:
        upload = _upload(api, file, file_format)
        job = api.create_job(job_type, upload_id=upload.id, dry_run=dry_run, idempotency_key=key)
    term.print(f"{job_type} job [bold]{job.id}[/] {job.status}" + (" (dry run)" if dry_run else ""))
    if not wait:
        _print_result(job.model_dump(), as_json, job.id)
        return
    job = _follow(api, job)
    _finish(api, job, file, as_json)


@app.command("jobs")
def list_jobs(
    ctx: typer.Context,
    job_type: Annotated[JobTypeName | None, typer.Option("--type", help="Only jobs of this type.")] = None,
    limit: Limit = 20,
    as_json: AsJson = False,
) -> None:
    """Bulk jobs, newest first."""
    rows = client(ctx).list_jobs(job_type.value if job_type else None, limit)
    _listing(rows, tables.JOBS, as_json)


@app.command("job")
def show_job(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(help="The job's id.")],
    errors: Annotated[bool, typer.Option("--errors", help="List the job's per-item errors.")] = False,
    limit: Limit = 1000,
    as_json: AsJson = False,
) -> None:
    """One bulk job, or its per-item errors."""
    api = client(ctx)
    if errors:
        rows = api.job_errors(job_id, limit)
        _listing(rows, tables.JOB_ERRORS, as_json)
        return
    job = api.get_job(job_id)
    if as_json:
        _print_json(job.model_dump())
        return
    out.print(_summary(job))
    if job.failure_reason:
        out.print(f"reason: {job.failure_reason}")


@app.command("cancel")
def cancel(ctx: typer.Context, job_id: Annotated[str, typer.Argument(help="The job's id.")]) -> None:
    """Cancel a pending or running job: batches already applied stay applied."""
    out.print(_summary(client(ctx).cancel_job(job_id)))


# --- exports


@app.command("export")
def export(
    ctx: typer.Context,
    export_format: Annotated[ExportFormat, typer.Option("--format", help="File format.")] = ExportFormat.csv,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the export and download it.")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Where to save (implies --wait).")] = None,
) -> None:
    """Export the whole catalog; with --wait, download the file when it is ready."""
    api = client(ctx)
    started = api.create_export(export_format.value.upper(), idempotency_key=str(uuid.uuid4()))
    term.print(f"export [bold]{started.id}[/] {started.status}")
    if not (wait or output):
        out.print(started.id)
        return
    with term.status("exporting the catalog...") as status:
        done = api.wait_for_export(started.id, lambda e: status.update(f"export {e.status.lower()}..."))
    if done.status != "COMPLETED" or not done.download_url:
        raise SynqError(f"export {done.id} {done.status}: {done.failure_reason or 'no file'}", "EXPORT_FAILED")
    dest = output or Path(f"catalog-{done.id}.{export_format.value}")
    with _progress(DownloadColumn(), TransferSpeedColumn()) as bar:
        task = bar.add_task(f"downloading {dest.name}", total=None)
        size = api.download(done.download_url, dest, lambda n, total: bar.update(task, completed=n, total=total))
    term.print(f"{done.row_count} products ({done.excluded_count or 0} left out for errors), {size:,} bytes")
    out.print(str(dest))


# --- listings


@app.command("issues")
def issues(
    ctx: typer.Context,
    severity: Annotated[Severity | None, typer.Option(help="Only this severity.")] = None,
    code: Annotated[str | None, typer.Option(help="Only this issue code, e.g. MISSING_BARCODE.")] = None,
    product: Annotated[str | None, typer.Option(help="Only this product's issues.")] = None,
    limit: Limit = 50,
    as_json: AsJson = False,
) -> None:
    """Open validation issues."""
    rows = client(ctx).list_issues(severity.value if severity else None, code, product, limit)
    _listing(rows, tables.ISSUES, as_json)


@app.command("audit")
def audit(
    ctx: typer.Context,
    resource_id: Annotated[str | None, typer.Option(help="Only events of this resource.")] = None,
    resource_type: Annotated[str | None, typer.Option(help="e.g. product, bulk_job.")] = None,
    action: Annotated[str | None, typer.Option(help="e.g. product.updated.")] = None,
    as_json: AsJson = False,
) -> None:
    """The newest 100 audit events."""
    rows = client(ctx).list_audit_events(resource_id, resource_type, action)
    _listing(rows, tables.AUDIT, as_json)


@app.command("products")
def products(ctx: typer.Context, limit: Limit = 50, as_json: AsJson = False) -> None:
    """Products, newest first."""
    rows = client(ctx).list_products(limit)
    _listing(rows, tables.PRODUCTS, as_json)


# --- helpers


def _json_array(file: Path) -> list[Any]:
    try:
        payload = json.loads(file.read_bytes())
    except ValueError as exc:
        raise SynqError(f"{file.name} is not valid JSON: {exc}", "INVALID_FILE") from exc
    if not isinstance(payload, list):
        raise SynqError(f"{file.name} must hold a JSON array of items", "INVALID_FILE")
    return payload


def _upload(api: SynqClient, file: Path, file_format: str) -> Any:
    with _progress(DownloadColumn(), TransferSpeedColumn()) as bar:
        task = bar.add_task(f"uploading {file.name}", total=file.stat().st_size)
        return api.upload_file(file, file_format, lambda n: bar.advance(task, n))


def _follow(api: SynqClient, job: Job) -> Job:
    """A live progress bar until the job ends; Ctrl-C asks whether to cancel the job."""
    try:
        with _progress(
            TextColumn("{task.completed:,.0f}/{task.fields[of]} done, {task.fields[failed]:,} failed"),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
        ) as bar:
            task = bar.add_task(job.status.lower(), total=None, of="?", failed=0, rate="")
            first: list[tuple[float, int]] = []  # the first reading: the rate counts from it

            def show(now: Job) -> None:
                first.extend([] if first else [(bar.get_time(), now.done_items)])
                elapsed, done = bar.get_time() - first[0][0], now.done_items - first[0][1]
                bar.update(
                    task,
                    description=now.status.lower(),
                    completed=now.done_items,
                    total=now.total_items or None,
                    of=f"{now.total_items:,}" if now.total_items else "?",
                    failed=now.failed_items,
                    rate=f"{done / elapsed:,.0f} items/s" if elapsed > 0 else "",
                )

            return api.wait_for_job(job.id, show)
    except KeyboardInterrupt:
        if Confirm.ask(f"cancel job {job.id}?", console=term, default=False):
            with term.status("cancelling: batches already applied stay applied..."):
                cancelled = api.cancel_job(job.id)
            term.print(_summary(cancelled))
        else:
            term.print(f"the job goes on; follow it with: synq job {job.id}")
        raise typer.Exit(EXIT_INTERRUPTED) from None


def _finish(api: SynqClient, job: Job, file: Path, as_json: bool) -> None:
    if as_json:
        _print_json(job.model_dump())
    else:
        out.print(_summary(job))
    if job.failure_reason:
        term.print(f"reason: {job.failure_reason}")
    if job.status != "COMPLETED":
        raise typer.Exit(1)
    if job.failed_items:
        errors_file = file.with_name(f"{file.stem}.errors.csv")
        errors_file.write_bytes(api.job_errors_csv(job.id))
        term.print(f"{job.failed_items:,} items failed; fix them in {errors_file} and import that file again")
        raise typer.Exit(EXIT_ITEMS_FAILED)


def _summary(job: Job) -> str:
    total = f"{job.total_items:,}" if job.total_items else "?"
    return (
        f"{job.job_type} {job.id} {job.status}: {job.processed_items:,} applied, {job.failed_items:,} failed of {total}"
    )


def _progress(*columns: Any) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), *columns, console=term, transient=False)


def _listing(rows: Iterable[dict[str, Any]], columns: list[tables.Col], as_json: bool) -> None:
    listed = list(rows)
    if as_json:
        _print_json(listed)
        return
    if listed:
        tables.render(out, listed, columns)
    term.print(f"{len(listed)} row{'s' if len(listed) != 1 else ''}")


def _print_json(value: Any) -> None:
    # Plain print: rich would wrap long lines and break the JSON for the next program in a pipe.
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def _print_result(job: dict[str, Any], as_json: bool, text: str) -> None:
    if as_json:
        _print_json(job)
    else:
        out.print(text)


def main() -> None:
    try:
        app()
    except SynqError as exc:
        term.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
