"""``shopfloor check-plant``: validate a plant file and summarise it."""

from __future__ import annotations

import argparse
from pathlib import Path

from shopfloor.api.webhook import shown_url
from shopfloor.models.plant import load_plant


def add_plant_argument(parser: argparse.ArgumentParser) -> None:
    """The --plant option every sub-command shares."""
    parser.add_argument(
        "--plant",
        type=Path,
        default=None,
        help="plant file (TOML); default: the MSO-CPP demo plant shipped with shopfloor",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("check-plant", help="validate a plant file and print what it declares")
    add_plant_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    plant = load_plant(args.plant)
    print(f"plant {plant.plant.id}: {plant.plant.name} / {plant.plant.name_zh} ({plant.plant.timezone})")
    for printer in plant.printers:
        m = printer.modbus
        print(f"  printer {printer.id}: modbus tcp {m.host}:{m.port} unit {m.unit_id}, {len(printer.signals)} signals")
    for fleet in plant.fleets:
        print(
            f"  fleet {fleet.id}: {fleet.opcua.endpoint}, {len(fleet.robots)} robots x {len(fleet.variables)} variables"
        )
    shifts = ", ".join(f"{s.id} {s.start:%H:%M}-{s.end:%H:%M}" for s in plant.shift_calendar.shifts)
    print(f"  shifts: {shifts}")
    print(f"  teams: {', '.join(t.id for t in plant.teams)}")
    print(f"  storage: {plant.storage.backend}")
    rules = ", ".join(f"{r.id} ({r.kind.value}, {r.severity.value})" for r in plant.alerts.rules) or "none"
    print(f"  alert rules: {rules}")
    hook = plant.alerts.webhook
    if hook is not None:
        print(f"  alert webhook: {shown_url(hook.url)}")
    return 0
