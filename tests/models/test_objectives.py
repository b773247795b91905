"""The table of team objective KPIs: one complete entry per KPI, and everything else reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopfloor.api.presenters import OBJECTIVE_LABELS
from shopfloor.models.kpi import fleet_kpis
from shopfloor.models.kpi.fleet import FleetTotals
from shopfloor.models.kpi.teams import kpi_value
from shopfloor.models.plant import OBJECTIVE_KPIS, Direction, FleetKpiSpec, ObjectiveKpi, PrinterKpiSpec

# Units are in the names: the suffix says what the table's unit must be (longest suffix first).
UNIT_OF_SUFFIX = (
    ("_kwh_per_m", "kWh/m"),
    ("_l_per_m", "L/m"),
    ("_pct", "%"),
    ("_kwh", "kWh"),
    ("_min", "min"),
    ("_s", "s"),
    ("_m", "m"),
)


def test_every_objective_kpi_has_exactly_one_entry() -> None:
    # in the enum's order too: the API lists the labels in table order
    assert list(OBJECTIVE_KPIS) == list(ObjectiveKpi)


@pytest.mark.parametrize("kpi", list(ObjectiveKpi))
def test_each_entry_is_complete_and_its_unit_matches_the_name(kpi: ObjectiveKpi) -> None:
    spec = OBJECTIVE_KPIS[kpi]
    assert spec.label_en.strip() and spec.label_zh.strip()
    assert isinstance(spec.default_direction, Direction)
    expected_unit = next((unit for suffix, unit in UNIT_OF_SUFFIX if kpi.value.endswith(suffix)), "")
    assert spec.unit == expected_unit
    assert kpi.default_direction is spec.default_direction
    assert kpi.equipment_kind == ("printer" if isinstance(spec, PrinterKpiSpec) else "fleet")


def test_the_api_labels_come_from_the_table() -> None:
    assert list(OBJECTIVE_LABELS) == [kpi.value for kpi in OBJECTIVE_KPIS]
    for kpi, spec in OBJECTIVE_KPIS.items():
        assert OBJECTIVE_LABELS[kpi.value] == (spec.label_en, spec.label_zh, spec.unit)


def test_a_fleet_kpi_is_read_from_the_fleet_results_only() -> None:
    fleet = fleet_kpis(
        FleetTotals(seconds_by_state=(3600.0,) + (0.0,) * 9, sessions_completed=15, energy_delivered_kwh=90.0)
    )
    for kpi, spec in OBJECTIVE_KPIS.items():
        if isinstance(spec, FleetKpiSpec):
            assert kpi_value(kpi, None, fleet) == spec.value(fleet)
        else:
            assert kpi_value(kpi, None, fleet) is None  # a printer KPI of a team without printer data
    assert kpi_value(ObjectiveKpi.CHARGING_SESSIONS, None, fleet) == 15
    assert kpi_value(ObjectiveKpi.ENERGY_DELIVERED_KWH, None, fleet) == 90.0


def test_the_plant_file_documentation_names_every_objective_kpi() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "plant-file.md").read_text(encoding="utf-8")
    assert [kpi.value for kpi in ObjectiveKpi if f"`{kpi.value}`" not in doc] == []
