"""Export benchmark: a catalog written straight into the Firestore emulator, 1 product in 100
blocked by an ERROR issue, then in the same run:

- the raw streaming read of the same product documents (one query, each decoded to a dict):
  one read to warm the emulator up, then one just before and one just after the export, averaged,
- one export run (the export worker's use case, in this process) to the storage emulator.

Usage: python -m bench.export [--sizes 20000 100000] [--format NDJSON]
Prints, per size: raw read/s, export rows/s (products written or left out), their ratio, the file
size, and this process's memory when the export starts, its peak during the export, and the
difference (what the export itself took: it must not grow with the catalog).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path

from bench.common import peak_rss_mib, reset_peak_rss, rss_mib, write_catalog
from local.emulators import FirestoreEmulator, StorageEmulator, TasksEmulator, free_port
from local.stack import create_buckets, queue_paths, settings_env

PROJECT = "synq-bench"


def raw_read_rate(tenant: str, org: str) -> tuple[int, float]:
    from shared import wiring
    from shared.adapters.firestore.base import TenantRoot
    from shared.domain.catalog import Collection
    from shared.domain.tenancy import Scope

    products = TenantRoot(wiring.firestore_client(), Scope(tenant, org)).collection(Collection.PRODUCTS)
    t0 = time.monotonic()
    count = sum(1 for snap in products.order_by("__name__").stream() if snap.to_dict())
    return count, count / (time.monotonic() - t0)


def export_once(tenant: str, org: str, fmt: str) -> tuple[float, int, int, int]:
    from shared import wiring
    from shared.domain.exports import ExportFormat
    from shared.domain.tenancy import Principal, Role, Scope

    scope = Scope(tenant, org)
    export = wiring.exports(scope).request(Principal("bench@synq.local", Role.ADMIN, scope), ExportFormat(fmt))
    t0 = time.monotonic()
    outcome = wiring.export_processor(scope).run(export.id)
    elapsed = time.monotonic() - t0
    done = wiring.exports(scope).get(export.id)
    assert outcome == "completed" and done.row_count is not None and done.excluded_count is not None, done
    return elapsed, done.row_count, done.excluded_count, done.size_bytes or 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20000, 100000])
    parser.add_argument("--format", default="NDJSON", choices=["NDJSON", "CSV"])
    args = parser.parse_args()
    emulators = [
        FirestoreEmulator(heap="8g"),
        StorageEmulator(),
        TasksEmulator(queues=queue_paths(PROJECT)),
    ]
    try:
        for emulator in emulators:
            emulator.start()
        env = settings_env(
            PROJECT,
            PROJECT,
            {k: v for e in emulators for k, v in e.env().items()},
            free_port(),
            free_port(),  # nobody listens: the run is called here, and notifications are not measured
            Path(tempfile.mkdtemp(prefix="synq-bench-keys-")),
        )
        os.environ.update(env)
        create_buckets(env)
        from shared import wiring

        wiring.reset()
        queue = wiring.tasks_client().queue_path(PROJECT, env["TASKS_LOCATION"], env["EXPORTS_QUEUE"])
        wiring.tasks_client().pause_queue(name=queue)  # keep the run's task from being delivered
        print(
            f"{'products':>9} {'raw read/s':>11} {'export s':>9} {'export rows/s':>14} {'ratio':>6} "
            f"{'rows':>7} {'left out':>9} {'MB':>6} {'start MiB':>10} {'peak MiB':>9} {'+MiB':>7}"
        )
        for size in args.sizes:
            tenant, org = str(uuid.uuid4()), str(uuid.uuid4())
            write_catalog(PROJECT, size, tenant, org, blocked_every=100)
            read, _ = raw_read_rate(tenant, org)  # warms the emulator up: a first read is slower
            assert read == size
            raw_before = raw_read_rate(tenant, org)[1]
            reset_peak_rss([os.getpid()])
            before = rss_mib(os.getpid())
            elapsed, rows, left_out, size_bytes = export_once(tenant, org, args.format)
            peak = peak_rss_mib([os.getpid()])
            raw_rate = (raw_before + raw_read_rate(tenant, org)[1]) / 2  # read just before and just after
            rate = (rows + left_out) / elapsed
            print(
                f"{size:>9} {raw_rate:>11.0f} {elapsed:>9.1f} {rate:>14.0f} {rate / raw_rate:>6.2f} "
                f"{rows:>7} {left_out:>9} {size_bytes / 1e6:>6.1f} {before:>10.1f} {peak:>9.1f} {peak - before:>7.1f}",
                flush=True,
            )
            emulators[0].wipe(PROJECT)  # type: ignore[attr-defined]
    finally:
        for emulator in reversed(emulators):
            emulator.stop()


if __name__ == "__main__":
    main()
