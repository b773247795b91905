"""Entry point of the ``shopfloor`` console script.

Each sub-command lives in its own module exposing ``register(subparsers)``,
which adds its parser and sets ``func`` (a callable taking the parsed
arguments and returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from shopfloor.cli.logs import configure_logging
from shopfloor.cli.runtime import run_command

# Sub-command modules, in the order `shopfloor --help` lists them.
COMMAND_MODULES = (
    "shopfloor.cli.demo",
    "shopfloor.cli.run",
    "shopfloor.cli.simulate",
    "shopfloor.cli.inject",
    "shopfloor.cli.collect",
    "shopfloor.cli.plant",
    "shopfloor.cli.ledger",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shopfloor", description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)
    return run_command(f"shopfloor {args.command}", lambda: int(args.func(args) or 0))


if __name__ == "__main__":
    sys.exit(main())
