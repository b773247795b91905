"""``python -m shopfloor.api [--plant FILE]``: serve the API and display over the plant's store.

Binds ``[api] host``/``port`` of the plant file (127.0.0.1:8080 by default).
This serves what is stored; to see live pushes, run the collectors in the
same process and tee them into the hub (``api.tee.TeeSink(store, hub)``),
which is what the demo command does.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys

from shopfloor.api.app import create_app
from shopfloor.api.live import LiveHub
from shopfloor.api.server import build_server, check_settings
from shopfloor.api.settings import ApiConfig, SettingsError
from shopfloor.models.plant import PlantFileError, load_plant
from shopfloor.store import open_store
from shopfloor.store.base import StoreError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shopfloor.api", description=__doc__.splitlines()[0])
    parser.add_argument("--plant", help="plant file (default: the built-in MSO-CPP plant)")
    parser.add_argument("--host", help="bind address (default: [api] host of the plant file)")
    parser.add_argument("--port", type=int, help="port (default: [api] port of the plant file)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        plant = load_plant(args.plant)
        check_settings(plant)  # before the store opens: nothing is started for settings that cannot work
        config = ApiConfig.from_env(plant)
        store = open_store(plant)
    except (PlantFileError, SettingsError, StoreError) as exc:
        print(f"python -m shopfloor.api: {exc}", file=sys.stderr)
        return 2
    try:
        # opens the annotations file beside the store: a full disk or a damaged file ends here too, in one line
        app = create_app(plant, store, live_hub=LiveHub(plant), config=config)
        host = args.host or plant.api.host
        port = plant.api.port if args.port is None else args.port  # 0 picks a free one
        # warnings only from uvicorn (no line per request), as in `shopfloor run`; our own INFO lines stay
        build_server(app, plant.api, host=host, port=port).run()
        store.close()
    except StoreError as exc:
        with contextlib.suppress(StoreError):
            store.close()
        print(f"python -m shopfloor.api: {exc}", file=sys.stderr)
        return 2
    except BaseException:
        with contextlib.suppress(StoreError):
            store.close()
        raise
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
