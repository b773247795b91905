"""Liveness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shopfloor.api.deps import ServicesDep
from shopfloor.api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness: the API answers", response_model=Health)
async def health(services: ServicesDep) -> dict[str, Any]:
    return {"status": "ok", "plant": services.plant.plant.id, "live_clients": services.hub.clients}


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(services: ServicesDep) -> Response:
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
