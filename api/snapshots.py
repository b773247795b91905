"""Periodic live snapshots: the full status every second, the current-shift KPIs every two.

Both are built in a worker thread (they read the store) and only while
someone is listening. State changes do not wait for this: the hub pushes
them as soon as ``write()`` sees them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from shopfloor.api.deps import Services
from shopfloor.api.presenters import jsonable, printer_json, scoreboard_json
from shopfloor.api.timerange import resolve
from shopfloor.store.base import StoreError, StoreUnavailable
from shopfloor.store.outage import OutageLog

log = logging.getLogger("shopfloor.api.live")


def kpi_snapshot(services: Services) -> dict[str, Any]:
    """Current-shift scoreboard and equipment KPIs (what the display's KPI tiles show)."""
    plant = services.plant
    rng = resolve(
        plant,
        shift=None,
        start=None,
        end=None,
        max_range_days=services.config.max_range_days,
        now_ns=services.clock_ns(),
    )
    report = services.kpi.report(rng)
    return {
        "type": "kpi",
        "scoreboard": scoreboard_json(plant, rng, report),
        "printers": {pid: printer_json(plant, pk) for pid, pk in report.printers.items()},
        "fleets": {fid: jsonable(fk) for fid, fk in report.fleets.items()},
        "robots": {rid: jsonable(fk) for rid, fk in report.robots.items()},
        # Each line's running order (None: none runs), from the service's cache: computed once per snapshot at
        # most, never per client (api/order_progress.py).
        "orders": {p.id: services.order_progress.get(services, p.id) for p in plant.printers},
    }


def status_snapshot(services: Services) -> dict[str, Any]:
    return {"type": "status", **services.status.status()}


async def run_snapshots(services: Services, outage: OutageLog | None = None) -> None:
    cfg = services.config
    # The store being away fails every snapshot: said at the start, once a minute and at the end, not each time.
    outage = outage or OutageLog(log, "live snapshots")
    next_kpi = 0.0
    while True:
        await asyncio.sleep(cfg.snapshot_interval_s)
        if services.hub.clients == 0:
            continue
        try:
            services.hub.publish(await asyncio.to_thread(status_snapshot, services))
            if time.monotonic() >= next_kpi:
                next_kpi = time.monotonic() + cfg.kpi_snapshot_interval_s
                snapshot = await asyncio.to_thread(kpi_snapshot, services)
                services.last_kpi_snapshot = snapshot
                services.hub.publish(snapshot)
            outage.recovered()
        except StoreUnavailable:
            pass  # the store cannot keep data (a full disk): it says so itself, once a minute
        except StoreError as exc:  # the store is away for now: retried every interval
            outage.failed(f"cannot read the store ({exc}); retrying every interval")
        except Exception:  # a bug: its traceback, but it must not end the live channel for good
            log.exception("live snapshot failed; retrying next interval")
