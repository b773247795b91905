"""Print designs: what a print order prints, and the ideal speed ISO 22400 performance measures it against."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shopfloor.models.plant.common import PositiveFloat, StrictModel

# What the line PLC's ``design_code`` register holds while no design is loaded (docs/data-contract.md).
NO_DESIGN = 0


class Design(StrictModel):
    """One design of the plant's pattern book (``[[designs]]`` in the plant file).

    ``code`` is the number the line PLC serves in its ``design_code`` register; an order whose design the
    file does not list is measured against its printer's ``ideal_speed_m_min`` (docs/kpi.md, "Orders").
    """

    code: Annotated[int, Field(ge=1, le=65535)]  # a uint16 register; 0 is "no design"
    name: Annotated[str, Field(min_length=1, max_length=120)]
    name_zh: Annotated[str, Field(min_length=1, max_length=120)]
    colourway: Annotated[str, Field(max_length=60)] = ""
    ideal_speed_m_min: PositiveFloat  # top speed of this design on the line, for performance
