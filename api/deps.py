"""Injected dependencies: one ``Services`` object per app, reached through the request.

Routes declare what they need (``ServicesDep``, ``RangeDep``, ``OperatorDep``)
and never build anything themselves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request, Security, WebSocket, status
from fastapi.security import APIKeyHeader

from shopfloor.api.auth import check_key
from shopfloor.api.kpi_service import KpiService
from shopfloor.api.live import LiveHub
from shopfloor.api.metrics import ApiMetrics
from shopfloor.api.settings import ApiConfig
from shopfloor.api.status import StatusService
from shopfloor.api.timerange import RangeError, TimeRange, resolve
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


def get_services(request: Request) -> Services:
    return request.app.state.services


def ws_services(websocket: WebSocket) -> Services:
    return websocket.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def time_range(
    services: ServicesDep,
    shift: Annotated[str | None, Query(description="Shift instance key, e.g. 2026-11-24/night", max_length=80)] = None,
    start: Annotated[
        str | None, Query(description="ISO 8601 start; without offset = plant-local time", max_length=64)
    ] = None,
    end: Annotated[str | None, Query(description="ISO 8601 end (exclusive)", max_length=64)] = None,
) -> TimeRange:
    """Nothing -> the current shift; ``shift=`` -> that shift; ``start``+``end`` -> that range (<= 31 days)."""
    try:
        return resolve(
            services.plant,
            shift=shift,
            start=start,
            end=end,
            max_range_days=services.config.max_range_days,
            now_ns=services.clock_ns(),
        )
    except RangeError as exc:
        raise HTTPException(UNPROCESSABLE, str(exc)) from None


RangeDep = Annotated[TimeRange, Depends(time_range)]

_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="Needed for every state-changing call (operator input)"
)


def require_operator(services: ServicesDep, key: Annotated[str | None, Security(_api_key_header)]) -> str:
    """The label of the caller's API key (recorded in the audit trail as who)."""
    return check_key(services.config, key)


OperatorDep = Annotated[str, Depends(require_operator)]


def not_found(what: str, value: str, known: list[str]) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"unknown {what} {value!r}; known: {', '.join(known)}")
