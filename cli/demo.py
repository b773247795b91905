"""``shopfloor demo``: the whole system in one process on its embedded defaults.

The printer simulator (Modbus TCP) and the robot-fleet simulator (OPC UA) are
served on loopback ports the OS picks; the real collectors read them over
those sockets into the embedded store (or InfluxDB, if configured) and the
live hub; the API and the control-room display serve both. Nothing here is a
shortcut around a protocol: pointing the same collectors at a real plant is a
change of the plant file (``shopfloor collect`` plus ``python -m api``).

Faster than real time (``--time-scale``), the whole system runs on the
simulation's clock: the simulators, the collectors' timestamps and the API's
"now" (current shift, range ends, the display's clock) all read one
``SimClock``, so a shift passes in minutes and every rate (speed, OEE
performance, energy per metre) stays true to the simulated plant. At scale 1
that clock is the wall clock.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import secrets
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from cli.collect import run_collectors
from collectors.base import SystemClock
from cli.plant import add_plant_argument
from cli.runtime import run_until_stopped
from cli.simulate import add_simulation_arguments, start_simulators, stop_simulators
from models.kpi import KpiConfig
from models.plant import Plant, load_plant
from simulators.clock import NS_PER_S, SimClock
from simulators.fleet.server import FleetSimulator
from simulators.printer.server import PrinterSimulator

log = logging.getLogger("shopfloor.demo")

DEMO_KEY_LABEL = "demo"


class PlantTimeClock(SystemClock):
    """The collectors' clock in the demo: timestamps in simulated time, scheduling on the real monotonic clock."""

    def __init__(self, sim_clock: SimClock) -> None:
        self.sim_clock = sim_clock

    def time_ns(self) -> int:
        return self.sim_clock.now_ns()


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="simulators, collectors, store, API and live display in one command"
    )
    add_plant_argument(parser)
    add_simulation_arguments(parser)
    parser.add_argument("--host", default=None, help="API bind address (default: [api] host, 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="API port; 0 picks a free one (default: [api] port)")
    parser.add_argument(
        "--data-dir", type=Path, default=None,
        help="folder for the embedded store and the annotations (default: [storage.embedded] path)",
    )
    parser.set_defaults(func=run)


@dataclass(frozen=True)
class DemoInfo:
    """What the demo serves, as printed for the person who started it."""

    display_url: str
    endpoints: tuple[str, ...]
    store: str
    operator_key_file: Path | None  # where this run's generated key is, when no key is configured

    def lines(self) -> list[str]:
        out = [f"simulator  {e}" for e in self.endpoints]
        out.append(f"store      {self.store}")
        out.append(f"API        {self.display_url}api/v1/status  (OpenAPI: {self.display_url}openapi.json)")
        if self.operator_key_file:
            out.append(f"operator key (X-API-Key header) for this run is in {self.operator_key_file}")
        out.append(f"display    {self.display_url}")
        return out


def wire_to_simulators(plant: Plant, simulators: list[PrinterSimulator | FleetSimulator],
                       data_dir: Path | None) -> Plant:
    """The plant as the demo runs it: every endpoint pointed at its simulator, the store in ``data_dir``."""
    printers = list(plant.printers)
    fleets = list(plant.fleets)
    for sim in simulators:
        if isinstance(sim, PrinterSimulator):
            i = next(n for n, p in enumerate(printers) if p.id == sim.printer.id)
            modbus = printers[i].modbus.model_copy(update={"host": sim.host, "port": sim.port})
            printers[i] = printers[i].model_copy(update={"modbus": modbus})
        else:
            i = next(n for n, f in enumerate(fleets) if f.id == sim.fleet.id)
            opcua = fleets[i].opcua.model_copy(update={"endpoint": sim.endpoint})
            fleets[i] = fleets[i].model_copy(update={"opcua": opcua})
    storage = plant.storage
    if data_dir is not None:
        embedded = storage.embedded.model_copy(update={"path": data_dir / "shopfloor.duckdb"})
        storage = storage.model_copy(update={"embedded": embedded})
    return plant.model_copy(update={"printers": printers, "fleets": fleets, "storage": storage})


def listen(host: str, port: int) -> socket.socket:
    """The API's listening socket, bound before uvicorn starts so a taken port is a clear error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SystemExit(
            f"shopfloor demo: cannot listen on {host}:{port} ({exc.strerror}); "
            "choose another with --port (0 picks a free one)"
        ) from None
    sock.listen(128)
    return sock


async def run_demo(
    plant: Plant,
    stop: asyncio.Event,
    *,
    time_scale: float | None = None,
    seed: int | None = None,
    host: str | None = None,
    port: int | None = None,
    data_dir: Path | None = None,
    on_ready: Callable[[DemoInfo], None] | None = None,
) -> int:
    """Run the whole system until ``stop`` is set or a part of it fails (then exit code 1)."""
    from store.factory import influx_connection

    scale = plant.simulation.time_scale if time_scale is None else time_scale
    if not (math.isfinite(scale) and scale > 0):
        raise SystemExit(f"shopfloor demo: --time-scale must be a positive number, got {scale}")
    scratch: tempfile.TemporaryDirectory[str] | None = None
    if scale != 1.0:
        # Faster than real time the data is stamped ahead of the wall clock: it must not mix with a real
        # store, where it would stand as "latest" values from the future long after the demo ended.
        if influx_connection(plant) is not None:
            raise SystemExit("shopfloor demo: a --time-scale other than 1 stamps data in simulated time, ahead of "
                             "the clock; it runs on the embedded store only (unset INFLUX_URL) or use --time-scale 1")
        if data_dir is None:
            scratch = tempfile.TemporaryDirectory(prefix="shopfloor-demo-")
            data_dir = Path(scratch.name)
    bind_host = host or plant.api.host
    sock = listen(bind_host, plant.api.port if port is None else port)
    try:
        return await _serve(plant, stop, scale=scale, seed=seed, sock=sock, data_dir=data_dir,
                            scratch=scratch is not None, on_ready=on_ready)
    finally:
        sock.close()
        if scratch is not None:
            scratch.cleanup()


async def _serve(plant: Plant, stop: asyncio.Event, *, scale: float, seed: int | None, sock: socket.socket,
                 data_dir: Path | None, scratch: bool, on_ready: Callable[[DemoInfo], None] | None) -> int:
    from api.app import create_app
    from api.live import LiveHub
    from api.settings import ApiConfig, parse_keys
    from api.tee import TeeSink
    from store import open_store

    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
    clock = SimClock(start_ns=time.time_ns() // NS_PER_S * NS_PER_S, time_scale=scale)
    simulators = await start_simulators(plant, {"printer", "fleet"}, time_scale=scale, seed=seed,
                                        loopback_free_ports=True, clock=clock)
    wired = wire_to_simulators(plant, simulators, data_dir)
    config = ApiConfig.from_env(wired)
    key_file = None
    if not config.keys:
        # Operator input needs a key; a fresh random one per run keeps the demo usable and still closed.
        # It goes to an owner-only file, never to the terminal or a log that may be shared.
        key = secrets.token_urlsafe(18)
        key_file = write_key_file(Path(wired.storage.embedded.path).parent / "operator.key", key)
        config = ApiConfig(config.keys_env, parse_keys(f"{DEMO_KEY_LABEL}:{key}"))
    store = open_store(wired)
    hub = LiveHub(wired, clock_ns=clock.now_ns)
    collectors_stop = asyncio.Event()
    collectors = asyncio.create_task(
        run_collectors(wired, TeeSink(store, hub), collectors_stop, clock=PlantTimeClock(clock)), name="collectors"
    )
    # Polls run every poll_interval_s of wall time, which is time_scale times longer in plant time.
    kpi_config = KpiConfig(max_gap_polls=KpiConfig().max_gap_polls * scale)
    app = create_app(wired, store, live_hub=hub, config=config, clock_ns=clock.now_ns, kpi_config=kpi_config)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws="websockets-sansio", lifespan="on"))
    api = asyncio.create_task(server.serve(sockets=[sock]), name="api")
    stopped = asyncio.create_task(stop.wait(), name="stop")
    exit_code = 0
    try:
        while not server.started:
            if api.done():
                break
            await asyncio.sleep(0.05)  # uvicorn offers no started event; this is a bounded start-up poll
        if server.started:
            bound_port = sock.getsockname()[1]
            bind_host = sock.getsockname()[0]
            shown_host = f"[{bind_host}]" if ":" in bind_host else bind_host
            info = DemoInfo(
                display_url=f"http://{shown_host}:{bound_port}/",
                endpoints=tuple(s.endpoint for s in simulators),
                store=_describe_store(store, wired) + (" (simulated time: discarded at exit)" if scratch else ""),
                operator_key_file=key_file,
            )
            if on_ready is not None:
                on_ready(info)
        done, _ = await asyncio.wait({stopped, api, collectors}, return_when=asyncio.FIRST_COMPLETED)
        for task in done - {stopped}:
            exit_code = 1
            error = task.exception() if not task.cancelled() else None
            log.error("%s stopped unexpectedly%s", task.get_name(), f": {error!r}" if error else "")
    finally:
        stopped.cancel()
        server.should_exit = True
        collectors_stop.set()
        for task in (api, collectors):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 15)
        await stop_simulators(simulators)
        store.close()
    return exit_code


def write_key_file(path: Path, key: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return path.resolve()


def _describe_store(store: object, plant: Plant) -> str:
    name = type(store).__name__
    if name == "DuckDBStore":
        return f"embedded DuckDB {Path(plant.storage.embedded.path).resolve()}"
    return f"InfluxDB ({name})"


def run(args: argparse.Namespace) -> int:
    plant = load_plant(args.plant)

    def show(info: DemoInfo) -> None:
        for line in info.lines():
            print(line, flush=True)
        print("press Ctrl-C to stop", flush=True)

    async def main(stop: asyncio.Event) -> int:
        return await run_demo(plant, stop, time_scale=args.time_scale, seed=args.seed, host=args.host,
                              port=args.port, data_dir=args.data_dir, on_ready=show)

    return run_until_stopped(main)
