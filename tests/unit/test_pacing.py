"""The 500/50/5 ramp as products/s a tenant's jobs may write, and when a follow-on batch may start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.bulk import Pacing

RAMP = Pacing(start_rate=250, max_rate=450)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "rate"),
    [
        (0, 250),
        (299.9, 250),  # the first 5 minutes: 500 ops/s on `products`, 2 a product
        (300, 375),  # then half as much again every 5 minutes ...
        (599, 375),
        (600, 450),  # ... until the cap (562.5 would be above it)
        (86_400 * 365, 450),  # a year on: still the cap, no overflow
        (-5, 250),  # a first write stamped a little later by another worker's clock
    ],
)
def test_the_rate_follows_the_ramp_up_to_the_cap(seconds: float, rate: float) -> None:
    assert RAMP.rate(timedelta(seconds=seconds)) == rate


def test_an_uncapped_ramp_grows_by_half_every_five_minutes() -> None:
    ramp = Pacing(start_rate=250, max_rate=10_000)
    assert [ramp.rate(timedelta(minutes=5 * k)) for k in range(4)] == [250, 375, 562.5, 843.75]


def test_k_batches_side_by_side_start_no_faster_than_the_rate() -> None:
    started = T0 + timedelta(seconds=10)
    # 2 slots, 249 items a batch, 250 products/s: each slot starts a batch every 1.992 s.
    assert RAMP.next_start(T0, started, 249, 2) == started + timedelta(seconds=2 * 249 / 250)
    # Ten minutes in, at the cap of 450/s.
    later = T0 + timedelta(minutes=10)
    assert RAMP.next_start(T0, later, 450, 1) == later + timedelta(seconds=1)
