"""``shopfloor simulate``: serve the printing line (Modbus TCP) and the robot fleet (OPC UA)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from urllib.parse import urlparse

from shopfloor.cli.plant import add_plant_argument
from shopfloor.cli.runtime import run_until_stopped
from shopfloor.models.plant import Plant, load_plant, opcua_password
from shopfloor.models.timebase import NS_PER_S
from shopfloor.simulators.clock import SimClock
from shopfloor.simulators.control import KEY_ENV, MIN_KEY_LENGTH, create_control_app
from shopfloor.simulators.fleet.server import FleetSimulator
from shopfloor.simulators.printer.process import line_seed
from shopfloor.simulators.printer.server import PrinterSimulator

log = logging.getLogger("shopfloor.simulate")

SIMULATABLE = frozenset({"printer", "fleet"})


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate", help="run the printer and robot-fleet simulators on the plant file's endpoints"
    )
    # no `choices` here: argparse (3.11) checks the empty default against them and refuses a bare command
    parser.add_argument("which", nargs="*", metavar="{printer,fleet}", help="what to simulate (default: both)")
    add_plant_argument(parser)
    add_simulation_arguments(parser)
    parser.add_argument(
        "--control-port",
        type=int,
        default=None,
        metavar="PORT",
        help="serve the fault-injection API (shopfloor inject) on 127.0.0.1:PORT; 0 picks a free port",
    )
    parser.add_argument(
        "--control-key-file",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"where to write this run's control key (default: a private temporary file; "
        f"${KEY_ENV} if set is used instead of a random key)",
    )
    parser.set_defaults(func=run)


def add_simulation_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--time-scale", type=float, default=None, help="simulated seconds per second (default: plant file)"
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: plant file)")


async def start_simulators(
    plant: Plant,
    which: set[str],
    *,
    time_scale: float | None,
    seed: int | None,
    loopback_free_ports: bool = False,
    clock: SimClock | None = None,
    env: Mapping[str, str] = os.environ,
) -> list[PrinterSimulator | FleetSimulator]:
    """Start the requested simulators on the plant file's endpoints.

    ``loopback_free_ports`` (the demo) serves every simulator on 127.0.0.1 at
    a port the OS picks instead, so a demo never collides with a port in use
    and never listens beyond the machine, whatever hosts the plant file names.
    One simulated clock drives them all, so the line and the fleet share one time.
    A secured fleet's user password is read from ``env`` (the process's environment) here.
    """
    scale = plant.simulation.time_scale if time_scale is None else time_scale
    clock = clock or SimClock(start_ns=time.time_ns() // NS_PER_S * NS_PER_S, time_scale=scale)
    started: list[PrinterSimulator | FleetSimulator] = []
    try:
        if "printer" in which:
            for index, printer in enumerate(plant.printers):
                sim = PrinterSimulator(
                    plant,
                    printer.id,
                    host="127.0.0.1" if loopback_free_ports else None,
                    port=0 if loopback_free_ports else None,
                    seed=line_seed(plant.simulation.seed if seed is None else seed, index),
                    clock=clock,
                )
                await sim.start()
                started.append(sim)
        if "fleet" in which:
            for fleet in plant.fleets:
                endpoint = None
                if loopback_free_ports:
                    endpoint = f"opc.tcp://127.0.0.1:0{urlparse(fleet.opcua.endpoint).path}"
                fleet_sim = FleetSimulator(
                    plant,
                    fleet.id,
                    endpoint=endpoint,
                    port=0 if loopback_free_ports else None,
                    seed=seed,
                    time_scale=clock.time_scale,
                    clock=clock,
                    password=opcua_password(fleet.opcua, env),
                )
                await fleet_sim.start()
                started.append(fleet_sim)
    except BaseException:
        await stop_simulators(started)
        raise
    return started


def wire_to_simulators(plant: Plant, simulators: list[PrinterSimulator | FleetSimulator]) -> Plant:
    """The plant as the demo runs it: every endpoint pointed at its simulator."""
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
    return plant.model_copy(update={"printers": printers, "fleets": fleets})


async def stop_simulators(simulators: list[PrinterSimulator | FleetSimulator]) -> None:
    for sim in reversed(simulators):
        try:
            await sim.stop()
        except Exception:  # stopping the rest matters more than one failure
            log.exception("stopping %s failed", sim)


def run(args: argparse.Namespace) -> int:
    unknown = set(args.which) - SIMULATABLE
    if unknown:
        raise SystemExit(
            f"shopfloor simulate: nothing called {', '.join(sorted(unknown))} to simulate; "
            f"choose from {', '.join(sorted(SIMULATABLE))}"
        )
    if args.control_port is not None and not 0 <= args.control_port <= 65535:
        raise SystemExit(
            f"shopfloor simulate: --control-port must be 0 (any free port) to 65535, got {args.control_port}"
        )
    if args.control_port is not None:
        _key_from_env()  # a too-short key is refused before anything starts
    plant = load_plant(args.plant)
    which = set(args.which or SIMULATABLE)
    # Bound before any simulator starts, so a taken port is a clear error and not a half-started plant.
    control_sock = None if args.control_port is None else _listen_loopback(args.control_port)

    async def main(stop: asyncio.Event) -> int:
        simulators = await start_simulators(plant, which, time_scale=args.time_scale, seed=args.seed)
        try:
            for sim in simulators:
                print(f"serving {sim.endpoint}", flush=True)
            if control_sock is None:
                print("press Ctrl-C to stop", flush=True)
                await stop.wait()
                return 0
            async with serve_control(simulators, control_sock, args.control_key_file) as control:
                print(control, flush=True)
                print("press Ctrl-C to stop", flush=True)
                stopped = asyncio.ensure_future(stop.wait())
                try:
                    await asyncio.wait({stopped, control.task}, return_when=asyncio.FIRST_COMPLETED)
                    if not stop.is_set():
                        # uvicorn also watches Ctrl-C: it may end first, then re-raises the signal for us.
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(asyncio.shield(stopped), 2.0)
                finally:
                    stopped.cancel()
                if not stop.is_set():
                    log.error("the control API stopped unexpectedly")
                    return 1
            return 0
        finally:
            await stop_simulators(simulators)

    try:
        return run_until_stopped(main)
    finally:
        if control_sock is not None:
            control_sock.close()


# ---------------------------------------------------------------------- the control channel


def _listen_loopback(port: int) -> socket.socket:
    """The control API's socket: 127.0.0.1 only, whatever the plant file says (it injects faults)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise SystemExit(
            f"shopfloor simulate: cannot listen on 127.0.0.1:{port} for --control-port "
            f"({exc.strerror}); 0 picks a free one"
        ) from None
    sock.listen(16)
    return sock


