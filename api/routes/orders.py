"""Print orders: each order's report (metres, run and setup time, OEE, energy and water per metre); a shift's plan;
an operator starting and ending orders (docs/api.md, "Print orders")."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from shopfloor.api.app_paths import STATIC_DIR
from shopfloor.api.deps import UNPROCESSABLE, OperatorDep, RawRangeDep, Services, ServicesDep, not_found
from shopfloor.api.order_plan import MAX_ROWS, PlanError, parse_plan
from shopfloor.api.orders import printer_orders
from shopfloor.api.presenters import range_json
from shopfloor.api.raw_window import require_raw
from shopfloor.api.schemas import OrderEvents, OrderEventWritten, Orders, PlanImported
from shopfloor.api.timerange import RangeError, bounded_ns, iso
from shopfloor.models.timebase import NS_PER_DAY, NS_PER_S
from shopfloor.store.annotations import NotFound
from shopfloor.store.annotations import OrderEvent as StoredOrderEvent

router = APIRouter(prefix="/api/v1", tags=["orders"])
page = APIRouter(include_in_schema=False)

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
    stored = await asyncio.to_thread(services.annotations.import_plan, printer_id, rows, _who(who, body.operator))
    return {"equipment": printer_id, "orders": [asdict(r) for r in stored]}


@router.get(
    "/printers/{printer_id}/orders/plan",
    summary="The plan in force for the order numbers imported last on a line, newest first",
    response_model=PlanImported,
)
async def plan(
    printer_id: str,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=MAX_ROWS, description="At most this many orders")] = 100,
) -> dict[str, Any]:
    _printer(services, printer_id)
    rows = await asyncio.to_thread(services.annotations.plan, printer_id, limit)
    return {"equipment": printer_id, "orders": [asdict(r) for r in rows]}


# An order event's time: now, or a moment an operator forgot to enter - within the clocks' skew of now, and not
# older than a month (a correction of older history is a ledger rebuild's business, not a line-side page's).
FUTURE_SKEW_NS = 60 * NS_PER_S
MAX_AGE_NS = 31 * NS_PER_DAY
MAX_EVENTS = 500  # per listing: a line sees a handful of orders a shift


class _EventBody(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    at: dt.datetime | None = Field(
        default=None, description="When (ISO 8601; no offset = plant-local; default now; at most 31 days ago)"
    )
    operator: str | None = Field(default=None, max_length=64, description="Name of the person, recorded as who")


class StartOrder(_EventBody):
    order_number: int = Field(ge=1, le=4_294_967_295, description="Order number, as the PLC would serve it")
    design_code: int | None = Field(
        default=None, ge=0, le=65535, description="Design printed (default: the plan's for this order number)"
    )


class EndOrder(_EventBody):
    pass


def _who(label: str, operator: str | None) -> str:
    return f"{operator.strip()} [{label}]" if operator and operator.strip() else label


def _printer(services: Services, printer_id: str) -> None:
    ids = [p.id for p in services.plant.printers]
    if printer_id not in ids:
        raise not_found("printing machine", printer_id, ids)


def _at_ns(services: Services, at: dt.datetime | None) -> int:
    now = services.clock_ns()
    if at is None:
        return now
    try:
        ns = bounded_ns(services.plant, at, "at")
    except RangeError as exc:
        raise HTTPException(UNPROCESSABLE, str(exc)) from None
    if ns > now + FUTURE_SKEW_NS:
        raise HTTPException(UNPROCESSABLE, "at lies in the future (more than a minute after now)")
    if ns < now - MAX_AGE_NS:
        raise HTTPException(UNPROCESSABLE, f"at lies more than {MAX_AGE_NS // NS_PER_DAY} days back")
    return ns


def _event_json(services: Services, e: StoredOrderEvent) -> dict[str, Any]:
    return asdict(e) | {"at": iso(services.plant, e.at_ns)}


def _written(services: Services, printer_id: str, e: StoredOrderEvent) -> dict[str, Any]:
    return {"event": _event_json(services, e), "audit": [asdict(a) for a in services.annotations.audit(printer_id, 1)]}


@router.post(
    "/printers/{printer_id}/orders/start",
    status_code=201,
    summary="An operator starts a print order on a line (needs X-API-Key); it overrides the PLC's order registers",
    response_model=OrderEventWritten,
)
async def start_order(printer_id: str, body: StartOrder, services: ServicesDep, who: OperatorDep) -> dict[str, Any]:
    _printer(services, printer_id)
    at_ns = _at_ns(services, body.at)
    design = body.design_code
    if design is None:
        plan = await asyncio.to_thread(services.annotations.planned_orders, printer_id, [body.order_number])
        if body.order_number not in plan:
            raise HTTPException(
                UNPROCESSABLE,
                f"design_code: order {body.order_number} is not in {printer_id}'s plan, so its design is not known;"
                " give design_code (0..65535) or import a plan with this order first",
            )
        design = plan[body.order_number].design_code
    event = await asyncio.to_thread(
        services.annotations.start_order, printer_id, at_ns, body.order_number, design, _who(who, body.operator)
    )
    return _written(services, printer_id, event)


@router.post(
    "/printers/{printer_id}/orders/end",
    status_code=201,
    summary="An operator ends the order they started on a line (needs X-API-Key)",
    response_model=OrderEventWritten,
)
async def end_order(printer_id: str, body: EndOrder, services: ServicesDep, who: OperatorDep) -> dict[str, Any]:
    _printer(services, printer_id)
    at_ns = _at_ns(services, body.at)
    try:
        event = await asyncio.to_thread(services.annotations.end_order, printer_id, at_ns, _who(who, body.operator))
    except ValueError as exc:
        raise HTTPException(UNPROCESSABLE, f"at: {exc}; start one first") from None
    return _written(services, printer_id, event)


@router.get(
    "/printers/{printer_id}/orders/events",
    summary="The operator's order events of a line, newest first (withdrawn ones too)",
    response_model=OrderEvents,
)
async def order_events(
    printer_id: str,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=MAX_EVENTS, description="At most this many")] = 50,
) -> dict[str, Any]:
    _printer(services, printer_id)
    events = await asyncio.to_thread(services.annotations.recent_order_events, printer_id, limit)
    return {"equipment": printer_id, "events": [_event_json(services, e) for e in events]}


@router.delete(
    "/printers/{printer_id}/orders/events/{event_id}",
    summary="Withdraw an order event entered by mistake (needs X-API-Key); it is kept, marked withdrawn",
    response_model=OrderEventWritten,
)
async def withdraw_order_event(
    printer_id: str,
    event_id: Annotated[int, Path(ge=1, le=2**62)],
    services: ServicesDep,
    who: OperatorDep,
    operator: Annotated[str | None, Query(max_length=64, description="Name of the person, recorded as who")] = None,
) -> dict[str, Any]:
    _printer(services, printer_id)
    try:
        event = await asyncio.to_thread(
            services.annotations.withdraw_order_event, printer_id, event_id, _who(who, operator)
        )
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    return _written(services, printer_id, event)


@page.get("/orders", response_class=HTMLResponse)
async def orders_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "orders.html", headers={"Cache-Control": "no-cache"})
