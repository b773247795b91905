"""The plant file: the default loads, and every kind of bad file gives a clear error.

A clear error names the file, the key path and what was expected, and is a
PlantFileError (never a traceback from deep inside pydantic or tomllib).
"""

from __future__ import annotations

import copy
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from shopfloor.models.contract import PRINTER_FIELDS, ROBOT_FIELD_NAMES
from shopfloor.models.plant import BrowseName, Plant, PlantFileError, load_plant, opcua_password, plant_from_dict
from shopfloor.models.registers import DataType


@pytest.fixture(scope="module")
def default_raw() -> dict[str, Any]:
    text = resources.files("shopfloor.models.plants").joinpath("mso_cpp_plant.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def write_plant(tmp_path: Path, raw: dict[str, Any] | str) -> Path:
    path = tmp_path / "plant.toml"
    path.write_text(raw if isinstance(raw, str) else dumps_toml(raw), encoding="utf-8")
    return path


def dumps_toml(raw: dict[str, Any]) -> str:
    """Minimal TOML writer for test documents (tables, arrays of tables, scalars)."""
    import datetime as dt

    def scalar(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, dt.time | dt.date):
            return v.isoformat()
        if isinstance(v, list):
            return "[" + ", ".join(scalar(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {scalar(x)}" for k, x in v.items()) + " }"
        raise TypeError(type(v))

    lines: list[str] = []

    def table(prefix: str, d: dict[str, Any], header: str | None) -> None:
        if header:
            lines.append(header)
        nested = []
        for k, v in d.items():
            if isinstance(v, dict):
                nested.append((k, v, False))
            elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
                nested.append((k, v, True))
            else:
                lines.append(f"{k} = {scalar(v)}")
        for k, v, is_array in nested:
            name = f"{prefix}.{k}" if prefix else k
            if is_array:
                for item in v:
                    table(name, item, f"[[{name}]]")
            else:
                table(name, v, f"[{name}]")

    table("", raw, None)
    return "\n".join(lines) + "\n"


def expect_error(tmp_path: Path, raw: dict[str, Any] | str) -> PlantFileError:
    path = write_plant(tmp_path, raw)
    with pytest.raises(PlantFileError) as info:
        load_plant(path)
    assert str(path) in str(info.value), "the error must name the file"
    return info.value


def test_default_plant_loads_and_satisfies_the_contract() -> None:
    plant = load_plant()
    assert isinstance(plant, Plant)
    assert plant.plant.timezone == "Asia/Shanghai"
    assert len(plant.printers) == 1 and len(plant.fleets) == 1
    assert 10 <= len(plant.fleets[0].robots) <= 14
    printer = plant.printers[0]
    assert {f.name for f in PRINTER_FIELDS} <= {s.name for s in printer.signals}
    assert {v.name for v in plant.fleets[0].variables} >= ROBOT_FIELD_NAMES
    team_ids = {t.id for t in plant.teams}
    assert {"gravure", "charging-robots"} <= team_ids
    assert any(t.kind == "crew" for t in plant.teams)
    # Every shift has Chinese names (the people who use it read Chinese).
    assert all(any("\u4e00" <= c <= "\u9fff" for c in s.name_zh) for s in plant.shift_calendar.shifts)
    # The default map exercises every data type and every word/byte order used by real PLCs.
    types = {s.type for s in printer.signals}
    assert types == set(DataType)
    orders = {(s.word_order, s.byte_order) for s in printer.signals if s.count > 1}
    assert len(orders) == 4


def test_round_trip_through_the_test_writer(default_raw: dict[str, Any], tmp_path: Path) -> None:
    # Guards the helper the other tests rely on.
    assert load_plant(write_plant(tmp_path, default_raw)) == load_plant()


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(PlantFileError, match="file not found") as info:
        load_plant(path)
    assert str(path) in str(info.value)


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    error = expect_error(tmp_path, "[plant]\nid = \n")
    assert "not valid TOML" in str(error) and "line 2" in str(error)


def mutate(raw: dict[str, Any], path: str, value: Any = None, *, delete: bool = False) -> dict[str, Any]:
    doc = copy.deepcopy(raw)
    node: Any = doc
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    last = parts[-1]
    key: Any = int(last) if last.isdigit() else last
    if delete:
        del node[key]
    else:
        node[key] = value
    return doc


# (mutation path, new value or DELETE, expected key path in the message, expected words in the message)
DELETE = object()
BAD_FILES = [
    ("plant.timezone", "Mars/Olympus", "plant.timezone", "IANA time zone"),
    ("plant.idd", "x", "plant.idd", "unknown key"),
    ("plant.id", "Bad Id!", "plant.id", "pattern"),
    ("printers.0.signals.2.type", "float", "printers[0] (mso-cpp-1).signals[2] (speed_m_min).type", "'float32'"),
    ("printers.0.signals.2.register", "holdings", "signals[2] (speed_m_min).register", "'holding'"),
    ("printers.0.signals.2.address", 70000, "signals[2] (speed_m_min).address", "less than or equal to 65535"),
    ("printers.0.signals.2.scale", 0, "signals[2] (speed_m_min)", "scale must not be 0"),
    ("printers.0.signals.13.type", "uint16", "signals[13] (running)", "coil holds one bit"),
    ("printers.0.signals.3.address", 3, "printers[0] (mso-cpp-1)", "overlap"),
    ("printers.0.signals.4.counter", False, "printers[0] (mso-cpp-1)", "counter = true"),
    ("printers.0.signals.0.name", "machine_state", "printers[0] (mso-cpp-1)", "missing required signals: state"),
    ("printers.0.modbus.port", 0, "printers[0] (mso-cpp-1).modbus.port", "greater than or equal to 1"),
    ("printers.0.modbus.max_registers_per_request", 200, "modbus.max_registers_per_request", "125"),
    ("printers.0.ideal_speed_m_min", DELETE, "printers[0] (mso-cpp-1).ideal_speed_m_min", "required key is missing"),
    ("designs.1.code", 101, "", "designs: codes must be unique, repeated: [101]"),
    ("designs.0.code", 0, "designs[0]", "greater than or equal to 1"),
    ("designs.0.ideal_speed_m_min", 0, "designs[0]", "ideal_speed_m_min"),
    ("fleets.0.opcua.endpoint", "http://robots", "fleets[0] (ev-robots).opcua.endpoint", "opc"),
    ("fleets.0.opcua.security_mode", "Sign", "fleets[0] (ev-robots).opcua", "go together"),
    ("fleets.0.robots.1.id", "r01", "fleets[0] (ev-robots)", "unique"),
    (
        "fleets.0.browse_path_template",
        "Objects/{ns}:Robots/{ns}:{robot}",
        "fleets[0] (ev-robots)",
        "must contain {robot} and {variable}",
    ),
    (
        "fleets.0.browse_path_template",
        "Objects/{ns}:Robots/{ns}:{Robot}/{ns}:{variable}",
        "fleets[0] (ev-robots)",
        "unknown placeholder {Robot} (allowed: {ns}, {robot}, {variable})",
    ),
    (
        "fleets.0.browse_path_template",
        "Objects/nsu:Robots/{ns}:{robot}/{ns}:{variable}",
        "fleets[0] (ev-robots)",
        "element 'nsu:Robots' is not",
    ),
    (
        "fleets.0.robots.0.browse_paths",
        {"soc_pct": "Objects//{ns}:SoC"},
        "fleets[0] (ev-robots).robots[0] (r01)",
        "browse_paths.soc_pct 'Objects//{ns}:SoC': element '' is not",
    ),
    (
        "fleets.0.robots.0.browse_paths",
        {"soc_pct": "Objects/{ns}:{robot}/{ns}:SoC"},
        "fleets[0] (ev-robots).robots[0] (r01)",
        "unknown placeholder {robot} (allowed: {ns})",
    ),
    (
        "fleets.0.robots.0.browse_paths",
        {"charge_pct": "Objects/{ns}:Robots"},
        "fleets[0] (ev-robots)",
        "browse_paths names unknown variables ['charge_pct']",
    ),
    ("shift_calendar.shifts.0.end", "15:00:00", "shift_calendar", "overlap"),
    ("shift_calendar.shifts.0.crews", ["crew-z"], "", "crew 'crew-z'"),
    ("teams.0.equipment", ["printer-9"], "", "'printer-9'"),
    ("teams.1.objectives.0.kpi", "oee_pct", "", "needs a printer"),
    ("teams.0.objectives.0.kpi", "metres", "teams[0] (gravure).objectives[0].kpi", "'printed_m'"),
    ("teams.0.objectives.0.weight", -1, "teams[0] (gravure).objectives[0].weight", "greater than 0"),
    ("baseline.energy_kwh_per_m", DELETE, "baseline.energy_kwh_per_m", "required key is missing"),
    ("baseline.currency", "yuan", "baseline.currency", "pattern"),
    ("storage.backend", "influxdb", "storage", "needs a [storage.influxdb] table"),
    ("storage.backend", "sqlite", "storage.backend", "'embedded'"),
    ("kpi.micro_stop_s", -5, "kpi.micro_stop_s", "greater than or equal to 0"),
    ("fleets.0.low_charge_pct", 100, "fleets[0] (ev-robots).low_charge_pct", "less than 100"),
    ("fleets.0.low_charge_pct", 0, "fleets[0] (ev-robots).low_charge_pct", "greater than 0"),
    # one home for the low-charge level: a rule repeating its fleet's level is refused
    ("fleets.0.low_charge_pct", 15.0, "robot-charge-low", "charge_below_pct 15 repeats low_charge_pct of ev-robots"),
    ("alerts.rules.6.attainment_below_pct", 120, "alerts.rules[6] (hourly-attainment)", "less than or equal to 100"),
    ("kpi.attainment_cap", 0.5, "kpi.attainment_cap", "greater than or equal to 1"),
    ("kpi.max_gap_poll", 3, "kpi.max_gap_poll", "unknown key"),
    ("kpi.response_horizon_s", 0, "kpi.response_horizon_s", "greater than 0"),
    ("kpi.response_horizon_s", 90_000, "kpi.response_horizon_s", "less than or equal to 86400"),
    ("simulation.printer.defect_rate", 1.5, "simulation.printer.defect_rate", "less than or equal to 1"),
    ("storage.raw_retention_days", 0, "storage.raw_retention_days", "greater than or equal to 1"),
    ("storage.raw_retention_days", 4000, "storage.raw_retention_days", "less than or equal to 3650"),
    ("storage.raw_retention_days", 7.5, "storage.raw_retention_days", "integer"),
    ("plant.year_start_month", 13, "plant.year_start_month", "less than or equal to 12"),
    ("printers.0.annual_target_m", 0, "printers[0] (mso-cpp-1).annual_target_m", "greater than 0"),
    ("baseline.grid_emission_kg_co2_per_kwh", 570.3, "baseline.grid_emission_kg_co2_per_kwh", "g/kWh"),
    ("baseline.grid_emission_kg_co2_per_kwh", -0.1, "baseline.grid_emission_kg_co2_per_kwh", "greater than or equal"),
]


@pytest.mark.parametrize(("path", "value", "key", "words"), BAD_FILES, ids=[f"{p}={v}" for p, v, *_ in BAD_FILES])
def test_bad_plant_file_names_key_and_expectation(
    default_raw: dict[str, Any], tmp_path: Path, path: str, value: Any, key: str, words: str
) -> None:
    raw = mutate(default_raw, path, delete=True) if value is DELETE else mutate(default_raw, path, value)
    if path == "shift_calendar.shifts.0.end":
        import datetime as dt

        raw["shift_calendar"]["shifts"][0]["end"] = dt.time(15, 0)
    error = expect_error(tmp_path, raw)
    message = str(error)
    assert key in message, message
    assert words in message, message
    assert "Traceback" not in message


def test_all_problems_are_reported_at_once(default_raw: dict[str, Any]) -> None:
    raw = mutate(mutate(default_raw, "plant.timezone", "Nowhere"), "baseline.water_l_per_m", -3)
    with pytest.raises(PlantFileError) as info:
        plant_from_dict(raw, "two-problems.toml")
    keys = [key for key, _ in info.value.problems]
    assert "plant.timezone" in keys and "baseline.water_l_per_m" in keys


def test_cli_reports_a_bad_file_without_a_traceback(default_raw: dict[str, Any], tmp_path: Path) -> None:
    path = write_plant(tmp_path, mutate(default_raw, "printers.0.signals.2.type", "float"))
    result = subprocess.run(
        [sys.executable, "-m", "shopfloor.cli.main", "check-plant", "--plant", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert str(path) in result.stderr and "signals[2] (speed_m_min).type" in result.stderr
    assert "Traceback" not in result.stderr


def test_lookups_by_id_name_what_is_missing() -> None:
    plant = load_plant()
    printer, fleet, team, reason = plant.printers[0], plant.fleets[0], plant.teams[0], plant.stop_reasons[0]
    assert plant.printer(printer.id) is printer and plant.fleet(fleet.id) is fleet and plant.team(team.id) is team
    assert plant.stop_reason(reason.code) is reason and plant.stop_reason(65535) is None
    assert printer.signal("state").name == "state" and fleet.variable("state").name == "state"
    for lookup in (plant.printer, plant.fleet, plant.team):
        with pytest.raises(KeyError) as caught:
            lookup("nope")
        assert caught.value.args == ("nope",)
    with pytest.raises(KeyError) as caught:
        printer.signal("nope")
    assert caught.value.args == (f"printer {printer.id!r} has no signal 'nope'",)
    with pytest.raises(KeyError) as caught:
        fleet.variable("nope")
    assert caught.value.args == (f"fleet {fleet.id!r} has no variable 'nope'",)


def test_passwords_come_from_the_environment(default_raw: dict[str, Any]) -> None:
    raw = copy.deepcopy(default_raw)
    raw["fleets"][0]["opcua"].update(username="operator", password_env="ROBOT_OPCUA_PASSWORD")
    plant = plant_from_dict(raw)
    endpoint = plant.fleets[0].opcua
    # The model names the variable; the process that starts reads it from the environment it is given.
    assert opcua_password(endpoint, {}) is None
    assert opcua_password(endpoint, {"ROBOT_OPCUA_PASSWORD": "s3cret"}) == "s3cret"
    assert opcua_password(plant_from_dict(default_raw).fleets[0].opcua, {"ROBOT_OPCUA_PASSWORD": "s3cret"}) is None
    assert "s3cret" not in plant.model_dump_json()


def test_counter_wrap_span_follows_the_type_and_scale() -> None:
    printer = load_plant().printers[0]
    assert printer.signal("printed_m_total").wrap_m == pytest.approx(2**32 * 0.1)
    assert printer.signal("energy_kwh_total").wrap_m == pytest.approx(2**64 * 0.001)
    assert printer.signal("speed_m_min").wrap_m is None


BROWSE_TEMPLATE = "Objects/{ns}:Robots/{ns}:{robot}/{ns}:{variable}"


def test_browse_paths_address_robot_variables(default_raw: dict[str, Any], tmp_path: Path) -> None:
    raw = mutate(default_raw, "fleets.0.browse_path_template", BROWSE_TEMPLATE)
    raw["fleets"][0]["robots"][1]["browse_paths"] = {"soc_pct": "/Objects/3:Dock/{ns}:Battery/{ns}:Charge"}
    raw["fleets"][0]["robots"][2]["node_ids"] = {"state": "ns=4;i=1001"}
    fleet = load_plant(write_plant(tmp_path, raw)).fleets[0]
    r01, r02, r03 = fleet.robots[:3]
    state, soc = fleet.variable("state"), fleet.variable("soc_pct")
    # The template, with the robot's browse name (its id in upper case) and the variable's.
    assert fleet.browse_path(r01, soc) == (
        BrowseName(0, "Objects"),
        BrowseName(None, "Robots"),
        BrowseName(None, "R01"),
        BrowseName(None, "StateOfCharge"),
    )
    # A robot's own path wins over the template; a robot's own node id wins over both.
    assert fleet.browse_path(r02, soc) == (
        BrowseName(0, "Objects"),
        BrowseName(3, "Dock"),
        BrowseName(None, "Battery"),
        BrowseName(None, "Charge"),
    )
    assert fleet.browse_path(r03, state) is None and fleet.node_id(r03, state) == (None, "ns=4;i=1001")
    # Without a template, variables are addressed by node id unless a robot gives a path.
    plain = load_plant().fleets[0]
    assert plain.browse_path_template is None
    assert all(plain.browse_path(r, v) is None for r in plain.robots for v in plain.variables)


def test_a_custom_node_id_template_and_a_browse_path_template_are_exclusive(
    default_raw: dict[str, Any], tmp_path: Path
) -> None:
    raw = mutate(default_raw, "fleets.0.browse_path_template", BROWSE_TEMPLATE)
    raw = mutate(raw, "fleets.0.node_id_template", "s=Fleet/{robot}/{variable}")
    message = str(expect_error(tmp_path, raw))
    assert "fleets[0] (ev-robots)" in message and "node_id_template or browse_path_template, not both" in message


def test_a_variable_has_a_node_id_or_a_browse_path_not_both(default_raw: dict[str, Any], tmp_path: Path) -> None:
    raw = copy.deepcopy(default_raw)
    robot = raw["fleets"][0]["robots"][0]
    robot["node_ids"] = {"soc_pct": "ns=3;i=7"}
    robot["browse_paths"] = {"soc_pct": "Objects/{ns}:Robots/{ns}:R01/{ns}:StateOfCharge"}
    message = str(expect_error(tmp_path, raw))
    assert "fleets[0] (ev-robots).robots[0] (r01)" in message
    assert "['soc_pct'] are in node_ids and browse_paths; give one" in message


def test_year_targets_retention_and_emission_factor_are_optional(default_raw: dict[str, Any]) -> None:
    raw = copy.deepcopy(default_raw)
    del raw["plant"]["year_start_month"], raw["printers"][0]["annual_target_m"]
    del raw["baseline"]["grid_emission_kg_co2_per_kwh"], raw["storage"]["raw_retention_days"]
    plant = plant_from_dict(raw)
    assert plant.plant.year_start_month == 1  # the calendar year
    assert plant.printers[0].annual_target_m is None
    assert plant.baseline.grid_emission_kg_co2_per_kwh is None  # no CO2 figure rather than a borrowed factor
    assert plant.storage.raw_retention_days == 90
    built_in = load_plant()
    assert built_in.storage.raw_retention_days == 90 and built_in.baseline.grid_emission_kg_co2_per_kwh == 0.5703


def test_the_response_horizon_is_a_kpi_rule_of_the_plant_file(default_raw: dict[str, Any]) -> None:
    from shopfloor.models.kpi import KpiConfig

    assert KpiConfig.of(plant_from_dict(default_raw)).response_horizon_s == 3600.0  # an hour unless set
    raw = mutate(default_raw, "kpi.response_horizon_s", 900)
    assert KpiConfig.of(plant_from_dict(raw)).response_horizon_s == 900.0
