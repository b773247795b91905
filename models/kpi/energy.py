"""Energy and water performance indicators (ISO 50001 EnPI) and savings against the baseline.

    energy_kwh_per_m = energy_kwh / printed_m
    baseline_kwh     = printed_m x baseline.energy_kwh_per_m
    saving_kwh       = baseline_kwh - energy_kwh        (negative: worse than the baseline)
    saving_pct       = 100 x saving_kwh / baseline_kwh
    money            = saving_kwh x price_per_kwh + saving_l / 1000 x price_per_m3
    co2_avoided_kg   = saving_kwh x baseline.grid_emission_kg_co2_per_kwh   (negative: more emitted)

Both meters and the metres counter are read the same way (all increments,
including those across a gap), so numerator and denominator cover the same
time. Nothing printed -> every per-metre figure and saving is None; CO2 is
None too while the plant file gives no grid emission factor. The baseline's
energy is priced as electricity (money above), so the energy saved counts as
grid electricity not drawn, at the grid's average factor.
"""

from __future__ import annotations

from dataclasses import dataclass

from shopfloor.models.kpi.oee import ratio
from shopfloor.models.plant import Baseline


@dataclass(frozen=True, slots=True)
class EnergyKpis:
    printed_m: float
    energy_kwh: float
    water_l: float
    energy_kwh_per_m: float | None
    water_l_per_m: float | None
    baseline_energy_kwh: float | None
    baseline_water_l: float | None
    energy_saving_kwh: float | None
    energy_saving_pct: float | None
    water_saving_l: float | None
    water_saving_pct: float | None
    money_saving: float | None
    currency: str
    co2_avoided_kg: float | None


def energy_kpis(printed_m: float, energy_kwh: float, water_l: float, baseline: Baseline) -> EnergyKpis:
    if printed_m <= 0:
        return EnergyKpis(
            printed_m,
            energy_kwh,
            water_l,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            baseline.currency,
            None,
        )
    base_kwh = printed_m * baseline.energy_kwh_per_m
    base_l = printed_m * baseline.water_l_per_m
    saving_kwh = base_kwh - energy_kwh
    saving_l = base_l - water_l
    saving_pct_l = ratio(saving_l, base_l)
    # ratio(): a subnormal printed_m times the baseline rounds to 0.0, and a baseline may be 0
    saving_pct_kwh = ratio(saving_kwh, base_kwh)
    factor = baseline.grid_emission_kg_co2_per_kwh
    return EnergyKpis(
        printed_m=printed_m,
        energy_kwh=energy_kwh,
        water_l=water_l,
        energy_kwh_per_m=energy_kwh / printed_m,
        water_l_per_m=water_l / printed_m,
        baseline_energy_kwh=base_kwh,
        baseline_water_l=base_l,
        energy_saving_kwh=saving_kwh,
        energy_saving_pct=None if saving_pct_kwh is None else 100.0 * saving_pct_kwh,
        water_saving_l=saving_l,
        water_saving_pct=None if saving_pct_l is None else 100.0 * saving_pct_l,  # baseline water may be 0
        money_saving=saving_kwh * baseline.electricity_price_per_kwh + saving_l / 1000.0 * baseline.water_price_per_m3,
        currency=baseline.currency,
        co2_avoided_kg=None if factor is None else saving_kwh * factor,
    )
