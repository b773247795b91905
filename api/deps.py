"""Injected dependencies: one ``Services`` object per app, reached through the request.

Routes declare what they need (``ServicesDep``, ``RangeDep``, ``RawRangeDep``,
``OperatorDep``) and never build anything themselves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import Depends, HTTPException, Query, Request, Security, WebSocket, status
from fastapi.security import APIKeyHeader

from shopfloor.api.alerts import AlertService
from shopfloor.api.auth import check_key
from shopfloor.api.board import BoardService
from shopfloor.api.breakdowns import BreakdownService, listing
from shopfloor.api.kpi_service import KpiService
from shopfloor.api.live import LiveHub
from shopfloor.api.metrics import ApiMetrics
from shopfloor.api.order_progress import OrderProgressService
from shopfloor.api.settings import ApiConfig
from shopfloor.api.status import StatusService
from shopfloor.api.timerange import RangeError, TimeRange, resolve
from shopfloor.models.periods import Period
from shopfloor.models.plant import Plant
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.base import SampleStore

UNPROCESSABLE = 422  # Unprocessable Content: the request is well-formed but names something wrong


@dataclass
class Services:
    plant: Plant
    store: SampleStore
    hub: LiveHub
    annotations: AnnotationStore
    config: ApiConfig
    kpi: KpiService
    status: StatusService
    metrics: ApiMetrics
    clock_ns: Callable[[], int] = time.time_ns  # the plant's "now": the wall clock, or a simulation's
    last_kpi_snapshot: dict[str, Any] | None = field(default=None)
    alerts: AlertService | None = None  # the andon rules' service (create_app makes it)
    breakdowns: BreakdownService = field(init=False)  # KPIs per period over the same ledger, slots and store
    boards: BoardService = field(init=False)  # hour-by-hour boards, cached for a moment
    order_progress: OrderProgressService = field(init=False)  # each line's running order, cached a few seconds

    def __post_init__(self) -> None:
        self.breakdowns = BreakdownService(self.kpi, self.config.kpi_cache_s)
        self.boards = BoardService(self.config.kpi_cache_s)
        self.order_progress = OrderProgressService()


def get_services(request: Request) -> Services:
    return request.app.state.services


def ws_services(websocket: WebSocket) -> Services:
    return websocket.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


ShiftQuery = Annotated[str | None, Query(description="Shift instance key, e.g. 2026-11-24/night", max_length=80)]
StartQuery = Annotated[
    str | None, Query(description="ISO 8601 start; without offset = plant-local time", max_length=64)
]
EndQuery = Annotated[str | None, Query(description="ISO 8601 end (exclusive)", max_length=64)]
PeriodQuery = Annotated[
    Literal["shift", "day", "week", "month", "quarter", "year", "ytd"] | None,
    Query(description="The period containing `at` (default now); ytd: the plant year up to `at` or now"),
]
AtQuery = Annotated[
    str | None,
    Query(description="With period: a production date (2026-11-24) or an ISO 8601 time; default now", max_length=64),
]
RAW_LIMIT_NOTE = ": this endpoint returns raw samples; KPI, team and savings endpoints take up to {days} days"


def time_range(
    services: ServicesDep,
    shift: ShiftQuery = None,
    start: StartQuery = None,
    end: EndQuery = None,
    period: PeriodQuery = None,
    at: AtQuery = None,
) -> TimeRange:
    """Nothing -> the current shift; ``shift=`` -> that shift; ``start``+``end`` -> that range; ``period`` (+
    ``at``) -> that period. Up to ``max_kpi_range_days`` (ten years): closed shifts come from the ledger."""
    return _resolved(services, shift, start, end, period, at, services.config.max_kpi_range_days, "")


def raw_time_range(
    services: ServicesDep, shift: ShiftQuery = None, start: StartQuery = None, end: EndQuery = None
) -> TimeRange:
    """``shift=`` or ``start``+``end`` (no periods), up to ``max_range_days`` (31): for endpoints that return raw
    series or lists of them."""
    note = RAW_LIMIT_NOTE.format(days=services.config.max_kpi_range_days)
    return _resolved(services, shift, start, end, None, None, services.config.max_range_days, note)


def _resolved(
    services: Services,
    shift: str | None,
    start: str | None,
    end: str | None,
    period: str | None,
    at: str | None,
    max_range_days: int,
    limit_note: str,
) -> TimeRange:
    try:
        return resolve(
            services.plant,
            shift=shift,
            start=start,
            end=end,
            period=period,
            at=at,
            max_range_days=max_range_days,
            now_ns=services.clock_ns(),
            limit_note=limit_note,
        )
    except RangeError as exc:
        raise HTTPException(UNPROCESSABLE, str(exc)) from None


RangeDep = Annotated[TimeRange, Depends(time_range)]
RawRangeDep = Annotated[TimeRange, Depends(raw_time_range)]

ByQuery = Annotated[
    Literal["shift", "day", "week", "month", "quarter", "year"] | None,
    Query(description="List per shift (default for ranges up to 31 days) or per period (default month beyond)"),
]


def listing_of(services: ServicesDep, rng: RangeDep, by: ByQuery = None) -> Period:
    try:
        return listing(services.kpi, rng, by)
    except RangeError as exc:
        raise HTTPException(UNPROCESSABLE, str(exc)) from None


ListingDep = Annotated[Period, Depends(listing_of)]

_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="Needed for every state-changing call (operator input)"
)


def require_operator(services: ServicesDep, key: Annotated[str | None, Security(_api_key_header)]) -> str:
    """The label of the caller's API key (recorded in the audit trail as who)."""
    return check_key(services.config, key)


OperatorDep = Annotated[str, Depends(require_operator)]


def not_found(what: str, value: str, known: list[str]) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"unknown {what} {value!r}; known: {', '.join(known)}")
