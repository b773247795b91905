"""``shopfloor collect``: run every collector of the plant file into the configured store."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Sequence

from cli.plant import add_plant_argument
from cli.runtime import run_until_stopped
from models.plant import Plant, load_plant
from models.samples import ConnectivityEvent, SampleBatch

log = logging.getLogger("shopfloor.collect")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("collect", help="poll every printer and subscribe to every fleet into the store")
    add_plant_argument(parser)
    parser.set_defaults(func=run)


class TeeSink:
    """Hands every batch and connectivity event to several sinks (the store, the live hub)."""

    def __init__(self, *sinks: object) -> None:
        self._sinks = sinks

    def write(self, batch: SampleBatch) -> None:
        for sink in self._sinks:
            sink.write(batch)  # type: ignore[attr-defined]

    def write_connectivity(self, events: Sequence[ConnectivityEvent]) -> None:
        for sink in self._sinks:
            sink.write_connectivity(events)  # type: ignore[attr-defined]


async def run_collectors(plant: Plant, sink: object, stop: asyncio.Event) -> None:
    """One Modbus poller per printer and one OPC UA collector per fleet, until ``stop`` is set."""
    from collectors.modbus.poller import ModbusPoller
    from collectors.opcua.collector import OpcUaFleetCollector

    collectors: list[object] = [ModbusPoller(printer, sink) for printer in plant.printers]  # type: ignore[arg-type]
    collectors += [OpcUaFleetCollector(fleet, sink) for fleet in plant.fleets]  # type: ignore[arg-type]
    tasks = [asyncio.create_task(c.run(stop), name=type(c).__name__) for c in collectors]  # type: ignore[attr-defined]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def run(args: argparse.Namespace) -> int:
    from store import open_store

    plant = load_plant(args.plant)

    async def main(stop: asyncio.Event) -> int:
        store = open_store(plant)
        log.info("collecting %d printer(s) and %d fleet(s) into %s", len(plant.printers), len(plant.fleets),
                 type(store).__name__)
        try:
            await run_collectors(plant, store, stop)
        finally:
            store.close()
        return 0

    return run_until_stopped(main)
