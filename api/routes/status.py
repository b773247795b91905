"""Live status of every machine and robot."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter

from api.deps import ServicesDep
from api.schemas import Status

router = APIRouter(prefix="/api/v1", tags=["live"])


@router.get(
    "/status", summary="State (and since when), speed, this shift's metres, charge, links", response_model=Status
)
async def status(services: ServicesDep) -> dict[str, Any]:
    return await asyncio.to_thread(services.status.status)
