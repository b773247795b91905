"""This year so far, for the andon display: metres against the annual target, savings against the baseline.

From each printer's additive totals of the year so far (``PrinterTotals``
summed over the year's shifts: the ledger's and the running one's), per
printer and for the plant:

* metres printed, and against the annual target (``annual_target.py``):
  attainment, the pro-rata target now (also as a share of the target: where
  the display's marker stands), pace and the year-end projection. The
  plant's target is the sum of its printers' targets, set against the metres
  of those printers; a printer without a target stays out of both. A band
  says how the pace stands: green at or ahead of the pro-rata target, amber
  from 90 % of it, red below (the bands of the shift tile);
* energy, water and money saved against the conventional baseline and the
  CO2 avoided (``kpi/energy.py``: the formulas of a shift, over the year's
  totals, so a year's saving is not an average of shifts' percentages).

The figures cover ``[covered_from_ns, now_ns)``: from the year's start, or
from the first shift the system holds data of (a plant that started
monitoring this year has no figures before).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import reduce

from shopfloor.models.annual_target import AnnualTargetProgress, annual_target_progress
from shopfloor.models.bands import Band, band_of
from shopfloor.models.kpi.energy import EnergyKpis, energy_kpis
from shopfloor.models.kpi.printer import PrinterTotals
from shopfloor.models.periods import PeriodRange, year_to_date
from shopfloor.models.plant import Plant


def pace_band(pace_pct: float | None) -> Band | None:
    """The pace's band: the shift tile's rule (models/bands.py)."""
    return band_of(pace_pct)


@dataclass(frozen=True, slots=True)
class YearFigures:
    """One printer's, or the plant's, year so far."""

    printed_m: float
    target: AnnualTargetProgress | None  # None: no annual target set
    energy: EnergyKpis  # savings against the baseline and CO2 avoided over the year so far

    @property
    def expected_pct(self) -> float | None:
        """The pro-rata target now as a share of the annual target (where the progress bar's marker stands)."""
        t = self.target
        if t is None or t.expected_m is None:
            return None
        return 100.0 * t.expected_m / t.annual_target_m

    @property
    def band(self) -> Band | None:
        return None if self.target is None else pace_band(self.target.pace_pct)


@dataclass(frozen=True, slots=True)
class YearSoFar:
    year: PeriodRange  # the year so far: the year's start to now_ns, labelled with the year
    covered_from_ns: int | None  # the figures' data starts here (None: no data this year at all)
    printers: dict[str, YearFigures]
    plant: YearFigures

    @property
    def now_ns(self) -> int:
        return self.year.end_ns


def year_so_far(
    plant: Plant, now_ns: int, totals: Mapping[str, PrinterTotals], covered_from_ns: int | None
) -> YearSoFar:
    """The year-to-date figures of every printer and the plant from the printers' totals of the year so far.

    ``totals`` holds every printer of the plant; ``covered_from_ns`` is where their data starts (None: there
    is none), inside the year so far.
    """
    ids = [p.id for p in plant.printers]
    if sorted(totals) != sorted(ids):
        raise ValueError(f"totals must hold every printer of the plant ({', '.join(ids)}), got {', '.join(totals)}")
    year = year_to_date(plant.shift_calendar, plant.tz, now_ns, year_start_month=plant.plant.year_start_month)
    if covered_from_ns is not None and not year.start_ns <= covered_from_ns <= now_ns:
        raise ValueError(
            f"covered_from_ns must lie in the year so far [{year.start_ns}, {now_ns}], got {covered_from_ns}"
        )

    def progress(printed_m: float, target_m: float) -> AnnualTargetProgress:
        return annual_target_progress(
            plant.shift_calendar, plant.tz, now_ns, printed_m, target_m, year_start_month=plant.plant.year_start_month
        )

    printers: dict[str, YearFigures] = {}
    for p in plant.printers:
        t = totals[p.id]
        target = None if p.annual_target_m is None else progress(t.printed_m, p.annual_target_m)
        printers[p.id] = YearFigures(
            t.printed_m, target, energy_kpis(t.printed_m, t.energy_kwh, t.water_l, plant.baseline)
        )
    whole = reduce(lambda a, b: a + b, (totals[i] for i in ids), PrinterTotals())
    targets = {p.id: p.annual_target_m for p in plant.printers if p.annual_target_m is not None}
    plant_target = None
    if targets:
        plant_target = progress(sum(totals[i].printed_m for i in targets), sum(targets.values()))
    plant_figures = YearFigures(
        whole.printed_m, plant_target, energy_kpis(whole.printed_m, whole.energy_kwh, whole.water_l, plant.baseline)
    )
    return YearSoFar(year, covered_from_ns, printers, plant_figures)
