"""The plant model: one TOML file, validated once, the single source of truth.

Everything that differs between plants lives here: register maps, node ids,
teams, shifts, objectives, the conventional baseline, storage and API
settings, and the simulators' process parameters. Simulators and collectors
read the same objects, so what one serves is what the other reads.

``load_plant(path)`` is the only entry point that touches the file system; a
bad file raises :class:`PlantFileError`, whose message names the file, the
key path and what was expected.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
import os
import re
import string
import tomllib
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from shopfloor.models.contract import PRINTER_FIELDS, ROBOT_FIELD_NAMES
from shopfloor.models.registers import ByteOrder, DataType, integer_bits, register_count

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]
FieldName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]

DEFAULT_PLANT_RESOURCE = "mso_cpp_plant.toml"


class StrictModel(BaseModel):
    """Unknown keys are errors (a typo must not silently fall back to a default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- plant


class PlantInfo(StrictModel):
    id: Identifier
    name: str
    name_zh: str
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"an IANA time zone such as 'Asia/Shanghai', got {value!r}") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class StopCategory(StrEnum):
    """How a stop reason counts in the ISO 22400 time model."""

    PLANNED = "planned"  # planned downtime: outside planned busy time
    SETUP = "setup"  # changeover / setup: inside planned busy time, not producing
    UNPLANNED = "unplanned"  # breakdowns and faults
    EXTERNAL = "external"  # starved/blocked by up- or downstream, no material, no order


class StopReason(StrictModel):
    code: Annotated[int, Field(ge=1, le=65535)]
    key: FieldName
    name: str
    name_zh: str
    category: StopCategory


# --------------------------------------------------------------------------- Modbus printers


class RegisterKind(StrEnum):
    HOLDING = "holding"
    INPUT = "input"
    COIL = "coil"
    DISCRETE_INPUT = "discrete_input"

    @property
    def is_bit(self) -> bool:
        return self in (RegisterKind.COIL, RegisterKind.DISCRETE_INPUT)


class ModbusSignal(StrictModel):
    name: FieldName
    unit: str = ""
    # "register" in the file; renamed here because pydantic reserves the name.
    table: RegisterKind = Field(alias="register")
    address: Annotated[int, Field(ge=0, le=65535)]
    type: DataType
    word_order: ByteOrder = ByteOrder.BIG
    byte_order: ByteOrder = ByteOrder.BIG
    scale: FiniteFloat = 1.0
    offset: FiniteFloat = 0.0
    min: FiniteFloat | None = None  # engineering values outside [min, max] are BAD_OUT_OF_RANGE
    max: FiniteFloat | None = None
    counter: bool = False  # a total that only grows, wrapping at the type's width
    description: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> ModbusSignal:
        if self.scale == 0:
            raise ValueError("scale must not be 0")
        if self.table.is_bit and self.type is not DataType.BOOL:
            raise ValueError(f"a {self.table.value} holds one bit: type must be 'bool', got {self.type.value!r}")
        if self.type is DataType.BOOL and not self.table.is_bit:
            raise ValueError(f"type 'bool' needs register 'coil' or 'discrete_input', got {self.table.value!r}")
        if self.address + register_count(self.type) > 65536:
            raise ValueError(f"address {self.address} + {register_count(self.type)} registers runs past 65535")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        if self.counter and self.type in (DataType.BOOL, DataType.FLOAT32, DataType.FLOAT64):
            # A float total never wraps exactly; counters are integer registers.
            raise ValueError(f"counter signals must be integer types, got {self.type.value!r}")
        return self

    @property
    def count(self) -> int:
        """Registers (or bits) this signal occupies."""
        return register_count(self.type)

    @property
    def end_address(self) -> int:
        """One past the last address used."""
        return self.address + self.count

    @property
    def wrap_m(self) -> float | None:
        """Engineering span after which a counter wraps to zero (None if not a counter)."""
        if not self.counter:
            return None
        return (1 << integer_bits(self.type)) * abs(self.scale)


