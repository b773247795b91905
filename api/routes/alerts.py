"""Andon alerts: the active and recent ones, and acknowledging one (needs X-API-Key; audited)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from shopfloor.api.alerts import AlertService, alert_json
from shopfloor.api.deps import OperatorDep, Services, ServicesDep
from shopfloor.api.schemas import AlertAcknowledged, Alerts

router = APIRouter(prefix="/api/v1", tags=["alerts"])


class Acknowledge(BaseModel):
    model_config = ConfigDict(extra="forbid")
    operator: Annotated[str | None, Field(max_length=64, description="Name of the person, recorded as who")] = None


def _service(services: Services) -> AlertService:
    assert services.alerts is not None  # create_app always makes one
    return services.alerts


@router.get(
    "/alerts", summary="Active alerts, or every alert raised in the last [alerts] recent_hours", response_model=Alerts
)
async def alerts(
    services: ServicesDep,
    state: Annotated[
        Literal["active", "recent"], Query(description="active: not cleared yet; recent: raised lately")
    ] = "active",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    service = _service(services)
    found = service.active[:limit] if state == "active" else service.recent(limit)
    return {
        "state": state,
        "recent_hours": services.plant.alerts.recent_hours,
        "alerts": [alert_json(services.plant, a) for a in found],
    }


@router.post(
    "/alerts/{alert_id}/ack",
    summary="Acknowledge an active alert (needs X-API-Key); recorded in the audit trail",
    response_model=AlertAcknowledged,
)
async def acknowledge(
    alert_id: Annotated[str, Path(max_length=200)],
    services: ServicesDep,
    who: OperatorDep,
    body: Acknowledge | None = None,
) -> dict[str, Any]:
    operator = body.operator.strip() if body and body.operator and body.operator.strip() else None
    acked = await _service(services).acknowledge(alert_id, f"{operator} [{who}]" if operator else who)
    if acked is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no active alert {alert_id!r}: see GET /api/v1/alerts")
    return {"alert": alert_json(services.plant, acked)}
