"""KPIs per machine, fleet and robot; downtime Pareto; savings vs baseline; daily trends; CSV series."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import math
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status

from shopfloor.api.breakdowns import BY_SHIFT_MAX_DAYS, is_long
from shopfloor.api.deps import UNPROCESSABLE, ListingDep, RangeDep, RawRangeDep, ServicesDep, not_found
from shopfloor.api.presenters import (
    baseline_json,
    jsonable,
    merged_energy,
    period_kpis_json,
    printer_json,
    range_json,
    summed_energy,
)
from shopfloor.api.schemas import AllKpis, DailyTrends, EquipmentKpis, Pareto, Savings, Throughput
from shopfloor.api.timerange import RangeError, TimeRange, iso
from shopfloor.models.calendar import from_ns, to_ns
from shopfloor.models.kpi.teams import kpi_value
from shopfloor.models.periods import Period
from shopfloor.models.plant import ObjectiveKpi

router = APIRouter(prefix="/api/v1", tags=["kpis"])


def _kind(services: ServicesDep, equipment_id: str) -> str:
    p = services.plant
    if equipment_id in {x.id for x in p.printers}:
        return "printer"
    if equipment_id in {f.id for f in p.fleets}:
        return "fleet"
    if equipment_id in {r.id for f in p.fleets for r in f.robots}:
        return "robot"
    known = [x.id for x in p.printers] + [f.id for f in p.fleets] + [r.id for f in p.fleets for r in f.robots]
    raise not_found("machine, fleet or robot", equipment_id, known)


@router.get(
    "/kpis", summary="Every equipment's KPIs over the range (default: the current shift)", response_model=AllKpis
)
async def all_kpis(services: ServicesDep, rng: RangeDep, by: ListingDep) -> dict[str, Any]:
    plant = services.plant
    if by is not Period.SHIFT:
        breakdown = await services.breakdowns.get_async(rng, by)
        total = breakdown.total
        return {
            "range": range_json(plant, rng, breakdown.basis),
            "printers": {pid: printer_json(plant, pk) for pid, pk in total.printers.items()},
            "fleets": {fid: jsonable(fk) for fid, fk in total.fleets.items()},
            "robots": {rid: jsonable(fk) for rid, fk in total.robots.items()},
            "shifts": [],
            "by": by.value,
            "periods": [period_kpis_json(plant, p) for p in breakdown.periods],
        }
    report, basis = await services.kpi.report_and_basis_async(rng)
    return {
        "range": range_json(plant, rng, basis),
        "printers": {pid: printer_json(plant, pk) for pid, pk in report.printers.items()},
        "fleets": {fid: jsonable(fk) for fid, fk in report.fleets.items()},
        "robots": {rid: jsonable(fk) for rid, fk in report.robots.items()},
        "shifts": [
            {
                "key": s.key,
                "crew": s.crew,
                "start": iso(plant, s.start_ns),
                "end": iso(plant, s.end_ns),
                "printers": {pid: printer_json(plant, pk) for pid, pk in s.printers.items()},
                "fleets": {fid: jsonable(fk) for fid, fk in s.fleets.items()},
            }
            for s in report.shifts
        ],
        "by": by.value,
        "periods": [],
    }


@router.get(
    "/equipment/{equipment_id}/kpis",
    summary="KPIs of one printer, fleet or robot, total and per shift",
    response_model=EquipmentKpis,
)
async def equipment_kpis(equipment_id: str, services: ServicesDep, rng: RangeDep, by: ListingDep) -> dict[str, Any]:
    kind = _kind(services, equipment_id)
    plant = services.plant
    out: dict[str, Any] = {"equipment": equipment_id, "kind": kind}
    if by is not Period.SHIFT:
        breakdown = await services.breakdowns.get_async(rng, by)
        out["range"] = range_json(plant, rng, breakdown.basis)
        total = breakdown.total
        if kind == "printer":
            out["total"] = printer_json(plant, total.printers[equipment_id])
            out["hourly_printed_m"] = None
            out["by_period"] = {p.label: printer_json(plant, p.printers[equipment_id]) for p in breakdown.periods}
        elif kind == "fleet":
            out["total"] = jsonable(total.fleets[equipment_id])
            out["by_period"] = {p.label: jsonable(p.fleets[equipment_id]) for p in breakdown.periods}
        else:
            out["total"] = jsonable(total.robots[equipment_id])
        return out | {"by_shift": {}, "by": by.value}
    report, basis = await services.kpi.report_and_basis_async(rng)
    out |= {"range": range_json(plant, rng, basis), "by": by.value, "by_period": {}}
    if kind == "printer":
        out["total"] = printer_json(plant, report.printers[equipment_id])
        out["by_shift"] = {s.key: printer_json(plant, s.printers[equipment_id]) for s in report.shifts}
        out["hourly_printed_m"] = jsonable(report.throughput.get(equipment_id))
    elif kind == "fleet":
        out["total"] = jsonable(report.fleets[equipment_id])
        out["by_shift"] = {s.key: jsonable(s.fleets[equipment_id]) for s in report.shifts}
    else:
        out["total"] = jsonable(report.robots[equipment_id])
    return out


@router.get(
    "/printers/{printer_id}/pareto",
    summary="Downtime Pareto (after operator reason corrections)",
    response_model=Pareto,
)
async def pareto(printer_id: str, services: ServicesDep, rng: RangeDep) -> dict[str, Any]:
    if _kind(services, printer_id) != "printer":
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{printer_id!r} is not a printing machine")
    if is_long(rng):
        breakdown = await services.breakdowns.get_async(rng)
        pk, basis = printer_json(services.plant, breakdown.total.printers[printer_id]), breakdown.basis
    else:
        report, basis = await services.kpi.report_and_basis_async(rng)
        pk = printer_json(services.plant, report.printers[printer_id])
    return {
        "range": range_json(services.plant, rng, basis),
        "equipment": printer_id,
        "pareto": pk["pareto"],
        "unplanned_downtime_min": pk["unplanned_downtime_min"],
    }


THROUGHPUT_PERIODS_S = {"minute": 60.0, "hour": 3600.0}
MAX_THROUGHPUT_BUCKETS = 10_000  # a week of minutes: enough for any chart, small enough for any request


@router.get(
    "/printers/{printer_id}/throughput",
    summary="Metres printed per minute or hour from the wrapping metres counter (null = no data)",
    response_model=Throughput,
)
async def printer_throughput(
    printer_id: str,
    services: ServicesDep,
    rng: RawRangeDep,
    period: Annotated[Literal["minute", "hour"], Query(description="bucket length")] = "hour",
) -> dict[str, Any]:
    if _kind(services, printer_id) != "printer":
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{printer_id!r} is not a printing machine")
    period_s = THROUGHPUT_PERIODS_S[period]
    buckets = math.ceil((rng.end_ns - rng.start_ns) / (period_s * 1e9))
    if buckets > MAX_THROUGHPUT_BUCKETS:
        raise HTTPException(
            UNPROCESSABLE,
            f"{buckets} buckets of one {period} requested; at most "
            f"{MAX_THROUGHPUT_BUCKETS}: use period=hour or a shorter range",
        )
    tp = await asyncio.to_thread(services.kpi.throughput, printer_id, rng, period_s)
    plant = services.plant
    return {
        "range": range_json(plant, rng),
        "equipment": printer_id,
        "period": period,
        "buckets": [
            {
                "start": iso(plant, int(tp.edges_ns[k])),
                "end": iso(plant, int(tp.edges_ns[k + 1])),
                "printed_m": None if tp.amount[k] != tp.amount[k] else float(tp.amount[k]),
                "m_per_min": None if tp.per_minute[k] != tp.per_minute[k] else float(tp.per_minute[k]),
            }
            for k in range(len(tp.amount))
        ],
        # read across a gap: printed, counted in totals, but not attributable to any bucket
        "across_gap_m": float(tp.across_gap),
    }


@router.get(
    "/savings",
    summary="Energy and water against the conventional baseline, per printer and in total",
    response_model=Savings,
)
async def savings(services: ServicesDep, rng: RangeDep) -> dict[str, Any]:
    plant = services.plant
    ids = [p.id for p in plant.printers]
    if is_long(rng):
        breakdown = await services.breakdowns.get_async(rng)
        total = breakdown.total
        return {
            "range": range_json(plant, rng, breakdown.basis),
            "baseline": baseline_json(plant),
            "total": jsonable(summed_energy(plant, (total.printers[pid] for pid in ids))),
            "printers": {pid: jsonable(total.printers[pid].energy) for pid in ids},
        }
    report, basis = await services.kpi.report_and_basis_async(rng)
    return {
        "range": range_json(plant, rng, basis),
        "baseline": baseline_json(plant),
        "total": jsonable(merged_energy(plant, ids, list(report.shifts))),
        "printers": {pid: jsonable(report.printers[pid].energy) for pid in ids},
    }


def _days_range(services: ServicesDep, days: int) -> TimeRange:
    plant = services.plant
    now = services.clock_ns()
    today = from_ns(now, plant.tz).date()
    first = today - dt.timedelta(days=days - 1)
    # From the first day's earliest shift start: production dates begin at their first shift.
    earliest = min(s.start for s in plant.shift_calendar.shifts)
    start = to_ns(dt.datetime.combine(first, earliest).replace(tzinfo=plant.tz))
    return TimeRange(start, now, None, now)


@router.get(
    "/trends/daily",
    summary="Per production day: printer KPIs, fleet KPIs and team scores",
    response_model=DailyTrends,
)
async def daily_trends(
    services: ServicesDep,
    days: Annotated[int, Query(ge=1, le=31, description="Number of production days up to today")] = 7,
) -> dict[str, Any]:
    plant = services.plant
    rng = _days_range(services, days)
    report, basis = await services.kpi.report_and_basis_async(rng)
    return {
        "range": range_json(plant, rng, basis),
        "days": [
            {
                "date": d.production_date.isoformat(),
                "printers": {pid: printer_json(plant, pk) for pid, pk in d.printers.items()},
                "fleets": {fid: jsonable(fk) for fid, fk in d.fleets.items()},
            }
            for d in report.days
        ],
        "team_scores": {t.team_id: jsonable(t.trend) for t in report.teams},
    }


@router.get(
    "/kpis/series.csv",
    summary="CSV export of KPI series per shift or per day",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def kpi_series_csv(
    services: ServicesDep,
    rng: RangeDep,
    equipment: Annotated[str, Query(max_length=64, description="Printer or fleet id")],
    kpi: Annotated[str | None, Query(max_length=400, description="Comma-separated KPI names; default all")] = None,
    bucket: Annotated[
        Literal["shift", "day", "week", "month", "quarter", "year"],
        Query(description="Rows per shift (ranges up to 31 days), production day or longer period"),
    ] = "shift",
) -> Response:
    kind = _kind(services, equipment)
    if kind == "robot":
        raise HTTPException(UNPROCESSABLE, "KPI series are per printer or per fleet")
    applicable = [k for k in ObjectiveKpi if k.equipment_kind == kind]
    if kpi:
        try:
            wanted = [ObjectiveKpi(k.strip()) for k in kpi.split(",") if k.strip()]
        except ValueError:
            raise HTTPException(
                UNPROCESSABLE, f"unknown KPI in {kpi!r}; for a {kind}: {', '.join(k.value for k in applicable)}"
            ) from None
        wrong = [k.value for k in wanted if k not in applicable]
        if wrong:
            raise HTTPException(UNPROCESSABLE, f"{', '.join(wrong)} do not apply to a {kind}")
    else:
        wanted = applicable
    plant = services.plant
    rows: list[tuple[str, str, str, Any, Any]] = []
    if bucket == "shift" and is_long(rng):
        raise HTTPException(
            UNPROCESSABLE,
            f"bucket=shift lists ranges of up to {BY_SHIFT_MAX_DAYS} days; over longer ones choose bucket=day,"
            " week, month, quarter or year",
        )
    if bucket in ("shift", "day") and not is_long(rng):
        report = await services.kpi.report_async(rng)
        if bucket == "shift":
            for s in report.shifts:
                rows.append(
                    (
                        s.key,
                        iso(plant, s.start_ns),
                        iso(plant, s.end_ns),
                        s.printers.get(equipment),
                        s.fleets.get(equipment),
                    )
                )
        else:
            for d in report.days:
                rows.append((d.production_date.isoformat(), "", "", d.printers.get(equipment), d.fleets.get(equipment)))
    else:  # per period, summed from the ledger (days over a range longer than a report lists, or longer periods)
        try:
            breakdown = await services.breakdowns.get_async(rng, Period(bucket))
        except RangeError as exc:
            raise HTTPException(UNPROCESSABLE, str(exc)) from None
        for p in breakdown.periods:
            rows.append(
                (
                    p.label,
                    iso(plant, p.start_ns),
                    iso(plant, p.end_ns),
                    p.printers.get(equipment),
                    p.fleets.get(equipment),
                )
            )
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["bucket", "start", "end", "equipment", *[k.value for k in wanted]])
    for label, start, end, pk, fk in rows:
        values = [kpi_value(k, pk, fk) for k in wanted]
        w.writerow([label, start, end, equipment, *["" if v is None else f"{v:.6g}" for v in values]])
    name = f"{equipment}-{bucket}-kpis.csv"
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