class ModbusEndpoint(StrictModel):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 502
    unit_id: Annotated[int, Field(ge=0, le=255)] = 1
    timeout_s: PositiveFloat = 1.0
    poll_interval_s: PositiveFloat = 1.0
    max_registers_per_request: Annotated[int, Field(ge=1, le=125)] = 125
    max_bits_per_request: Annotated[int, Field(ge=1, le=2000)] = 2000
    # Unused registers the collector may read over to merge two requests into one.
    max_gap_registers: Annotated[int, Field(ge=0, le=124)] = 8
    # Longest wait between reconnect attempts: a device back after an outage is polled again within
    # this plus one poll interval; a device that stays down sees one attempt per this many seconds.
    reconnect_max_s: Annotated[float, Field(gt=0, le=3600)] = 1.0
    # The collector never writes to a PLC unless this is true.
    write_enabled: bool = False


class Printer(StrictModel):
    id: Identifier
    name: str
    name_zh: str
    model: str = "MSO-CPP"
    ideal_speed_m_min: PositiveFloat  # ISO 22400 ideal rate, for performance
    modbus: ModbusEndpoint
    signals: Annotated[list[ModbusSignal], Field(min_length=1)]

    @model_validator(mode="after")
    def _signals_complete_and_disjoint(self) -> Printer:
        names = [s.name for s in self.signals]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"signal names must be unique, repeated: {', '.join(duplicates)}")
        missing = [f.name for f in PRINTER_FIELDS if f.name not in names]
        if missing:
            raise ValueError(f"missing required signals: {', '.join(missing)} (see docs/data-contract.md)")
        for spec in PRINTER_FIELDS:
            signal = self.signal(spec.name)
            if spec.counter and not signal.counter:
                raise ValueError(f"signal {spec.name!r} is a total: set counter = true")
        by_table: dict[RegisterKind, list[ModbusSignal]] = {}
        for signal in self.signals:
            by_table.setdefault(signal.table, []).append(signal)
        for table, signals in by_table.items():
            signals.sort(key=lambda s: s.address)
            for before, after in itertools.pairwise(signals):
                if after.address < before.end_address:
                    raise ValueError(
                        f"{table.value} registers of {before.name!r} ({before.address}..{before.end_address - 1})"
                        f" and {after.name!r} ({after.address}..{after.end_address - 1}) overlap"
                    )
        return self

    def signal(self, name: str) -> ModbusSignal:
        for signal in self.signals:
            if signal.name == name:
                return signal
        raise KeyError(f"printer {self.id!r} has no signal {name!r}")


# --------------------------------------------------------------------------- OPC UA fleet


class SecurityPolicy(StrEnum):
    NONE = "None"
    BASIC256SHA256 = "Basic256Sha256"


class SecurityMode(StrEnum):
    NONE = "None"
    SIGN = "Sign"
    SIGN_AND_ENCRYPT = "SignAndEncrypt"


class OpcUaEndpoint(StrictModel):
    endpoint: Annotated[str, StringConstraints(pattern=r"^opc\.tcp://[^/\s]+(:\d+)?(/\S*)?$")]
    namespace_uri: str = "urn:shopfloor:ev-charging-robots"
    security_policy: SecurityPolicy = SecurityPolicy.NONE
    security_mode: SecurityMode = SecurityMode.NONE
    username: str | None = None
    # The password itself never sits in the plant file: name the environment variable.
    password_env: str | None = None
    client_certificate: Path | None = None
    client_private_key: Path | None = None
    server_certificate: Path | None = None  # trusted server certificate (pinning)
    sampling_interval_ms: NonNegativeFloat = 1000.0
    publishing_interval_ms: PositiveFloat = 1000.0
    deadband_abs: NonNegativeFloat | None = None
    subscribe_batch_size: Annotated[int, Field(ge=1, le=10000)] = 500
    timeout_s: PositiveFloat = 4.0
    # Longest wait between reconnect attempts (see ModbusEndpoint.reconnect_max_s).
    reconnect_max_s: Annotated[float, Field(gt=0, le=3600)] = 1.0
    # Read the variables on a cadence when the server cannot subscribe.
    poll_fallback: bool = True

    @model_validator(mode="after")
    def _security_consistent(self) -> OpcUaEndpoint:
        if (self.security_policy is SecurityPolicy.NONE) != (self.security_mode is SecurityMode.NONE):
            raise ValueError(
                "security_policy and security_mode go together: both 'None', or a policy such as"
                " 'Basic256Sha256' with mode 'Sign' or 'SignAndEncrypt'"
            )
        if (self.client_certificate is None) != (self.client_private_key is None):
            raise ValueError("client_certificate and client_private_key go together")
        if self.security_policy is not SecurityPolicy.NONE and self.client_certificate is None:
            raise ValueError(f"security_policy {self.security_policy.value!r} needs client_certificate and key")
        if self.password_env is not None and self.username is None:
            raise ValueError("password_env is set but username is not")
        return self

    def password(self) -> str | None:
        """The password from the environment (never stored in the plant file)."""
        if self.password_env is None:
            return None
        return os.environ.get(self.password_env)


