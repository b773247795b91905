"""Collectors, store, live hub and API, wired in one place: ``shopfloor run``, ``demo`` and ``python -m shopfloor.api``.

Two processes: the collectors run in a child of their own
(:mod:`cli.collector_process`), so no number or kind of clients can delay a
poll (docs/api.md, "Isolation"); the store, the live hub and the HTTP server
run here, together, because the embedded DuckDB file admits one process. The
hub sees every batch the moment the child sends it (a change reaches the
display within one poll). ``python -m shopfloor.api`` is the same without
the collectors (:func:`serve_api`): the API over a store another process
writes.

The app is given what it serves (``api.app.create_app`` opens nothing): the
store and the annotations file beside it are opened here, first, so a file
that cannot be used ends the command with one line before anything starts
(``cli.runtime.run_command``), and closed here once the server is done.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shopfloor.api.settings import SettingsError
from shopfloor.cli.collect import report_every
from shopfloor.cli.collector_process import CollectorProcess, CollectorProcessError, FieldJob
from shopfloor.collectors.tally import TallySink
from shopfloor.models.kpi import KpiConfig
from shopfloor.models.plant import Plant, load_plant
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.base import SampleStore, StoreError

if TYPE_CHECKING:  # the demo's past: only the demo loads it
    from shopfloor.cli.demo_history import DemoHistory

log = logging.getLogger("shopfloor.serve")


@dataclass(frozen=True)
class ServeInfo:
    """What is being served, as printed for the person who started it."""

    display_url: str
    endpoints: tuple[str, ...]  # the devices read (simulators in the demo)
    store: str
    operator_key_file: Path | None  # where a generated key is, when the demo made one

    def lines(self, endpoint_label: str) -> list[str]:
        out = [f"{endpoint_label:<10} {e}" for e in self.endpoints]
        out.append(f"store      {self.store}")
        out.append(f"API        {self.display_url}api/v1/status  (OpenAPI: {self.display_url}openapi.json)")
        if self.operator_key_file:
            out.append(f"operator key (X-API-Key header) for this run is in {self.operator_key_file}")
        out.append(f"display    {self.display_url}")
        return out


def add_api_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=None, help="API bind address (default: [api] host, 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="API port; 0 picks a free one (default: [api] port)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder for the embedded store and the annotations (default: [storage.embedded] path)",
    )


def with_data_dir(plant: Plant, data_dir: Path | None) -> Plant:
    if data_dir is None:
        return plant
    embedded = plant.storage.embedded.model_copy(update={"path": data_dir / "shopfloor.duckdb"})
    return plant.model_copy(update={"storage": plant.storage.model_copy(update={"embedded": embedded})})


def listen(command: str, host: str, port: int) -> socket.socket:
    """The API's listening socket, bound before anything starts so a taken port is a clear error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SettingsError(
            f"cannot listen on {host}:{port} ({exc.strerror}); choose another with --port (0 picks a free one)"
            " or --host, or change [api] host/port in the plant file"
        ) from None
    sock.listen(128)
    return sock


