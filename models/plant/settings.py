"""The conventional baseline, storage, API, KPI and simulation settings."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints, field_validator, model_validator

from shopfloor.models.plant.common import FiniteFloat, NonNegativeFloat, PositiveFloat, StrictModel


class Baseline(StrictModel):
    """Conventional printing, against which savings are reported."""

    name: str = "Conventional rotary-screen printing"
    name_zh: str = "传统圆网印花"
    energy_kwh_per_m: PositiveFloat
    water_l_per_m: NonNegativeFloat
    electricity_price_per_kwh: NonNegativeFloat
    water_price_per_m3: NonNegativeFloat
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "CNY"
    # CO2 emitted per kWh taken from the grid, to report CO2 avoided; None: not reported. No default, because
    # grids differ tenfold (hydro against coal) and a borrowed factor would print a wrong figure with confidence.
    grid_emission_kg_co2_per_kwh: NonNegativeFloat | None = None

    @field_validator("grid_emission_kg_co2_per_kwh")
    @classmethod
    def _kg_per_kwh(cls, value: float | None) -> float | None:
        # Even a lignite-fired plant emits about 1.2 kg/kWh: a larger number is a factor given in g/kWh.
        if value is not None and value > 2.0:
            raise ValueError(f"kg CO2 per kWh, 0 to 2 (a factor in g/kWh is divided by 1000), got {value!r}")
        return value


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
    # Raw samples older than this are dropped once their shifts are in the ledger; ten years at most, the
    # longest range the API serves.
    raw_retention_days: Annotated[int, Field(ge=1, le=3650)] = 90
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
    # A robot connecting later than this after its dispatch is no response. A shift's ledger rows are written
    # this long (and a minute) after it ends, once every response to its dispatches can have come.
    response_horizon_s: Annotated[float, Field(gt=0.0, le=86_400.0)] = 3600.0
    # And this long more, for the closing polls of the shift to be stored (a minute; a test's one-minute shifts
    # use less). It changes when a row is written, never a figure: it is not part of the plant version.
    ledger_settle_s: Annotated[float, Field(ge=0.0, le=3600.0)] = 60.0


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