OpcUaVariantType = Literal["Double", "Float", "UInt16", "UInt32", "Int32", "Boolean"]


class RobotVariable(StrictModel):
    name: FieldName  # field name in the data contract
    browse_name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")]
    unit: str = ""
    variant_type: OpcUaVariantType = "Double"
    min: FiniteFloat | None = None
    max: FiniteFloat | None = None


def default_robot_variables() -> list[RobotVariable]:
    return [
        RobotVariable(name="state", browse_name="State", variant_type="UInt16", min=0, max=9),
        RobotVariable(name="soc_pct", browse_name="StateOfCharge", unit="%", min=0, max=100),
        RobotVariable(name="charging_power_kw", browse_name="ChargingPower", unit="kW", min=0, max=1000),
        RobotVariable(name="energy_delivered_kwh_total", browse_name="EnergyDelivered", unit="kWh", min=0),
        RobotVariable(name="sessions_completed_total", browse_name="SessionsCompleted", variant_type="UInt32", min=0),
        RobotVariable(name="sessions_failed_total", browse_name="SessionsFailed", variant_type="UInt32", min=0),
        RobotVariable(name="position_x_m", browse_name="PositionX", unit="m"),
        RobotVariable(name="position_y_m", browse_name="PositionY", unit="m"),
        RobotVariable(name="error_code", browse_name="ErrorCode", variant_type="UInt32", min=0),
    ]


class BrowseName(NamedTuple):
    """One element of a browse path: a browse name and its namespace.

    ``namespace`` is a namespace index, or None for the fleet's ``namespace_uri``,
    whose index is looked up on the server at connect time (it may change when
    the server restarts; the uri does not).
    """

    namespace: int | None
    name: str


NS_PLACEHOLDER = "{ns}"
# A colon in a name is refused: "nsu:Robots" or "ns=2:Robots" are typos of a prefix, not browse names.
_BROWSE_ELEMENT = re.compile(r"^(?:(\d+|\{ns\}):)?([^/:{}]+)$")


def parse_browse_path(text: str, what: str = "browse path") -> tuple[BrowseName, ...]:
    """``Objects/{ns}:Robots/{ns}:R01/{ns}:State`` -> browse names from the Root folder.

    Elements are separated by ``/`` (a leading ``/`` is allowed); each is
    ``[<prefix>:]<browse name>`` where the prefix is a namespace index (``2:``,
    as OPC UA tools show it) or ``{ns}:`` for ``namespace_uri``; no prefix is
    namespace 0 (the standard nodes such as ``Objects``). Raises ValueError
    whose message starts with ``what`` and the text.
    """
    body = text[1:] if text.startswith("/") else text
    if not body:
        raise ValueError(f"{what} {text!r} is empty")
    out = []
    for element in body.split("/"):
        match = _BROWSE_ELEMENT.match(element)
        if match is None or not match.group(2).strip():
            raise ValueError(
                f"{what} {text!r}: element {element!r} is not '<name>', '<namespace index>:<name>' or '{{ns}}:<name>'"
            )
        prefix, name = match.groups()
        namespace = None if prefix == NS_PLACEHOLDER else int(prefix or 0)
        out.append(BrowseName(namespace, name))
    return tuple(out)


def _check_placeholders(text: str, allowed: set[str], what: str) -> None:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise ValueError(f"{what} {text!r}: {exc}") from None
    unknown = sorted(names - allowed)
    if unknown:
        shown = ", ".join("{" + n + "}" for n in unknown)
        expected = ", ".join("{" + n + "}" for n in sorted(allowed))
        raise ValueError(f"{what} {text!r}: unknown placeholder {shown} (allowed: {expected})")


