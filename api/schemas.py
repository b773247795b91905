"""Response models of the most used endpoints: they document the JSON in the OpenAPI schema.

Units are in the field names. ``None`` means "not applicable / no data", never zero.
"""

from __future__ import annotations

from pydantic import BaseModel


class Health(BaseModel):
    status: str
    plant: str
    live_clients: int


class Link(BaseModel):
    connected: bool
    since: str
    detail: str


class ShiftNow(BaseModel):
    key: str
    id: str
    crew: str | None
    start: str
    end: str
    elapsed_pct: float


class _StateFields(BaseModel):
    state: int | None
    state_label: str | None
    state_label_zh: str | None
    since: str | None
    since_ns: int | None


class PrinterStatus(_StateFields):
    id: str
    name: str
    name_zh: str
    model: str
    stop_reason: int | None
    stop_reason_label: str | None
    stop_reason_label_zh: str | None
    speed_m_min: float | None
    speed_setpoint_m_min: float | None
    ideal_speed_m_min: float
    power_kw: float | None
    printed_m_shift: float | None
    energy_kwh_shift: float | None
    water_l_shift: float | None
    energy_kwh_per_m_shift: float | None
    water_l_per_m_shift: float | None
    baseline_energy_kwh_per_m: float
    baseline_water_l_per_m: float
    target_m_shift: float | None
    expected_m_now: float | None
    data_age_s: float | None
    link: Link | None


class RobotStatus(_StateFields):
    id: str
    name: str
    name_zh: str
    soc_pct: float | None
    charging_power_kw: float | None
    error_code: int | None
    sessions_shift: float | None
    failed_sessions_shift: float | None
    energy_delivered_kwh_shift: float | None


class FleetStatus(BaseModel):
    id: str
    name: str
    name_zh: str
    link: Link | None
    robots: list[RobotStatus]
    sessions_shift: float
    energy_delivered_kwh_shift: float
    charging_now: int
    target_sessions_shift: float | None


class Status(BaseModel):
    now: str
    now_ns: int
    shift: ShiftNow
    printers: list[PrinterStatus]
    fleets: list[FleetStatus]


class ShiftRef(BaseModel):
    key: str
    id: str
    name: str
    name_zh: str
    crew: str | None
    start: str
    end: str


class Range(BaseModel):
    start: str
    end: str
    start_ns: int
    end_ns: int
    shift: ShiftRef | None


class ObjectiveResult(BaseModel):
    kpi: str
    name: str
    name_zh: str
    unit: str
    direction: str
    target: float
    actual: float | None
    attainment_pct: float | None
    weight: float


class TeamScore(BaseModel):
    team: str
    name: str
    name_zh: str
    kind: str
    rank: int
    score: float | None
    shifts: int
    equipment: list[str]
    objectives: list[ObjectiveResult]


class Scoreboard(BaseModel):
    range: Range
    teams: list[TeamScore]
