"""What the plant is: equipment, teams, shifts, stop reasons and every label in English and Chinese."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from shopfloor.api.deps import ServicesDep
from shopfloor.api.presenters import OBJECTIVE_LABELS, baseline_json
from shopfloor.api.schemas import PlantInfo
from shopfloor.models.states import PRINTER_STATE_LABELS, ROBOT_STATE_LABELS

router = APIRouter(prefix="/api/v1", tags=["plant"])


@router.get(
    "/plant",
    summary="Plant model: equipment, teams, shifts, stop reasons, state labels (en/zh)",
    response_model=PlantInfo,
)
async def plant(services: ServicesDep) -> dict[str, Any]:
    p = services.plant
    return {
        "designs": [
            {
                "code": d.code,
                "name": d.name,
                "name_zh": d.name_zh,
                "colourway": d.colourway,
                "ideal_speed_m_min": d.ideal_speed_m_min,
            }
            for d in p.designs
        ],
        "id": p.plant.id,
        "name": p.plant.name,
        "name_zh": p.plant.name_zh,
        "timezone": p.plant.timezone,
        "printers": [
            {
                "id": x.id,
                "name": x.name,
                "name_zh": x.name_zh,
                "model": x.model,
                "ideal_speed_m_min": x.ideal_speed_m_min,
            }
            for x in p.printers
        ],
        "fleets": [
            {
                "id": f.id,
                "name": f.name,
                "name_zh": f.name_zh,
                "robots": [{"id": r.id, "name": r.name, "name_zh": r.name_zh} for r in f.robots],
            }
            for f in p.fleets
        ],
        "teams": [
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
            for t in p.teams
        ],
        "shifts": [
            {
                "id": s.id,
                "name": s.name,
                "name_zh": s.name_zh,
                "start": s.start.isoformat(),
                "end": s.end.isoformat(),
                "crews": list(s.crews),
            }
            for s in p.shift_calendar.shifts
        ],
        "stop_reasons": [
            {"code": r.code, "key": r.key, "name": r.name, "name_zh": r.name_zh, "category": r.category.value}
            for r in p.stop_reasons
        ],
        "baseline": baseline_json(p),
        "labels": {
            "printer_states": {int(k): {"en": en, "zh": zh} for k, (en, zh) in PRINTER_STATE_LABELS.items()},
            "robot_states": {int(k): {"en": en, "zh": zh} for k, (en, zh) in ROBOT_STATE_LABELS.items()},
            "objectives": {k: {"en": en, "zh": zh, "unit": u} for k, (en, zh, u) in OBJECTIVE_LABELS.items()},
        },
    }
