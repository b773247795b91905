"""Live status of every machine and robot."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter

from shopfloor.api.deps import ServicesDep
from shopfloor.api.schemas import Status

router = APIRouter(prefix="/api/v1", tags=["live"])


@router.get(
    "/status", summary="State (and since when), speed, this shift's metres, charge, links", response_model=Status
)
async def status(services: ServicesDep) -> dict[str, Any]:
    error = services.store.health().error()
    if error is not None:
        # The store cannot keep what is collected (a full disk): a person has to act, so the status says so
        # (503 with the reason) rather than showing tiles as if all were well. The live display keeps its
        # values (they come from memory); a store that cannot *read* history still answers 200 here.
        raise error
    return await asyncio.to_thread(services.status.status)
