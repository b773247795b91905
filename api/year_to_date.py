"""The year so far, for the display's year-to-date tiles: ledger-backed, cached, recomputed in the background.

Figures (models/year_progress.py) come from the printers' totals of the year
so far, composed like every report (api/ledger.py ``compose``, here for the
printers alone): closed shifts from the ledger, the running shift and the
ones not settled yet from raw samples. They start at the year's start, or at
the first shift the store holds data of (a ledger row that saw any, or a
sample), whichever is later: a plant that started monitoring this year, or a
demo whose simulated past is still being written, has nothing before, and
computing that time from raw samples it does not have would be refused as too
long (``LedgerIncomplete``).

The display asks every few seconds; the figures move by a shift's metres in
hours. So one computation serves everyone for ``YTD_TTL_S``; after that the
cached figures are still served (up to ``STALE_FACTOR`` lifetimes) while one
recomputation runs in the background. An operator's correction (a new
annotation version) is computed at once, as for every report.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shopfloor.api.background import BackgroundRefresh
from shopfloor.api.kpi_service import KpiService
from shopfloor.api.ledger import MAX_RAW_NS, Ledger, LedgerIncomplete, ReportBasis, raw_pieces, read_inputs
from shopfloor.api.timerange import iso
from shopfloor.models.calendar import shift_instances
from shopfloor.models.contract import MEASUREMENT_PRINTER, MEASUREMENT_ROBOT
from shopfloor.models.kpi.printer import PrinterTotals
from shopfloor.models.kpi.report import equipment_totals
from shopfloor.models.ledger import LedgerRow
from shopfloor.models.periods import Period, period_range, year_to_date
from shopfloor.models.plant import Plant
from shopfloor.models.timebase import NS_PER_DAY
from shopfloor.models.year_progress import YearFigures, YearSoFar, year_so_far
from shopfloor.store.base import StoreError

log = logging.getLogger("shopfloor.api.year_to_date")

YTD_TTL_S = 30.0
STALE_FACTOR = 5


@dataclass(frozen=True, slots=True)
class YearToDate:
    figures: YearSoFar
    basis: ReportBasis | None  # None: no data this year, nothing composed
    annotation_version: int


class YearToDateService:
    def __init__(
        self, kpi: KpiService, *, ttl_s: float = YTD_TTL_S, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.kpi = kpi
        self.plant = kpi.plant
        self.ttl_s = ttl_s
        self._monotonic = monotonic
        self._lock = threading.Lock()  # the cache
        self._computing = threading.Lock()  # one computation at a time: a year's rows are read once
        self._cached: tuple[float, YearToDate] | None = None
        self._refresh = BackgroundRefresh("year-to-date", (StoreError, RuntimeError), log)
        self.computations = 0  # for tests: how often the figures were really computed

    # ------------------------------------------------------------------ computing

    def compute(self) -> YearToDate:
        """Uncached: the year so far up to the plant's now."""
        kpi = self.kpi
        plant = self.plant
        version = kpi.annotations.version
        now = kpi.clock_ns()
        year = year_to_date(plant.shift_calendar, plant.tz, now, year_start_month=plant.plant.year_start_month)
        start = self.covered_from(year.start_ns, now)
        totals = {p.id: PrinterTotals() for p in plant.printers}
        basis = None
        if start is not None and start < now:
            totals, basis = printer_totals(kpi.ledger, start, now, now)
        self.computations += 1
        return YearToDate(year_so_far(plant, now, totals, start), basis, version)

    def covered_from(self, year_start_ns: int, now_ns: int) -> int | None:
        """The start of the first shift this year the store holds data of: a ledger row that saw any, or a
        sample (None: none). The keeper writes rows of the shifts before a plant's first sample too (they saw
        nothing): those are not where the data begins."""
        store = self.kpi.store
        ledger = self.kpi.ledger
        found: list[int] = []
        if ledger.equipment_ids:
            # rows are written for every equipment of a shift at once: one equipment's tell where they begin
            rows = store.read_ledger(year_start_ns, now_ns, ledger.equipment_ids[:1])
            first = next((r.shift_start_ns for r in rows if holds_data(r)), None)
            if first is not None:
                found.append(first)
        for measurement, ids in (
            (MEASUREMENT_PRINTER, ledger.printer_ids),
            (MEASUREMENT_ROBOT, list(ledger.robot_fleet)),
        ):
            if not ids:
                continue
            # In context, the first sample at or after the year's start comes back as the closing neighbour.
            series = store.read_series_in_context(measurement, ids, ["state"], year_start_ns, year_start_ns + 1)
            for fields in series.values():
                ts = fields["state"].ts_ns
                after = ts[ts >= year_start_ns]
                if len(after):
                    found.append(int(after[0]))
        first = min(found, default=None)
        if first is None or first >= now_ns:
            return None
        # the shift it falls in (or the next one, between two shifts): shifts are what a report is made of
        instances = shift_instances(self.plant.shift_calendar, self.plant.tz, first, first + 2 * NS_PER_DAY)
        shift_start = next((i.start_ns for i in instances if i.end_ns > first), first)
        return min(max(year_start_ns, shift_start), now_ns)

    # ------------------------------------------------------------------ serving

    def get(self) -> YearToDate:
        """Fresh (within the TTL, same annotations) or computed now."""
        with self._lock:
            cached = self._usable(self.ttl_s)
        if cached is not None:
            return cached
        with self._computing:
            with self._lock:
                cached = self._usable(self.ttl_s)  # a concurrent caller may have just computed it
            if cached is not None:
                return cached
            result = self.compute()
            with self._lock:
                self._cached = (self._monotonic(), result)
            return result

    async def get_async(self) -> YearToDate:
        """For the route: cached figures at once; expired ones (up to STALE_FACTOR lifetimes) at once while one
        recomputation runs in the background; otherwise computed now, in a worker thread."""
        with self._lock:
            fresh = self._usable(self.ttl_s)
            stale = None if fresh is not None else self._usable(self.ttl_s * STALE_FACTOR)
        if fresh is not None:
            return fresh
        if stale is not None:
            self._refresh.start("year", self.get)
            return stale
        return await asyncio.to_thread(self.get)

    def _usable(self, max_age_s: float) -> YearToDate | None:
        if self._cached is None:
            return None
        made, result = self._cached
        if result.annotation_version != self.kpi.annotations.version:
            return None  # a correction since: computed at once, never served stale
        return result if self._monotonic() - made <= max_age_s else None


