"""ISO 22400-2 KPIs from summed times and quantities (one short function each).

Totals are additive; ratios are computed from totals, never averaged:
a day's availability is sum(APT) / sum(PBT) over its shifts.

Decisions (docs/kpi.md, "OEE"):
* A ratio whose denominator is 0 is None ("not applicable"), never 0.
* Performance is NOT capped at 100 %: above 100 % means the ideal speed in
  the plant file is wrong or a counter misbehaves, and a cap would hide it
  and break OEE = good metres / (ideal speed x PBT).
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True, slots=True)
class TimeTotals:
    """Seconds per ISO 22400 element, and stop statistics, of one or more shifts."""

    apt_s: float = 0.0  # actual production time (includes micro-stops)
    aust_s: float = 0.0  # setup
    adot_s: float = 0.0  # unplanned down time (stops at least the micro-stop threshold)
    adet_s: float = 0.0  # external delay time (stops at least the micro-stop threshold)
    pdot_s: float = 0.0  # planned down time (breaks, planned stops, maintenance)
    no_data_s: float = 0.0
    outside_shift_s: float = 0.0
    micro_stop_s: float = 0.0  # part of apt_s
    micro_stops: int = 0
    failures: int = 0  # unplanned stop events at least the micro-stop threshold
    repair_s: float = 0.0  # their summed duration (time to repair)

    def __add__(self, other: TimeTotals) -> TimeTotals:
        return TimeTotals(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @property
    def pbt_s(self) -> float:
        """Planned busy time = shift time - planned down time - no data."""
        return self.apt_s + self.aust_s + self.adot_s + self.adet_s


def ratio(numerator: float, denominator: float) -> float | None:
    return None if denominator <= 0 else numerator / denominator


def availability(t: TimeTotals) -> float | None:
    """ISO 22400-2 availability = APT / PBT."""
    return ratio(t.apt_s, t.pbt_s)


def performance(produced_m: float, apt_s: float, ideal_speed_m_min: float) -> float | None:
    """ISO 22400-2 effectiveness = (produced quantity x ideal cycle time) / APT, with cycle time = 1/ideal speed."""
    return ratio(produced_m / ideal_speed_m_min, apt_s / 60.0)


def quality(good_m: float, produced_m: float) -> float | None:
    """ISO 22400-2 quality ratio = good quantity / produced quantity."""
    return ratio(good_m, produced_m)


def oee(a: float | None, p: float | None, q: float | None) -> float | None:
    """OEE = availability x effectiveness x quality ratio (None if any is not applicable)."""
    if a is None or p is None or q is None:
        return None
    return a * p * q


def mtbf_s(t: TimeTotals) -> float | None:
    """Mean operating time between failures = APT / number of failures."""
    return ratio(t.apt_s, t.failures)


def mttr_s(t: TimeTotals) -> float | None:
    """Mean time to repair = summed failure duration / number of failures."""
    return ratio(t.repair_s, t.failures)


@dataclass(frozen=True, slots=True)
class OeeResult:
    availability_pct: float | None
    performance_pct: float | None
    quality_pct: float | None
    oee_pct: float | None
    mtbf_min: float | None
    mttr_min: float | None


def _scaled(x: float | None, k: float) -> float | None:
    return None if x is None else x * k


def oee_result(t: TimeTotals, produced_m: float, good_m: float, ideal_speed_m_min: float) -> OeeResult:
    a = availability(t)
    p = performance(produced_m, t.apt_s, ideal_speed_m_min)
    q = quality(good_m, produced_m)
    return OeeResult(
        availability_pct=_scaled(a, 100.0),
        performance_pct=_scaled(p, 100.0),
        quality_pct=_scaled(q, 100.0),
        oee_pct=_scaled(oee(a, p, q), 100.0),
        mtbf_min=_scaled(mtbf_s(t), 1 / 60),
        mttr_min=_scaled(mttr_s(t), 1 / 60),
    )