class Robot(StrictModel):
    id: Identifier
    name: str
    name_zh: str
    serial_number: str = ""
    # variable name -> node id written in full ("ns=3;i=1001" or "nsu=urn:x;s=..."),
    # for robots whose server does not follow the fleet's template.
    node_ids: dict[str, str] = Field(default_factory=dict)
    # variable name -> browse path from the Root folder ("Objects/{ns}:Robots/{ns}:Dock7/{ns}:SoC"),
    # resolved to a node id by the collector on every new session.
    browse_paths: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _browse_paths_valid(self) -> Robot:
        both = sorted(set(self.node_ids) & set(self.browse_paths))
        if both:
            raise ValueError(f"robot {self.id!r}: variables {both} are in node_ids and browse_paths; give one")
        for name, path in self.browse_paths.items():
            what = f"robot {self.id!r}: browse_paths.{name}"
            _check_placeholders(path, {"ns"}, what)
            parse_browse_path(path, what)
        return self


DEFAULT_NODE_ID_TEMPLATE = "s=Robots.{robot}.{variable}"


class Fleet(StrictModel):
    id: Identifier
    name: str
    name_zh: str
    opcua: OpcUaEndpoint
    rated_power_kw: PositiveFloat = 40.0
    battery_capacity_kwh: PositiveFloat = 80.0
    # String node id inside namespace_uri; {robot} is the robot's browse name
    # (its id in upper case) and {variable} the variable's browse name.
    node_id_template: str = DEFAULT_NODE_ID_TEMPLATE
    # Address the variables by browse path instead: "Objects/{ns}:Robots/{ns}:{robot}/{ns}:{variable}".
    browse_path_template: str | None = None
    variables: list[RobotVariable] = Field(default_factory=default_robot_variables)
    robots: Annotated[list[Robot], Field(min_length=1)]

    @model_validator(mode="after")
    def _complete(self) -> Fleet:
        names = [v.name for v in self.variables]
        missing = sorted(ROBOT_FIELD_NAMES - set(names))
        if missing:
            raise ValueError(f"missing required robot variables: {', '.join(missing)}")
        if len(set(names)) != len(names):
            raise ValueError("robot variable names must be unique")
        ids = [r.id for r in self.robots]
        if len(set(ids)) != len(ids):
            raise ValueError("robot ids must be unique within a fleet")
        for robot in self.robots:
            for key, table in (("node_ids", robot.node_ids), ("browse_paths", robot.browse_paths)):
                unknown = sorted(set(table) - set(names))
                if unknown:
                    raise ValueError(f"robot {robot.id!r}: {key} names unknown variables {unknown}")
        if "{robot}" not in self.node_id_template or "{variable}" not in self.node_id_template:
            raise ValueError("node_id_template must contain {robot} and {variable}")
        if self.browse_path_template is not None:
            self._check_browse_path_template(self.browse_path_template)
        return self

    def _check_browse_path_template(self, template: str) -> None:
        if self.node_id_template != DEFAULT_NODE_ID_TEMPLATE:
            # A custom node id template next to a browse path template: which one is meant would be a guess.
            # (The default is accepted: plant files copied from the built-in one carry it.)
            raise ValueError("give a custom node_id_template or browse_path_template, not both")
        _check_placeholders(template, {"robot", "variable", "ns"}, "browse_path_template")
        if "{robot}" not in template or "{variable}" not in template:
            raise ValueError(f"browse_path_template {template!r} must contain {{robot}} and {{variable}}")
        # Robot and variable browse names are plain names, so any bad element is the template's own.
        try:
            parse_browse_path(template.format(robot="R", variable="V", ns=NS_PLACEHOLDER))
        except ValueError as exc:
            raise ValueError(f"browse_path_template {template!r}: {str(exc).split(': ', 1)[-1]}") from None

    @staticmethod
    def robot_browse_name(robot: Robot) -> str:
        return robot.id.upper()

    def browse_path(self, robot: Robot, variable: RobotVariable) -> tuple[BrowseName, ...] | None:
        """Browse path of one robot variable, or None when it is addressed by node id.

        A robot's own entries win over the fleet's templates: ``node_ids`` over
        ``browse_path_template``, ``browse_paths`` over ``node_id_template``.
        """
        if variable.name in robot.node_ids:
            return None
        if variable.name in robot.browse_paths:
            return parse_browse_path(robot.browse_paths[variable.name])
        if self.browse_path_template is None:
            return None
        return parse_browse_path(
            self.browse_path_template.format(
                robot=self.robot_browse_name(robot), variable=variable.browse_name, ns=NS_PLACEHOLDER
            )
        )

    def node_id(self, robot: Robot, variable: RobotVariable) -> tuple[str | None, str]:
        """(namespace uri or None if absolute, node id string) of one robot variable.

        This is also where the simulator serves the variable; the collector
        uses it only when :meth:`browse_path` gives None.
        """
        if variable.name in robot.node_ids:
            return None, robot.node_ids[variable.name]
        identifier = self.node_id_template.format(robot=self.robot_browse_name(robot), variable=variable.browse_name)
        return self.opcua.namespace_uri, identifier

    def variable(self, name: str) -> RobotVariable:
        for variable in self.variables:
            if variable.name == name:
                return variable
        raise KeyError(f"fleet {self.id!r} has no variable {name!r}")


