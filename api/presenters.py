"""KPI-core results -> the JSON the API returns (labels in English and Chinese added here).

Pure functions of (plant, report): no I/O, so a route is "resolve range,
get report, present".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from shopfloor.api.ledger import ReportBasis
from shopfloor.api.timerange import TimeRange, iso
from shopfloor.models.bands import band_of
from shopfloor.models.kpi import EnergyKpis, KpiReport, PrinterKpis, energy_kpis
from shopfloor.models.kpi.report import PeriodReport, ShiftReport, TeamPeriod, TeamReport
from shopfloor.models.plant import OBJECTIVE_KPIS, Plant, Team, TeamKind

if TYPE_CHECKING:  # presenters stay pure: the plan row's type only
    from shopfloor.store.annotations import PlannedOrder

OBJECTIVE_LABELS: dict[str, tuple[str, str, str]] = {
    # kpi -> (English, Chinese, unit)
    kpi.value: (spec.label_en, spec.label_zh, spec.unit)
    for kpi, spec in OBJECTIVE_KPIS.items()
}


def jsonable(x: Any) -> Any:
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return jsonable(dataclasses.asdict(x))
    if isinstance(x, dict):
        return {str(k.isoformat() if isinstance(k, dt.date) else k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, (set, frozenset)):
        return sorted(x)
    if isinstance(x, dt.date):
        return x.isoformat()
    if isinstance(x, float) and x != x:
        return None  # NaN is not JSON
    return x


def basis_json(basis: ReportBasis) -> dict[str, Any]:
    return {
        "ledger_shifts": basis.ledger_shifts,
        "raw_shifts": basis.raw_shifts,
        "stale_shift_keys": list(basis.stale_shift_keys),
        "unrecorded_equipment": list(basis.unrecorded_equipment),
    }


def range_json(plant: Plant, rng: TimeRange, basis: ReportBasis | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "basis": None if basis is None else basis_json(basis),
        "start": iso(plant, rng.start_ns),
        "end": iso(plant, rng.end_ns),
        "start_ns": rng.start_ns,
        "end_ns": rng.end_ns,
        "shift": None,
        "period": None if rng.period is None else {"kind": rng.period.kind, "label": rng.period.label},
    }
    if rng.shift is not None:
        out["shift"] = shift_json(
            plant, rng.shift.key, rng.shift.shift_id, rng.shift.crew, rng.shift.start_ns, rng.shift.end_ns
        )
    return out


def shift_json(plant: Plant, key: str, shift_id: str, crew: str | None, start_ns: int, end_ns: int) -> dict[str, Any]:
    shift = next(s for s in plant.shift_calendar.shifts if s.id == shift_id)
    return {
        "key": key,
        "id": shift_id,
        "name": shift.name,
        "name_zh": shift.name_zh,
        "crew": crew,
        "start": iso(plant, start_ns),
        "end": iso(plant, end_ns),
    }


def pareto_json(plant: Plant, entries: Iterable[Any]) -> list[dict[str, Any]]:
    out = []
    for e in entries:
        reason = plant.stop_reason(e.reason_code)
        out.append(
            {
                "reason_code": e.reason_code,
                "key": e.key,
                "category": e.category,
                "name": reason.name if reason else ("No reason given" if e.reason_code == 0 else e.key),
                "name_zh": reason.name_zh if reason else ("未填写原因" if e.reason_code == 0 else e.key),
                "downtime_min": e.downtime_s / 60.0,
                "stops": e.stops,
            }
        )
    return out


def printer_json(plant: Plant, pk: PrinterKpis) -> dict[str, Any]:
    return {
        "oee": jsonable(pk.oee),
        "energy": jsonable(pk.energy),
        "printed_m": pk.printed_m,
        "good_m": pk.good_m,
        "defective_m": pk.defective_m,
        "unplanned_downtime_min": pk.unplanned_downtime_min,
        "times": jsonable(pk.times),
        "pareto": pareto_json(plant, pk.pareto),
    }


def design_json(plant: Plant, design_code: int) -> dict[str, Any] | None:
    """A design as an order shows it; None for no design (0) or a code the plant file does not list."""
    design = plant.design(design_code)
    return None if design is None else {"name": design.name, "name_zh": design.name_zh, "colourway": design.colourway}


def plan_json(planned: PlannedOrder | None) -> dict[str, Any]:
    """What the imported plan says of an order, as an order's report and its progress show it (all None for an
    order in no plan). The plan's colourway is the customer's; the design's own stays in ``design``."""
    if planned is None:
        return {"metres_ordered": None, "fabric": None, "colourway": None}
    return {"metres_ordered": planned.metres_ordered, "fabric": planned.fabric, "colourway": planned.colourway}


def baseline_json(plant: Plant) -> dict[str, Any]:
    return jsonable(plant.baseline.model_dump())


def objective_json(result: Any) -> dict[str, Any]:
    en, zh, unit = OBJECTIVE_LABELS.get(result.kpi, (result.kpi, result.kpi, ""))
    return {
        "kpi": result.kpi,
        "name": en,
        "name_zh": zh,
        "unit": unit,
        "direction": result.direction,
        "target": result.target,
        "actual": result.actual,
        "attainment_pct": result.attainment_pct,
        "band": band_of(result.attainment_pct),
        "weight": result.weight,
    }


