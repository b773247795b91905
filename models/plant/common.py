"""Types every part of the plant file shares: identifiers, bounded numbers, the strict base model,
the plant's own identity and its stop reasons."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]
FieldName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


_Item = TypeVar("_Item")


def by_key(items: Iterable[_Item], wanted: object, key: Callable[[_Item], object], missing: object = None) -> _Item:
    """The first of ``items`` whose ``key`` equals ``wanted``.

    None found: KeyError carrying ``missing``, or ``wanted`` itself when no ``missing`` is given.
    """
    for item in items:
        if key(item) == wanted:
            return item
    raise KeyError(wanted if missing is None else missing)


class StrictModel(BaseModel):
    """Unknown keys are errors (a typo must not silently fall back to a default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PlantInfo(StrictModel):
    id: Identifier
    name: str
    name_zh: str
    timezone: str = "UTC"
    # Month on whose first day the plant's year (and its quarters) starts: 1 is the calendar year, 4 a fiscal
    # year from April. Annual targets and year-to-date figures count this year.
    year_start_month: Annotated[int, Field(ge=1, le=12)] = 1

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"an IANA time zone such as 'Asia/Shanghai', got {value!r}") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class StopCategory(StrEnum):
    """How a stop reason counts in the ISO 22400 time model."""

    PLANNED = "planned"  # planned downtime: outside planned busy time
    SETUP = "setup"  # changeover / setup: inside planned busy time, not producing
    UNPLANNED = "unplanned"  # breakdowns and faults
    EXTERNAL = "external"  # starved/blocked by up- or downstream, no material, no order


class StopReason(StrictModel):
    code: Annotated[int, Field(ge=1, le=65535)]
    key: FieldName
    name: str
    name_zh: str
    category: StopCategory