def write_key_file(path: Path, key: str) -> Path:
    """An owner-only file: a key never goes to the terminal or a log that may be shared."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return path.resolve()


def open_annotations(plant: Plant) -> AnnotationStore:
    """The operator input of the plant: ``annotations.sqlite3`` beside the embedded store file, whatever the store."""
    return AnnotationStore.next_to(plant.storage.embedded.path)


def describe_store(store: SampleStore, plant: Plant) -> str:
    return store.describe()


async def serve_plant(
    job: FieldJob,
    stop: asyncio.Event,
    sock: socket.socket,
    *,
    kpi_config: KpiConfig | None = None,
    generated_key: str | None = None,
    store_note: str = "",
    on_ready: Callable[[ServeInfo], None] | None = None,
    report_interval_s: float = 60.0,
    history: DemoHistory | None = None,
) -> int:
    """Collect ``job.plant`` into its store and serve the API on ``sock`` until ``stop`` (0) or a part fails (1).

    The collectors (and the demo's simulators) run in a process of their own (``job``); ``job.clock`` is
    the plant's time, for timestamps and for the API's "now" (the wall clock unless a simulation says
    otherwise); ``generated_key`` is an operator key made for this run when none is configured (the demo's);
    ``history`` fills the store's past in the background once the collectors run (the demo's simulated year).
    """
    from shopfloor.api.app import create_app
    from shopfloor.api.live import LiveHub
    from shopfloor.api.server import build_server
    from shopfloor.api.settings import ApiConfig, parse_keys
    from shopfloor.api.tee import TeeSink
    from shopfloor.store import open_store

    plant, clock = job.plant, job.clock
    data_dir = Path(plant.storage.embedded.path).parent
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the data folder {data_dir}: {exc.strerror}") from None
    config = ApiConfig.from_env(plant)
    # The store first: on a full disk or a damaged file the command stops here with one line (cli.main: exit 2),
    # before anything else is written or started.
    store = open_store(plant)
    notes: AnnotationStore | None = None
    try:
        key_file = None
        if generated_key is not None and not config.keys:
            try:
                key_file = write_key_file(data_dir / "operator.key", generated_key)
            except OSError as exc:
                raise StoreError(f"cannot write the operator key file in {data_dir}: {exc.strerror}") from None
            # "demo" is who the audit trail names for this key
            config = dataclasses.replace(config, keys=parse_keys(f"demo:{generated_key}"))
        hub = LiveHub(plant, clock_ns=clock.now_ns)  # thread-safe: written from the collectors' reader thread
        tally = TallySink(store)  # the periodic one-line report of what was stored, and the spool backlog
        field = CollectorProcess(job, TeeSink(tally, hub))
        # The annotations file beside the store: its errors, too, end the command before collection starts.
        notes = open_annotations(plant)
        app = create_app(
            plant,
            store,
            live_hub=hub,
            annotations=notes,
            config=config,
            clock_ns=clock.now_ns,
            kpi_config=kpi_config,
            collectors=lambda: field.statuses,
            samples_stored=tally.samples_by_measurement,
            backfill=None if history is None else history.progress,
            time_scale=job.sim_clock.time_scale if job.sim_clock is not None else 1.0,
        )
    except BaseException:
        if notes is not None:
            notes.close()
        with contextlib.suppress(StoreError):
            store.close()
        raise
    exit_code = 0
    try:
        try:
            _, endpoints = await field.start()
        except CollectorProcessError as exc:
            log.error("the collectors could not start: %s", exc)
            return 1
        collectors = asyncio.create_task(field.wait(), name="collectors")
        if history is not None:
            await history.start(store, notes)  # returns at once: the past is written in the background
        reporting = asyncio.Event()
        reporter = asyncio.create_task(report_every(tally, report_interval_s, reporting, store), name="report")
        server = build_server(app, plant.api)  # bounded connections, timeouts and bodies (api/server.py)
        api = asyncio.create_task(server.serve(sockets=[sock]), name="api")
        stopped = asyncio.create_task(stop.wait(), name="stop")
        try:
            while not server.started and not api.done():  # noqa: ASYNC110  # uvicorn offers no "started" event
                await asyncio.sleep(0.05)  # it sets a flag within milliseconds
            if server.started and on_ready is not None:
                host, port = sock.getsockname()[:2]
                shown = f"[{host}]" if ":" in host else host
                on_ready(
                    ServeInfo(f"http://{shown}:{port}/", endpoints, describe_store(store, plant) + store_note, key_file)
                )
            done, _ = await asyncio.wait({stopped, api, collectors}, return_when=asyncio.FIRST_COMPLETED)
            for task in done - {stopped}:
                exit_code = 1
                error = task.exception() if not task.cancelled() else None
                log.error("%s stopped unexpectedly%s", task.get_name(), f": {error!r}" if error else "")
        finally:
            stopped.cancel()
            server.should_exit = True
            reporting.set()
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(api, 15)
    finally:
        try:
            if history is not None:
                await history.stop()  # before the store closes: what it was writing is written
            await field.stop()  # everything the child sent is in the store before it closes
            store.close()
        finally:
            notes.close()
    return exit_code


def serve_api(plant_file: str | None, host: str | None = None, port: int | None = None) -> int:
    """``python -m shopfloor.api``: the API and display over the plant's store, without collectors.

    Serves what another process stores (InfluxDB); nothing is pushed live, as nothing collects here. Returns when
    uvicorn stops (Ctrl-C); a plant file, setting or store it cannot use raises (``cli.runtime.run_command``).
    """
    from shopfloor.api.app import create_app
    from shopfloor.api.live import LiveHub
    from shopfloor.api.server import build_server, check_settings
    from shopfloor.api.settings import ApiConfig
    from shopfloor.store import open_store

    plant = load_plant(plant_file)
    check_settings(plant)  # before the store opens: nothing is started for settings that cannot work
    config = ApiConfig.from_env(plant)
    store = open_store(plant)
    try:
        # a full disk or a damaged annotations file ends here too, in one line
        notes = open_annotations(plant)
        try:
            app = create_app(plant, store, live_hub=LiveHub(plant), annotations=notes, config=config)
            # warnings only from uvicorn (no line per request), as in `shopfloor run`; our own INFO lines stay
            build_server(
                app, plant.api, host=host or plant.api.host, port=plant.api.port if port is None else port
            ).run()  # port 0 picks a free one
        finally:
            notes.close()
    except BaseException:
        with contextlib.suppress(StoreError):
            store.close()
        raise
    store.close()
    return 0
