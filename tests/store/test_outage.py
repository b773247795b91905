"""OutageLog: a lasting failure is a start line, a line a period, an end line - and flapping is not a storm."""

from __future__ import annotations

import logging

import pytest

from shopfloor.store.outage import OutageLog
from tests.fixtures.clock import ManualClock


@pytest.fixture
def outage(caplog: pytest.LogCaptureFixture) -> tuple[OutageLog, ManualClock]:
    caplog.set_level(logging.INFO, logger="test.outage")
    clock = ManualClock()
    return OutageLog(logging.getLogger("test.outage"), "thing", period_s=60, clock=clock), clock


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "test.outage"]


def test_start_periodic_and_end_lines(outage: tuple[OutageLog, ManualClock], caplog: pytest.LogCaptureFixture) -> None:
    log, clock = outage
    for _ in range(100):
        log.failed("disk full", "3 waiting")
        clock.advance(1)
    log.recovered("all committed")
    assert messages(caplog) == [
        "thing: disk full; 3 waiting",
        "thing: still failing after 60 s (60 failed attempts in the last 60 s): disk full; 3 waiting",
        "thing: works again after 100 s and 100 failed attempts; all committed",
    ]
    log.recovered()  # nothing going on: nothing to say
    assert len(messages(caplog)) == 3


def test_flapping_costs_at_most_a_start_and_an_end_line_a_period(
    outage: tuple[OutageLog, ManualClock], caplog: pytest.LogCaptureFixture
) -> None:
    log, clock = outage
    for _ in range(50):  # fails, works, fails, works... every second, for 100 s
        log.failed("disk full")
        clock.advance(1)
        log.recovered()
        clock.advance(1)
    assert messages(caplog) == ["thing: disk full", "thing: works again after 1 s and 1 failed attempts"] * 2
    assert log.failures == 50
    log.failed("disk full")  # a relapse that lasts a period is told, and so is its end
    clock.advance(61)
    log.failed("disk full")
    log.recovered()
    assert messages(caplog)[-2:] == [
        "thing: still failing after 61 s (1 failed attempts in the last 61 s): disk full",
        "thing: works again after 61 s and 2 failed attempts",
    ]
