"""Bulk-import benchmark: POST to COMPLETED through the local stack, against the same product
documents written straight into the Firestore emulator with WriteBatch of 500.

Usage: python -m bench.bulk_import [--sizes 3000 30000]
Prints the fixed cost of a job (a one-product job, POST to COMPLETED), then, per size:
end-to-end products/s, raw WriteBatch products/s, their ratio (end-to-end time over raw time),
the worker's CPU time (user + system) per 1,000 products and the Firestore emulator's over the
same job, and the worker process's peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from google.cloud import firestore

from bench.common import cpu_seconds, peak_rss_mib, process_tree, products, reset_peak_rss
from local.emulators import free_port
from local.stack import PROJECT, LocalStack
from shared.domain.audit import ChangeContext
from shared.domain.bulk import BatchInputs, plan_batch
from shared.domain.models import JobType
from synq.client import Config, SynqClient


def end_to_end(stack: LocalStack, rows: list[dict[str, object]]) -> tuple[float, float, float]:
    """Seconds from POST to COMPLETED (by the job's own timestamps and by the clock), and POST latency."""
    tenant, org = str(uuid.uuid4()), str(uuid.uuid4())
    api = SynqClient(Config(stack.url, stack.token(tenant_id=tenant, org_id=org), tenant, org), timeout=120)
    t0 = time.monotonic()
    job = api.create_job("BULK_IMPORT", payload=rows)
    post_seconds = time.monotonic() - t0
    job = api.wait_for_job(job.id, interval=0.05)
    wall = time.monotonic() - t0
    if (job.status, job.processed_items) != ("COMPLETED", len(rows)):
        raise SystemExit(f"job ended {job.status} with {job.processed_items}/{len(rows)} items")
    assert job.completed_at and job.created_at
    stamped = (datetime.fromisoformat(job.completed_at) - datetime.fromisoformat(job.created_at)).total_seconds()
    return max(stamped, wall), post_seconds, wall


def raw_writes(rows: list[dict[str, object]]) -> float:
    """Seconds to write the same product documents with WriteBatch of 500, nothing else."""
    client = firestore.Client(project=PROJECT)
    ctx = ChangeContext(
        tenant_id=str(uuid.uuid4()),
        org_id=str(uuid.uuid4()),
        actor_email="bench@example.com",
        now=datetime.now(UTC),
        job_id=str(uuid.uuid4()),
    )
    docs = plan_batch(JobType.BULK_IMPORT, rows, 0, BatchInputs(), ctx).writes  # the products the worker writes
    products_ref = client.collection(f"tenants/{ctx.tenant_id}/orgs/{ctx.org_id}/products")
    t0 = time.monotonic()
    for start in range(0, len(docs), 500):
        batch = client.batch()
        for doc in docs[start : start + 500]:
            batch.create(products_ref.document(doc.doc_id), doc.data)
        batch.commit()
    return time.monotonic() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[3000, 30000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        stack = LocalStack(free_port(), state_dir=Path(state), quiet=True)
        stack.start()
        try:
            os.environ.update(stack.env())  # the raw writer uses the same emulator
            worker = process_tree(stack.functions["worker"].pid)
            api = process_tree(stack.functions["gateway"].pid)
            store = process_tree(stack.firestore.proc.pid) if stack.firestore.proc else []
            end_to_end(stack, products(200))  # warm up both processes and the emulators
            # A job's fixed cost: POST to COMPLETED of a one-product job (median of five), the
            # polling of this client included.
            fixed = sorted(end_to_end(stack, products(1))[0] for _ in range(5))[2]
            print(f"fixed cost of a job (1 product, median of 5): {fixed:.2f} s")
            print(
                f"{'products':>9} {'payload MB':>10} {'POST s':>7} {'e2e s':>7} {'e2e /s':>8} "
                f"{'raw s':>7} {'raw /s':>8} {'ratio':>6} {'worker CPU s/1k':>15} {'store CPU s/1k':>14} "
                f"{'worker peak MiB':>16} {'API peak MiB':>13} {'load before':>15}"
            )
            for size in args.sizes:
                rows = products(size)
                payload_mb = len(json.dumps(rows)) / 1e6
                load = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())  # before this size's job
                reset_peak_rss(worker + api)
                worker = process_tree(stack.functions["worker"].pid)
                cpu0, store0 = cpu_seconds(worker), cpu_seconds(store)
                e2e, post, _wall = end_to_end(stack, rows)
                worker_cpu = (cpu_seconds(worker) - cpu0) * 1000 / size
                store_cpu = (cpu_seconds(store) - store0) * 1000 / size
                peak, api_peak = peak_rss_mib(worker), peak_rss_mib(api)
                raw = raw_writes(rows)
                stack.firestore.wipe(PROJECT)  # each size starts on an empty emulator
                print(
                    f"{size:>9} {payload_mb:>10.2f} {post:>7.2f} {e2e:>7.2f} {size / e2e:>8.0f} "
                    f"{raw:>7.2f} {size / raw:>8.0f} {e2e / raw:>6.2f} {worker_cpu:>15.2f} {store_cpu:>14.2f} "
                    f"{peak:>16.1f} {api_peak:>13.1f} {load}",
                    flush=True,
                )
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
