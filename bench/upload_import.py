"""Upload benchmark: a generated CSV of realistic products sent to the signed upload URL of the
local stack, and the job made from it run to COMPLETED; and, separately, the planning step alone
on larger files.

Usage: python -m bench.upload_import [--sizes 10000 100000] [--plan-sizes 100000 1000000]

End to end, per size: the CSV's size, the PUT to the storage emulator, the planning time (from
the job's creation to its start, which is when planning has stored every batch range), seconds
from the job's creation to COMPLETED and rows/s over it, and the peak memory of every process of
the worker (gunicorn's master and its worker). Planning alone (`--plan-sizes`) runs the worker's
own planning code in this process against the stack's storage and Firestore emulators, and
reports its time and this process's peak memory growth: what a million rows cost the worker
before any batch runs (the Firestore emulator cannot hold a million products with their audit
events and issues on this machine, so the end-to-end runs stop short of that).
"""

from __future__ import annotations

import argparse
import csv
import io
import multiprocessing
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from bench.common import peak_rss_mib, process_tree, products, reset_peak_rss, rss_mib
from local.emulators import free_port
from local.stack import LocalStack
from synq.client import Config, SynqClient

COLUMNS = ["title", "sku", "barcode", "description", "category", "brand", "attributes.color", "attributes.weight_kg"]


def csv_chunks(count: int) -> Iterator[bytes]:
    """The CSV of `count` products, generated 10,000 rows at a time (never whole in memory)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for start in range(0, count, 10_000):
        for row in products(min(10_000, count - start), seed=start):
            n = start + int(str(row["sku"]).removeprefix("BN-"))
            attributes = row["attributes"]
            assert isinstance(attributes, dict)
            writer.writerow(
                [f"{row['title']}-{start}", f"BN-{n:08d}", row["barcode"], row["description"], row["category"],
                 row["brand"], attributes["color"], attributes["weight_kg"]]
            )  # fmt: skip
        yield out.getvalue().encode()
        out.seek(0)
        out.truncate()


def write_csv(path: Path, count: int) -> int:
    with path.open("wb") as f:
        for chunk in csv_chunks(count):
            f.write(chunk)
    return path.stat().st_size


def end_to_end(stack: LocalStack, path: Path, rows: int) -> dict[str, float]:
    tenant, org = str(uuid.uuid4()), str(uuid.uuid4())
    api = SynqClient(Config(stack.url, stack.token(tenant_id=tenant, org_id=org), tenant, org))
    upload = api.create_upload(path.name, "CSV")
    t0 = time.monotonic()
    with path.open("rb") as f:
        api.send_upload(upload, f)
    put_seconds = time.monotonic() - t0
    job = api.wait_for_job(api.create_job("BULK_IMPORT", upload_id=upload.id).id, interval=0.5)
    if (job.status, job.processed_items, job.total_items) != ("COMPLETED", rows, rows):
        raise SystemExit(f"job ended {job.status} with {job.processed_items}/{rows} items")
    stamps = (job.created_at, job.started_at, job.completed_at)
    created, started, completed = (datetime.fromisoformat(str(t)) for t in stamps)
    return {
        "put": put_seconds,
        "plan": (started - created).total_seconds(),
        "e2e": (completed - created).total_seconds(),
    }


def plan_only(stack: LocalStack, path: Path, rows: int) -> tuple[float, float, float]:
    """The worker's planning step on an uploaded file, in a fresh process of its own (so no earlier
    size's memory is reused): seconds, resident memory before planning, and the peak during it."""
    ctx = multiprocessing.get_context("spawn")
    results: Any = ctx.Queue()
    child = ctx.Process(target=_plan_in_child, args=(stack.env(), str(path), rows, results))
    child.start()
    got = results.get(timeout=1200)
    child.join()
    if isinstance(got, str):
        raise SystemExit(got)
    seconds, before, peak = got
    return seconds, before, peak


def _plan_in_child(env: dict[str, str], path_name: str, rows: int, results: Any) -> None:
    from shared import wiring
    from shared.domain.models import JobType, UploadFormat
    from shared.domain.tenancy import Principal, Role, Scope

    os.environ.update(env)
    path = Path(path_name)
    scope = Scope(str(uuid.uuid4()), str(uuid.uuid4()))
    actor = Principal(email="bench@example.com", role=Role.ADMIN, scope=scope)
    up = wiring.uploads(scope).create(actor, path.name, UploadFormat.CSV)
    with path.open("rb") as f:
        requests.put(up.upload_url, data=f, headers=up.headers, timeout=600).raise_for_status()
    jobs = wiring.bulk_jobs(scope)
    jobs.tasks = _NoQueue()
    job = jobs.create_from_upload(actor, JobType.BULK_IMPORT, up.id)
    processor = wiring.bulk_job_processor(scope)
    stored = processor.jobs.get_job(job.id)
    me = [os.getpid()]
    reset_peak_rss(me)
    before = rss_mib(os.getpid())
    t0 = time.monotonic()
    planned = processor._plan_upload(stored)
    seconds = time.monotonic() - t0
    if planned is None or planned.item_count != rows:
        results.put(f"planning found {planned and planned.item_count} of {rows} items")
        return
    results.put((seconds, before, peak_rss_mib(me)))


class _NoQueue:
    def enqueue(self, name: str, body: dict[str, object], not_before: object = None) -> None:
        """Planning alone runs here: nothing is queued."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--plan-sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        stack = LocalStack(free_port(), state_dir=Path(state), quiet=True)
        stack.start()
        try:
            worker = process_tree(stack.functions["worker"].pid)
            if args.sizes:
                header = ["rows", "CSV MB", "PUT s", "plan s", "e2e s", "rows/s", "worker peak MiB"]
                print(" ".join(f"{h:>{w}}" for h, w in zip(header, [9, 7, 6, 7, 7, 7, 16], strict=True)))
            for size in args.sizes:
                path = Path(state) / f"products-{size}.csv"
                mb = write_csv(path, size) / 1e6
                worker = process_tree(stack.functions["worker"].pid)
                reset_peak_rss(worker)
                got = end_to_end(stack, path, size)
                print(
                    f"{size:>9} {mb:>7.1f} {got['put']:>6.1f} {got['plan']:>7.1f} {got['e2e']:>7.1f} "
                    f"{size / got['e2e']:>7.0f} {peak_rss_mib(worker):>16.1f}",
                    flush=True,
                )
                path.unlink()
            if args.plan_sizes:
                header = ["rows", "CSV MB", "plan s", "rows/s", "RSS before MiB", "peak MiB"]
                widths = [9, 7, 7, 8, 15, 9]
                print(" ".join(f"{h:>{w}}" for h, w in zip(header, widths, strict=True)), " (planning alone)")
            for size in args.plan_sizes:
                path = Path(state) / f"products-{size}.csv"
                mb = write_csv(path, size) / 1e6
                seconds, before, peak = plan_only(stack, path, size)
                print(
                    f"{size:>9} {mb:>7.1f} {seconds:>7.1f} {size / seconds:>8.0f} {before:>15.1f} {peak:>9.1f}",
                    flush=True,
                )
                path.unlink()
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
