"""Teams, their objectives and the scoreboard."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from shopfloor.api.breakdowns import is_long
from shopfloor.api.deps import ListingDep, RangeDep, ServicesDep, not_found
from shopfloor.api.presenters import jsonable, range_json, scoreboard_json, team_json
from shopfloor.api.schemas import Scoreboard, Team, TeamDetail
from shopfloor.models.periods import Period

router = APIRouter(prefix="/api/v1/teams", tags=["teams"])


@router.get("", summary="Teams and their objectives (targets per shift)", response_model=list[Team])
async def teams(services: ServicesDep) -> list[dict[str, Any]]:
    return [
        {
            "id": t.id,
            "name": t.name,
            "name_zh": t.name_zh,
            "kind": t.kind.value,
            "equipment": list(t.equipment),
            "objectives": [
                {"kpi": o.kpi.value, "target": o.target, "weight": o.weight, "direction": o.better.value}
                for o in t.objectives
            ],
        }
        for t in services.plant.teams
    ]


@router.get("/scoreboard", summary="Rank, score and per-objective attainment of every team", response_model=Scoreboard)
async def scoreboard(services: ServicesDep, rng: RangeDep) -> dict[str, Any]:
    if is_long(rng):
        breakdown = await services.breakdowns.get_async(rng)
        return {
            "range": range_json(services.plant, rng, breakdown.basis),
            "teams": [team_json(services.plant, t) for t in breakdown.total.teams],
        }
    report, basis = await services.kpi.report_and_basis_async(rng)
    return scoreboard_json(services.plant, rng, report, basis)


@router.get("/{team_id}", summary="One team's score over the range, per shift and per day", response_model=TeamDetail)
async def team(team_id: str, services: ServicesDep, rng: RangeDep, by: ListingDep) -> dict[str, Any]:
    if team_id not in {t.id for t in services.plant.teams}:
        raise not_found("team", team_id, [t.id for t in services.plant.teams])
    if by is not Period.SHIFT:
        breakdown = await services.breakdowns.get_async(rng, by)
        total = next(x for x in breakdown.total.teams if x.team_id == team_id)
        return {
            "range": range_json(services.plant, rng, breakdown.basis),
            **team_json(services.plant, total),
            "by_shift": {},
            "trend": {},
            "by": by.value,
            "by_period": {
                p.label: jsonable(next(x for x in p.teams if x.team_id == team_id).score) for p in breakdown.periods
            },
        }
    report, basis = await services.kpi.report_and_basis_async(rng)
    t = next(x for x in report.teams if x.team_id == team_id)
    return {
        "range": range_json(services.plant, rng, basis),
        **team_json(services.plant, t),
        "by_shift": {k: jsonable(v) for k, v in t.by_shift.items()},
        "trend": jsonable(t.trend),
        "by": by.value,
        "by_period": {},
    }
