"""Teams, their objectives and the scoreboard."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from shopfloor.api.deps import RangeDep, ServicesDep, not_found
from shopfloor.api.presenters import jsonable, range_json, scoreboard_json, team_json
from shopfloor.api.schemas import Scoreboard, Team, TeamDetail

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
    report = await services.kpi.report_async(rng)
    return scoreboard_json(services.plant, rng, report)


@router.get("/{team_id}", summary="One team's score over the range, per shift and per day", response_model=TeamDetail)
async def team(team_id: str, services: ServicesDep, rng: RangeDep) -> dict[str, Any]:
    if team_id not in {t.id for t in services.plant.teams}:
        raise not_found("team", team_id, [t.id for t in services.plant.teams])
    report = await services.kpi.report_async(rng)
    t = next(x for x in report.teams if x.team_id == team_id)
    return {
        "range": range_json(services.plant, rng),
        **team_json(services.plant, t),
        "by_shift": {k: jsonable(v) for k, v in t.by_shift.items()},
        "trend": jsonable(t.trend),
    }
