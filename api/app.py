"""The app factory: wires plant, store, live hub and annotations into one FastAPI app.

Only wiring lives here; behaviour lives in the services and the routers. It
opens nothing: the store, the annotations and the settings come from the
caller (cli/serve.py for the commands), which closes what it opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from shopfloor.api.alerts import AlertService
from shopfloor.api.app_paths import STATIC_DIR
from shopfloor.api.backfill import BackfillProgress
from shopfloor.api.deps import Services
from shopfloor.api.errors import CatchAll, ErrorLog, validation_failed
from shopfloor.api.guard import RequestGuard
from shopfloor.api.hourly_alerts import HourlyWatch, hourly_board
from shopfloor.api.kpi_service import KpiService
from shopfloor.api.ledger import LedgerIncomplete, keep_ledger
from shopfloor.api.live import LiveHub
from shopfloor.api.metrics import ApiMetrics, MetricsMiddleware
from shopfloor.api.raw_window import GONE, RawSamplesExpired
from shopfloor.api.retention import keep_raw_retention
from shopfloor.api.routes import ROUTERS
from shopfloor.api.settings import ApiConfig
from shopfloor.api.snapshots import run_snapshots
from shopfloor.api.status import StatusService
from shopfloor.api.timerange import iso
from shopfloor.api.webhook import WebhookSender, webhook_outbox
from shopfloor.api.year_to_date import YearToDateService
from shopfloor.collectors.base import CollectorStatus
from shopfloor.models.contract import MEASUREMENT_PRINTER, MEASUREMENT_ROBOT
from shopfloor.models.kpi import KpiConfig
from shopfloor.models.plant import Plant
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.base import SampleStore, StoreError, StoreUnavailable

log = logging.getLogger("shopfloor.api")


def create_app(
    plant: Plant,
    store: SampleStore,
    *,
    annotations: AnnotationStore,
    config: ApiConfig,
    live_hub: LiveHub | None = None,
    clock_ns: Callable[[], int] = time.time_ns,
    kpi_config: KpiConfig | None = None,
    collectors: Callable[[], Sequence[CollectorStatus]] | None = None,
    samples_stored: Callable[[], dict[str, int]] | None = None,
    backfill: BackfillProgress | None = None,
    time_scale: float = 1.0,
) -> FastAPI:
    """The API over ``store`` and ``annotations``; ``live_hub`` should be the hub the collectors write to (else
    nothing is pushed until samples reach it). ``clock_ns`` is the plant's "now" (current shift, range ends): the
    wall clock, or the simulation's in a time-scaled demo, where the data is stamped in simulated time.
    ``collectors`` and ``samples_stored`` (the collectors running in this process, and what the store accepted
    from them) go to /metrics. ``backfill`` is how far a job filling the plant's past has come (the demo's
    simulated year; GET /api/v1/backfill). ``time_scale``: plant seconds per wall second (a time-scaled demo's):
    the collectors poll on the wall clock, so a poll lasts that many times longer on ``clock_ns``; the alerts
    count polls on it."""
    hub = live_hub or LiveHub(plant, clock_ns=clock_ns)
    kpi = KpiService(
        plant,
        store,
        annotations,
        config=kpi_config or KpiConfig.of(plant),
        cache_s=config.kpi_cache_s,
        clock_ns=clock_ns,
    )
    printer_ids = [p.id for p in plant.printers]
    robot_ids = [r.id for f in plant.fleets for r in f.robots]

    def newest_ns() -> dict[str, int]:
        out = {}
        for measurement, ids in ((MEASUREMENT_PRINTER, printer_ids), (MEASUREMENT_ROBOT, robot_ids)):
            for e, fields in store.latest(measurement, ids).items():
                if fields:
                    out[e] = max(ts for ts, _ in fields.values())
        return out

    def spool_backlog_bytes() -> int:
        backlog = store.spool_backlog()
        assert backlog is not None  # only asked of a store that spools (below)
        return backlog[0]

    spooled = store.spool_backlog() is not None
    webhook = None
    if plant.alerts.webhook is not None:
        webhook = WebhookSender(plant.alerts.webhook, outbox=webhook_outbox(annotations))
    alerts = AlertService(plant, hub, annotations, clock_ns=clock_ns, webhook=webhook, poll_scale=time_scale)
    metrics = ApiMetrics(
        lambda: hub.clients,
        newest_ns,
        lambda: kpi.computations,
        clock_ns,
        spool_backlog_bytes if spooled else None,
        collectors=collectors,
        samples_stored=samples_stored,
        store_health=store.health,
        alerts=alerts,
    )
    status_service = StatusService(plant, store, hub, clock_ns=clock_ns)
    services = Services(
        plant, store, hub, annotations, config, kpi, status_service, metrics, clock_ns=clock_ns, alerts=alerts
    )
    alerts.hourly = HourlyWatch(
        plant, hourly_board(services), max_gap_polls=kpi.config.max_gap_polls, on_new=alerts.poke
    )
    errors = ErrorLog()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(run_snapshots(services), name="live-snapshots")
        keeper = asyncio.create_task(keep_ledger(kpi.ledger), name="ledger-keeper")
        retention = asyncio.create_task(keep_raw_retention(kpi.ledger), name="raw-retention")
        background = [task, keeper, retention, asyncio.create_task(alerts.run(), name="alerts")]
        if webhook is not None:
            background.append(asyncio.create_task(webhook.run(), name="alert-webhook"))
        log.info(
            "API up for plant %s; %d API key(s) configured (%s)",
            plant.plant.id,
            len(config.keys),
            ", ".join(k.label for k in config.keys) or "operator input disabled",
        )
        try:
            yield
        finally:
            for job in background:
                job.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await job
            errors.close()

    app = FastAPI(
        title=f"Shop-floor monitoring API - {plant.plant.name}",
        version="1.0.0",
        description="Live status, ISO 22400 KPIs, team scoreboard, operator input and reports. See docs/api.md.",
        lifespan=lifespan,
        # FastAPI's /docs and /redoc pages load their scripts from a CDN; a plant network has no internet
        # and the display loads nothing from outside either. The schema itself stays at /openapi.json.
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    app.state.year_to_date = YearToDateService(kpi)
    app.state.backfill = backfill or BackfillProgress()

    @app.exception_handler(LedgerIncomplete)
    async def ledger_incomplete(request: Request, exc: LedgerIncomplete) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "30"})

    @app.exception_handler(RawSamplesExpired)
    async def raw_samples_expired(request: Request, exc: RawSamplesExpired) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "raw_kept_since": iso(plant, exc.kept_since_ns)}, status_code=GONE)

    @app.exception_handler(StoreError)
    async def store_unavailable(request: Request, exc: StoreError) -> JSONResponse:
        # e.g. InfluxDB down, a full disk: a temporary condition of the server, not a bug and not the caller's
        # fault. A StoreUnavailable is already in the log, said by the store once (and once a minute while it
        # lasts): one line per request on top would bury it.
        log.log(
            logging.DEBUG if isinstance(exc, StoreUnavailable) else logging.WARNING,
            "store unavailable for %s: %s",
            request.url.path,
            exc,
        )
        return JSONResponse(
            {"detail": f"the sample store is unavailable: {exc}"}, status_code=503, headers={"Retry-After": "5"}
        )

    app.add_exception_handler(RequestValidationError, validation_failed)
    # Added last = outermost: CatchAll sees everything, metrics count the guard's refusals too.
    app.add_middleware(RequestGuard, config=config)
    app.add_middleware(MetricsMiddleware, metrics=lambda: services.metrics)
    app.add_middleware(CatchAll, errors=errors)
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
