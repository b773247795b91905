"""Shared collector pieces: cadence, backoff, connectivity tracking, the sink protocol."""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopfloor.collectors.base import Backoff, ConnectivityTracker, next_tick
from shopfloor.models.samples import ConnectivityEvent, SampleBatch, SampleSink

# --------------------------------------------------------------------------- cadence


def next_tick_reference(t0: float, interval: float, last: int, now: float) -> tuple[int, int]:
    """Walk the grid one tick at a time: the first deadline not yet past."""
    k = last + 1
    while t0 + k * interval < now - 1e-9 * interval:
        k += 1
    return k, k - (last + 1)


@settings(max_examples=500, deadline=None)
@given(
    t0=st.floats(0, 1e6),
    interval=st.floats(0.01, 10),
    last=st.integers(0, 1000),
    elapsed_ticks=st.floats(0, 50),
)
def test_next_tick_matches_walking_the_grid(t0: float, interval: float, last: int, elapsed_ticks: float) -> None:
    now = t0 + (last + elapsed_ticks) * interval
    tick = next_tick(t0, interval, last, now)
    ref_index, ref_skipped = next_tick_reference(t0, interval, last, now)
    # Exactly on a deadline both may differ by rounding; off the grid they must agree.
    frac = (now - t0) / interval % 1
    if 1e-6 < frac < 1 - 1e-6:
        assert (tick.index, tick.skipped) == (ref_index, ref_skipped)
    assert tick.index > last
    assert tick.deadline == t0 + tick.index * interval
    assert tick.deadline >= now - 1e-6 * interval  # never schedules in the past: no burst
    assert tick.skipped == tick.index - last - 1


def test_next_tick_examples() -> None:
    assert next_tick(100.0, 1.0, 0, 100.3) == next_tick(100.0, 1.0, 0, 100.999)
    assert (next_tick(100.0, 1.0, 0, 100.3).index, next_tick(100.0, 1.0, 0, 100.3).skipped) == (1, 0)
    # poll of tick 0 ran until 103.5: ticks 1, 2, 3 are missed, tick 4 is next
    tick = next_tick(100.0, 1.0, 0, 103.5)
    assert (tick.index, tick.deadline, tick.skipped) == (4, 104.0, 3)
    # finishing exactly on a deadline keeps that tick
    assert next_tick(0.0, 0.5, 3, 2.0).index == 4
    with pytest.raises(ValueError):
        next_tick(0.0, 0.0, 0, 1.0)


# --------------------------------------------------------------------------- backoff


def test_backoff_doubles_up_to_the_cap_and_resets() -> None:
    backoff = Backoff(0.5, 5.0)
    assert [backoff.next_delay() for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    assert backoff.attempts == 7
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_backoff_does_not_overflow_after_many_failures() -> None:
    backoff = Backoff(1.0, 60.0)
    for _ in range(5000):
        delay = backoff.next_delay()
    assert delay == 60.0


@given(st.floats(0.01, 10), st.floats(1, 100), st.floats(0, 0.99), st.integers(0, 2**32))
def test_backoff_jitter_stays_within_bounds(initial: float, cap_factor: float, jitter: float, seed: int) -> None:
    backoff = Backoff(initial, initial * cap_factor, jitter_ratio=jitter, rng=random.Random(seed))
    plain = Backoff(initial, initial * cap_factor)
    for _ in range(20):
        delay, reference = backoff.next_delay(), plain.next_delay()
        assert reference * (1 - jitter) - 1e-12 <= delay <= reference + 1e-12
        assert delay > 0 and math.isfinite(delay)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"initial_s": 0, "max_s": 1}, "initial_s"),
        ({"initial_s": 2, "max_s": 1}, "max_s"),
        ({"initial_s": 1, "max_s": 2, "factor": 0.5}, "factor"),
        ({"initial_s": 1, "max_s": 2, "jitter_ratio": 1.0}, "jitter_ratio"),
    ],
)
def test_backoff_rejects_bad_settings(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Backoff(**kwargs)


# --------------------------------------------------------------------------- connectivity


def test_tracker_reports_changes_only_and_logs_one_line_each(caplog: pytest.LogCaptureFixture) -> None:
    tracker = ConnectivityTracker("mso-cpp-1", "modbus:mso-cpp-1", logging.getLogger("test.tracker"))
    caplog.set_level(logging.INFO, logger="test.tracker")
    events = [
        tracker.connected(1_000_000_000),
        *[tracker.connected(t) for t in range(2, 50)],
        tracker.lost(5_000_000_000, "timeout"),
        *[tracker.lost(t, "timeout") for t in range(2, 50)],
        tracker.connected(8_500_000_000),
    ]
    changes = [e for e in events if e is not None]
    assert [(e.ts_ns, e.connected) for e in changes] == [
        (1_000_000_000, True),
        (5_000_000_000, False),
        (8_500_000_000, True),
    ]
    assert all(e.equipment == "mso-cpp-1" and e.source == "modbus:mso-cpp-1" for e in changes)
    assert changes[1].detail == "timeout"
    assert changes[2].detail == "recovered after 3.5 s"
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3
    assert "connected" in lines[0] and "lost" in lines[1] and "recovered" in lines[2]


def test_tracker_reports_a_device_unreachable_from_the_start() -> None:
    tracker = ConnectivityTracker("p", "modbus:p")
    event = tracker.lost(7, "connection refused")
    assert event == ConnectivityEvent(7, "p", "modbus:p", False, "connection refused")
    assert not tracker.is_connected
    assert tracker.lost(8, "connection refused") is None


# --------------------------------------------------------------------------- protocol and clock


class ListSink:
    def __init__(self) -> None:
        self.batches: list[SampleBatch] = []
        self.events: list[ConnectivityEvent] = []

    def write(self, batch: SampleBatch) -> None:
        self.batches.append(batch)

    def write_connectivity(self, events: Sequence[ConnectivityEvent]) -> None:
        self.events.extend(events)


def test_sink_protocol_is_structural() -> None:
    assert isinstance(ListSink(), SampleSink)
    assert not isinstance(object(), SampleSink)
