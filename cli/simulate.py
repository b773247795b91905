"""``shopfloor simulate``: serve the printing line (Modbus TCP) and the robot fleet (OPC UA)."""

from __future__ import annotations

import argparse
import asyncio
import logging

from cli.plant import add_plant_argument
from cli.runtime import run_until_stopped
from models.plant import Plant, load_plant

log = logging.getLogger("shopfloor.simulate")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate", help="run the printer and robot-fleet simulators on the plant file's endpoints"
    )
    parser.add_argument(
        "which", nargs="*", choices=["printer", "fleet"], default=[], help="what to simulate (default: both)"
    )
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
    free_ports: bool = False,
) -> list[object]:
    """Start the requested simulators; ``free_ports`` lets the OS choose ports (the demo)."""
    from simulators.fleet.server import FleetSimulator
    from simulators.printer.server import PrinterSimulator

    started: list[object] = []
    try:
        if "printer" in which:
            for printer in plant.printers:
                sim = PrinterSimulator(
                    plant, printer.id, port=0 if free_ports else None, seed=seed, time_scale=time_scale
                )
                await sim.start()
                started.append(sim)
        if "fleet" in which:
            for fleet in plant.fleets:
                fleet_sim = FleetSimulator(
                    plant, fleet.id, port=0 if free_ports else None, seed=seed, time_scale=time_scale
                )
                await fleet_sim.start()
                started.append(fleet_sim)
    except BaseException:
        await stop_simulators(started)
        raise
    return started


async def stop_simulators(simulators: list[object]) -> None:
    for sim in reversed(simulators):
        try:
            await sim.stop()  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - stopping the rest matters more than one failure
            log.exception("stopping %s failed", sim)


def run(args: argparse.Namespace) -> int:
    plant = load_plant(args.plant)
    which = set(args.which or ["printer", "fleet"])

    async def main(stop: asyncio.Event) -> int:
        simulators = await start_simulators(plant, which, time_scale=args.time_scale, seed=args.seed)
        try:
            for sim in simulators:
                print(f"serving {sim.endpoint}", flush=True)  # type: ignore[attr-defined]
            print("press Ctrl-C to stop", flush=True)
            await stop.wait()
        finally:
            await stop_simulators(simulators)
        return 0

    return run_until_stopped(main)
