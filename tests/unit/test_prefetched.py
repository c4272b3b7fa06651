"""The read-ahead helper exports stream through: order kept, errors raised, early stop honoured."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator

import pytest

from shared.adapters.firestore.base import prefetched
from tests.support import concurrently


def test_every_item_arrives_in_order() -> None:
    assert list(prefetched(iter(range(1001)), batch=7, depth=2)) == list(range(1001))
    assert list(prefetched(iter([]))) == []


def test_an_error_while_reading_reaches_the_caller_after_the_items_before_it() -> None:
    def failing() -> Iterator[int]:
        yield from range(5)
        raise RuntimeError("stream broke")

    seen: list[int] = []
    with pytest.raises(RuntimeError, match="stream broke"):
        for item in prefetched(failing(), batch=2):
            seen.append(item)
    assert seen == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("batch", [10, 1])
def test_a_caller_that_stops_early_stops_the_reader(batch: int) -> None:
    produced: list[int] = []

    def endless() -> Iterator[int]:
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    items = prefetched(endless(), batch=batch, depth=2)
    [first] = concurrently(lambda: next(items), timeout=10)  # handed over batch by batch, not at the end
    assert first == 0
    items.close()
    time.sleep(0.5)  # the reader notices within its 0.1 s put timeout
    count = len(produced)
    time.sleep(0.3)
    assert len(produced) == count <= batch * (2 + 2)  # it stopped, having read at most a few batches ahead
    assert not [t for t in threading.enumerate() if t.name == "prefetch" and t.is_alive()]


def test_a_slow_caller_gets_every_item_while_the_reader_waits_for_room() -> None:
    """The reader fills its queue, then keeps waiting for room (not giving up) while the caller
    takes its time over each item."""

    def slowly() -> list[int]:
        taken = []
        for item in prefetched(iter(range(5)), batch=1, depth=1):
            time.sleep(0.15)  # longer than the reader waits for room at a time
            taken.append(item)
        return taken

    [taken] = concurrently(slowly, timeout=20)
    assert taken == [0, 1, 2, 3, 4]


def test_the_reader_is_a_daemon_thread_named_prefetch() -> None:
    """It never holds a process open at exit, and a thread dump tells it apart."""
    before = {t for t in threading.enumerate() if t.name == "prefetch"}
    items = prefetched(itertools.count(), batch=1, depth=1)  # endless: the reader stays busy
    assert next(items) == 0
    readers = [t for t in threading.enumerate() if t.name == "prefetch" and t not in before]
    items.close()
    assert len(readers) == 1 and readers[0].daemon
