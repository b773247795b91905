"""Plant variants for KPI tests, derived from the shipped plant file (the single source of truth)."""

from __future__ import annotations

import copy
import tomllib
from importlib import resources
from typing import Any

from models.plant import Plant, plant_from_dict


def default_raw() -> dict[str, Any]:
    text = resources.files("models.plants").joinpath("mso_cpp_plant.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def plant_with(
    shifts: list[dict[str, Any]] | None = None, timezone: str | None = None, ideal_speed_m_min: float | None = None,
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
