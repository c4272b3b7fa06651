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

from bench.common import peak_rss_mib, reset_peak_rss, write_catalog
from local.emulators import FirestoreEmulator

PROJECT = "synq-bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20000, 100000])
    args = parser.parse_args()
    firestore_emulator = FirestoreEmulator(heap="8g")
    firestore_emulator.start()
    try:
        # Every size is a pass of its own, however recent the last.
        os.environ.update({**firestore_emulator.env(), "GCP_PROJECT": PROJECT, "SWEEP_MIN_INTERVAL_HOURS": "0"})
        from shared import wiring

        wiring.reset()
        print(f"{'products':>9} {'write s':>8} {'sweep s':>8} {'sweep /s':>9} {'issue records':>14} {'peak MiB':>9}")
        for size in args.sizes:
            tenant, org = str(uuid.uuid4()), str(uuid.uuid4())
            t0 = time.monotonic()
            write_catalog(PROJECT, size, tenant, org)
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
