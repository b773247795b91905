"""``shopfloor demo``: the whole system in one command on its embedded defaults.

The printer simulator (Modbus TCP) and the robot-fleet simulator (OPC UA) are
served on loopback ports the OS picks, in the collectors' process (away from
the server's load, as real devices would be); the real collectors read them over
those sockets into the embedded store (or InfluxDB, if configured) and the
live hub; the API and the control-room display serve both. Nothing here is a
shortcut around a protocol: pointing the same system at a real plant is a
change of the plant file (``shopfloor run --plant FILE``).

Faster than real time (``--time-scale``), the whole system runs on the
simulation's clock: the simulators, the collectors' timestamps and the API's
"now" (current shift, range ends, the display's clock) all read one
``SimClock`` (the collectors' process gets a copy: both read the system-wide
monotonic clock, so they agree), so a shift passes in minutes and every rate
(speed, OEE performance, energy per metre) stays true to the simulated plant. At scale 1
that clock is the wall clock.

Behind the live plant, the demo has a past: the year before it started,
simulated at full speed in the background (``cli/demo_history.py``): ledger
rows for every day, raw samples for the demo's shorter retention. The
display is up at once; the trends, the tracking page and the year-to-date
tiles fill as the past is written (``--history-days 0``: no past).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import math
import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from shopfloor.api.server import check_settings
from shopfloor.cli.collector_process import FieldJob
from shopfloor.cli.demo_history import DEFAULT_HISTORY_DAYS, DemoHistory
from shopfloor.cli.plant import add_plant_argument
from shopfloor.cli.runtime import run_until_stopped
from shopfloor.cli.serve import ServeInfo, add_api_arguments, listen, serve_plant, with_data_dir
from shopfloor.cli.simulate import add_simulation_arguments
from shopfloor.models.kpi import KpiConfig
from shopfloor.models.plant import Plant, load_plant
from shopfloor.models.timebase import NS_PER_S
from shopfloor.simulators.clock import SimClock

# Raw samples the demo keeps, in days (a plant's default is 90): the demo's past beyond a week is in the ledger
# only, as a plant's would be after its retention, and the demo's store stays small.
DEMO_RAW_RETENTION_DAYS = 7


def with_demo_retention(plant: Plant) -> Plant:
    """The plant with the demo's raw retention, or its own if that is shorter."""
    days = min(plant.storage.raw_retention_days, DEMO_RAW_RETENTION_DAYS)
    return plant.model_copy(update={"storage": plant.storage.model_copy(update={"raw_retention_days": days})})


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="simulators, collectors, store, API and live display in one command")
    add_plant_argument(parser)
    add_simulation_arguments(parser)
    add_api_arguments(parser)
    parser.add_argument(
        "--history-days",
        type=_history_days,
        metavar="DAYS",
        default=DEFAULT_HISTORY_DAYS,
        help=f"production days of simulated past before the start (default {DEFAULT_HISTORY_DAYS}; 0: none)",
    )
    parser.set_defaults(func=run)


def _history_days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number of days (0 to 3650), got {text!r}") from None
    if not 0 <= days <= 3650:
        raise argparse.ArgumentTypeError(f"a whole number of days (0 to 3650), got {text!r}")
    return days


async def run_demo(
    plant: Plant,
    stop: asyncio.Event,
    *,
    time_scale: float | None = None,
    seed: int | None = None,
    host: str | None = None,
    port: int | None = None,
    data_dir: Path | None = None,
    on_ready: Callable[[ServeInfo], None] | None = None,
    history_days: int = DEFAULT_HISTORY_DAYS,
) -> int:
    """Run the simulated plant and the whole system until ``stop`` is set or a part fails (then 1), with
    ``history_days`` of simulated past written in the background."""
    from shopfloor.store.factory import influx_connection

    plant = with_demo_retention(plant)
    scale = plant.simulation.time_scale if time_scale is None else time_scale
    if not (math.isfinite(scale) and scale > 0):
        raise SystemExit(f"shopfloor demo: --time-scale must be a positive number, got {scale}")
    scratch: tempfile.TemporaryDirectory[str] | None = None
    if scale != 1.0:
        # Faster than real time the data is stamped ahead of the wall clock: it must not mix with a real
        # store, where it would stand as "latest" values from the future long after the demo ended.
        if influx_connection(plant) is not None:
            raise SystemExit(
                "shopfloor demo: a --time-scale other than 1 stamps data in simulated time, ahead of "
                "the clock; it runs on the embedded store only (unset INFLUX_URL) or use --time-scale 1"
            )
        if data_dir is None:
            scratch = tempfile.TemporaryDirectory(prefix="shopfloor-demo-")
            data_dir = Path(scratch.name)
    # Settings (API keys in the environment, the open-file limit, the address) are refused before anything
    # starts: a simulator started and then a key refused would leave a half-started plant.
    check_settings(plant)
    sock = listen("demo", host or plant.api.host, plant.api.port if port is None else port)
    sim_clock = SimClock(start_ns=time.time_ns() // NS_PER_S * NS_PER_S, time_scale=scale)
    try:
        served = with_data_dir(plant, data_dir)
        # The simulators start in the collectors' process (cli.collector_process), away from the server's
        # load as a plant's devices would be, and the collectors read them over their sockets.
        job = FieldJob(
            served,
            sim_clock,  # the collectors' and the API's "now" too; their waits stay on the real clocks
            simulate=True,
            sim_clock=sim_clock,
            seed=seed,
        )
        # Polls run every poll_interval_s of wall time, which is time_scale times longer in plant time.
        kpi_config = dataclasses.replace(KpiConfig.of(plant), max_gap_polls=plant.kpi.max_gap_polls * scale)
        history = DemoHistory(
            served,
            kpi_config,
            start_ns=sim_clock.start_ns,
            days=history_days,
            seed=plant.simulation.seed if seed is None else seed,
            clock=sim_clock,
        )
        return await serve_plant(
            job,
            stop,
            sock,
            kpi_config=kpi_config,
            # Operator input needs a key: a fresh random one per run keeps the demo usable and still closed.
            generated_key=secrets.token_urlsafe(18),
            store_note=" (simulated time: discarded at exit)" if scratch else "",
            on_ready=on_ready,
            history=history,
        )
    finally:
        sock.close()
        if scratch is not None:
            scratch.cleanup()


def run(args: argparse.Namespace) -> int:
    plant = load_plant(args.plant)

    def show(info: ServeInfo) -> None:
        for line in info.lines("simulator"):
            print(line, flush=True)
        print("press Ctrl-C to stop", flush=True)

    async def main(stop: asyncio.Event) -> int:
        return await run_demo(
            plant,
            stop,
            time_scale=args.time_scale,
            seed=args.seed,
            host=args.host,
            port=args.port,
            data_dir=args.data_dir,
            on_ready=show,
            history_days=args.history_days,
        )

    return run_until_stopped(main)