def team_json(plant: Plant, t: TeamReport | TeamPeriod) -> dict[str, Any]:
    team = plant.team(t.team_id)
    return {
        "team": t.team_id,
        "name": team.name,
        "name_zh": team.name_zh,
        "kind": t.kind,
        "rank": t.rank,
        "score": t.score.score,
        "shifts": t.shifts,
        "equipment": list(team.equipment),
        "objectives": [objective_json(o) for o in t.score.objectives],
    }


def scoreboard_json(
    plant: Plant, rng: TimeRange, report: KpiReport, basis: ReportBasis | None = None
) -> dict[str, Any]:
    return {"range": range_json(plant, rng, basis), "teams": [team_json(plant, t) for t in report.teams]}


def team_shifts(team: Team, report: KpiReport) -> list[ShiftReport]:
    """The shift reports a team answers for (crews: only the shifts they worked)."""
    if team.kind is TeamKind.EQUIPMENT:
        return list(report.shifts)
    return [s for s in report.shifts if s.crew == team.id]


def merged_pareto(plant: Plant, printer_ids: list[str], shifts: list[ShiftReport]) -> list[dict[str, Any]]:
    seconds: dict[int, float] = {}
    stops: dict[int, int] = {}
    keys: dict[int, tuple[str, str]] = {}
    for s in shifts:
        for pid in printer_ids:
            for e in s.printers[pid].pareto:
                seconds[e.reason_code] = seconds.get(e.reason_code, 0.0) + e.downtime_s
                stops[e.reason_code] = stops.get(e.reason_code, 0) + e.stops
                keys[e.reason_code] = (e.key, e.category)

    @dataclasses.dataclass
    class _E:
        reason_code: int
        key: str
        category: str
        downtime_s: float
        stops: int

    entries = sorted(
        (_E(c, keys[c][0], keys[c][1], seconds[c], stops[c]) for c in seconds),
        key=lambda e: (-e.downtime_s, e.reason_code),
    )
    return pareto_json(plant, entries)


def merged_energy(plant: Plant, printer_ids: list[str], shifts: list[ShiftReport]) -> EnergyKpis:
    printed = sum(s.printers[p].energy.printed_m for s in shifts for p in printer_ids)
    energy = sum(s.printers[p].energy.energy_kwh for s in shifts for p in printer_ids)
    water = sum(s.printers[p].energy.water_l for s in shifts for p in printer_ids)
    return energy_kpis(printed, energy, water, plant.baseline)


def team_report_json(plant: Plant, rng: TimeRange, report: KpiReport, team_id: str) -> dict[str, Any]:
    """The end-of-shift objectives sheet of one team."""
    team = plant.team(team_id)
    t = next(x for x in report.teams if x.team_id == team_id)
    shifts = team_shifts(team, report)
    printers = [e for e in team.equipment if e in {p.id for p in plant.printers}]
    fleets = [e for e in team.equipment if e in {f.id for f in plant.fleets}]
    return {
        "range": range_json(plant, rng),
        "team": team_json(plant, t),
        "shifts_worked": [s.key for s in shifts],
        "top_downtime_reasons": merged_pareto(plant, printers, shifts)[:5],
        "energy_water": jsonable(merged_energy(plant, printers, shifts)) if printers else None,
        "baseline": baseline_json(plant),
        "printers": {p: printer_json(plant, report.printers[p]) for p in printers},
        "fleets": {f: jsonable(report.fleets[f]) for f in fleets},
    }


# ---------------------------------------------------------------------------------------------- per period


def summed_energy(plant: Plant, printers: Iterable[PrinterKpis]) -> EnergyKpis:
    """Energy and water of several printers' totals against the baseline (``merged_energy`` without shifts)."""
    listed = list(printers)
    printed = sum(p.energy.printed_m for p in listed)
    energy = sum(p.energy.energy_kwh for p in listed)
    water = sum(p.energy.water_l for p in listed)
    return energy_kpis(printed, energy, water, plant.baseline)


def period_json(plant: Plant, p: PeriodReport) -> dict[str, Any]:
    return {
        "label": p.label,
        "start": iso(plant, p.start_ns),
        "end": iso(plant, p.end_ns),
        "start_ns": p.start_ns,
        "end_ns": p.end_ns,
        "shifts": p.shifts,
    }


def period_kpis_json(plant: Plant, p: PeriodReport) -> dict[str, Any]:
    return {
        **period_json(plant, p),
        "printers": {pid: printer_json(plant, pk) for pid, pk in p.printers.items()},
        "fleets": {fid: jsonable(fk) for fid, fk in p.fleets.items()},
    }


def team_period_report_json(plant: Plant, rng: TimeRange, total: PeriodReport, team_id: str) -> dict[str, Any]:
    """``team_report_json`` for a range answered per period: the same sheet from the range's total."""
    team = plant.team(team_id)
    t = next(x for x in total.teams if x.team_id == team_id)
    printers = [e for e in team.equipment if e in total.printers]
    fleets = [e for e in team.equipment if e in total.fleets]
    return {
        "range": range_json(plant, rng),
        "team": team_json(plant, t),
        "shifts_worked": [],  # per shift only up to 31 days; team.shifts counts them
        "top_downtime_reasons": pareto_json(plant, t.printer.pareto)[:5] if t.printer is not None else [],
        "energy_water": jsonable(t.printer.energy) if t.printer is not None else None,
        "baseline": baseline_json(plant),
        "printers": {p: printer_json(plant, total.printers[p]) for p in printers},
        "fleets": {f: jsonable(total.fleets[f]) for f in fleets},
    }
