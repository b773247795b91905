"""Print orders: each order's report (metres, run and setup time, OEE, energy and water per metre)."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field

from shopfloor.api.deps import UNPROCESSABLE, OperatorDep, RawRangeDep, Services, ServicesDep, not_found
from shopfloor.api.order_plan import PlanError, parse_plan
from shopfloor.api.orders import printer_orders
from shopfloor.api.presenters import range_json
from shopfloor.api.raw_window import require_raw
from shopfloor.api.schemas import Orders, PlanImported

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
    # An order that did not run in the range is an empty list, as any list of a range is.
    found = await asyncio.to_thread(_orders, services, ids, rng.start_ns, rng.end_ns, order_number)
    return {"range": range_json(services.plant, rng), "orders": found}


class PlanBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    csv: str = Field(
        min_length=1,
        max_length=65_536,
        description="The plan as CSV with a header: order_number,design_code,colourway,fabric,metres_ordered",
    )
    operator: str | None = Field(default=None, max_length=64, description="Name of the person, recorded as who")


@router.post(
    "/printers/{printer_id}/orders/plan",
    status_code=201,
    summary="Import a shift's plan of print orders as CSV (needs X-API-Key)",
    response_model=PlanImported,
)
async def import_plan(printer_id: str, body: PlanBody, services: ServicesDep, who: OperatorDep) -> dict[str, Any]:
    ids = [p.id for p in services.plant.printers]
    if printer_id not in ids:
        raise not_found("printing machine", printer_id, ids)
    try:
        rows = parse_plan(services.plant, body.csv)
    except PlanError as exc:
        raise HTTPException(UNPROCESSABLE, f"the plan was not imported: {exc}") from None
    operator = f"{body.operator.strip()} [{who}]" if body.operator and body.operator.strip() else who
    stored = await asyncio.to_thread(services.annotations.import_plan, printer_id, rows, operator)
    return {"equipment": printer_id, "orders": [asdict(r) for r in stored]}
