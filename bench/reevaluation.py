"""Re-evaluation benchmark: a catalog whose products all follow one template, written straight
into the Firestore emulator, judged once, then the template changed (a third attribute made
required) and every product re-evaluated page by page, as the worker's tasks do.

Usage: python -m bench.reevaluation [--sizes 10000 100000] [--page-size 300] [--profile]
The tasks run one after another in this process, each exactly as one delivery runs it
(Reevaluation.handle: pages from one query until the task's time budget is spent), without Cloud
Tasks' dispatch between them. Prints, per size: products/s
of the pass after the template change (completeness and score rewritten, one more issue per
product), of the first pass (every issue record written from scratch), and the process's peak
memory during the measured pass (it must not grow with the catalog). With --profile, the measured
pass runs under cProfile by wall time (waits on the emulator are the cost) and the functions of
shared/ are printed by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from bench.common import peak_rss_mib, reset_peak_rss, write_catalog
from local.emulators import FirestoreEmulator

PROJECT = "synq-bench"


class Pages:
    """Stands in for the queue: keeps the next page's task, to be run at once."""

    def __init__(self) -> None:
        self.queued: list[dict[str, Any]] = []

    def enqueue(self, name: str, body: dict[str, Any]) -> None:
        self.queued.append(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 100000])
    parser.add_argument("--page-size", type=int, default=300)
    parser.add_argument("--profile", action="store_true", help="profile the measured pass (wall time)")
    args = parser.parse_args()
    firestore_emulator = FirestoreEmulator(heap="8g")
    firestore_emulator.start()
    try:
        os.environ.update({**firestore_emulator.env(), "GCP_PROJECT": PROJECT})
        from shared import wiring
        from shared.adapters.firestore.catalog import FirestoreCatalogStore
        from shared.domain.attributes import AttributeFields, TemplateFields, TemplatePatch
        from shared.domain.catalog import ATTRIBUTES, TEMPLATES
        from shared.domain.tenancy import Principal, Role, Scope
        from shared.services.attributes import AttributeGuard, Reevaluations, TemplateGuard
        from shared.services.reevaluation import Reevaluation
        from shared.services.taxonomy import Taxonomy

        wiring.reset()
        print(f"{'products':>9} {'first pass /s':>14} {'after change s':>15} {'after change /s':>16} {'peak MiB':>9}")
        for size in args.sizes:
            scope = Scope(str(uuid.uuid4()), str(uuid.uuid4()))
            store = FirestoreCatalogStore(wiring.firestore_client(), scope)
            no_queue = Reevaluations(scope, None)  # the benchmark runs the pages itself
            attributes = Taxonomy(store, lambda: datetime.now(UTC), ATTRIBUTES, AttributeGuard(store, no_queue))
            templates = Taxonomy(store, lambda: datetime.now(UTC), TEMPLATES, TemplateGuard(store, no_queue))
            admin = Principal("bench@example.com", Role.ADMIN, scope)
            for slug, kind in (("weight", "NUMBER"), ("material", "TEXT"), ("care", "TEXT")):
                attributes.create(admin, AttributeFields(name=slug.title(), slug=slug, type=kind))
            required = [{"slug": "weight", "required": True}, {"slug": "material", "required": True}]
            group = {"name": "Fabric Details", "attributes": required}
            template = templates.create(admin, TemplateFields(name="Apparel", slug="apparel", attribute_groups=[group]))

            def fields(n: int, template_id: str = template.id) -> dict[str, object]:
                values: dict[str, object] = {"weight": n % 1000}
                if n % 2:
                    values["material"] = "Cotton"
                return {"template_id": template_id, "attributes": values}

            write_catalog(PROJECT, size, scope.tenant_id, scope.org_id, extra=fields)
            first = run_pass(scope, args.page_size, template.id, Reevaluation, wiring)

            group = {"name": "Fabric Details", "attributes": [*required, {"slug": "care", "required": True}]}
            templates.update(admin, template.id, TemplatePatch(attribute_groups=[group]))
            reset_peak_rss([os.getpid()])
            load = "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
            profiler = cProfile.Profile() if args.profile else None
            t0 = time.monotonic()
            if profiler:
                profiler.enable()
            products = run_pass(scope, args.page_size, template.id, Reevaluation, wiring)[0]
            if profiler:
                profiler.disable()
            elapsed = time.monotonic() - t0
            peak = peak_rss_mib([os.getpid()])
            assert products == size, (products, size)
            print(
                f"{size:>9} {first[0] / first[1]:>14.0f} {elapsed:>15.1f} {products / elapsed:>16.0f} {peak:>9.1f}"
                f"  (load before {load}, after {'{:.1f} {:.1f} {:.1f}'.format(*os.getloadavg())})",
                flush=True,
            )
            if profiler:
                pstats.Stats(profiler).sort_stats("cumulative").print_stats("shared/|google/cloud/firestore", 30)
            firestore_emulator.wipe(PROJECT)
    finally:
        firestore_emulator.stop()


def run_pass(scope: Any, page_size: int, template_id: str, reevaluation: Any, wiring: Any) -> tuple[int, float]:
    """Every page of one re-evaluation run of the template's products; (products, seconds)."""
    from shared.services.tasks import ReevaluationTask

    pages = Pages()
    quality = wiring.quality(scope)
    service = reevaluation(scope, quality.catalog, quality, pages, page_size)
    task: ReevaluationTask | None = ReevaluationTask.first(scope, str(uuid.uuid4()), template_id)
    count, t0 = 0, time.monotonic()
    while task is not None:
        outcome = service.handle(task)
        count += int(outcome.split()[1])
        task = ReevaluationTask.model_validate(pages.queued.pop()) if pages.queued else None
    return count, time.monotonic() - t0


if __name__ == "__main__":
    main()
