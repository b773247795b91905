"""The KPIs a team can be scored on, and the one table that says everything about each.

``OBJECTIVE_KPIS`` holds, per :class:`ObjectiveKpi`, its unit, which way is
better, which equipment it applies to, its English and Chinese labels, whether
it is a quantity that adds up over shifts, and how its value is read from the
KPI results. The plant file's checks, the team scores (``models.kpi.teams``)
and the API's labels all read this table: adding an objective is one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    # Types only: the KPI core imports the plant model, so importing it here at run time would be a cycle.
    from shopfloor.models.kpi.fleet import FleetKpis
    from shopfloor.models.kpi.printer import PrinterKpis


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
        return OBJECTIVE_KPIS[self].default_direction

    @property
    def equipment_kind(self) -> Literal["printer", "fleet"]:
        return OBJECTIVE_KPIS[self].equipment_kind


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectiveKpiSpec:
    unit: str
    default_direction: Direction
    # A quantity (metres, sessions, kWh, minutes): over several shifts it is compared with target x shifts.
    # Ratios, per-metre figures and times per event are compared with the target as is.
    extensive: bool
    label_en: str
    label_zh: str


# One class per equipment kind, so the value's input is typed and a team score can tell the two apart.
@dataclass(frozen=True, slots=True, kw_only=True)
class PrinterKpiSpec(ObjectiveKpiSpec):
    value: Callable[[PrinterKpis], float | None]

    @property
    def equipment_kind(self) -> Literal["printer"]:
        return "printer"


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetKpiSpec(ObjectiveKpiSpec):
    value: Callable[[FleetKpis], float | None]

    @property
    def equipment_kind(self) -> Literal["fleet"]:
        return "fleet"


OBJECTIVE_KPIS: dict[ObjectiveKpi, PrinterKpiSpec | FleetKpiSpec] = {
    ObjectiveKpi.PRINTED_M: PrinterKpiSpec(
        unit="m",
        default_direction=Direction.HIGHER,
        extensive=True,
        label_en="Printed metres",
        label_zh="印花米数",
        value=lambda p: p.printed_m,
    ),
    ObjectiveKpi.GOOD_M: PrinterKpiSpec(
        unit="m",
        default_direction=Direction.HIGHER,
        extensive=True,
        label_en="Good metres",
        label_zh="合格米数",
        value=lambda p: p.good_m,
    ),
    ObjectiveKpi.OEE_PCT: PrinterKpiSpec(
        unit="%",
        default_direction=Direction.HIGHER,
        extensive=False,
        label_en="OEE",
        label_zh="设备综合效率",
        value=lambda p: p.oee.oee_pct,
    ),
    ObjectiveKpi.AVAILABILITY_PCT: PrinterKpiSpec(
        unit="%",
        default_direction=Direction.HIGHER,
        extensive=False,
        label_en="Availability",
        label_zh="时间开动率",
        value=lambda p: p.oee.availability_pct,
    ),
    ObjectiveKpi.PERFORMANCE_PCT: PrinterKpiSpec(
        unit="%",
        default_direction=Direction.HIGHER,
        extensive=False,
        label_en="Performance",
        label_zh="性能开动率",
        value=lambda p: p.oee.performance_pct,
    ),
    ObjectiveKpi.QUALITY_PCT: PrinterKpiSpec(
        unit="%",
        default_direction=Direction.HIGHER,
        extensive=False,
        label_en="Quality rate",
        label_zh="合格品率",
        value=lambda p: p.oee.quality_pct,
    ),
    ObjectiveKpi.ENERGY_KWH_PER_M: PrinterKpiSpec(
        unit="kWh/m",
        default_direction=Direction.LOWER,
        extensive=False,
        label_en="Energy per metre",
        label_zh="单位米能耗",
        value=lambda p: p.energy.energy_kwh_per_m,
    ),
    ObjectiveKpi.WATER_L_PER_M: PrinterKpiSpec(
        unit="L/m",
        default_direction=Direction.LOWER,
        extensive=False,
        label_en="Water per metre",
        label_zh="单位米水耗",
        value=lambda p: p.energy.water_l_per_m,
    ),
    ObjectiveKpi.ENERGY_SAVING_PCT: PrinterKpiSpec(
        unit="%",
        default_direction=Direction.HIGHER,
        extensive=False,
        label_en="Energy saving vs baseline",
        label_zh="较基准节能",
        value=lambda p: p.energy.energy_saving_pct,
    ),
    ObjectiveKpi.UNPLANNED_DOWNTIME_MIN: PrinterKpiSpec(
        unit="min",
        default_direction=Direction.LOWER,
        extensive=True,
        label_en="Unplanned downtime",
        label_zh="非计划停机",
        value=lambda p: p.unplanned_downtime_min,
    ),
    ObjectiveKpi.MTTR_MIN: PrinterKpiSpec(
        unit="min",
        default_direction=Direction.LOWER,
        extensive=False,
        label_en="MTTR",
        label_zh="平均修复时间",
        value=lambda p: p.oee.mttr_min,
    ),
    ObjectiveKpi.FLEET_AVAILABILITY_PCT: FleetKpiSpec(
        unit="%",
        default_direction=Direction.HIGHER,
        extensive=False,
        label_en="Fleet availability",
        label_zh="车队可用率",
        value=lambda f: f.availability_pct,
    ),
    ObjectiveKpi.FLEET_UTILISATION_PCT: FleetKpiSpec(
        unit="%",
        default_direction=Direction.HIGHER,
        extensive=False,
        label_en="Fleet utilisation",
        label_zh="车队利用率",
        value=lambda f: f.utilisation_pct,
    ),
    ObjectiveKpi.CHARGING_SESSIONS: FleetKpiSpec(
        unit="",
        default_direction=Direction.HIGHER,
        extensive=True,
        label_en="Charging sessions",
        label_zh="充电次数",
        value=lambda f: f.sessions_completed,
    ),
    ObjectiveKpi.CHARGING_SUCCESS_PCT: FleetKpiSpec(
        unit="%",
        default_direction=Direction.HIGHER,
        extensive=False,
        label_en="Charging success",
        label_zh="充电成功率",
        value=lambda f: f.charging_success_pct,
    ),
    ObjectiveKpi.ENERGY_DELIVERED_KWH: FleetKpiSpec(
        unit="kWh",
        default_direction=Direction.HIGHER,
        extensive=True,
        label_en="Energy delivered",
        label_zh="充电电量",
        value=lambda f: f.energy_delivered_kwh,
    ),
    ObjectiveKpi.RESPONSE_TIME_P90_S: FleetKpiSpec(
        unit="s",
        default_direction=Direction.LOWER,
        extensive=False,
        label_en="Response time P90",
        label_zh="响应时间 P90",
        value=lambda f: f.response_p90_s,
    ),
}
