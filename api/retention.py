"""Raw retention: raw samples older than ``[storage] raw_retention_days`` go, once the ledger holds their shifts.

The serving process runs :func:`keep_raw_retention` beside the ledger keeper
(api/ledger.py). A pass (:func:`run_retention`, at most once an hour; sooner
while a long history is still being absorbed):

1. **Cutoff**: now less the retention, moved back to the start of the shift
   it falls in, so a shift is kept whole in raw samples or not at all.
2. **Absorb**: every shift before the cutoff whose ledger rows are missing or
   stale (another plant file, an operator's correction) is computed from the
   raw samples still there and written, at most ``ABSORB_PER_PASS`` a pass;
   the cutoff stops at the first shift not absorbed yet. Raw samples the
   ledger has not absorbed are never dropped.
3. **Drop**: the embedded store deletes the samples before the cutoff (each
   series keeps its last one before it, the context of the first shift
   kept), frees their blocks for new samples and, when at least half of the
   file is free (a first drop over a long history, a shorter retention),
   rewrites it smaller. An InfluxDB server drops old samples itself: once the
   ledger holds every shift older than the retention, the database's policies
   are set (the samples' to the retention, the ledger's kept for ever).

One log line per drop, with what it removed; docs/storage.md, "Raw retention".
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from shopfloor.api.ledger import Ledger
from shopfloor.api.timerange import iso
from shopfloor.models.calendar import ShiftInstance, shift_at, shift_instances
from shopfloor.models.timebase import NS_PER_DAY
from shopfloor.store.base import Compaction, RawDrop, StoreError, StoreUnavailable

log = logging.getLogger("shopfloor.api.retention")

# How often a pass runs (wall time): a drop removes about an hour's worth of samples (a shift's, when one ends).
RETENTION_EVERY_S = 3600.0
# While older shifts are still being absorbed (a long history met for the first time), the next pass comes this soon.
ABSORBING_EVERY_S = 15.0
# After a failure (the store unavailable), the next attempt.
RETRY_S = 60.0
# Shifts a pass computes at most before it drops: a month of three shifts a day, a few minutes of one core.
ABSORB_PER_PASS = 90
# A file is rewritten smaller when at least this much of it, and half of it, is free.
COMPACT_MIN_FREE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RetentionPass:
    """What one pass did."""

    cutoff_ns: int | None  # raw samples before this are gone or going; None: nothing is older than the retention
    absorbed: int  # shifts written to the ledger first
    waiting: ShiftInstance | None  # the first shift older than the retention the ledger does not hold yet
    drop: RawDrop | None  # what the embedded store deleted
    policy: str | None  # what the InfluxDB server was told
    compaction: Compaction | None


def retention_cutoff_ns(ledger: Ledger, now_ns: int) -> int:
    """Now less the retention, moved back to the start of the shift running then (none: between shifts)."""
    plant = ledger.plant
    target = now_ns - plant.storage.raw_retention_days * NS_PER_DAY
    running = shift_at(plant.shift_calendar, plant.tz, target)
    return target if running is None else running.start_ns


def run_retention(
    ledger: Ledger,
    now_ns: int,
    *,
    absorb_limit: int = ABSORB_PER_PASS,
    compact_min_free_bytes: int = COMPACT_MIN_FREE_BYTES,
) -> RetentionPass:
    """One pass: absorb the shifts before the cutoff into the ledger, then drop their raw samples (module doc)."""
    store = ledger.store
    cutoff = retention_cutoff_ns(ledger, now_ns)
    kept = store.raw_kept_since_ns(now_ns)
    if kept is not None and kept >= cutoff:
        return RetentionPass(None, 0, None, None, None, None)  # dropped up to here already, or the server does it
    oldest = store.oldest_raw_ns()
    # Before ``kept`` only the context samples of an earlier drop remain: no shift there can be computed again.
    lo = oldest if kept is None else max(oldest if oldest is not None else kept, kept)
    absorbed, waiting = 0, None
    if lo is not None and lo < cutoff:
        instances = [
            i
            for i in shift_instances(ledger.plant.shift_calendar, ledger.plant.tz, lo, cutoff)
            if i.end_ns <= cutoff and (kept is None or i.start_ns >= kept)
        ]
        if instances:
            rows = {r.key: r for r in store.read_ledger(instances[0].start_ns, instances[-1].end_ns)}
            due = ledger.stale(instances, rows, now_ns, check_late=False)
            if due[:absorb_limit]:
                absorbed = ledger.refresh(due[:absorb_limit])
                # InfluxDB: the rows reach the server before it may drop what they came from (DuckDB: committed)
                if not store.flush():
                    return RetentionPass(due[0].start_ns, absorbed, due[0], None, None, None)
            if due[absorb_limit:]:
                waiting = due[absorb_limit]
                cutoff = waiting.start_ns
    drop = None
    if lo is not None and lo < cutoff and (kept is None or cutoff > kept):
        drop = store.drop_raw_before(cutoff)
    policy = None
    if drop is None and waiting is None:
        policy = store.ensure_retention()  # only once the ledger holds everything older than the retention
    compaction = None
    if drop is not None and drop.rows:
        compaction = store.compact(min_free_bytes=compact_min_free_bytes)
    return RetentionPass(cutoff, absorbed, waiting, drop, policy, compaction)


def describe(ledger: Ledger, done: RetentionPass) -> list[str]:
    """The log lines of a pass (none when it did nothing)."""
    plant = ledger.plant
    lines = []
    days = plant.storage.raw_retention_days
    retention = f"{days} day{'' if days == 1 else 's'}"
    if done.absorbed:
        lines.append(f"raw retention: {done.absorbed} shift(s) older than {retention} written to the ledger first")
    if done.drop is not None and done.drop.rows:
        d = done.drop
        lines.append(
            f"raw retention: dropped {d.deleted.get('printer', 0):,} printer and {d.deleted.get('robot', 0):,} robot"
            f" samples and {d.deleted.get('quality', 0):,} quality records before {iso(plant, d.cutoff_ns)}"
            f" ({retention}; the ledger holds those shifts); file {_mb(d.file_bytes)}, {_mb(d.free_bytes)} of it"
            " free for new samples"
        )
    if done.compaction is not None:
        c = done.compaction
        lines.append(
            f"raw retention: file compacted from {_mb(c.bytes_before)} to {_mb(c.bytes_after)} in {c.seconds:.1f} s"
        )
    if done.policy:
        lines.append(f"raw retention: {done.policy}")
    if done.waiting is not None:
        lines.append(
            f"raw retention: raw samples from {iso(plant, done.waiting.start_ns)} on are kept until the ledger holds"
            f" shift {done.waiting.key} and the ones after it (written {ABSORB_PER_PASS} shifts a pass)"
        )
    return lines


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


async def keep_raw_retention(ledger: Ledger, every_s: float = RETENTION_EVERY_S) -> None:
    """Run a retention pass now and every ``every_s`` until cancelled (sooner while absorbing a long history);
    one warning per stretch of failures, one line when it works again."""
    failing = False
    while True:
        delay = every_s
        try:
            done = await asyncio.to_thread(run_retention, ledger, ledger.clock_ns())
            for line in describe(ledger, done):
                log.info("%s", line)
            if done.waiting is not None and done.absorbed:
                delay = min(every_s, ABSORBING_EVERY_S)
            if failing:
                log.info("raw retention: working again")
                failing = False
        except StoreUnavailable as exc:
            log.debug("raw retention: store unavailable: %s", exc)  # the store says so itself, once per stretch
            delay = min(every_s, RETRY_S)
        except StoreError as exc:
            if not failing:
                log.warning("raw retention: cannot run now (%s); retrying every %.0f s", exc, min(every_s, RETRY_S))
                failing = True
            delay = min(every_s, RETRY_S)
        await asyncio.sleep(delay)
