"""The live channel: one WebSocket, JSON messages (docs/api.md, "Live channel").

On connect: ``hello`` (labels), a ``status`` snapshot and the last ``kpi``
snapshot. Then ``state`` (pushed the moment the hub sees a change),
``connectivity``, ``status`` (every second) and ``kpi`` (every two seconds).
Clients only listen; anything they send is ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from shopfloor.api.deps import Services, ws_services
from shopfloor.api.snapshots import kpi_snapshot, status_snapshot
from shopfloor.models.states import PRINTER_STATE_LABELS, ROBOT_STATE_LABELS
from shopfloor.store.base import StoreError

router = APIRouter(tags=["live"])


def _hello(services: Services) -> dict[str, Any]:
    return {
        "type": "hello",
        "plant": services.plant.plant.id,
        "printer_states": {int(k): {"en": en, "zh": zh} for k, (en, zh) in PRINTER_STATE_LABELS.items()},
        "robot_states": {int(k): {"en": en, "zh": zh} for k, (en, zh) in ROBOT_STATE_LABELS.items()},
    }


@router.websocket("/api/v1/live")
async def live(websocket: WebSocket) -> None:
    services = ws_services(websocket)
    await websocket.accept()
    sub = services.hub.subscribe()  # before the snapshots: no change can fall between the two

    async def drain_client() -> None:
        # Reading is how a WebSocket server learns the client left.
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await websocket.receive_text()

    reader = asyncio.create_task(drain_client())
    try:
        await websocket.send_json(_hello(services))
        try:
            await websocket.send_json(await asyncio.to_thread(status_snapshot, services))
            snapshot = services.last_kpi_snapshot or await asyncio.to_thread(kpi_snapshot, services)
            await websocket.send_json(snapshot)
        except StoreError as exc:
            # A full disk or a store away: the client is told why, and the live changes still flow.
            await websocket.send_json({"type": "store_unavailable", "detail": str(exc)})
        while True:
            getter = asyncio.ensure_future(sub.get())
            done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
            if reader in done:
                getter.cancel()
                break
            await websocket.send_json(getter.result())
    except (WebSocketDisconnect, RuntimeError):
        pass  # the client went away mid-send
    finally:
        sub.close()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
