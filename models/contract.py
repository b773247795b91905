"""The data contract: names of measurements, tags and fields, and their units.

Written once here and used by the simulators (what they serve), the
collectors (what they write), the stores (how they lay data out), the KPI
core (what it reads) and the API (what it shows). docs/data-contract.md is
the reader's version of this file; tests check the two agree.

Storage layout (both InfluxDB and the embedded store):

* measurement ``printer``  tags ``plant``, ``equipment``; one float field per
  printer signal (``speed_m_min``, ``printed_m_total`` …).
* measurement ``robot``    tags ``plant``, ``fleet``, ``equipment``; one float
  field per robot variable (``soc_pct`` …).
* measurement ``quality``  tags ``plant``, ``equipment``, ``field``; fields
  ``code`` (a :class:`models.states.Quality`, never GOOD) and ``detail``
  (text). A bad sample is written here, never as a value of its field.
* measurement ``connectivity`` tags ``plant``, ``equipment``, ``source``;
  fields ``connected`` (1.0 or 0.0) and ``detail``. Written on every change,
  so "no data" (disconnected) can be told from "zero".
* measurement ``kpi_ledger`` tags ``plant``, ``equipment``; one point per
  shift instance and equipment at the shift's start (models.ledger): the
  shift's additive KPI totals as a JSON string field ``payload``, the shift
  and provenance beside it. Its counts and nanosecond times are integer
  fields: they are not samples, and a float64 cannot hold an epoch
  nanosecond exactly.

Every numeric field of the sample measurements is a float64: one type per field forever, so InfluxDB
never rejects a point for a field-type conflict (state codes are small
integers, exact in a float).
"""

from __future__ import annotations

from dataclasses import dataclass

MEASUREMENT_PRINTER = "printer"
MEASUREMENT_ROBOT = "robot"
MEASUREMENT_QUALITY = "quality"
MEASUREMENT_CONNECTIVITY = "connectivity"
MEASUREMENT_LEDGER = "kpi_ledger"

TAG_PLANT = "plant"
TAG_EQUIPMENT = "equipment"
TAG_FLEET = "fleet"
TAG_FIELD = "field"
TAG_SOURCE = "source"

QUALITY_FIELD_CODE = "code"
QUALITY_FIELD_DETAIL = "detail"
CONNECTIVITY_FIELD_CONNECTED = "connected"
CONNECTIVITY_FIELD_DETAIL = "detail"
# kpi_ledger: the point's time is the shift's start; its fields are models.ledger's record columns
# (crew and fleet "" for none: InfluxDB keeps no null, and every field is written every time, so a
# rewritten row replaces each field of the old one).
LEDGER_TEXT_FIELDS = ("shift_key", "crew", "kind", "fleet", "plant_version", "payload")
LEDGER_INTEGER_FIELDS = ("shift_end_ns", "annotation_version", "watermark_ns", "samples_read", "computed_ns")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of the contract: its name, unit and meaning."""

    name: str
    unit: str
    description: str
    counter: bool = False  # monotonically increasing total that may wrap or reset


# Signals every printing machine must provide. A plant file may declare more
# (e.g. a third dryer zone); these are the ones the KPI core relies on.
PRINTER_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("state", "", "machine state code, models.states.PrinterState"),
    FieldSpec("stop_reason", "", "stop-reason code from the plant file's stop_reasons; 0 = none"),
    FieldSpec("speed_m_min", "m/min", "actual line speed"),
    FieldSpec("speed_setpoint_m_min", "m/min", "line speed setpoint"),
    FieldSpec("printed_m_total", "m", "printed metres, wrapping counter", counter=True),
    FieldSpec("defective_m_total", "m", "metres rejected by inspection, wrapping counter", counter=True),
    FieldSpec("energy_kwh_total", "kWh", "energy meter of the whole line", counter=True),
    FieldSpec("water_l_total", "L", "water meter of the whole line", counter=True),
    FieldSpec("ink_consumed_kg_total", "kg", "ink drawn from the ink kitchen", counter=True),
    FieldSpec("dryer_1_temp_c", "°C", "dryer zone 1 air temperature"),
)

# Signals a plant file may add to a printer's map for print orders (docs/kpi.md, "Orders"). Each reading holds
# until the next; without them every metre is measured against the printer's ideal speed.
ORDER_NUMBER_FIELD = "order_number"
DESIGN_CODE_FIELD = "design_code"
PRINTER_ORDER_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(ORDER_NUMBER_FIELD, "", "print order on the line; 0 = none"),
    FieldSpec(DESIGN_CODE_FIELD, "", "design of that order, a code of the plant file's designs; 0 = none"),
)

ROBOT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("state", "", "robot state code, models.states.RobotState"),
    FieldSpec("soc_pct", "%", "state of charge of the robot's own battery"),
    FieldSpec("charging_power_kw", "kW", "power being delivered to a car"),
    FieldSpec("energy_delivered_kwh_total", "kWh", "energy delivered to cars in total", counter=True),
    FieldSpec("sessions_completed_total", "", "charging sessions completed", counter=True),
    FieldSpec("sessions_failed_total", "", "charging sessions failed or aborted", counter=True),
    FieldSpec("position_x_m", "m", "position east of the depot origin"),
    FieldSpec("position_y_m", "m", "position north of the depot origin"),
    FieldSpec("error_code", "", "vendor error code; 0 = no error"),
)

PRINTER_FIELD_NAMES: frozenset[str] = frozenset(f.name for f in PRINTER_FIELDS)
ROBOT_FIELD_NAMES: frozenset[str] = frozenset(f.name for f in ROBOT_FIELDS)
