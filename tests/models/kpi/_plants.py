"""Plant variants for KPI tests, derived from the shipped plant file (the single source of truth)."""

from __future__ import annotations

import copy
import tomllib
from importlib import resources
from typing import Any

from shopfloor.models.plant import Plant, plant_from_dict


def default_raw() -> dict[str, Any]:
    text = resources.files("shopfloor.models.plants").joinpath("mso_cpp_plant.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def plant_with(
    shifts: list[dict[str, Any]] | None = None,
    timezone: str | None = None,
    ideal_speed_m_min: float | None = None,
    rotation_days: int | None = None,
) -> Plant:
    raw = copy.deepcopy(default_raw())
    if shifts is not None:
        raw["shift_calendar"]["shifts"] = shifts
    if timezone is not None:
        raw["plant"]["timezone"] = timezone
    if ideal_speed_m_min is not None:
        raw["printers"][0]["ideal_speed_m_min"] = ideal_speed_m_min
    if rotation_days is not None:
        raw["shift_calendar"]["rotation_days"] = rotation_days
    return plant_from_dict(raw, "<kpi test plant>")


def two_printer_plant(second_ideal_speed_m_min: float = 50.0) -> Plant:
    """The shipped plant with a second, slower line "mso-cpp-2" that the gravure team also answers for.

    A slower second line makes averaging percentages and summing quantities
    give different answers, which is what aggregation tests need.
    """
    raw = copy.deepcopy(default_raw())
    second = copy.deepcopy(raw["printers"][0])
    second["id"] = "mso-cpp-2"
    second["name"] = second["name"].replace("1", "2")
    second["ideal_speed_m_min"] = second_ideal_speed_m_min
    second["modbus"]["port"] = second["modbus"]["port"] + 1
    raw["printers"].append(second)
    for team in raw["teams"]:
        if team["id"] == "gravure":
            team["equipment"] = ["mso-cpp-1", "mso-cpp-2"]
    return plant_from_dict(raw, "<two-printer kpi test plant>")
