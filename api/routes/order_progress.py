"""The running order's progress on a line: what the display's order tile shows (api/order_progress.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter

from shopfloor.api.deps import ServicesDep, not_found
from shopfloor.api.schemas import CurrentOrder

router = APIRouter(prefix="/api/v1", tags=["orders"])


@router.get(
    "/printers/{printer_id}/orders/current",
    summary="The order running on a line: metres done and remaining, ETA at the current rate (a few seconds old)",
    response_model=CurrentOrder,
)
async def current_order(printer_id: str, services: ServicesDep) -> dict[str, Any]:
    ids = [p.id for p in services.plant.printers]
    if printer_id not in ids:
        raise not_found("printing machine", printer_id, ids)
    return {"order": await asyncio.to_thread(services.order_progress.get, services, printer_id)}
