"""Helpers of the fleet simulator tests: plants of any size, a hand-moved clock, polling with a deadline."""

from __future__ import annotations

import copy
import datetime as dt
import tomllib
from importlib import resources
from typing import Any

from shopfloor.models.calendar import to_ns
from shopfloor.models.plant import Plant, plant_from_dict
from shopfloor.models.timebase import NS_PER_S, SystemClock
from tests.fixtures.waiting import async_wait_until as wait_for  # noqa: F401  # the fleet tests import it here

# Simulated time starts far from the wall clock, so a source timestamp in
# simulated time can never be mistaken for a server (wall) timestamp.
SIM_START_NS = to_ns(dt.datetime(2030, 1, 7, 6, 0, tzinfo=dt.UTC))
LOOPBACK = "opc.tcp://127.0.0.1:0/shopfloor/fleet"  # port 0: the OS picks a free port


def _default_raw() -> dict[str, Any]:
    text = resources.files("shopfloor.models.plants").joinpath("mso_cpp_plant.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


_RAW = _default_raw()


def make_plant(robots: int | None = None, **fleet_simulation: Any) -> Plant:
    """The default plant, with ``robots`` robots in its fleet and fleet simulation parameters overridden."""
    raw = copy.deepcopy(_RAW)
    fleet = raw["fleets"][0]
    if robots is not None:
        fleet["robots"] = [
            {
                "id": f"r{i:02d}",
                "name": f"Charging robot {i:02d}",
                "name_zh": f"充电机器人 {i:02d}号",
                "serial_number": f"ECR-TEST-{i:04d}",
            }
            for i in range(1, robots + 1)
        ]
    raw.setdefault("simulation", {}).setdefault("fleet", {}).update(fleet_simulation)
    return plant_from_dict(raw)


class FixedClock(SystemClock):
    """A clock tests move by hand (the simulator reads only ``now_ns``; waits stay real)."""

    def __init__(self, start_ns: int = SIM_START_NS) -> None:
        self.t_ns = start_ns

    def now_ns(self) -> int:
        return self.t_ns

    def advance(self, seconds: float) -> None:
        self.t_ns += round(seconds * NS_PER_S)
