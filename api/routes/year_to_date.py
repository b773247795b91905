"""The year so far (the display's year-to-date tiles) and how far the filling of the plant's past has come."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from shopfloor.api.backfill import BackfillProgress
from shopfloor.api.deps import ServicesDep
from shopfloor.api.schemas import Backfill, YearToDate
from shopfloor.api.timerange import iso
from shopfloor.api.year_to_date import YearToDateService, year_to_date_json

router = APIRouter(prefix="/api/v1", tags=["kpis"])


@router.get(
    "/year-to-date",
    summary="This year so far: metres against the annual target, energy, water, money and CO2 saved",
    response_model=YearToDate,
)
async def year_to_date(request: Request, services: ServicesDep) -> dict[str, Any]:
    services.kpi.check_store()
    service: YearToDateService = request.app.state.year_to_date
    return year_to_date_json(services.plant, await service.get_async())


@router.get("/backfill", summary="How far the filling of the plant's past has come", response_model=Backfill)
async def backfill(request: Request, services: ServicesDep) -> dict[str, Any]:
    progress: BackfillProgress = request.app.state.backfill
    s = progress.snapshot()
    return {
        "state": s.state.value,
        "what": s.what,
        "days_done": s.days_done,
        "days_total": s.days_total,
        "percent": s.percent,
        "first_date": None if s.first_date is None else s.first_date.isoformat(),
        "last_date": None if s.last_date is None else s.last_date.isoformat(),
        "until": None if s.until_ns is None else iso(services.plant, s.until_ns),
        "ledger_rows": s.ledger_rows,
        "raw_samples": s.raw_samples,
        "elapsed_s": s.elapsed_s,
        "detail": s.detail,
    }
