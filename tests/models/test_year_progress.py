"""The year so far on the andon display: known answers for the built-in plant, a plant of two printers, bad input.

The built-in plant plans 22.5 h a day; by 24 November 2026 12:00 (Asia/Shanghai) 7 363 of the year's 8 212.5
planned hours have gone by (tests/models/test_annual_target.py works them out). Its baseline: 0.11 kWh and
12 L a metre, 0.72 CNY/kWh, 6.5 CNY/m³, 0.5703 kg CO2/kWh.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from shopfloor.models.calendar import to_ns
from shopfloor.models.kpi.printer import PrinterTotals
from shopfloor.models.plant import load_plant
from shopfloor.models.year_progress import Band, pace_band, year_so_far

PLANT = load_plant()
NOW = to_ns(dt.datetime(2026, 11, 24, 12, tzinfo=PLANT.tz))
YEAR_START = to_ns(dt.datetime(2026, 1, 1, 6, tzinfo=PLANT.tz))


def totals(printed_m: float, energy_kwh: float, water_l: float) -> PrinterTotals:
    return PrinterTotals(printed_m=printed_m, energy_kwh=energy_kwh, water_l=water_l)


def test_metres_against_the_annual_target_and_savings_against_the_baseline() -> None:
    ytd = year_so_far(PLANT, NOW, {"mso-cpp-1": totals(25_000_000.0, 1_800_000.0, 3_750_000.0)}, YEAR_START)
    assert ytd.year.label == "2026" and ytd.year.start_ns == YEAR_START and ytd.now_ns == NOW
    assert ytd.covered_from_ns == YEAR_START
    figures = ytd.plant
    assert figures.printed_m == 25_000_000.0
    assert figures.target is not None
    assert figures.target.annual_target_m == 28_000_000.0
    assert figures.target.attainment_pct == pytest.approx(100 * 25 / 28)
    expected_m = 28_000_000 * 7363 / 8212.5  # 25 103 683 m
    assert figures.target.expected_m == pytest.approx(expected_m)
    assert figures.expected_pct == pytest.approx(100 * 7363 / 8212.5)  # the marker: 89.66 % of the bar
    assert figures.target.projected_m == pytest.approx(25_000_000 * 8212.5 / 7363)
    assert figures.band is Band.AMBER  # pace 99.59 %: just behind the pro-rata target
    e = figures.energy
    assert e.energy_saving_kwh == pytest.approx(25_000_000 * 0.11 - 1_800_000)  # 950 000 kWh
    assert e.water_saving_l == pytest.approx(25_000_000 * 12 - 3_750_000)  # 296 250 000 L
    assert e.money_saving == pytest.approx(950_000 * 0.72 + 296_250 * 6.5)  # 2 609 625 CNY
    assert e.co2_avoided_kg == pytest.approx(950_000 * 0.5703)  # 541 785 kg
    assert e.currency == "CNY"
    assert ytd.printers["mso-cpp-1"] == figures  # one printer: it is the plant


def test_a_plant_of_two_printers_one_without_a_target() -> None:
    first = PLANT.printers[0]
    second = first.model_copy(update={"id": "mso-cpp-2", "annual_target_m": None})
    grid_free = PLANT.baseline.model_copy(update={"grid_emission_kg_co2_per_kwh": None})
    plant = PLANT.model_copy(update={"printers": [first, second], "baseline": grid_free})
    ytd = year_so_far(
        plant,
        NOW,
        {"mso-cpp-1": totals(20_000_000.0, 1_400_000.0, 3_000_000.0), "mso-cpp-2": totals(5_000_000.0, 0.0, 0.0)},
        YEAR_START,
    )
    assert ytd.plant.printed_m == 25_000_000.0
    # the plant's target is the targeted printer's: its metres against its target only
    assert ytd.plant.target is not None and ytd.plant.target.printed_m == 20_000_000.0
    assert ytd.plant.target.annual_target_m == 28_000_000.0
    assert ytd.printers["mso-cpp-2"].target is None and ytd.printers["mso-cpp-2"].band is None
    assert ytd.printers["mso-cpp-2"].expected_pct is None
    assert ytd.plant.energy.energy_saving_kwh == pytest.approx(25_000_000 * 0.11 - 1_400_000)
    assert ytd.plant.energy.co2_avoided_kg is None  # no grid factor in the plant file: no CO2 figure


def test_nothing_printed_yet() -> None:
    ytd = year_so_far(PLANT, NOW, {"mso-cpp-1": PrinterTotals()}, None)
    assert ytd.covered_from_ns is None
    assert ytd.plant.printed_m == 0.0
    assert ytd.plant.target is not None and ytd.plant.target.attainment_pct == 0.0
    assert ytd.plant.band is Band.RED
    assert ytd.plant.energy.energy_saving_kwh is None  # nothing printed: no saving per metre to speak of


@pytest.mark.parametrize(
    ("pace_pct", "band"),
    [(None, None), (120.0, Band.GREEN), (100.0, Band.GREEN), (99.99, Band.AMBER), (90.0, Band.AMBER), (89.9, Band.RED)],
)
def test_pace_bands_are_those_of_the_shift_tile(pace_pct: float | None, band: Band | None) -> None:
    assert pace_band(pace_pct) is band


def test_bad_input_is_refused_with_what_was_expected() -> None:
    with pytest.raises(ValueError, match=re.escape("totals must hold every printer of the plant (mso-cpp-1), got x")):
        year_so_far(PLANT, NOW, {"x": PrinterTotals()}, None)
    with pytest.raises(ValueError, match=r"covered_from_ns must lie in the year so far \[\d+, \d+\], got \d+"):
        year_so_far(PLANT, NOW, {"mso-cpp-1": PrinterTotals()}, YEAR_START - 1)
    with pytest.raises(ValueError, match="covered_from_ns must lie in the year so far"):
        year_so_far(PLANT, NOW, {"mso-cpp-1": PrinterTotals()}, NOW + 1)
