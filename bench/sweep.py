"""Validation-sweep benchmark: a catalog written straight into the Firestore emulator (as a
migration would, with no evaluation), then one full sweep over it.

Usage: python -m bench.sweep [--sizes 20000 100000]
Prints, per size: products/s of the sweep, issue records written, and the sweeping process's
peak memory (it must not grow with the catalog).
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from datetime import UTC, datetime

from bench.common import peak_rss_mib, products, reset_peak_rss
from local.emulators import FirestoreEmulator

PROJECT = "synq-bench"


def write_catalog(size: int, tenant: str, org: str) -> None:
    """Products in WriteBatches of 500, generated chunk by chunk; 1 in 50 shares its SKU with
    the one before it and 1 in 20 has no description, so the sweep has findings to record."""
    from google.cloud import firestore

    from shared.adapters.firestore import wire
    from shared.adapters.firestore.base import TenantRoot
    from shared.domain.catalog import Collection
    from shared.domain.tenancy import Scope

    root = TenantRoot(firestore.Client(project=PROJECT), Scope(tenant, org))
    now = datetime.now(UTC)
    for start in range(0, size, 500):
        rows = products(min(500, size - start), seed=start)
        batch = root.client.batch()
        pbs = []
        for i, row in enumerate(rows):
            n = start + i
            pid = str(uuid.uuid4())
            row = {**row, "sku": f"BN-{n - 1 if n % 50 == 1 else n:07d}"}
            if n % 20 == 0:
                row["description"] = None
            pbs.append(
                wire.create(
                    root.path(Collection.PRODUCTS, pid),
                    {
                        **row,
                        "id": pid,
                        "tenant_id": tenant,
                        "org_id": org,
                        "status": "ACTIVE",
                        "variants": [],
                        "created_at": now,
                        "updated_at": now,
                    },
                )
            )
        wire.stage(batch, pbs)
        batch.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20000, 100000])
    args = parser.parse_args()
    firestore_emulator = FirestoreEmulator(heap="8g")
    firestore_emulator.start()
    try:
        os.environ.update({**firestore_emulator.env(), "GCP_PROJECT": PROJECT})
        from shared import wiring

        wiring.reset()
        print(f"{'products':>9} {'write s':>8} {'sweep s':>8} {'sweep /s':>9} {'issue records':>14} {'peak MiB':>9}")
        for size in args.sizes:
            tenant, org = str(uuid.uuid4()), str(uuid.uuid4())
            t0 = time.monotonic()
            write_catalog(size, tenant, org)
            written = time.monotonic() - t0
            reset_peak_rss([os.getpid()])
            t0 = time.monotonic()
            report = wiring.sweep().run(budget_seconds=3600)
            swept = time.monotonic() - t0
            peak = peak_rss_mib([os.getpid()])
            assert report.status == "completed", report
            print(
                f"{size:>9} {written:>8.1f} {swept:>8.1f} {report.products / swept:>9.0f} "
                f"{report.issue_writes:>14} {peak:>9.1f}",
                flush=True,
            )
            firestore_emulator.wipe(PROJECT)
    finally:
        firestore_emulator.stop()


if __name__ == "__main__":
    main()
