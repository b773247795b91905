"""Response models of every JSON endpoint: they document the JSON in the OpenAPI schema.

Units are in the field names. ``None`` means "not applicable / no data", never zero.
Fields are declared in the order the routes and presenters build them, so a
body reads the same with its model as without. A model checks and filters
what a route returns: a key missing here would be dropped from the body, so
each model lists every key its presenter writes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from shopfloor.models.bands import Band
from shopfloor.models.plant import Severity
from shopfloor.models.states import StateFamily


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
    state_family: StateFamily  # the colour a display gives the state (models/states.py); off when unknown
    since: str | None
    since_ns: int | None


class PrinterStatus(_StateFields):
    id: str
    name: str
    name_zh: str
    model: str
    stopped: bool  # a known state outside the run family: the display shows the stop's reason
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
    metres_band: Band | None  # metres against expected_m_now (models/bands.py); None without a target
    metres_ahead_m: float | None  # printed_m_shift - expected_m_now (negative: behind plan)
    energy_saving_pct: float | None  # this shift against the baseline, as the KPI core computes it
    water_saving_pct: float | None
    data_age_s: float | None
    link: Link | None


class RobotStatus(_StateFields):
    id: str
    name: str
    name_zh: str
    soc_pct: float | None
    low_charge: bool  # soc_pct below the fleet's low_charge_pct
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
    families: dict[StateFamily, int]  # robots per state family (families without robots left out)
    faults: int
    low_charge: int  # robots below low_charge_pct
    low_charge_pct: float  # the plant file's [[fleets]] low_charge_pct


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


class RangePeriod(BaseModel):
    kind: str  # shift, day, week, month, quarter, year or ytd
    label: str  # e.g. 2026-11, 2026-W48, 2026-Q4, 2026 (a fiscal year: 2026/27)


class Basis(BaseModel):
    """What a period's figures rest on: closed shifts from the KPI ledger, shifts (or parts) from raw samples,
    and the ledger rows computed with another plant file (until `shopfloor ledger rebuild`)."""

    ledger_shifts: int
    raw_shifts: int
    stale_shift_keys: list[str]
    # without a ledger row in shifts whose raw samples are gone (e.g. added to the plant file later): no data there
    unrecorded_equipment: list[str]


class Range(BaseModel):
    start: str
    end: str
    start_ns: int
    end_ns: int
    shift: ShiftRef | None
    period: RangePeriod | None  # set when the range was asked as period=...
    # What the figures rest on (KPI, team and savings answers); None where they are raw series.
    basis: Basis | None = None


class ObjectiveResult(BaseModel):
    kpi: str
    name: str
    name_zh: str
    unit: str
    direction: str
    target: float
    actual: float | None
    attainment_pct: float | None
    band: Band | None  # attainment's band (models/bands.py)
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


# --------------------------------------------------------------------------- the plant


class StateLabel(BaseModel):
    en: str
    zh: str


class ObjectiveLabel(BaseModel):
    en: str
    zh: str
    unit: str


class Labels(BaseModel):
    printer_states: dict[int, StateLabel]  # state code -> label
    robot_states: dict[int, StateLabel]
    objectives: dict[str, ObjectiveLabel]  # objective KPI -> label and unit


class PlantPrinter(BaseModel):
    id: str
    name: str
    name_zh: str
    model: str
    ideal_speed_m_min: float


class PlantRobot(BaseModel):
    id: str
    name: str
    name_zh: str


class PlantFleet(BaseModel):
    id: str
    name: str
    name_zh: str
    robots: list[PlantRobot]


class TeamObjective(BaseModel):
    kpi: str
    target: float  # per shift
    weight: float
    direction: str  # "higher" or "lower" is better


class Team(BaseModel):
    id: str
    name: str
    name_zh: str
    kind: str  # "equipment" or "crew"
    equipment: list[str]
    objectives: list[TeamObjective]


class PlantShift(BaseModel):
    id: str
    name: str
    name_zh: str
    start: str  # local time of day
    end: str
    crews: list[str]


class StopReason(BaseModel):
    code: int
    key: str
    name: str
    name_zh: str
    category: str


class Baseline(BaseModel):
    name: str
    name_zh: str
    energy_kwh_per_m: float
    water_l_per_m: float
    electricity_price_per_kwh: float
    water_price_per_m3: float
    currency: str
    grid_emission_kg_co2_per_kwh: float | None


class PlantDesign(BaseModel):
    """A design of the plant file's [[designs]] (print orders name it by code)."""

    code: int
    name: str
    name_zh: str
    colourway: str
    ideal_speed_m_min: float