# --------------------------------------------------------------------------- shifts and teams


class PlannedBreak(StrictModel):
    start: dt.time
    duration_min: Annotated[int, Field(gt=0, le=240)]


class Shift(StrictModel):
    id: Identifier
    name: str
    name_zh: str
    start: dt.time
    end: dt.time  # an end at or before the start means the shift ends the next day
    breaks: list[PlannedBreak] = Field(default_factory=list)
    # Crews that work this shift in turn; the crew changes every rotation_days.
    crews: list[Identifier] = Field(default_factory=list)

    @property
    def duration_min(self) -> int:
        start = self.start.hour * 60 + self.start.minute
        end = self.end.hour * 60 + self.end.minute
        return (end - start) % 1440 or 1440

    def break_offsets_min(self) -> list[tuple[int, int]]:
        """(start, end) of each break in minutes from the shift start."""
        shift_start = self.start.hour * 60 + self.start.minute
        out = []
        for brk in self.breaks:
            offset = (brk.start.hour * 60 + brk.start.minute - shift_start) % 1440
            out.append((offset, offset + brk.duration_min))
        return sorted(out)

    @model_validator(mode="after")
    def _breaks_inside(self) -> Shift:
        if self.start.second or self.end.second:
            raise ValueError("shift start and end are whole minutes")
        previous_end = 0
        for start, end in self.break_offsets_min():
            if end > self.duration_min:
                raise ValueError(f"a break starting {start} min into the shift runs past its end")
            if start < previous_end:
                raise ValueError("planned breaks overlap")
            previous_end = end
        return self


class ShiftCalendar(StrictModel):
    shifts: Annotated[list[Shift], Field(min_length=1)]
    rotation_anchor: dt.date = dt.date(2026, 1, 5)  # a Monday: crews[0] works each shift that week
    rotation_days: Annotated[int, Field(ge=1, le=366)] = 7

    @model_validator(mode="after")
    def _no_overlap(self) -> ShiftCalendar:
        ids = [s.id for s in self.shifts]
        if len(set(ids)) != len(ids):
            raise ValueError("shift ids must be unique")
        minutes = [0] * 1440
        for shift in self.shifts:
            start = shift.start.hour * 60 + shift.start.minute
            for m in range(shift.duration_min):
                minutes[(start + m) % 1440] += 1
        if max(minutes) > 1:
            raise ValueError("shifts overlap: each minute of the day belongs to at most one shift")
        return self


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
        lower = {"energy_kwh_per_m", "water_l_per_m", "unplanned_downtime_min", "mttr_min", "response_time_p90_s"}
        return Direction.LOWER if self.value in lower else Direction.HIGHER

    @property
    def equipment_kind(self) -> Literal["printer", "fleet"]:
        fleet = {
            "fleet_availability_pct",
            "fleet_utilisation_pct",
            "charging_sessions",
            "charging_success_pct",
            "energy_delivered_kwh",
            "response_time_p90_s",
        }
        return "fleet" if self.value in fleet else "printer"


class Objective(StrictModel):
    kpi: ObjectiveKpi
    target: Annotated[float, Field(gt=0, allow_inf_nan=False)]  # per shift
    weight: PositiveFloat
    direction: Direction | None = None  # default: the KPI's natural direction

    @property
    def better(self) -> Direction:
        return self.direction or self.kpi.default_direction


class TeamKind(StrEnum):
    EQUIPMENT = "equipment"  # responsible for equipment around the clock
    CREW = "crew"  # responsible for the equipment during the shifts it works


class Team(StrictModel):
    id: Identifier
    name: str
    name_zh: str
    kind: TeamKind
    equipment: Annotated[list[Identifier], Field(min_length=1)]  # printer and fleet ids
    objectives: Annotated[list[Objective], Field(min_length=1)]


# --------------------------------------------------------------------------- baseline, storage, api, simulation


