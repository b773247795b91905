"""The control-room display (static HTML/CSS/JS in api/static, no build step, nothing from the internet).

``/api/v1/display/config`` hands the page every rule it would otherwise have to
hold itself: which colour (state family) each state code gets, the families'
names, the green/amber/red thresholds, the attainment meter's scale (the plant's attainment cap) and each
fleet's low-charge level. The page reads it once; the live messages carry the
per-item results (``state_family``, ``metres_band``, ``low_charge``, savings),
so the page only formats.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from shopfloor.api.app_paths import STATIC_DIR
from shopfloor.api.deps import ServicesDep
from shopfloor.api.schemas import DisplayConfig
from shopfloor.models.bands import AMBER_FROM_PCT, GREEN_FROM_PCT
from shopfloor.models.plant import Plant
from shopfloor.models.states import (
    PRINTER_STATE_FAMILY,
    PRINTER_STATE_LABELS,
    ROBOT_STATE_FAMILY,
    ROBOT_STATE_LABELS,
    STATE_FAMILY_LABELS,
)

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["display"])


@router.get("/", response_class=HTMLResponse)
async def index() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


def display_config(plant: Plant) -> dict[str, Any]:
    return {
        "families": [{"family": f.value, "en": en, "zh": zh} for f, (en, zh) in STATE_FAMILY_LABELS.items()],
        "printer_states": [
            {"code": int(s), "family": PRINTER_STATE_FAMILY[s].value, "en": en, "zh": zh}
            for s, (en, zh) in PRINTER_STATE_LABELS.items()
        ],
        "robot_states": [
            {"code": int(s), "family": ROBOT_STATE_FAMILY[s].value, "en": en, "zh": zh}
            for s, (en, zh) in ROBOT_STATE_LABELS.items()
        ],
        "green_from_pct": GREEN_FROM_PCT,
        "amber_from_pct": AMBER_FROM_PCT,
        # Attainment counts up to the plant's cap ([kpi] attainment_cap): the meter spans exactly what counts.
        "attainment_meter_max_pct": 100.0 * plant.kpi.attainment_cap,
        "fleets": [{"id": f.id, "low_charge_pct": f.low_charge_pct} for f in plant.fleets],
    }


@api.get(
    "/display/config",
    summary="The display's rules: state families and colours, bands, the attainment meter, low-charge levels",
    response_model=DisplayConfig,
)
async def config(services: ServicesDep) -> dict[str, Any]:
    return display_config(services.plant)