class PlantInfo(BaseModel):
    id: str
    name: str
    name_zh: str
    timezone: str
    printers: list[PlantPrinter]
    fleets: list[PlantFleet]
    teams: list[Team]
    shifts: list[PlantShift]
    stop_reasons: list[StopReason]
    baseline: Baseline
    labels: Labels
    designs: list[PlantDesign] = []  # for the orders page's design picker


# --------------------------------------------------------------------------- KPIs


class Oee(BaseModel):
    availability_pct: float | None
    performance_pct: float | None
    quality_pct: float | None
    oee_pct: float | None
    mtbf_min: float | None
    mttr_min: float | None


class Energy(BaseModel):
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
    co2_avoided_kg: float | None  # None while the plant file gives no grid emission factor


class Times(BaseModel):
    """ISO 22400 time elements of a printer over the range, in seconds."""

    apt_s: float  # actual production time (includes micro-stops)
    aust_s: float  # setup
    adot_s: float  # unplanned down time
    adet_s: float  # external delay time
    pdot_s: float  # planned down time
    no_data_s: float
    outside_shift_s: float
    micro_stop_s: float  # part of apt_s
    micro_stops: int
    failures: int
    repair_s: float


class ParetoEntry(BaseModel):
    reason_code: int  # 0: no reason given
    key: str
    category: str
    name: str
    name_zh: str
    downtime_min: float
    stops: int


class PrinterKpis(BaseModel):
    oee: Oee
    energy: Energy
    printed_m: float
    good_m: float
    defective_m: float  # printed_m - good_m, every increment counted (the quality rate reads observed ones only)
    unplanned_downtime_min: float
    times: Times
    pareto: list[ParetoEntry]  # largest downtime first


class FleetKpis(BaseModel):
    """A fleet's KPIs, or one robot's."""

    availability_pct: float | None
    utilisation_pct: float | None
    sessions_completed: float
    sessions_failed: float
    charging_success_pct: float | None
    energy_delivered_kwh: float
    energy_delivered_kwh_per_robot: float | None
    response_mean_s: float | None
    response_p90_s: float | None
    responses: int
    observed_s: float  # time with data; 0 means every figure above is "no data"


class ShiftKpis(BaseModel):
    key: str
    crew: str | None
    start: str
    end: str
    printers: dict[str, PrinterKpis]
    fleets: dict[str, FleetKpis]


class PeriodKpis(BaseModel):
    label: str  # the period's label (2026-11-24, 2026-W48, 2026-11, 2026-Q4, 2026)
    start: str  # clipped to the range
    end: str
    start_ns: int
    end_ns: int
    shifts: int  # shift instances starting inside
    printers: dict[str, PrinterKpis]
    fleets: dict[str, FleetKpis]


Listing = Literal["shift", "day", "week", "month", "quarter", "year"]


class AllKpis(BaseModel):
    range: Range
    printers: dict[str, PrinterKpis]
    fleets: dict[str, FleetKpis]
    robots: dict[str, FleetKpis]
    shifts: list[ShiftKpis]  # when by is "shift" (ranges up to 31 days), else empty
    by: Listing
    periods: list[PeriodKpis]  # when by is a period, else empty


class HourlyPrinted(BaseModel):
    edges_ns: list[int]  # hour boundaries: one more than printed_m
    printed_m: list[float | None]  # None: no observed reading in that hour
    across_gap_m: float  # read across a gap: in the totals, in no hour


class PrinterEquipmentKpis(BaseModel):
    range: Range
    equipment: str
    kind: Literal["printer"]
    total: PrinterKpis
    by_shift: dict[str, PrinterKpis]  # when by is "shift", else empty
    hourly_printed_m: HourlyPrinted | None  # ranges up to a day (KpiService.HOURLY_MAX_NS); null beyond
    by: Listing
    by_period: dict[str, PrinterKpis]  # period label -> KPIs, when by is a period


class FleetEquipmentKpis(BaseModel):
    range: Range
    equipment: str
    kind: Literal["fleet"]
    total: FleetKpis
    by_shift: dict[str, FleetKpis]
    by: Listing
    by_period: dict[str, FleetKpis]


class RobotEquipmentKpis(BaseModel):
    range: Range
    equipment: str
    kind: Literal["robot"]
    total: FleetKpis


EquipmentKpis = Annotated[PrinterEquipmentKpis | FleetEquipmentKpis | RobotEquipmentKpis, Field(discriminator="kind")]


class Pareto(BaseModel):
    range: Range
    equipment: str
    pareto: list[ParetoEntry]
    unplanned_downtime_min: float


class ThroughputBucket(BaseModel):
    start: str
    end: str
    printed_m: float | None
    m_per_min: float | None