def printer_totals(
    ledger: Ledger, start_ns: int, end_ns: int, now_ns: int
) -> tuple[dict[str, PrinterTotals], ReportBasis]:
    """Each printer's totals over [start_ns, end_ns), summed in shift order: ``compose``'s rule (api/ledger.py)
    for the printers alone. The year so far needs nothing of the robots, and a plant's robots have a dozen
    ledger rows a shift for its printer's one: decoding theirs was most of the cost of a year.

    Closed shifts with a printer row (not made stale by an operator's correction) come from the ledger, the
    rest from raw samples; more than MAX_RAW_NS of those raises LedgerIncomplete, as every report does.
    """
    plant, printers = ledger.plant, ledger.printer_ids
    instances = shift_instances(plant.shift_calendar, plant.tz, start_ns, end_ns)
    closed = ledger.closed_instances(start_ns, end_ns, now_ns)
    rows: dict[tuple[int, str], LedgerRow] = {}
    if closed and printers:
        rows = {r.key: r for r in ledger.store.read_ledger(closed[0].start_ns, closed[-1].end_ns, printers)}
    corrected = {closed[k].start_ns for k in ledger._corrected(closed, rows)}  # compose's own test, shared
    usable = {
        i.start_ns for i in closed if i.start_ns not in corrected and all((i.start_ns, p) in rows for p in printers)
    }
    stale = tuple(
        i.key
        for i in closed
        if i.start_ns in usable and any(rows[(i.start_ns, p)].plant_version != ledger.version for p in printers)
    )
    pieces = raw_pieces(instances, usable, start_ns, end_ns)
    raw_ns = sum(b - a for a, b in pieces)
    if raw_ns > MAX_RAW_NS:
        raise LedgerIncomplete(
            f"the ledger holds {len(usable)} of the {len(closed)} closed shifts of this year so far; the rest"
            f" ({raw_ns / NS_PER_DAY:.0f} days) is more than a request computes from raw samples"
            f" ({MAX_RAW_NS // NS_PER_DAY} days): the ledger is still being built, ask again later"
            " or run `shopfloor ledger rebuild`"
        )
    computed: dict[int, dict[str, PrinterTotals]] = {}
    printers_only = plant.model_copy(update={"fleets": []})  # a printer's figures read nothing of the robots
    for a, b in pieces:
        inputs = read_inputs(printers_only, ledger.store, ledger.annotations, a, b, ledger.config)
        part = equipment_totals(printers_only, a, b, inputs.series, inputs.events, ledger.config, None)
        for k, i in enumerate(part.instances):
            computed[i.start_ns] = {p: part.printers[p][k] for p in printers}
    totals = {p: PrinterTotals() for p in printers}
    for i in instances:
        for p in printers:
            if i.start_ns in usable:
                row = rows[(i.start_ns, p)].totals
                assert isinstance(row, PrinterTotals)  # a printer's row (models/ledger.py)
                totals[p] = totals[p] + row
            else:
                totals[p] = totals[p] + computed[i.start_ns][p]
    return totals, ReportBasis(len(usable), len(instances) - len(usable), stale)


