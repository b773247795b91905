"""``shopfloor run``: the production job — collectors, store and API for the plant file's real devices.

The same two processes as the demo (collectors in a child, store and API in
the main one) without the simulators: every printer and fleet
the plant file declares is read over its endpoint, and the API and display
serve what is collected. Operator input stays closed until keys are set in
the environment variable the plant file names (``SHOPFLOOR_API_KEYS``).
"""

from __future__ import annotations

import argparse
import asyncio

from shopfloor.api.server import check_settings
from shopfloor.cli.collector_process import FieldJob
from shopfloor.cli.plant import add_plant_argument
from shopfloor.cli.runtime import run_until_stopped
from shopfloor.cli.serve import ServeInfo, add_api_arguments, listen, serve_plant, with_data_dir
from shopfloor.models.plant import load_plant
from shopfloor.models.timebase import SystemClock


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="collect the plant file's devices and serve the API and display")
    add_plant_argument(parser)
    add_api_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    plant = with_data_dir(load_plant(args.plant), args.data_dir)
    check_settings(plant)  # keys in the environment, the open-file limit: refused before anything starts

    def show(info: ServeInfo) -> None:
        for line in info.lines("device"):
            print(line, flush=True)
        print("press Ctrl-C to stop", flush=True)

    async def main(stop: asyncio.Event) -> int:
        sock = listen("run", args.host or plant.api.host, plant.api.port if args.port is None else args.port)
        try:
            return await serve_plant(
                FieldJob(plant, SystemClock()),
                stop,
                sock,
                on_ready=show,
            )
        finally:
            sock.close()

    return run_until_stopped(main)