class Baseline(StrictModel):
    """Conventional printing, against which savings are reported."""

    name: str = "Conventional rotary-screen printing"
    name_zh: str = "传统圆网印花"
    energy_kwh_per_m: PositiveFloat
    water_l_per_m: NonNegativeFloat
    electricity_price_per_kwh: NonNegativeFloat
    water_price_per_m3: NonNegativeFloat
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "CNY"


# About 160 MB at ~40 bytes a sample: over a day of the default plant (~35 samples/s measured), 11 h at 100/s.
DEFAULT_MAX_UNSAVED_SAMPLES = 4_000_000


class EmbeddedStoreSettings(StrictModel):
    path: Path = Path("var/shopfloor.duckdb")  # relative paths are relative to the working directory
    # Longest a sample waits in memory before it is committed (and the most a killed process can lose).
    flush_interval_ms: Annotated[int, Field(ge=10, le=600_000)] = 1000
    # While commits fail (disk full), samples wait in memory up to this many; beyond it they are dropped
    # and counted (shopfloor_store_dropped_samples_total), so memory never grows without limit.
    max_unsaved_samples: Annotated[int, Field(ge=10_000, le=100_000_000)] = DEFAULT_MAX_UNSAVED_SAMPLES


class InfluxSettings(StrictModel):
    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]
    org: str = "shopfloor"
    bucket: str = "shopfloor"
    token_env: str = "INFLUX_TOKEN"  # the token itself is never in the plant file
    batch_size: Annotated[int, Field(ge=1, le=100_000)] = 5000
    flush_interval_ms: Annotated[int, Field(ge=10, le=600_000)] = 1000
    max_retries: Annotated[int, Field(ge=0, le=100)] = 5
    retry_interval_ms: Annotated[int, Field(ge=10, le=600_000)] = 1000
    spool_dir: Path = Path("var/spool")


class StorageSettings(StrictModel):
    backend: Literal["embedded", "influxdb"] = "embedded"
    embedded: EmbeddedStoreSettings = Field(default_factory=EmbeddedStoreSettings)
    influxdb: InfluxSettings | None = None

    @model_validator(mode="after")
    def _influx_configured(self) -> StorageSettings:
        if self.backend == "influxdb" and self.influxdb is None:
            raise ValueError("backend 'influxdb' needs a [storage.influxdb] table with at least url")
        return self


_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_ORIGIN = re.compile(r"^https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$")


def _host_name_or_address(value: str) -> str:
    """An IP address or a DNS name (RFC 1123 labels); what a bind address or a Host header may name."""
    try:
        ipaddress.ip_address(value.removeprefix("[").removesuffix("]"))
        return value.removeprefix("[").removesuffix("]")
    except ValueError:
        pass
    name = value.removesuffix(".")
    if not name or len(name) > 253 or not all(_HOST_LABEL.match(label) for label in name.split(".")):
        raise ValueError(f"an IP address or a host name such as 'shopfloor-server.local', got {value!r}")
    return name.lower()


HostName = Annotated[str, AfterValidator(_host_name_or_address)]


def _origin(value: str) -> str:
    if not _ORIGIN.match(value):
        raise ValueError(f"an origin such as 'http://control-room:8080' (scheme, host, optional port), got {value!r}")
    return value.lower()


class ApiSettings(StrictModel):
    """The API server: where it listens, who may use it, and what it accepts (docs/api.md, "Limits")."""

    host: HostName = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    # Comma-separated keys in this environment variable unlock state-changing calls.
    api_keys_env: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=128)] = (
        "SHOPFLOOR_API_KEYS"
    )
    # Host names (besides IP addresses, localhost, this machine's name and `host`) clients may use to reach
    # the API; anything else is refused (DNS rebinding). "*" turns the check off (e.g. behind a proxy).
    allowed_hosts: list[Annotated[str, AfterValidator(lambda v: v if v == "*" else _host_name_or_address(v))]] = Field(
        default_factory=list
    )
    # Web origins (besides the API's own and loopback) whose pages may open the live WebSocket.
    allowed_origins: list[Annotated[str, AfterValidator(_origin)]] = Field(default_factory=list)
    # Open connections (HTTP and WebSocket) at once; beyond it the oldest connection still waiting for a
    # request is closed, or else the new one is refused. Kept well below the process's open-file limit.
    max_connections: Annotated[int, Field(ge=8, le=100_000)] = 1000
    # A request's headers and body must arrive within this many seconds (of connecting, or of the previous
    # response on a kept-alive connection); else the connection is closed.
    request_timeout_s: Annotated[float, Field(gt=0, le=3600, allow_inf_nan=False)] = 10.0
    # An idle kept-alive connection is closed after this many seconds.
    idle_timeout_s: Annotated[float, Field(gt=0, le=3600, allow_inf_nan=False)] = 5.0
    # Largest request body; a larger Content-Length is refused with 413 before the body is read.
    max_body_bytes: Annotated[int, Field(ge=1024, le=64 * 1024 * 1024)] = 64 * 1024


