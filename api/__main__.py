"""``python -m shopfloor.api [--plant FILE]``: serve the API and display over the plant's store.

Binds ``[api] host``/``port`` of the plant file (127.0.0.1:8080 by default).
This serves what is stored; to see live pushes, run the collectors in the
same process and tee them into the hub (``api.tee.TeeSink(store, hub)``),
which is what the demo command does. The wiring and the one-line errors are
those of the ``shopfloor`` commands (``cli.serve.serve_api``,
``cli.runtime.run_command``).
"""

from __future__ import annotations

import argparse
import logging

from shopfloor.cli.runtime import run_command
from shopfloor.cli.serve import serve_api


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shopfloor.api", description=__doc__.splitlines()[0])
    parser.add_argument("--plant", help="plant file (default: the built-in MSO-CPP plant)")
    parser.add_argument("--host", help="bind address (default: [api] host of the plant file)")
    parser.add_argument("--port", type=int, help="port (default: [api] port of the plant file)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run_command(parser.prog, lambda: serve_api(args.plant, args.host, args.port))


if __name__ == "__main__":
    raise SystemExit(main())
