"""Additive printer totals and the KPIs derived from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from shopfloor.models.kpi.energy import EnergyKpis, energy_kpis
from shopfloor.models.kpi.oee import OeeResult, TimeTotals, availability, mtbf_s, mttr_s, oee, quality, ratio
from shopfloor.models.plant import Baseline, StopReason

N = TypeVar("N", int, float)


def _merge(a: dict[int, N], b: dict[int, N]) -> dict[int, N]:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return out


@dataclass(frozen=True, slots=True)
class PrinterTotals:
    """Everything additive about one or more printers over one or more shifts."""

    times: TimeTotals = field(default_factory=TimeTotals)
    produced_m: float = 0.0  # observed increments only (matches APT), for OEE
    defective_m: float = 0.0  # observed increments only, for OEE quality
    ideal_s: float = 0.0  # produced_m / ideal speed: lets printers of different speeds be summed
    printed_m: float = 0.0  # every increment, including across gaps
    printed_across_gap_m: float = 0.0  # part of printed_m read across a gap (kept, flagged)
    defective_all_m: float = 0.0
    energy_kwh: float = 0.0
    water_l: float = 0.0
    ink_kg: float = 0.0
    counter_wraps: int = 0
    counter_resets: int = 0
    downtime_s_by_reason: dict[int, float] = field(default_factory=dict)
    stops_by_reason: dict[int, int] = field(default_factory=dict)
    # Good metres at ideal speed ("fully productive time"): OEE of printers with different ideal speeds
    # is their summed fully productive time over summed planned busy time.
    good_ideal_s: float = 0.0

    def __add__(self, other: PrinterTotals) -> PrinterTotals:
        return PrinterTotals(
            self.times + other.times,
            self.produced_m + other.produced_m,
            self.defective_m + other.defective_m,
            self.ideal_s + other.ideal_s,
            self.printed_m + other.printed_m,
            self.printed_across_gap_m + other.printed_across_gap_m,
            self.defective_all_m + other.defective_all_m,
            self.energy_kwh + other.energy_kwh,
            self.water_l + other.water_l,
            self.ink_kg + other.ink_kg,
            self.counter_wraps + other.counter_wraps,
            self.counter_resets + other.counter_resets,
            _merge(self.downtime_s_by_reason, other.downtime_s_by_reason),
            _merge(self.stops_by_reason, other.stops_by_reason),
            self.good_ideal_s + other.good_ideal_s,
        )

    @property
    def observed_s(self) -> float:
        """Time inside shifts with data."""
        return self.times.pbt_s + self.times.pdot_s


@dataclass(frozen=True, slots=True)
class ParetoEntry:
    reason_code: int  # 0 = no reason given
    key: str
    category: str  # StopCategory value, or "unspecified"
    downtime_s: float
    stops: int


@dataclass(frozen=True, slots=True)
class PrinterKpis:
    oee: OeeResult
    energy: EnergyKpis
    pareto: tuple[ParetoEntry, ...]  # largest downtime first
    printed_m: float
    good_m: float
    defective_m: float  # every defective increment, across gaps too: printed_m = good_m + defective_m
    unplanned_downtime_min: float
    times: TimeTotals


def pareto(totals: PrinterTotals, stop_reasons: list[StopReason]) -> tuple[ParetoEntry, ...]:
    by_code = {r.code: r for r in stop_reasons}
    entries = []
    for code, seconds in totals.downtime_s_by_reason.items():
        reason = by_code.get(code)
        entries.append(
            ParetoEntry(
                code,
                reason.key if reason else ("unspecified" if code == 0 else f"unknown_{code}"),
                reason.category.value if reason else "unspecified",
                seconds,
                totals.stops_by_reason.get(code, 0),
            )
        )
    return tuple(sorted(entries, key=lambda e: (-e.downtime_s, e.reason_code)))


def _pct(x: float | None) -> float | None:
    return None if x is None else 100.0 * x


def printer_kpis(totals: PrinterTotals, baseline: Baseline, stop_reasons: list[StopReason]) -> PrinterKpis:
    t = totals.times
    a = availability(t)
    p = ratio(totals.ideal_s, t.apt_s)  # = (produced_m / ideal speed) / APT, see oee.performance
    q = quality(totals.produced_m - totals.defective_m, totals.produced_m)
    m_f, m_r = mtbf_s(t), mttr_s(t)
    # For one printer good_ideal_s / PBT is exactly A x P x Q; for a group of printers with different ideal
    # speeds only this form weighs each machine's good metres by its own ideal speed.
    whole = None if oee(a, p, q) is None else ratio(totals.good_ideal_s, t.pbt_s)
    result = OeeResult(
        _pct(a),
        _pct(p),
        _pct(q),
        _pct(whole),
        None if m_f is None else m_f / 60,
        None if m_r is None else m_r / 60,
    )
    return PrinterKpis(
        oee=result,
        energy=energy_kpis(totals.printed_m, totals.energy_kwh, totals.water_l, baseline),
        pareto=pareto(totals, stop_reasons),
        printed_m=totals.printed_m,
        good_m=totals.printed_m - totals.defective_all_m,
        defective_m=totals.defective_all_m,
        unplanned_downtime_min=t.adot_s / 60.0,
        times=t,
    )
