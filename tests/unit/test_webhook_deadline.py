"""The deadline of one webhook attempt, on its own: when it has passed and what time is left."""

from __future__ import annotations

import pytest

from shared.adapters.webhooks import DeadlineExpiredError, _Deadline


def test_a_deadline_has_passed_once_its_time_is_up_even_before_its_timer_fires() -> None:
    # A socket timeout can end a read at the deadline before the timer shuts the socket down:
    # that failure is still the deadline's.
    assert _Deadline(-0.001).passed()
    assert not _Deadline(60).passed()


def test_the_time_left_is_never_more_than_the_deadline_gave_and_none_once_it_passed() -> None:
    assert 59 < _Deadline(60).remaining() <= 60
    with pytest.raises(DeadlineExpiredError):
        _Deadline(-0.001).remaining()
