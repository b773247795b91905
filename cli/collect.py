"""``shopfloor collect``: run every collector of the plant file into the configured store.

``--only EQUIPMENT_ID`` (repeatable) runs the collectors of the named printers and fleets only: one plant file
for the whole plant, and on each machine (a line's, a fleet's) a collector of what that machine reaches, all
writing to one InfluxDB (docs/storage.md, "The KPI ledger": they share the ledger too).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
from collections.abc import Mapping, Sequence

from shopfloor.cli.plant import add_plant_argument
from shopfloor.cli.runtime import run_until_stopped
from shopfloor.collectors.base import Collector
from shopfloor.collectors.tally import TallySink
from shopfloor.models.plant import Plant, load_plant, opcua_password
from shopfloor.models.samples import SampleSink
from shopfloor.models.timebase import Clock
from shopfloor.store.base import SampleStore

log = logging.getLogger("shopfloor.collect")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("collect", help="poll every printer and subscribe to every fleet into the store")
    add_plant_argument(parser)
    parser.add_argument(
        "--report-interval-s",
        type=float,
        default=60.0,
        help="log what was written since start every this many seconds (default: 60)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=None,
        metavar="EQUIPMENT_ID",
        help="collect only this printer or fleet (repeat for several; default: every one in the plant file)",
    )
    parser.set_defaults(func=run)


def only_equipment(plant: Plant, ids: Sequence[str]) -> Plant:
    """The plant with only the printers and fleets named in ``ids`` (what one collector process runs).

    A fleet is collected whole (one OPC UA session per fleet), so a robot id is refused naming its fleet.
    Raises SystemExit naming what is unknown and what the plant file holds.
    """
    printers = {p.id: p for p in plant.printers}
    fleets = {f.id: f for f in plant.fleets}
    robot_fleet = {r.id: f.id for f in plant.fleets for r in f.robots}
    for equipment in ids:
        if equipment in robot_fleet:
            raise SystemExit(
                f"shopfloor collect: --only {equipment}: robots are collected with their fleet;"
                f" use --only {robot_fleet[equipment]}"
            )
        if equipment not in printers and equipment not in fleets:
            known = ", ".join([*printers, *fleets]) or "none"
            raise SystemExit(
                f"shopfloor collect: --only {equipment}: the plant file has no printer or fleet of that id"
                f" (printers and fleets: {known})"
            )
    wanted = set(ids)
    return plant.model_copy(
        update={
            "printers": [p for p in plant.printers if p.id in wanted],
            "fleets": [f for f in plant.fleets if f.id in wanted],
        }
    )


def build_collectors(
    plant: Plant, sink: SampleSink, clock: Clock | None = None, env: Mapping[str, str] = os.environ
) -> list[Collector]:
    """One Modbus poller per printer and one OPC UA collector per fleet, writing to ``sink``.

    Passwords are read from ``env`` (the process's environment) here, once, not by the plant model.
    """
    from shopfloor.collectors.modbus.poller import ModbusPoller
    from shopfloor.collectors.opcua.collector import OpcUaFleetCollector

    collectors: list[Collector] = [ModbusPoller(printer, sink, clock=clock) for printer in plant.printers]
    collectors += [
        OpcUaFleetCollector(fleet, sink, clock=clock, password=opcua_password(fleet.opcua, env))
        for fleet in plant.fleets
    ]
    return collectors


async def run_collectors(collectors: Sequence[Collector], stop: asyncio.Event) -> None:
    """Run every collector until ``stop`` is set."""
    tasks = [asyncio.create_task(c.run(stop), name=c.source) for c in collectors]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# A spool this large means InfluxDB has refused writes for a long while: nothing is lost, but say so loudly.
SPOOL_WARN_BYTES = 256 << 20
DISK_FREE_WARN_BYTES = 1 << 30


def spool_status(store: SampleStore | None) -> tuple[str, bool] | None:
    """(text, alarming) about the InfluxDB spool's backlog, or None for a store without a spool."""
    spooled = None if store is None else store.spool_backlog()
    if spooled is None:
        return None
    backlog, directory = spooled
    if backlog == 0:
        return "spool empty", False
    free = shutil.disk_usage(directory).free
    text = (
        f"InfluxDB spool backlog {backlog:,} bytes in {directory} (disk free {free / 1e9:.1f} GB):"
        " samples wait on disk until InfluxDB accepts them"
    )
    return text, backlog > SPOOL_WARN_BYTES or free < DISK_FREE_WARN_BYTES


async def report_every(
    sink: TallySink, interval_s: float, stop: asyncio.Event, store: SampleStore | None = None
) -> None:
    while not stop.is_set():
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
            return
        status = spool_status(store)
        if status is None:
            log.info("written since start: %s", sink.summary())
        else:
            text, alarming = status
            log.log(logging.WARNING if alarming else logging.INFO, "written since start: %s; %s", sink.summary(), text)


def run(args: argparse.Namespace) -> int:
    from shopfloor.store import open_store

    plant = load_plant(args.plant)
    if args.only is not None:
        plant = only_equipment(plant, args.only)

    if not args.report_interval_s > 0:
        raise SystemExit("shopfloor collect: --report-interval-s must be a positive number of seconds")

    async def main(stop: asyncio.Event) -> int:
        store = open_store(plant)
        log.info(
            "collecting %d printer(s) and %d fleet(s) into %s",
            len(plant.printers),
            len(plant.fleets),
            store.kind,
        )
        sink = TallySink(store)
        reporter = asyncio.create_task(report_every(sink, args.report_interval_s, stop, store))
        try:
            await run_collectors(build_collectors(plant, sink), stop)
        finally:
            reporter.cancel()
            store.close()
            log.info("stopped; written since start: %s", sink.summary())
        return 0

    return run_until_stopped(main)
