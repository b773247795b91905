"""Teams and the objectives each is scored on."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from shopfloor.models.plant.common import Identifier, PositiveFloat, StrictModel


class Direction(StrEnum):
    HIGHER = "higher"  # more is better (metres, OEE)
    LOWER = "lower"  # less is better (energy per metre, response time)


class ObjectiveKpi(StrEnum):
    """KPIs a team can be scored on. Units are in the names."""

    PRINTED_M = "printed_m"
    GOOD_M = "good_m"
    OEE_PCT = "oee_pct"
    AVAILABILITY_PCT = "availability_pct"
    PERFORMANCE_PCT = "performance_pct"
    QUALITY_PCT = "quality_pct"
    ENERGY_KWH_PER_M = "energy_kwh_per_m"
    WATER_L_PER_M = "water_l_per_m"
    ENERGY_SAVING_PCT = "energy_saving_pct"
    UNPLANNED_DOWNTIME_MIN = "unplanned_downtime_min"
    MTTR_MIN = "mttr_min"
    FLEET_AVAILABILITY_PCT = "fleet_availability_pct"
    FLEET_UTILISATION_PCT = "fleet_utilisation_pct"
    CHARGING_SESSIONS = "charging_sessions"
    CHARGING_SUCCESS_PCT = "charging_success_pct"
    ENERGY_DELIVERED_KWH = "energy_delivered_kwh"
    RESPONSE_TIME_P90_S = "response_time_p90_s"

    @property
    def default_direction(self) -> Direction:
        lower = {"energy_kwh_per_m", "water_l_per_m", "unplanned_downtime_min", "mttr_min", "response_time_p90_s"}
        return Direction.LOWER if self.value in lower else Direction.HIGHER

    @property
    def equipment_kind(self) -> Literal["printer", "fleet"]:
        fleet = {
            "fleet_availability_pct",
            "fleet_utilisation_pct",
            "charging_sessions",
            "charging_success_pct",
            "energy_delivered_kwh",
            "response_time_p90_s",
        }
        return "fleet" if self.value in fleet else "printer"


class Objective(StrictModel):
    kpi: ObjectiveKpi
    target: Annotated[float, Field(gt=0, allow_inf_nan=False)]  # per shift
    weight: PositiveFloat
    direction: Direction | None = None  # default: the KPI's natural direction

    @property
    def better(self) -> Direction:
        return self.direction or self.kpi.default_direction


class TeamKind(StrEnum):
    EQUIPMENT = "equipment"  # responsible for equipment around the clock
    CREW = "crew"  # responsible for the equipment during the shifts it works


class Team(StrictModel):
    id: Identifier
    name: str
    name_zh: str
    kind: TeamKind
    equipment: Annotated[list[Identifier], Field(min_length=1)]  # printer and fleet ids
    objectives: Annotated[list[Objective], Field(min_length=1)]