class Throughput(BaseModel):
    range: Range
    equipment: str
    period: Literal["minute", "hour"]
    buckets: list[ThroughputBucket]
    across_gap_m: float  # printed, counted in totals, but not attributable to any bucket


class Savings(BaseModel):
    range: Range
    baseline: Baseline
    total: Energy
    printers: dict[str, Energy]


class DayKpis(BaseModel):
    date: str  # production date
    printers: dict[str, PrinterKpis]
    fleets: dict[str, FleetKpis]


class DailyTrends(BaseModel):
    range: Range
    days: list[DayKpis]
    team_scores: dict[str, dict[str, float | None]]  # team -> production date -> score


# --------------------------------------------------------------------------- teams and reports


class ScoreObjective(BaseModel):
    kpi: str
    direction: str
    target: float  # scaled to the number of shifts for extensive KPIs
    actual: float | None
    attainment_pct: float | None
    weight: float


class Score(BaseModel):
    score: float | None  # 0-100
    objectives: list[ScoreObjective]


class TeamDetail(BaseModel):
    range: Range
    team: str
    name: str
    name_zh: str
    kind: str
    rank: int
    score: float | None
    shifts: int
    equipment: list[str]
    objectives: list[ObjectiveResult]
    by_shift: dict[str, Score]  # shift key -> score, when by is "shift"
    trend: dict[str, float | None]  # production date -> score that day, when by is "shift"
    by: Listing
    by_period: dict[str, Score]  # period label -> score, when by is a period


class TeamReport(BaseModel):
    range: Range
    team: TeamScore
    shifts_worked: list[str]
    top_downtime_reasons: list[ParetoEntry]
    energy_water: Energy | None  # None for a team without printers
    baseline: Baseline
    printers: dict[str, PrinterKpis]
    fleets: dict[str, FleetKpis]


# --------------------------------------------------------------------------- operator input


class StopSegment(BaseModel):
    start_ns: int
    end_ns: int
    reason_code: int
    reason_key: str | None
    reason: str | None
    reason_zh: str | None
    element: str  # ISO 22400 time element
    shift: str | None
    micro_stop: bool
    failure: bool
    pareto_stop: bool


class Stop(BaseModel):
    equipment: str
    start: str
    end: str
    start_ns: int
    end_ns: int
    duration_s: float
    ongoing: bool  # nothing known after it yet: it may still go on
    states: list[int]
    segments: list[StopSegment]  # after operator corrections
    measured: list[StopSegment]  # as the machine reported them


class Stops(BaseModel):
    range: Range
    equipment: str
    stops: list[Stop]


class ReasonOverride(BaseModel):
    id: int
    equipment: str
    start_ns: int
    end_ns: int
    reason_code: int
    operator: str
    created_ns: int
    comment: str


class AuditEntry(BaseModel):
    id: int
    ts_ns: int
    operator: str
    action: str  # "set_reason", "split_stop", "add_note", "hour_comment"
    equipment: str
    before: Any  # what the change replaced, as recorded
    after: Any


class ReasonSet(BaseModel):
    override: ReasonOverride
    audit: list[AuditEntry]


class StopSplit(BaseModel):
    overrides: list[ReasonOverride]
    audit: list[AuditEntry]


class Note(BaseModel):
    id: int
    equipment: str
    ts_ns: int
    text: str
    operator: str
    created_ns: int


class NoteAdded(BaseModel):
    note: Note


class NoteAt(Note):
    at: str


class Notes(BaseModel):
    range: Range
    notes: list[NoteAt]


class AuditEntryAt(AuditEntry):
    at: str


class Audit(BaseModel):
    entries: list[AuditEntryAt]


# --------------------------------------------------------------------------- tracking (months and years)


class TrackingTeam(BaseModel):
    id: str
    name: str
    name_zh: str
    kind: str
    equipment: list[str]


class TrackingSpan(BaseModel):
    label: str  # 2026, 2024-2026, 2026-11
    start: str
    end: str
    start_ns: int
    end_ns: int


class TeamPeriodSheet(BaseModel):
    label: str
    start: str
    end: str  # the period's end (it may lie ahead: see complete)
    start_ns: int
    end_ns: int
    complete: bool  # the period has ended; else its figures run to now
    shifts: int  # shift instances the team is scored on
    score: float | None
    rank: int  # among every team of the plant over the same period
    teams_ranked: int
    objectives: list[ObjectiveResult]  # the objectives sheet: target (scaled to the shifts), actual, attainment
    pareto: list[ParetoEntry]  # downtime of the team's printers in its shifts; empty without printers
    energy_water: Energy | None  # the team's printers against the baseline; None without printers
    basis: Basis