class ControlInfo:
    """The running control API: its URL, where its key is, and the server task."""

    def __init__(self, url: str, key_source: str, task: asyncio.Task[None]) -> None:
        self.url, self.key_source, self.task = url, key_source, task

    def __str__(self) -> str:
        # The key itself is never printed or logged: only where to find it.
        return f"control {self.url} key {self.key_source}"


def _key_from_env() -> str | None:
    key = os.environ.get(KEY_ENV, "")
    if not key:
        return None  # unset or empty: a random key for this run
    if len(key) < MIN_KEY_LENGTH:
        raise SystemExit(f"shopfloor simulate: ${KEY_ENV} must be at least {MIN_KEY_LENGTH} characters long")
    return key


def control_key(key_file: Path | None) -> tuple[str, Path | None, str]:
    """This run's key, the file written for it (None: none written) and how to describe its source."""
    from_env = _key_from_env()
    if from_env is not None:
        return from_env, None, f"from ${KEY_ENV}"
    key = secrets.token_urlsafe(24)
    if key_file is None:
        # mkdtemp makes an owner-only (0700) folder: nobody else can even list the file.
        key_file = Path(tempfile.mkdtemp(prefix="shopfloor-control-")) / "control.key"
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.unlink(missing_ok=True)
    # O_EXCL with mode 0600: the file is owner-only from the moment it exists, never briefly readable.
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key, key_file.resolve(), f"file {key_file.resolve()}"


@contextlib.asynccontextmanager
async def serve_control(
    simulators: list[PrinterSimulator | FleetSimulator], sock: socket.socket, key_file: Path | None
) -> AsyncIterator[ControlInfo]:
    """Serve the control API on ``sock`` in this event loop until the block ends; remove a generated key file."""
    import uvicorn

    key, written, source = control_key(key_file)
    app = create_control_app(simulators, key)
    # access_log off: request lines would add nothing the control log line does not say.
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]), name="control-api")
    try:
        while not server.started:
            if task.done():
                task.result()  # re-raises why it could not start
                raise RuntimeError("the control API ended before it started")
            await asyncio.sleep(0.02)  # uvicorn sets `started` within milliseconds and offers no event
        host, port = sock.getsockname()[:2]
        yield ControlInfo(f"http://{host}:{port}/", source, task)
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, 10)
        if written is not None:
            written.unlink(missing_ok=True)
            if key_file is None:  # the private folder we made for it
                shutil.rmtree(written.parent, ignore_errors=True)
