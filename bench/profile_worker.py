"""Where the bulk-import worker's CPU goes: one import job's batches run in this process, one
after the other, against the Firestore and Cloud Storage emulators; first unprofiled (CPU
seconds of this process per 1,000 products), then under cProfile (functions by own time, and
the share of a few groups of them).

Usage: python -m bench.profile_worker [--products 3000] [--top 25]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import products
from local.emulators import FirestoreEmulator, StorageEmulator
from local.stack import PROJECT, create_buckets, settings_env
from shared import wiring
from shared.adapters.firestore.catalog import FirestoreCatalogStore
from shared.adapters.firestore.jobs import FirestoreJobStore
from shared.domain.models import JobStatus, JobType
from shared.domain.tenancy import Principal, Role, Scope
from shared.services.bulk_jobs import BulkJobs, BulkLimits
from shared.services.bulk_processing import BulkJobProcessor
from shared.services.tasks import WorkerTask

# Groups of functions by the file they live in (a function's own time counts to the first match).
GROUPS = [
    ("write encoding (wire)", "adapters/firestore/wire.py"),
    ("pydantic", "pydantic"),
    ("protobuf / proto-plus", "protobuf"),
    ("gRPC", "grpc"),
    ("GTIN check digits", "domain/scoring.py"),
    ("document sizes", "domain/sizes.py"),
    ("audit diffs", "domain/audit.py"),
    ("quality rules", "domain/quality.py"),
    ("planning", "domain/bulk.py"),
    ("catalog rules", "domain/catalog.py"),
    ("JSON", "json"),
    ("threading", "threading.py"),
]


class Kept:
    """A task queue that keeps what it is given, for this process to run (TaskQueue)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def enqueue(self, name: str, body: dict[str, Any], not_before: Any = None) -> None:
        self.bodies.append(body)


def import_job(rows: list[dict[str, object]]) -> tuple[float, float]:
    """Run one import job's tasks here; CPU seconds it took of this process, and of this thread
    (the rest is the gRPC library's own threads)."""
    scope = Scope(str(uuid.uuid4()), str(uuid.uuid4()))
    queue = Kept()
    settings, client = wiring.get_settings(), wiring.firestore_client()
    limits = BulkLimits(
        max_job_items=settings.max_job_items,
        batch_max_items=settings.batch_max_items,
        batch_max_bytes=settings.batch_max_bytes,
        inline_payload_max_bytes=settings.inline_payload_max_bytes,
    )
    store = FirestoreJobStore(client, scope)
    jobs = BulkJobs(store, wiring.payload_store(), queue, limits, wiring.utc_now)
    catalog = FirestoreCatalogStore(client, scope)
    processor = BulkJobProcessor(store, catalog, wiring.payload_store(), queue, wiring.quality(scope), wiring.utc_now)
    job = jobs.create(Principal("bench@example.com", Role.ADMIN, scope), JobType.BULK_IMPORT, rows)
    cpu, own = time.process_time(), time.thread_time()
    while queue.bodies:
        processor.handle(WorkerTask.model_validate(queue.bodies.pop(0)))
    cpu, own = time.process_time() - cpu, time.thread_time() - own
    assert processor.jobs.get_job(job.id).status is JobStatus.COMPLETED
    return cpu, own


def groups(stats: pstats.Stats) -> list[tuple[str, float]]:
    own: dict[str, float] = {}
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        group = next((name for name, part in GROUPS if part in filename), "other")
        own[group] = own.get(group, 0.0) + tottime
    return sorted(own.items(), key=lambda kv: -kv[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--products", type=int, default=3000)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    firestore, storage = FirestoreEmulator(), StorageEmulator()
    try:
        for emulator in (firestore, storage):
            emulator.start()
        with tempfile.TemporaryDirectory() as keys:
            env = settings_env(PROJECT, "bench", {**firestore.env(), **storage.env()}, 9, 9, Path(keys))
            os.environ.update(env)
            create_buckets(env)
            wiring.reset()
            rows = products(args.products)
            import_job(products(200))  # warm up
            load = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
            cpu, own = import_job(rows)
            print(
                f"unprofiled: {cpu * 1000 / len(rows):.2f} CPU s per 1,000 products, "
                f"{own * 1000 / len(rows):.2f} of them in the worker's own thread (load before {load})"
            )
            profiler = cProfile.Profile(time.process_time)  # CPU time, not waits
            profiler.enable()
            import_job(rows)
            profiler.disable()
        stats = pstats.Stats(profiler)
        total = sum(t for _, t in groups(stats))
        print(f"profiled: {total:.2f} s of own time in all")
        for name, seconds in groups(stats):
            print(f"  {name:<24} {seconds:6.2f} s  {100 * seconds / total:4.1f}%")
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats("shared/", args.top)
    finally:
        storage.stop()
        firestore.stop()


if __name__ == "__main__":
    main()