class TeamTracking(BaseModel):
    team: TrackingTeam
    period: Listing
    span: TrackingSpan
    baseline: Baseline
    periods: list[TeamPeriodSheet]  # every period of the span that has started, in time order


class RankEntry(BaseModel):
    team: str
    rank: int
    score: float | None
    shifts: int


class RankingPeriod(BaseModel):
    label: str
    start: str
    end: str
    start_ns: int
    end_ns: int
    complete: bool
    ranks: list[RankEntry]  # best first
    basis: Basis


class RankingHistory(BaseModel):
    period: Listing
    span: TrackingSpan
    teams: list[TrackingTeam]
    periods: list[RankingPeriod]


# ---------------------------------------------------------------- the year so far, the back-fill of the past


class YearFigures(BaseModel):
    """One printer's or the plant's year so far. Target fields are null without an annual target; savings are
    null while nothing is printed; CO2 is null without a grid emission factor in the plant file."""

    printed_m: float
    annual_target_m: float | None
    attainment_pct: float | None
    expected_m: float | None  # the pro-rata target now (planned shift time gone by)
    expected_pct: float | None  # the same as a share of the annual target: the progress bar's marker
    pace_pct: float | None  # printed against the pro-rata target
    projected_m: float | None  # year-end metres at this year's rate
    band: Literal["green", "amber", "red"] | None  # pace: >= 100 % green, >= 90 % amber, else red
    energy_kwh: float
    baseline_energy_kwh: float | None
    energy_saving_kwh: float | None
    energy_saving_pct: float | None
    water_l: float
    baseline_water_l: float | None
    water_saving_l: float | None
    water_saving_pct: float | None
    money_saving: float | None  # in ``currency``
    co2_avoided_kg: float | None


class YearPrinter(YearFigures):
    id: str
    name: str
    name_zh: str


class YearBasis(BaseModel):
    ledger_shifts: int  # closed shifts summed from the KPI ledger
    raw_shifts: int  # shifts (or parts) computed from raw samples: the running one, those not settled yet
    stale_shift_keys: list[str]  # ledger rows of another plant file, used as they are


class YearToDate(BaseModel):
    year: str  # label: 2026, or 2026/27 for a fiscal year
    year_start: str
    year_end: str
    now: str
    now_ns: int
    covered_from: str | None  # the figures' data starts here; null: no data this year
    from_year_start: bool  # the figures cover the whole year so far
    currency: str
    grid_emission_kg_co2_per_kwh: float | None
    plant: YearFigures
    printers: list[YearPrinter]
    basis: YearBasis


class Backfill(BaseModel):
    state: Literal["none", "running", "done", "stopped", "failed"]
    what: str  # what is being filled, e.g. "simulated history"
    days_done: int
    days_total: int
    percent: float
    first_date: str | None  # production dates being filled, first..last
    last_date: str | None
    until: str | None  # the past ends here
    ledger_rows: int
    raw_samples: int
    elapsed_s: float | None
    detail: str | None  # why it failed, or why there was nothing to fill


class FamilyLabel(BaseModel):
    family: StateFamily
    en: str
    zh: str


class StateRule(BaseModel):
    code: int
    family: StateFamily
    en: str
    zh: str


class FleetDisplay(BaseModel):
    id: str
    low_charge_pct: float


class DisplayConfig(BaseModel):
    """What the control-room page would otherwise hard-code (GET /api/v1/display/config)."""

    families: list[FamilyLabel]  # in the order a summary lists them
    printer_states: list[StateRule]
    robot_states: list[StateRule]
    green_from_pct: float  # attainment / pace at or above: green
    amber_from_pct: float  # at or above: amber; below: red
    attainment_meter_max_pct: float  # an objective's meter spans 0 to this: 100 x [kpi] attainment_cap
    fleets: list[FleetDisplay]


# --------------------------------------------------------------------------- hour-by-hour board


class HourComment(BaseModel):
    id: int
    equipment: str
    shift: str
    hour_index: int
    hour_start_ns: int
    text: str
    operator: str
    created_ns: int
    at: str


class BoardHour(BaseModel):
    index: int
    start: str
    end: str
    start_ns: int
    end_ns: int
    planned_min: float  # less planned breaks
    target_m: float  # ideal speed over the planned minutes
    due_m: float  # target of the planned time gone by (all of a finished hour, pro rata of the running one)
    actual_m: float | None  # None: no data, or not started
    variance_m: float | None  # actual - due
    attainment_pct: float | None
    band: Band | None
    cum_target_m: float
    cum_due_m: float
    cum_actual_m: float | None
    cum_variance_m: float | None
    started: bool
    finished: bool
    comment: HourComment | None