class KpiSettings(StrictModel):
    """The KPI rules a plant may tune (docs/kpi.md explains each); the defaults suit most lines."""

    # Stops shorter than this are performance loss ("minor stops"), not downtime or failures.
    micro_stop_s: NonNegativeFloat = 60.0
    # Printer samples further apart than this many poll intervals leave "no data" between them.
    max_gap_polls: PositiveFloat = 3.0
    # Robots report by exception; set a bound only for servers known to republish (None: only outages).
    robot_max_gap_s: PositiveFloat | None = None
    # An objective counts at most this multiple of its target in a team's score.
    attainment_cap: Annotated[float, Field(ge=1.0, le=10.0)] = 1.2


class PrinterSimulation(StrictModel):
    setpoint_m_min: PositiveFloat = 80.0
    ramp_m_min_per_s: PositiveFloat = 2.0
    idle_power_kw: NonNegativeFloat = 60.0
    power_kw_per_m_min: NonNegativeFloat = 3.45
    water_l_per_m: NonNegativeFloat = 0.15
    ink_g_per_m: NonNegativeFloat = 8.0
    defect_rate: Annotated[float, Field(ge=0, le=1)] = 0.012
    mean_time_between_failures_min: PositiveFloat = 95.0
    mean_time_to_repair_min: PositiveFloat = 7.0
    changeover_every_m: PositiveFloat = 9000.0
    changeover_min: PositiveFloat = 18.0
    dryer_setpoint_c: FiniteFloat = 165.0
    # Start the metres counter here (e.g. just below its wrap, to exercise wrap-around).
    initial_printed_m: NonNegativeFloat = 0.0


class FleetSimulation(StrictModel):
    car_arrivals_per_hour: PositiveFloat = 9.0
    mean_energy_need_kwh: PositiveFloat = 22.0
    drive_speed_m_s: PositiveFloat = 1.2
    connect_s: PositiveFloat = 45.0
    depot_size_m: PositiveFloat = 120.0
    low_soc_pct: Annotated[float, Field(gt=0, lt=100)] = 25.0
    self_charge_kw: PositiveFloat = 30.0
    fault_rate_per_hour: NonNegativeFloat = 0.03
    mean_repair_min: PositiveFloat = 25.0
    session_failure_rate: Annotated[float, Field(ge=0, le=1)] = 0.03


class Simulation(StrictModel):
    seed: int = 20261124
    time_scale: PositiveFloat = 1.0  # simulated seconds per wall-clock second
    printer: PrinterSimulation = Field(default_factory=PrinterSimulation)
    fleet: FleetSimulation = Field(default_factory=FleetSimulation)


# --------------------------------------------------------------------------- the plant


