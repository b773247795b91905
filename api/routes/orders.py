"""Print orders: each order's report (metres, run and setup time, OEE, energy and water per metre)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, status

from shopfloor.api.deps import RawRangeDep, Services, ServicesDep, not_found
from shopfloor.api.orders import printer_orders
from shopfloor.api.presenters import range_json
from shopfloor.api.raw_window import require_raw
from shopfloor.api.schemas import Orders

router = APIRouter(prefix="/api/v1", tags=["orders"])

OrderNumber = Annotated[int, Path(ge=1, le=4_294_967_295, description="Order number as the line PLC serves it")]


def _orders(
    services: Services, printer_ids: list[str], start_ns: int, end_ns: int, order_number: int | None = None
) -> list[dict[str, Any]]:
    require_raw(services.plant, services.store, start_ns, services.clock_ns(), "a list of print orders")
    found: list[dict[str, Any]] = []
    for pid in printer_ids:
        found += printer_orders(
            services.plant,
            services.store,
            services.annotations,
            pid,
            start_ns,
            end_ns,
            config=services.kpi.config,
            order_number=order_number,
        )
    return sorted(found, key=lambda o: (o["start_ns"], o["equipment"]))


@router.get(
    "/printers/{printer_id}/orders",
    summary="Print orders a line ran in a range, each with its report (from raw samples)",
    response_model=Orders,
)
async def printer_orders_route(printer_id: str, services: ServicesDep, rng: RawRangeDep) -> dict[str, Any]:
    ids = [p.id for p in services.plant.printers]
    if printer_id not in ids:
        raise not_found("printing machine", printer_id, ids)
    found = await asyncio.to_thread(_orders, services, [printer_id], rng.start_ns, rng.end_ns)
    return {"range": range_json(services.plant, rng), "orders": found}


@router.get(
    "/orders/{order_number}",
    summary="One print order's report, on every line it ran on in the range (from raw samples)",
    response_model=Orders,
)
async def order_route(order_number: OrderNumber, services: ServicesDep, rng: RawRangeDep) -> dict[str, Any]:
    ids = [p.id for p in services.plant.printers]
    found = await asyncio.to_thread(_orders, services, ids, rng.start_ns, rng.end_ns, order_number)
    if not found:
        raise not_found_order(order_number)
    return {"range": range_json(services.plant, rng), "orders": found}


def not_found_order(order_number: int) -> HTTPException:
    return HTTPException(
        status.HTTP_404_NOT_FOUND,
        f"order {order_number} did not run in the range asked: widen it (start=…&end=…, up to the raw retention)",
    )
