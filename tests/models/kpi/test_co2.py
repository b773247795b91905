"""CO2 avoided against the conventional baseline, at the plant file's grid emission factor."""

from __future__ import annotations

import pytest

from shopfloor.models.kpi import energy_kpis
from shopfloor.models.plant import load_plant

BASELINE = load_plant().baseline  # 0.11 kWh/m conventionally; China's grid, 0.5703 kg CO2/kWh


def test_the_built_in_plant_reports_co2_at_chinas_grid_factor() -> None:
    assert BASELINE.energy_kwh_per_m == 0.11 and BASELINE.grid_emission_kg_co2_per_kwh == 0.5703
    # 1000 m: 110 kWh conventionally, 70 kWh used, 40 kWh saved, x 0.5703 = 22.812 kg.
    assert energy_kpis(1000.0, 70.0, 150.0, BASELINE).co2_avoided_kg == pytest.approx(22.812)


def test_more_energy_than_the_baseline_is_co2_emitted_not_avoided() -> None:
    # 130 kWh against 110: 20 kWh more, 11.406 kg more CO2.
    assert energy_kpis(1000.0, 130.0, 150.0, BASELINE).co2_avoided_kg == pytest.approx(-11.406)


def test_no_factor_or_nothing_printed_reports_no_co2() -> None:
    no_factor = BASELINE.model_copy(update={"grid_emission_kg_co2_per_kwh": None})
    e = energy_kpis(1000.0, 70.0, 150.0, no_factor)
    assert e.co2_avoided_kg is None and e.energy_saving_kwh == pytest.approx(40.0)
    assert energy_kpis(0.0, 12.0, 3.0, BASELINE).co2_avoided_kg is None
    # A grid without emissions (all hydro) avoids none, which is not the same as not knowing.
    assert (
        energy_kpis(
            1000.0, 70.0, 150.0, BASELINE.model_copy(update={"grid_emission_kg_co2_per_kwh": 0.0})
        ).co2_avoided_kg
        == 0.0
    )


def test_a_length_too_small_for_its_baseline_to_be_counted_gives_no_saving_percentage() -> None:
    # 5e-324 m (a subnormal) times 0.3 kWh/m rounds to 0.0 kWh: no percentage of nothing, and no crash
    e = energy_kpis(5e-324, 0.0, 0.0, BASELINE)
    assert e.baseline_energy_kwh == 0.0 and e.energy_saving_pct is None