class Plant(StrictModel):
    plant: PlantInfo
    stop_reasons: list[StopReason]
    printers: list[Printer] = Field(default_factory=list)
    fleets: list[Fleet] = Field(default_factory=list)
    shift_calendar: ShiftCalendar
    teams: list[Team]
    baseline: Baseline
    storage: StorageSettings = Field(default_factory=StorageSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    kpi: KpiSettings = Field(default_factory=KpiSettings)
    simulation: Simulation = Field(default_factory=Simulation)

    @model_validator(mode="after")
    def _cross_references(self) -> Plant:
        codes = [r.code for r in self.stop_reasons]
        if len(set(codes)) != len(codes):
            raise ValueError("stop_reasons: codes must be unique")
        equipment = [p.id for p in self.printers] + [f.id for f in self.fleets]
        robots = [r.id for f in self.fleets for r in f.robots]
        everything = equipment + robots
        repeated = sorted({i for i in everything if everything.count(i) > 1})
        if repeated:
            raise ValueError(f"equipment ids must be unique across printers, fleets and robots: {repeated}")
        team_ids = [t.id for t in self.teams]
        if len(set(team_ids)) != len(team_ids):
            raise ValueError("team ids must be unique")
        printer_ids = {p.id for p in self.printers}
        fleet_ids = {f.id for f in self.fleets}
        for team in self.teams:
            for item in team.equipment:
                if item not in printer_ids | fleet_ids:
                    raise ValueError(
                        f"team {team.id!r} is responsible for {item!r}, which is neither a printer"
                        f" ({sorted(printer_ids)}) nor a fleet ({sorted(fleet_ids)})"
                    )
            kinds = {"printer" if e in printer_ids else "fleet" for e in team.equipment}
            for objective in team.objectives:
                if objective.kpi.equipment_kind not in kinds:
                    raise ValueError(
                        f"team {team.id!r}: objective {objective.kpi.value!r} needs a"
                        f" {objective.kpi.equipment_kind} among the team's equipment"
                    )
        crew_ids = {t.id for t in self.teams if t.kind is TeamKind.CREW}
        for shift in self.shift_calendar.shifts:
            for crew in shift.crews:
                if crew not in crew_ids:
                    raise ValueError(f"shift {shift.id!r} names crew {crew!r}, which is not a team of kind 'crew'")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return self.plant.tz

    def printer(self, printer_id: str) -> Printer:
        for printer in self.printers:
            if printer.id == printer_id:
                return printer
        raise KeyError(printer_id)

    def fleet(self, fleet_id: str) -> Fleet:
        for fleet in self.fleets:
            if fleet.id == fleet_id:
                return fleet
        raise KeyError(fleet_id)

    def team(self, team_id: str) -> Team:
        for team in self.teams:
            if team.id == team_id:
                return team
        raise KeyError(team_id)

    def stop_reason(self, code: int) -> StopReason | None:
        for reason in self.stop_reasons:
            if reason.code == code:
                return reason
        return None


# --------------------------------------------------------------------------- loading and errors


class PlantFileError(Exception):
    """A plant file that cannot be used, with every problem found in it."""

    def __init__(self, path: Path | str, problems: list[tuple[str, str]]):
        self.path = str(path)
        self.problems = problems
        lines = [f"{key}: {message}" if key else message for key, message in problems]
        if len(lines) == 1:  # one problem, one line (what a command prints before it exits)
            super().__init__(f"plant file {self.path} is invalid: {lines[0]}")
        else:
            super().__init__("\n  ".join([f"plant file {self.path} is invalid:", *lines]))


def _describe_location(raw: Any, loc: tuple[int | str, ...]) -> str:
    """Key path like ``printers[0] (mso-cpp-1).signals[3] (speed_m_min).address``."""
    parts: list[str] = []
    node = raw
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            if isinstance(node, list) and 0 <= item < len(node):
                node = node[item]
                if isinstance(node, dict):
                    name = node.get("id") or node.get("name") or node.get("key")
                    if isinstance(name, str | int):
                        label += f" ({name})"
            else:
                node = None
            if parts:
                parts[-1] += label
            else:
                parts.append(label)
        else:
            parts.append(str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts)


def _describe_error(error: dict[str, Any]) -> str:
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "unknown key (check its spelling; see docs/plant-file.md)"
    if kind == "missing":
        return "required key is missing"
    if "input" in error and kind not in ("value_error", "assertion_error"):
        shown = error["input"]
        if isinstance(shown, dict | list):
            shown = type(shown).__name__
        message += f" (got {shown!r})"
    return message


def plant_from_dict(raw: dict[str, Any], source: Path | str = "<dict>") -> Plant:
    """Validate an already-parsed plant document; raise PlantFileError naming ``source``."""
    try:
        return Plant.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            problems.append((_describe_location(raw, loc), _describe_error(dict(error))))
        raise PlantFileError(source, problems) from None


def load_plant(path: Path | str | None = None) -> Plant:
    """Load and validate a plant file; ``None`` loads the default plant shipped with the project."""
    if path is None:
        text = resources.files("shopfloor.models.plants").joinpath(DEFAULT_PLANT_RESOURCE).read_text(encoding="utf-8")
        source: Path | str = f"<built-in {DEFAULT_PLANT_RESOURCE}>"
    else:
        source = Path(path)
        try:
            text = source.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise PlantFileError(source, [("", "file not found")]) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise PlantFileError(source, [("", f"cannot be read: {exc}")]) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlantFileError(source, [("", f"not valid TOML: {exc}")]) from None
    return plant_from_dict(raw, source)