class BoardStop(Stop):
    needs_reason: bool  # a part of the stop has no reason the plant knows


class HourByHour(BaseModel):
    range: Range
    equipment: str
    ideal_speed_m_min: float
    target_m: float
    due_m: float
    actual_m: float | None  # hours with data plus metres across gaps
    across_gap_m: float
    rate_m_min: float | None  # the shift's rate so far over planned minutes with data
    planned_min_left: float
    projected_m: float | None
    projected_band: Band | None
    hours: list[BoardHour]
    stops: list[BoardStop]


class HourCommented(BaseModel):
    comment: HourComment
    audit: list[AuditEntry]


# --------------------------------------------------------------------------- andon alerts


class Alert(BaseModel):
    id: str
    rule: str
    equipment: str
    severity: Severity
    message: str
    message_zh: str
    active: bool
    raised: str
    raised_ns: int
    cleared: str | None
    cleared_ns: int | None
    acknowledged: str | None
    acknowledged_ns: int | None
    acknowledged_by: str | None


class Alerts(BaseModel):
    state: Literal["active", "recent"]
    recent_hours: int
    alerts: list[Alert]


class AlertAcknowledged(BaseModel):
    alert: Alert


class OrderDesign(BaseModel):
    name: str
    name_zh: str
    colourway: str


class Order(BaseModel):
    """One print order on one line, its KPIs over its span inside the range asked."""

    equipment: str
    order_number: int
    design_code: int  # 0: no design read
    design: OrderDesign | None  # None: a design the plant file does not list (or none)
    ideal_speed_m_min: float  # what performance measured the order against
    start: str
    end: str
    start_ns: int
    end_ns: int
    ongoing: bool
    metres_ordered: float | None  # from the imported plan; None: the order is not in a plan
    fabric: str | None  # from the imported plan; None without a plan
    colourway: str | None  # the plan's (the customer's); None without a plan. The design's own: design.colourway
    remaining_m: float | None  # metres ordered less metres printed (not below 0); None without a plan
    kpis: PrinterKpis  # run time = kpis.times.apt_s, setup = kpis.times.aust_s


class Orders(BaseModel):
    range: Range
    orders: list[Order]


class PlannedOrder(BaseModel):
    order_number: int
    design_code: int
    colourway: str
    fabric: str
    metres_ordered: float


class PlanImported(BaseModel):
    equipment: str
    orders: list[PlannedOrder]


# ---- the running order's progress per line (the display's order tile; api/order_progress.py)


class OrderProgress(BaseModel):
    """Where the order running on a line stands (docs/kpi.md, "Order progress")."""

    equipment: str
    order_number: int
    design_code: int  # 0: no design read
    design: OrderDesign | None  # None: a design the plant file does not list (or none)
    started: str  # the start of its first span read (at most 24 h back)
    started_ns: int
    done_m: float  # metres printed while it was loaded, over all its spans
    metres_ordered: float | None  # from the imported plan; None: the order is not in a plan
    fabric: str | None  # from the imported plan; None without a plan
    colourway: str | None  # the plan's (the customer's); None without a plan. The design's own: design.colourway
    remaining_m: float | None  # metres ordered less done (not below 0); None without a plan
    progress_pct: float | None  # done / ordered (above 100 when over-printed); None without a plan
    rate_m_min: float | None  # metres over its last rate_window_s of loaded time, stops included
    rate_window_s: int
    eta: str | None  # when the remaining metres are done at that rate, in the plant's zone
    eta_ns: int | None
    eta_reason: Literal["no plan", "done", "stopped"] | None  # why there is no ETA
    as_of: str  # when it was computed (refreshed every few seconds)
    as_of_ns: int


class CurrentOrder(BaseModel):
    order: OrderProgress | None  # None: no order runs on the line


# --------------------------------------------------------------------------- operator order events (start / end)


class OrderEvent(BaseModel):
    id: int  # from the one change sequence of reason overrides and order events
    equipment: str
    kind: str  # "start" or "end"
    at_ns: int
    at: str
    order_number: int  # 0 for an end
    design_code: int  # 0 for an end
    operator: str
    created_ns: int
    withdrawn_id: int | None  # the change that withdrew it; None while in force
    withdrawn_ns: int | None
    withdrawn_by: str | None


class OrderEventWritten(BaseModel):
    event: OrderEvent
    audit: list[AuditEntry]


class OrderEvents(BaseModel):
    equipment: str
    events: list[OrderEvent]  # newest first, withdrawn ones too
