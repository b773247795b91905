"""One home per display rule: every state code has a family; one green/amber/red rule."""

from __future__ import annotations

import pytest

from shopfloor.models.bands import Band, band_of
from shopfloor.models.states import (
    PRINTER_STATE_FAMILY,
    PRINTER_STATE_LABELS,
    ROBOT_STATE_FAMILY,
    ROBOT_STATE_LABELS,
    STATE_FAMILY_LABELS,
    PrinterState,
    RobotState,
    StateFamily,
    state_family,
)


def test_every_state_code_has_a_family_and_unknown_codes_are_off() -> None:
    assert set(PRINTER_STATE_FAMILY) == set(PrinterState) == set(PRINTER_STATE_LABELS)
    assert set(ROBOT_STATE_FAMILY) == set(RobotState) == set(ROBOT_STATE_LABELS)
    assert set(STATE_FAMILY_LABELS) == set(StateFamily)
    assert state_family("printer", 99) is StateFamily.OFF
    assert state_family("robot", None) is StateFamily.OFF
    assert state_family("robot", RobotState.CHARGING) is StateFamily.RUN


@pytest.mark.parametrize(("pct", "band"), [(None, None), (100.0, Band.GREEN), (99.9, Band.AMBER), (90.0, Band.AMBER)])
def test_bands(pct: float | None, band: Band | None) -> None:
    assert band_of(pct) is band
    assert band_of(89.99) is Band.RED
