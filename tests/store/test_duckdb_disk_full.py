"""The embedded store on a real full disk (a tiny tmpfs): it keeps samples in memory, within a bound, says so in a
few log lines, refuses reads with the reason, and commits everything - once, in order - when space returns.

Nothing is mocked: the kernel answers ENOSPC, DuckDB 2.x reacts as it does
(a failed WAL write rolls the transaction back; a failed checkpoint
invalidates the database), and rows are counted in the file afterwards. The
tests wait on the store's own state (a failed attempt, an empty buffer), never
on wall-clock budgets; the log period is driven by a manual clock.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from shopfloor.store import StoreUnavailable
from shopfloor.store.duckdb_store import DuckDBStore
from tests.fixtures.clock import ManualClock
from tests.fixtures.tmpfs import fill, free
from tests.fixtures.waiting import wait_until
from tests.store._batches import T0, good

PLANT = "shanghai-1"
PER_BATCH = 20
LOGGER = "shopfloor.store.duckdb_store"


class Writer:
    """Numbered printer batches with distinct timestamps, so a lost or doubled sample shows in a count."""

    def __init__(self, store: DuckDBStore) -> None:
        self.store = store
        self.batches = 0

    def write(self, batches: int = 1) -> None:
        for _ in range(batches):
            n = self.batches
            rows = [(T0 + (n * PER_BATCH + k) * 1000, "mso-cpp-1", "speed_m_min", float(n)) for k in range(PER_BATCH)]
            self.store.write(good("printer", rows))
            self.batches += 1

    @property
    def samples(self) -> int:
        return self.batches * PER_BATCH


def stored_timestamps(store: DuckDBStore) -> np.ndarray:
    got = store.read_series("printer", ["mso-cpp-1"], ["speed_m_min"], T0, T0 + 10**15)
    return got["mso-cpp-1"]["speed_m_min"].ts_ns


def fail_a_commit(store: DuckDBStore, writer: Writer) -> str:
    """Write until a commit fails (the disk is full); the reason."""

    def failed() -> str | None:
        writer.write(5)
        return store.health().problem

    return str(wait_until(failed, "a commit to fail on the full disk"))


def recovered(store: DuckDBStore) -> bool:
    health = store.health()
    return health.problem is None and health.unsaved_samples == 0


def records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER]


def test_a_full_disk_keeps_samples_and_commits_them_when_space_returns(
    tiny_fs: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    path = tiny_fs / "s.duckdb"
    store = DuckDBStore(path, PLANT, flush_interval_s=0.05, clock=ManualClock())
    try:
        writer = Writer(store)
        writer.write(50)
        store.flush()
        filler = fill(tiny_fs)
        problem = fail_a_commit(store, writer)
        assert problem.startswith("no space left on device:") and str(path) in problem, problem
        writer.write(100)  # collection goes on: accepted, kept in memory
        health = store.health()
        assert health.unsaved_samples >= 100 * PER_BATCH and health.dropped_samples == 0
        with pytest.raises(StoreUnavailable, match=r"no space left on device.*samples wait in memory"):
            stored_timestamps(store)

        free(filler)
        wait_until(lambda: recovered(store), "everything buffered to be committed once space returned")
        ts = stored_timestamps(store)
        assert len(ts) == writer.samples, "nothing lost"
        assert len(np.unique(ts)) == len(ts), "nothing stored twice"
    finally:
        store.close()
    lines = records(caplog)
    # the clock did not move: a start line and an end line, whatever the number of failed attempts
    assert [r.levelno for r in lines] == [logging.ERROR, logging.WARNING], [r.getMessage() for r in lines]
    assert "no space left on device" in lines[0].getMessage()
    assert "works again" in lines[1].getMessage()
    assert all(r.exc_info is None for r in caplog.records), "no tracebacks"


def test_a_lasting_failure_is_logged_at_its_start_once_a_period_and_at_its_end(
    tiny_fs: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    clock = ManualClock()
    store = DuckDBStore(tiny_fs / "s.duckdb", PLANT, flush_interval_s=0.02, clock=clock, outage_log_period_s=60)
    try:
        writer = Writer(store)
        writer.write(10)
        store.flush()
        filler = fill(tiny_fs)
        fail_a_commit(store, writer)
        periods = 3
        for period in range(1, periods + 1):
            # many failed attempts within a period: no more lines
            seen = store.outage.failures
            wait_until(lambda: store.outage.failures >= seen + 5, "more failed attempts")  # noqa: B023  # waited on at once, inside the loop
            assert store.outage.lines == period
            clock.advance(61)
            seen = store.outage.failures
            wait_until(lambda: store.outage.failures > seen, "the next failed attempt")  # noqa: B023  # waited on at once, inside the loop
            assert store.outage.lines == period + 1
        # the commit lag is the age of the oldest sample not committed: the clock moved 3 x 61 s since
        assert store.health().unsaved_age_s >= periods * 61
        free(filler)
        wait_until(lambda: recovered(store), "the buffer to be committed")
        assert store.health().unsaved_age_s == 0
    finally:
        store.close()
    lines = [r.getMessage() for r in records(caplog)]
    assert len(lines) == 1 + periods + 1, lines
    assert "still failing after 61 s" in lines[1] and "failed attempts in the last 61 s" in lines[1]
    assert "still failing after 183 s" in lines[3]
    assert f"works again after 183 s and {store.outage.failures} failed attempts" in lines[4]
    assert all(r.exc_info is None for r in caplog.records), "no tracebacks"


def test_memory_is_bounded_and_what_does_not_fit_is_counted(
    tiny_fs: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    bound = 2_000
    store = DuckDBStore(tiny_fs / "s.duckdb", PLANT, flush_interval_s=0.05, max_unsaved_samples=bound)
    try:
        writer = Writer(store)
        writer.write(5)
        store.flush()
        filler = fill(tiny_fs)
        fail_a_commit(store, writer)
        writer.write(500)  # 10 000 samples: five times the bound
        health = store.health()
        assert health.unsaved_samples <= bound, "memory holds at most the bound"
        assert health.dropped_samples >= 500 * PER_BATCH - bound, "the rest was dropped, and counted"
        dropped = health.dropped_samples
        free(filler)
        wait_until(lambda: recovered(store), "the buffer to be committed")
        assert len(stored_timestamps(store)) == writer.samples - dropped, "what was not dropped is stored"
        assert store.health().dropped_samples == dropped
    finally:
        store.close()
    said = [r.getMessage() for r in records(caplog) if "dropped and counted" in r.getMessage()]
    assert len(said) == 1, said  # once, not once per dropped batch


def test_a_failed_checkpoint_reopens_the_file_and_neither_loses_nor_doubles_a_sample(
    tiny_fs: Path,
) -> None:
    """DuckDB 2.x invalidates the database when a checkpoint fails, even one that follows a commit it reports
    as durable; the store reopens the file and tells from its commit marker whether the piece got in."""
    store = DuckDBStore(
        tiny_fs / "s.duckdb",
        PLANT,
        flush_interval_s=0.05,
        duckdb_config={"checkpoint_threshold": "200KB"},  # checkpoints often: the WAL fits, the checkpoint not
    )
    try:
        writer = Writer(store)
        writer.write(20)
        store.flush()
        filler = fill(tiny_fs, leave_bytes=300 << 10)

        def reopened() -> bool:
            writer.write(5)
            return store.reopens > 0

        wait_until(reopened, "a failed checkpoint to make the store reopen the file")
        writer.write(50)
        free(filler)
        wait_until(lambda: recovered(store), "the buffer to be committed")
        ts = stored_timestamps(store)
        assert len(ts) == writer.samples and len(np.unique(ts)) == len(ts)
    finally:
        store.close()
    with DuckDBStore(tiny_fs / "s.duckdb", PLANT) as again:  # and it is all in the file
        assert len(stored_timestamps(again)) == writer.samples
