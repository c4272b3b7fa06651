"""What the benchmarks share: realistic products, process memory readings, figures printed."""

from __future__ import annotations

import contextlib
import os
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

BRANDS = ["Acme", "Northwind", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli"]
CATEGORIES = ["Power Tools", "Garden", "Kitchen", "Lighting", "Outdoor Furniture", "Bathroom", "Storage"]
NOUNS = ["Cordless Drill", "Desk Lamp", "Garden Hose", "Chef Knife", "Patio Chair", "Shower Head", "Shelf Unit"]
ADJECTIVES = ["Compact", "Heavy-Duty", "Premium", "Eco", "Classic", "Smart", "Pro"]


def ean13(n: int) -> str:
    body = f"{n % 10**12:012d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def products(count: int, seed: int = 42) -> list[dict[str, object]]:
    """Catalog rows of about 330 bytes of JSON each, so 30,000 fit in a 10 MB request."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        noun = rng.choice(NOUNS)
        rows.append(
            {
                "title": f"{rng.choice(ADJECTIVES)} {noun} {i}",
                "sku": f"BN-{i:07d}",
                "barcode": ean13(590_000_000_000 + i),
                "description": f"{noun} built for daily use; tested for durability and backed by a two-year warranty.",
                "category": rng.choice(CATEGORIES),
                "brand": rng.choice(BRANDS),
                "attributes": {
                    "color": rng.choice(["black", "red", "green"]),
                    "weight_kg": round(rng.uniform(0.2, 9), 2),
                },
            }
        )
    return rows


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants (gunicorn's worker is a child of its master)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo += children.get(p, [])
    return tree


def reset_peak_rss(pids: list[int]) -> None:
    """Start a new peak-memory window (Linux: writing 5 to clear_refs resets VmHWM)."""
    for pid in pids:
        with contextlib.suppress(OSError):
            Path(f"/proc/{pid}/clear_refs").write_text("5")


def rss_mib(pid: int) -> float:
    """The current resident set (VmRSS) of one process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time the processes have used so far (utime + stime in /proc/PID/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / ticks


def peak_rss_mib(pids: list[int]) -> float:
    """The largest peak resident set (VmHWM) among the processes, in MiB."""
    peak = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
    return peak / 1024


def write_catalog(
    project: str,
    size: int,
    tenant: str,
    org: str,
    blocked_every: int = 0,
    extra: Callable[[int], dict[str, object]] | None = None,
) -> None:
    """Products written straight into Firestore in WriteBatches of 500, generated chunk by chunk
    (as a migration would, with no evaluation). 1 in 50 shares its SKU with the one before it and
    1 in 20 has no description, so a sweep has findings to record. With `blocked_every`, every
    n-th product also gets a quality summary holding an open ERROR issue, as evaluation leaves
    it, so an export has products to leave out."""
    from google.cloud import firestore

    from shared.adapters.firestore import wire
    from shared.adapters.firestore.base import TenantRoot
    from shared.adapters.firestore.quality import SUMMARIES
    from shared.domain.catalog import Collection
    from shared.domain.quality import QualitySummary, Severity, ValidationIssue, issue_id
    from shared.domain.tenancy import Scope

    root = TenantRoot(firestore.Client(project=project), Scope(tenant, org))
    now = datetime.now(UTC)
    for start in range(0, size, 250):
        rows = products(min(250, size - start), seed=start)
        batch = root.client.batch()
        pbs = []
        for i, row in enumerate(rows):
            n = start + i
            pid = str(uuid.uuid4())
            row = {**row, "sku": f"BN-{n - 1 if n % 50 == 1 else n:07d}"}
            if n % 20 == 0:
                row["description"] = None
            doc = {**row, "id": pid, "tenant_id": tenant, "org_id": org, "status": "ACTIVE", "variants": []}
            doc.update(extra(n) if extra else {})
            pbs.append(wire.create(root.path(Collection.PRODUCTS, pid), {**doc, "created_at": now, "updated_at": now}))
            if blocked_every and n % blocked_every == 0:
                issue = ValidationIssue(
                    id=issue_id(pid, "INVALID_BARCODE"), tenant_id=tenant, org_id=org, product_id=pid,
                    code="INVALID_BARCODE", severity=Severity.ERROR, field="barcode", message="invalid",
                    created_at=now, updated_at=now,
                )  # fmt: skip
                summary = QualitySummary(product_id=pid, open=[issue], evaluated_at=now)
                pbs.append(wire.create(root.path(SUMMARIES, pid), summary.model_dump(mode="python")))
        wire.stage(batch, pbs)
        batch.commit()
