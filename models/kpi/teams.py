"""Team objectives: attainment per objective, weighted score, ranking.

    higher-better: attainment = actual / target
    lower-better:  attainment = target / actual   (actual <= 0: the cap)
    attainment is capped at ``cap`` (default 1.2 = 120 %) and None when the
    KPI is not applicable (e.g. OEE of a shift with no planned busy time).
    score = min(100, 100 x sum(w x attainment) / sum(w)) over applicable
    objectives: meeting every target scores 100, over-achieving one objective
    can make up for at most 20 % of a missed one, and None if nothing applies.

Targets are per shift. Over several shifts, extensive KPIs (quantities:
metres, sessions, kWh, minutes) compare against target x shifts; intensive
KPIs (ratios, per-metre figures, times per event) against the target as is.
Which KPI is which, and how each is read from the KPI results, is the table
``OBJECTIVE_KPIS`` (``models.plant.objectives``).
"""

from __future__ import annotations

from dataclasses import dataclass

from shopfloor.models.kpi.fleet import FleetKpis
from shopfloor.models.kpi.printer import PrinterKpis
from shopfloor.models.plant import OBJECTIVE_KPIS, Direction, Objective, ObjectiveKpi, PrinterKpiSpec


def kpi_value(kpi: ObjectiveKpi, printer: PrinterKpis | None, fleet: FleetKpis | None) -> float | None:
    """Actual value of one objective KPI (None: no such equipment, or not applicable)."""
    spec = OBJECTIVE_KPIS[kpi]
    if isinstance(spec, PrinterKpiSpec):
        if printer is None or printer.times.pbt_s + printer.times.pdot_s <= 0:
            return None  # no data is not zero metres
        return spec.value(printer)
    if fleet is None or fleet.observed_s <= 0:
        return None
    return spec.value(fleet)


def attainment(actual: float | None, target: float, better: Direction, cap: float) -> float | None:
    if actual is None:
        return None
    if better is Direction.HIGHER:
        return min(max(actual, 0.0) / target, cap)
    return cap if actual <= 0 else min(target / actual, cap)


@dataclass(frozen=True, slots=True)
class ObjectiveResult:
    kpi: str
    direction: str
    target: float  # scaled to the number of shifts for extensive KPIs
    actual: float | None
    attainment_pct: float | None
    weight: float


@dataclass(frozen=True, slots=True)
class Score:
    score: float | None  # 0-100
    objectives: tuple[ObjectiveResult, ...]


def score(
    objectives: list[Objective], printer: PrinterKpis | None, fleet: FleetKpis | None, shifts: int, cap: float
) -> Score:
    results = []
    for o in objectives:
        target = o.target * shifts if OBJECTIVE_KPIS[o.kpi].extensive else o.target
        actual = kpi_value(o.kpi, printer, fleet)
        att = attainment(actual, target, o.better, cap) if shifts > 0 else None
        results.append(
            ObjectiveResult(o.kpi.value, o.better.value, target, actual, None if att is None else 100.0 * att, o.weight)
        )
    applicable = [(r.weight, r.attainment_pct) for r in results if r.attainment_pct is not None]
    if not applicable:
        return Score(None, tuple(results))
    weights = sum(weight for weight, _ in applicable)
    value = sum(weight * pct for weight, pct in applicable) / weights
    return Score(min(100.0, value), tuple(results))


def ranked(scores: dict[str, float | None]) -> list[str]:
    """Team ids best first; teams without a score last, ties by id."""
    return sorted(scores, key=lambda t: (scores[t] is None, -(scores[t] or 0.0), t))
