"""Teams and the objectives each is scored on (what each objective KPI is: ``objectives``)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from shopfloor.models.plant.common import Identifier, PositiveFloat, StrictModel
from shopfloor.models.plant.objectives import Direction, ObjectiveKpi


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
