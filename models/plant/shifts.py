"""The shift calendar: shifts, their planned breaks, and which crew works them in turn."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field, model_validator

from shopfloor.models.plant.common import Identifier, StrictModel


class PlannedBreak(StrictModel):
    start: dt.time
    duration_min: Annotated[int, Field(gt=0, le=240)]


class Shift(StrictModel):
    id: Identifier
    name: str
    name_zh: str
    start: dt.time
    end: dt.time  # an end at or before the start means the shift ends the next day
    breaks: list[PlannedBreak] = Field(default_factory=list)
    # Crews that work this shift in turn; the crew changes every rotation_days.
    crews: list[Identifier] = Field(default_factory=list)

    @property
    def duration_min(self) -> int:
        start = self.start.hour * 60 + self.start.minute
        end = self.end.hour * 60 + self.end.minute
        return (end - start) % 1440 or 1440

    def break_offsets_min(self) -> list[tuple[int, int]]:
        """(start, end) of each break in minutes from the shift start."""
        shift_start = self.start.hour * 60 + self.start.minute
        out = []
        for brk in self.breaks:
            offset = (brk.start.hour * 60 + brk.start.minute - shift_start) % 1440
            out.append((offset, offset + brk.duration_min))
        return sorted(out)

    @model_validator(mode="after")
    def _breaks_inside(self) -> Shift:
        if self.start.second or self.end.second:
            raise ValueError("shift start and end are whole minutes")
        previous_end = 0
        for start, end in self.break_offsets_min():
            if end > self.duration_min:
                raise ValueError(f"a break starting {start} min into the shift runs past its end")
            if start < previous_end:
                raise ValueError("planned breaks overlap")
            previous_end = end
        return self


class ShiftCalendar(StrictModel):
    shifts: Annotated[list[Shift], Field(min_length=1)]
    rotation_anchor: dt.date = dt.date(2026, 1, 5)  # a Monday: crews[0] works each shift that week
    rotation_days: Annotated[int, Field(ge=1, le=366)] = 7

    @model_validator(mode="after")
    def _no_overlap(self) -> ShiftCalendar:
        ids = [s.id for s in self.shifts]
        if len(set(ids)) != len(ids):
            raise ValueError("shift ids must be unique")
        minutes = [0] * 1440
        for shift in self.shifts:
            start = shift.start.hour * 60 + shift.start.minute
            for m in range(shift.duration_min):
                minutes[(start + m) % 1440] += 1
        if max(minutes) > 1:
            raise ValueError("shifts overlap: each minute of the day belongs to at most one shift")
        return self
