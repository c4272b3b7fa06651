"""Listings as tables that read well in an 80-column terminal: one line per row, ids never cut
(they are what the next command takes), long text cut short with an ellipsis, and columns of
least use left out when the terminal is too narrow for them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

GAP = 2  # spaces between columns
FLEX_MIN = 12  # a cut column keeps at least this much


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def when(value: Any) -> str:
    """An ISO 8601 timestamp to the minute: `2026-11-30 01:42`."""
    return text(value)[:16].replace("T", " ")


def job_type(value: Any) -> str:
    return text(value).removeprefix("BULK_")


@dataclass(frozen=True)
class Col:
    key: str
    header: str = ""
    flex: bool = False  # may be cut short to fit
    optional: bool = False  # left out when the terminal is too narrow
    show: Callable[[Any], str] = text

    def title(self) -> str:
        return self.header or self.key


def progress(row: dict[str, Any]) -> str:
    done = (row.get("processed_items") or 0) + (row.get("failed_items") or 0)
    total = row.get("total_items")
    return f"{done:,}/{total:,}" if total else f"{done:,}/?"


JOBS = [
    Col("id"),
    Col("job_type", "type", show=job_type),
    Col("status"),
    Col("progress", "done"),  # filled in from the counts
    Col("failed_items", "failed"),
    Col("created_at", "created", optional=True, show=when),
]
JOB_ERRORS = [
    Col("index"),
    Col("line", optional=True),
    Col("code"),
    Col("message", flex=True),
    Col("id", optional=True),
]
ISSUES = [
    Col("severity"),
    Col("code"),
    Col("product_id", "product"),
    Col("message", flex=True),
    Col("field", optional=True),
]
AUDIT = [
    Col("created_at", "when", show=when),
    Col("action"),
    Col("resource_id", "resource"),
    Col("actor_email", "by", flex=True),
]
PRODUCTS = [
    Col("id"),
    Col("sku", flex=True),
    Col("title", flex=True),
    Col("status"),
    Col("data_quality_score", "score"),
]


def render(console: Console, rows: list[dict[str, Any]], columns: list[Col]) -> None:
    cells = [[c.show(progress(row) if c.key == "progress" else row.get(c.key)) for c in columns] for row in rows]
    natural = [max([len(c.title())] + [len(line[i]) for line in cells]) for i, c in enumerate(columns)]
    shown = list(range(len(columns)))

    def fixed_width() -> int:
        return sum(natural[i] for i in shown if not columns[i].flex) + GAP * (len(shown) - 1)

    def flex_floor() -> int:
        return sum(min(natural[i], FLEX_MIN) for i in shown if columns[i].flex)

    for i in reversed(range(len(columns))):
        if columns[i].optional and fixed_width() + flex_floor() > console.width:
            shown.remove(i)
    widths = dict(zip(shown, (natural[i] for i in shown), strict=True))
    # The room left is shared by the cut-able columns, narrowest first, none above its need.
    flexible = sorted((i for i in shown if columns[i].flex), key=lambda i: natural[i])
    room = max(console.width - fixed_width(), 0)
    for n, i in enumerate(flexible):
        widths[i] = max(min(natural[i], room // (len(flexible) - n)), 1)
        room -= widths[i]
    table = Table(box=None, header_style="bold", pad_edge=False, padding=(0, GAP // 2))
    for i in shown:
        table.add_column(columns[i].title(), no_wrap=True, overflow="ellipsis", width=widths[i])
    for line in cells:
        table.add_row(*(line[i] for i in shown))
    console.print(table, soft_wrap=False)