def holds_data(row: LedgerRow) -> bool:
    """The row's shift saw something: time with data (a row of a shift before a plant's first sample holds none)."""
    t = row.totals
    if isinstance(t, PrinterTotals):
        return t.observed_s > 0
    return sum(t.seconds_by_state) > 0


def year_to_date_json(plant: Plant, result: YearToDate) -> dict[str, Any]:
    """The body of ``GET /api/v1/year-to-date`` (api/schemas.py ``YearToDate``)."""
    f = result.figures
    whole_year = period_range(
        plant.shift_calendar, plant.tz, Period.YEAR, f.now_ns, year_start_month=plant.plant.year_start_month
    )
    basis = result.basis
    return {
        "year": f.year.label,
        "year_start": iso(plant, whole_year.start_ns),
        "year_end": iso(plant, whole_year.end_ns),
        "now": iso(plant, f.now_ns),
        "now_ns": f.now_ns,
        "covered_from": None if f.covered_from_ns is None else iso(plant, f.covered_from_ns),
        "from_year_start": f.covered_from_ns == whole_year.start_ns,
        "currency": plant.baseline.currency,
        "grid_emission_kg_co2_per_kwh": plant.baseline.grid_emission_kg_co2_per_kwh,
        "plant": _figures_json(f.plant),
        "printers": [
            {"id": p.id, "name": p.name, "name_zh": p.name_zh, **_figures_json(f.printers[p.id])}
            for p in plant.printers
        ],
        "basis": {
            "ledger_shifts": 0 if basis is None else basis.ledger_shifts,
            "raw_shifts": 0 if basis is None else basis.raw_shifts,
            "stale_shift_keys": [] if basis is None else list(basis.stale_shift_keys),
        },
    }


def _figures_json(y: YearFigures) -> dict[str, Any]:
    t, e = y.target, y.energy
    return {
        "printed_m": y.printed_m,
        "annual_target_m": None if t is None else t.annual_target_m,
        "attainment_pct": None if t is None else t.attainment_pct,
        "expected_m": None if t is None else t.expected_m,
        "expected_pct": y.expected_pct,
        "pace_pct": None if t is None else t.pace_pct,
        "projected_m": None if t is None else t.projected_m,
        "band": None if y.band is None else y.band.value,
        "energy_kwh": e.energy_kwh,
        "baseline_energy_kwh": e.baseline_energy_kwh,
        "energy_saving_kwh": e.energy_saving_kwh,
        "energy_saving_pct": e.energy_saving_pct,
        "water_l": e.water_l,
        "baseline_water_l": e.baseline_water_l,
        "water_saving_l": e.water_saving_l,
        "water_saving_pct": e.water_saving_pct,
        "money_saving": e.money_saving,
        "co2_avoided_kg": e.co2_avoided_kg,
    }
