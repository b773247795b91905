"""The hour-by-hour board (api/board.py): per hour of a shift, target against actual, comments; the /board page."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from shopfloor.api.app_paths import STATIC_DIR
from shopfloor.api.deps import UNPROCESSABLE, OperatorDep, Services, ServicesDep, ShiftQuery, not_found
from shopfloor.api.schemas import HourByHour, HourCommented
from shopfloor.api.timerange import RangeError, TimeRange, iso, parse_time, resolve
from shopfloor.models.board import hour_edges

router = APIRouter(prefix="/api/v1", tags=["hour-by-hour board"])
page = APIRouter(include_in_schema=False)

MAX_HOURS = 24  # a shift is at most a day long (the plant file's bound)


class CommentHour(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    shift: str = Field(max_length=80, description="Shift instance key, e.g. 2026-11-24/early")
    hour_index: int | None = Field(default=None, ge=0, lt=MAX_HOURS, description="0 = the shift's first hour")
    hour_start: dt.datetime | None = Field(
        default=None, description="Or: any moment inside the hour (ISO 8601; no offset = plant-local)"
    )
    text: str = Field(min_length=1, max_length=500)
    operator: Annotated[str | None, Field(max_length=64, description="Name of the person, recorded as who")] = None


def _printer(services: Services, printer_id: str) -> None:
    ids = [p.id for p in services.plant.printers]
    if printer_id not in ids:
        raise not_found("printing machine", printer_id, ids)


def _shift_range(services: Services, shift: str | None) -> TimeRange:
    try:
        return resolve(
            services.plant,
            shift=shift,
            start=None,
            end=None,
            max_range_days=services.config.max_range_days,
            now_ns=services.clock_ns(),
        )
    except RangeError as exc:
        raise HTTPException(UNPROCESSABLE, str(exc)) from None


@router.get(
    "/printers/{printer_id}/hour-by-hour",
    summary="Hour-by-hour board of a shift: target, actual, cumulative, variance, projection, comments, stops",
    response_model=HourByHour,
)
async def hour_by_hour(printer_id: str, services: ServicesDep, shift: ShiftQuery = None) -> dict[str, Any]:
    _printer(services, printer_id)
    rng = _shift_range(services, shift)
    return await asyncio.to_thread(services.boards.get, services, printer_id, rng)


@router.post(
    "/printers/{printer_id}/hour-by-hour/comments",
    status_code=201,
    summary="Comment on an hour of the board (needs X-API-Key); a newer comment on the hour replaces it",
    response_model=HourCommented,
)
async def comment_hour(printer_id: str, body: CommentHour, services: ServicesDep, who: OperatorDep) -> dict[str, Any]:
    _printer(services, printer_id)
    rng = _shift_range(services, body.shift)
    assert rng.shift is not None
    hours = hour_edges(rng.shift)
    if (body.hour_index is None) == (body.hour_start is None):
        raise HTTPException(UNPROCESSABLE, "give one of hour_index or hour_start")
    if body.hour_start is not None:
        try:
            at_ns = parse_time(services.plant, body.hour_start.isoformat(), "hour_start")
        except RangeError as exc:
            raise HTTPException(UNPROCESSABLE, str(exc)) from None
        found = [k for k, (h0, h1) in enumerate(hours) if h0 <= at_ns < h1]
        if not found:
            raise HTTPException(
                UNPROCESSABLE, f"hour_start {iso(services.plant, at_ns)} is not inside shift {rng.shift.key}"
            )
        index = found[0]
    else:
        index = int(body.hour_index or 0)
        if index >= len(hours):
            raise HTTPException(
                UNPROCESSABLE, f"hour_index {index}: shift {rng.shift.key} has hours 0 to {len(hours) - 1}"
            )
    if hours[index][0] >= services.clock_ns():
        raise HTTPException(UNPROCESSABLE, f"hour {index} of {rng.shift.key} has not started yet")
    operator = f"{body.operator.strip()} [{who}]" if body.operator and body.operator.strip() else who
    row = await asyncio.to_thread(
        services.annotations.comment_hour, printer_id, rng.shift.key, index, hours[index][0], body.text, operator
    )
    return {
        "comment": asdict(row) | {"at": iso(services.plant, row.created_ns)},
        "audit": [asdict(a) for a in services.annotations.audit(printer_id, 1)],
    }


@page.get("/board", response_class=HTMLResponse)
async def board_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "board.html", headers={"Cache-Control": "no-cache"})
