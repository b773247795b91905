"""KPIs per period of a range (day, week, month, quarter, year), for ranges of months and years.

A report (``KpiService.report``) lists every shift and every day; over a year
that is a thousand shifts and most of the work, and over ten years more than a
response should carry. A breakdown takes the same per-shift totals (closed
shifts from the ledger, the rest from raw samples: ``api.ledger.compose``) and
only sums them per period (``models.kpi.report.period_reports``): the range's
total, its periods, and what they rest on (``ReportBasis``). A total covering
the range has exactly the equipment figures and team scores of the report of
the same range.

Cached per (range, breakdown period, annotation version), like reports: a
range still running for ``cache_s``; an ended one 30 times as long; one that
ended before late samples are looked for (``LATE_CHECK_DAYS``) for ten
minutes, since only an operator's correction (a new annotation version, so a
new key) or a new plant file (a restart) changes it then.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from shopfloor.api.background import BackgroundRefresh
from shopfloor.api.kpi_service import COMPLETED_RANGE_TTL_FACTOR, KpiService
from shopfloor.api.ledger import LATE_CHECK_DAYS, LedgerIncomplete, ReportBasis, compose
from shopfloor.api.raw_window import RawSamplesExpired
from shopfloor.api.timerange import RangeError, TimeRange
from shopfloor.models.kpi.report import PeriodReport, period_reports
from shopfloor.models.periods import Period, periods_between
from shopfloor.models.timebase import NS_PER_DAY
from shopfloor.store.base import StoreError

log = logging.getLogger("shopfloor.api.breakdowns")

# Per-shift lists (a report's shifts, a team's score per shift) cover ranges up to this long; longer ranges are
# answered per period.
BY_SHIFT_MAX_DAYS = 31
MAX_PERIODS = 400  # periods one breakdown lists: a year of days
CACHE_ENTRIES = 512  # small entries (a few figures per period): a page of ten years of months fits
SETTLED_RANGE_TTL_S = 600.0
# An expired breakdown up to this old is still served while one recomputation runs in the background: a year's
# figures take seconds to compose, and no request should wait for that because the cache turned over
# (stale-while-revalidate; what is served is never older than this).
STALE_SERVE_S = 30.0

_Key = tuple[int, int, int, str]


@dataclass(frozen=True, slots=True)
class Breakdown:
    total: PeriodReport  # the whole range (label "total")
    by: Period | None
    periods: tuple[PeriodReport, ...]  # per ``by`` period, each clipped to the range; empty when ``by`` is None
    basis: ReportBasis


@dataclass(frozen=True, slots=True)
class _Entry:
    made_monotonic: float
    ttl_s: float
    breakdown: Breakdown


def period_spans(kpi: KpiService, rng: TimeRange, by: Period) -> list[tuple[str, int, int]]:
    """(label, start_ns, end_ns) of every ``by`` period overlapping the range, clipped to it; RangeError beyond
    MAX_PERIODS."""
    plant = kpi.plant
    days = (rng.end_ns - rng.start_ns) / NS_PER_DAY
    # Shifts are counted before they are listed: ten years of them take a moment to build only to be refused.
    per_day = len(plant.shift_calendar.shifts)
    listed = by is not Period.SHIFT or days * per_day <= MAX_PERIODS + per_day
    found = (
        periods_between(
            plant.shift_calendar, plant.tz, by, rng.start_ns, rng.end_ns, year_start_month=plant.plant.year_start_month
        )
        if listed
        else []
    )
    if not listed or len(found) > MAX_PERIODS:
        raise RangeError(
            f"by={by.value} over {days:.0f} days lists more than {MAX_PERIODS} periods; choose a longer period"
            " (day, week, month, quarter, year) or a shorter range"
        )
    return [(p.label, max(p.start_ns, rng.start_ns), min(p.end_ns, rng.end_ns)) for p in found]


def is_long(rng: TimeRange) -> bool:
    """Longer than a response lists per shift: answered per period, from a breakdown."""
    return rng.end_ns - rng.start_ns > BY_SHIFT_MAX_DAYS * NS_PER_DAY


def listing(kpi: KpiService, rng: TimeRange, by: str | None) -> Period:
    """What a response lists per: ``by`` if given, else shift up to BY_SHIFT_MAX_DAYS and month beyond.
    RangeError for shifts over a longer range, or more than MAX_PERIODS periods."""
    chosen = Period(by) if by else Period.MONTH if is_long(rng) else Period.SHIFT
    if chosen is Period.SHIFT:
        if is_long(rng):
            raise RangeError(
                f"by=shift lists ranges of up to {BY_SHIFT_MAX_DAYS} days; over longer ones choose by=day, week,"
                " month, quarter or year"
            )
    else:
        period_spans(kpi, rng, chosen)  # refused now, before any computation
    return chosen


class BreakdownService:
    """Breakdowns of ranges, computed over the KPI service's ledger and store, within its computation slots."""

    def __init__(self, kpi: KpiService, cache_s: float) -> None:
        self.kpi = kpi
        self.cache_s = cache_s
        self._cache: OrderedDict[_Key, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[_Key, threading.Lock] = {}
        self._refresh = BackgroundRefresh(
            "breakdown", (StoreError, LedgerIncomplete, RangeError, RawSamplesExpired), log
        )
        self.computations = 0  # for tests: how often a breakdown was really computed

    def get(self, rng: TimeRange, by: Period | None = None) -> Breakdown:
        """The breakdown of ``rng`` per ``by`` (None: its total only); RangeError if ``by`` lists too many."""
        self.kpi.check_store()
        spans = [] if by is None else period_spans(self.kpi, rng, by)
        key = (rng.start_ns, rng.nominal_end_ns, self.kpi.annotations.version, "" if by is None else by.value)
        with self._lock:
            found = self._cached(key)
            if found is not None:
                return found
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # concurrent requests for one range wait for one computation
            with self._lock:
                found = self._cached(key)
            if found is not None:
                return found
            breakdown = self._compute(rng, by, spans)
            with self._lock:
                self._cache[key] = _Entry(time.monotonic(), self._ttl_s(rng, breakdown), breakdown)
                self._cache.move_to_end(key)
                while len(self._cache) > CACHE_ENTRIES:
                    old, _ = self._cache.popitem(last=False)
                    self._key_locks.pop(old, None)
            return breakdown

    async def get_async(self, rng: TimeRange, by: Period | None = None) -> Breakdown:
        """For async routes: a fresh cached breakdown at once; an expired one up to STALE_SERVE_S old at once
        while one recomputation runs in the background; otherwise computed now."""
        key = (rng.start_ns, rng.nominal_end_ns, self.kpi.annotations.version, by.value if by else "")
        with self._lock:
            found = self._cached(key)
            entry = self._cache.get(key) if found is None else None
        if found is not None:
            return found
        if entry is not None and time.monotonic() - entry.made_monotonic <= STALE_SERVE_S:
            self.kpi.check_store()  # a full disk answers 503 even for what is cached, as everywhere
            self._refresh.start(key, lambda: self.get(rng, by))
            return entry.breakdown
        return await asyncio.to_thread(self.get, rng, by)

    def _cached(self, key: _Key) -> Breakdown | None:
        """A fresh breakdown of the key; for a total only (no ``by``), the total of any breakdown of the range."""
        entry = self._fresh(key)
        if entry is not None:
            return entry.breakdown
        if key[3]:
            return None
        for other in self._cache:
            if other[:3] == key[:3] and (entry := self._fresh(other)) is not None:
                return dataclasses.replace(entry.breakdown, by=None, periods=())
        return None

    def _fresh(self, key: _Key) -> _Entry | None:
        entry = self._cache.get(key)
        if entry is None or time.monotonic() - entry.made_monotonic > entry.ttl_s:
            return None
        return entry

    def _ttl_s(self, rng: TimeRange, breakdown: Breakdown) -> float:
        end_ns = breakdown.total.end_ns  # computed up to here
        if rng.nominal_end_ns > end_ns:
            return self.cache_s  # still running
        if end_ns + (LATE_CHECK_DAYS + 1) * NS_PER_DAY <= self.kpi.clock_ns():
            return SETTLED_RANGE_TTL_S
        return self.cache_s * COMPLETED_RANGE_TTL_FACTOR

    def _compute(self, rng: TimeRange, by: Period | None, spans: list[tuple[str, int, int]]) -> Breakdown:
        kpi = self.kpi
        now = kpi.clock_ns()
        end_ns = min(rng.nominal_end_ns, now)  # re-clipped: "now" has moved since the range was resolved
        spans = [(label, start, min(end, end_ns)) for label, start, end in spans if start < end_ns]
        with kpi.computation_slot():
            totals, basis = compose(kpi.ledger, rng.start_ns, end_ns, now)
            reports = period_reports(
                kpi.plant, rng.start_ns, end_ns, totals, [("total", rng.start_ns, end_ns), *spans], kpi.config
            )
        self.computations += 1
        return Breakdown(reports[0], by, reports[1:], basis)
