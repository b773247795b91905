"""Team performance over months and years (api/tracking.py): per period, each team's objectives sheet and rank;
the /tracking page that charts them."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.responses import FileResponse, HTMLResponse

from shopfloor.api.app_paths import STATIC_DIR
from shopfloor.api.breakdowns import Breakdown
from shopfloor.api.deps import UNPROCESSABLE, Services, ServicesDep, not_found
from shopfloor.api.presenters import baseline_json, basis_json, jsonable, objective_json, pareto_json
from shopfloor.api.schemas import RankingHistory, TeamTracking
from shopfloor.api.timerange import RangeError, TimeRange, iso
from shopfloor.api.tracking import Span, compute_periods, tracking_span
from shopfloor.models.periods import Period, PeriodRange
from shopfloor.models.plant import Team

router = APIRouter(prefix="/api/v1/tracking", tags=["tracking"])
page = APIRouter(include_in_schema=False)

PeriodParam = Annotated[Period, Query(description="The periods listed: shift, day, week, month, quarter or year")]
YearParam = Annotated[
    int | None,
    Query(ge=1971, le=2199, description="The plant year (its first calendar year: 2026, or 2026 for 2026/27)"),
]
YearsParam = Annotated[int | None, Query(ge=1, le=10, description="Plant years listed, ending with `year` (1)")]
MonthParam = Annotated[
    str | None, Query(max_length=7, description="One month instead of a year, YYYY-MM (needed for shifts)")
]


def fmt(v: Any) -> str:
    if v is None:
        return ""
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def _team(services: Services, team_id: str) -> Team:
    teams = {t.id: t for t in services.plant.teams}
    if team_id not in teams:
        raise not_found("team", team_id, list(teams))
    return teams[team_id]


def _span(services: Services, period: Period, year: int | None, years: int | None, month: str | None) -> Span:
    try:
        return tracking_span(services.plant, period, services.clock_ns(), year=year, years=years, month=month)
    except RangeError as exc:
        raise HTTPException(UNPROCESSABLE, str(exc)) from None


async def _computed(services: Services, span: Span) -> list[tuple[PeriodRange, TimeRange, Breakdown]]:
    return await asyncio.to_thread(compute_periods, services.breakdowns, span, services.clock_ns())


def _span_json(services: Services, span: Span) -> dict[str, Any]:
    plant = services.plant
    return {
        "label": span.label,
        "start": iso(plant, span.start_ns),
        "end": iso(plant, span.end_ns),
        "start_ns": span.start_ns,
        "end_ns": span.end_ns,
    }


def _team_json(team: Team) -> dict[str, Any]:
    return {
        "id": team.id,
        "name": team.name,
        "name_zh": team.name_zh,
        "kind": team.kind.value,
        "equipment": team.equipment,
    }


def _period_head(services: Services, p: PeriodRange, rng: TimeRange) -> dict[str, Any]:
    plant = services.plant
    return {
        "label": p.label,
        "start": iso(plant, p.start_ns),
        "end": iso(plant, p.end_ns),
        "start_ns": p.start_ns,
        "end_ns": p.end_ns,
        "complete": rng.end_ns >= p.end_ns,
    }


def team_sheets(services: Services, team: Team, computed: list[tuple[PeriodRange, TimeRange, Breakdown]]) -> list[Any]:
    plant = services.plant
    out = []
    for p, rng, b in computed:
        t = next(x for x in b.total.teams if x.team_id == team.id)
        out.append(
            {
                **_period_head(services, p, rng),
                "shifts": t.shifts,
                "score": t.score.score,
                "rank": t.rank,
                "teams_ranked": len(b.total.teams),
                "objectives": [objective_json(o) for o in t.score.objectives],
                "pareto": [] if t.printer is None else pareto_json(plant, t.printer.pareto),
                "energy_water": None if t.printer is None else jsonable(t.printer.energy),
                "basis": basis_json(b.basis),
            }
        )
    return out


@router.get(
    "/teams/{team_id}.csv",
    summary="The team's objectives sheet per period, as CSV (UTF-8 with BOM)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def team_tracking_csv(
    team_id: str,
    services: ServicesDep,
    period: PeriodParam = Period.MONTH,
    year: YearParam = None,
    years: YearsParam = None,
    month: MonthParam = None,
) -> Response:
    team = _team(services, team_id)
    span = _span(services, period, year, years, month)
    sheets = team_sheets(services, team, await _computed(services, span))
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["team", team.id, team.name, team.name_zh])
    w.writerow(["period", period.value, "span", span.label])
    w.writerow([])
    w.writerow(
        [
            "period",
            "start",
            "end",
            "complete",
            "score",
            "rank",
            "objective",
            "name",
            "name_zh",
            "unit",
            "direction",
            "target",
            "actual",
            "attainment_pct",
            "weight",
        ]
    )
    for s in sheets:
        for o in s["objectives"]:
            w.writerow(
                [
                    s["label"],
                    s["start"],
                    s["end"],
                    "yes" if s["complete"] else "no",
                    fmt(s["score"]),
                    s["rank"],
                    o["kpi"],
                    o["name"],
                    o["name_zh"],
                    o["unit"],
                    o["direction"],
                    fmt(o["target"]),
                    fmt(o["actual"]),
                    fmt(o["attainment_pct"]),
                    fmt(o["weight"]),
                ]
            )
    if any(s["energy_water"] for s in sheets):
        w.writerow([])
        w.writerow(
            ["period", "printed_m", "energy_saving_kwh", "water_saving_l", "money_saving", "currency", "co2_avoided_kg"]
        )
        for s in sheets:
            e = s["energy_water"]
            if e is not None:
                w.writerow(
                    [
                        s["label"],
                        fmt(e["printed_m"]),
                        fmt(e["energy_saving_kwh"]),
                        fmt(e["water_saving_l"]),
                        fmt(e["money_saving"]),
                        e["currency"],
                        fmt(e["co2_avoided_kg"]),
                    ]
                )
    name = f"{team.id}-{period.value}-{span.label.replace('/', '-').replace('–', '-')}.csv"
    return Response(
        "\ufeff" + buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/teams/{team_id}",
    summary="One team per period of a year (or month): score, rank, objectives sheet, downtime Pareto, savings",
    response_model=TeamTracking,
)
async def team_tracking(
    team_id: str,
    services: ServicesDep,
    period: PeriodParam = Period.MONTH,
    year: YearParam = None,
    years: YearsParam = None,
    month: MonthParam = None,
) -> dict[str, Any]:
    team = _team(services, team_id)
    span = _span(services, period, year, years, month)
    computed = await _computed(services, span)
    return {
        "team": _team_json(team),
        "period": period.value,
        "span": _span_json(services, span),
        "baseline": baseline_json(services.plant),
        "periods": team_sheets(services, team, computed),
    }


@router.get(
    "/ranking",
    summary="Rank history: every team's rank and score per period of a year (or month)",
    response_model=RankingHistory,
)
async def ranking(
    services: ServicesDep,
    period: PeriodParam = Period.MONTH,
    year: YearParam = None,
    years: YearsParam = None,
    month: MonthParam = None,
) -> dict[str, Any]:
    span = _span(services, period, year, years, month)
    computed = await _computed(services, span)
    return {
        "period": period.value,
        "span": _span_json(services, span),
        "teams": [_team_json(t) for t in services.plant.teams],
        "periods": [
            {
                **_period_head(services, p, rng),
                "ranks": [
                    {"team": t.team_id, "rank": t.rank, "score": t.score.score, "shifts": t.shifts}
                    for t in b.total.teams
                ],
                "basis": basis_json(b.basis),
            }
            for p, rng, b in computed
        ],
    }


@page.get("/tracking", response_class=HTMLResponse)
async def tracking_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "tracking.html", headers={"Cache-Control": "no-cache"})
