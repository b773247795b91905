"""``shopfloor simulate``: serve the printing line (Modbus TCP) and the robot fleet (OPC UA)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from urllib.parse import urlparse

from cli.plant import add_plant_argument
from cli.runtime import run_until_stopped
from models.plant import Plant, load_plant
from simulators.clock import NS_PER_S, SimClock
from simulators.fleet.server import FleetSimulator
from simulators.printer.server import PrinterSimulator

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
    parser.set_defaults(func=run)


def add_simulation_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--time-scale", type=float, default=None, help="simulated seconds per second (default: plant file)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: plant file)")


async def start_simulators(
    plant: Plant,
    which: set[str],
    *,
    time_scale: float | None,
    seed: int | None,
    loopback_free_ports: bool = False,
    clock: SimClock | None = None,
) -> list[PrinterSimulator | FleetSimulator]:
    """Start the requested simulators on the plant file's endpoints.

    ``loopback_free_ports`` (the demo) serves every simulator on 127.0.0.1 at
    a port the OS picks instead, so a demo never collides with a port in use
    and never listens beyond the machine, whatever hosts the plant file names.
    One simulated clock drives them all, so the line and the fleet share one time.
    """
    scale = plant.simulation.time_scale if time_scale is None else time_scale
    clock = clock or SimClock(start_ns=time.time_ns() // NS_PER_S * NS_PER_S, time_scale=scale)
    started: list[PrinterSimulator | FleetSimulator] = []
    try:
        if "printer" in which:
            for printer in plant.printers:
                sim = PrinterSimulator(
                    plant, printer.id, host="127.0.0.1" if loopback_free_ports else None,
                    port=0 if loopback_free_ports else None, seed=seed, clock=clock,
                )
                await sim.start()
                started.append(sim)
        if "fleet" in which:
            for fleet in plant.fleets:
                endpoint = None
                if loopback_free_ports:
                    endpoint = f"opc.tcp://127.0.0.1:0{urlparse(fleet.opcua.endpoint).path}"
                fleet_sim = FleetSimulator(
                    plant, fleet.id, endpoint=endpoint, port=0 if loopback_free_ports else None, seed=seed,
                    time_scale=clock.time_scale, clock=clock,
                )
                await fleet_sim.start()
                started.append(fleet_sim)
    except BaseException:
        await stop_simulators(started)
        raise
    return started


async def stop_simulators(simulators: list[PrinterSimulator | FleetSimulator]) -> None:
    for sim in reversed(simulators):
        try:
            await sim.stop()
        except Exception:  # noqa: BLE001 - stopping the rest matters more than one failure
            log.exception("stopping %s failed", sim)


def run(args: argparse.Namespace) -> int:
    unknown = set(args.which) - SIMULATABLE
    if unknown:
        raise SystemExit(f"shopfloor simulate: nothing called {', '.join(sorted(unknown))} to simulate; "
                         f"choose from {', '.join(sorted(SIMULATABLE))}")
    plant = load_plant(args.plant)
    which = set(args.which or SIMULATABLE)

    async def main(stop: asyncio.Event) -> int:
        simulators = await start_simulators(plant, which, time_scale=args.time_scale, seed=args.seed)
        try:
            for sim in simulators:
                print(f"serving {sim.endpoint}", flush=True)
            print("press Ctrl-C to stop", flush=True)
            await stop.wait()
        finally:
            await stop_simulators(simulators)
        return 0

    return run_until_stopped(main)
