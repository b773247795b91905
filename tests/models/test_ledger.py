"""The ledger row (models/ledger.py): its codec round-trips exactly, bad rows and records are refused by name."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings

from shopfloor.models.calendar import ShiftInstance
from shopfloor.models.kpi.fleet import FleetTotals
from shopfloor.models.kpi.oee import TimeTotals
from shopfloor.models.kpi.printer import PrinterTotals
from shopfloor.models.ledger import (
    PAYLOAD_VERSION,
    RECORD_COLUMNS,
    EquipmentKind,
    LedgerFormatError,
    LedgerRow,
    decode,
    encode,
    plant_version,
)
from shopfloor.models.plant import Plant, load_plant
from tests.models._ledger_rows import NS, T0, ledger_rows, printer_row, robot_row

REPO = Path(__file__).resolve().parents[2]


def bits(value: object) -> object:
    """A value with every float replaced by its repr, so -0.0 and 0.0 (equal as numbers) compare different."""
    if isinstance(value, float):
        return ("float", repr(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, {f.name: bits(getattr(value, f.name)) for f in dataclasses.fields(value)})
    if isinstance(value, dict):
        return ("dict", {bits(k): bits(v) for k, v in value.items()})
    if isinstance(value, frozenset):
        return ("frozenset", frozenset(bits(v) for v in value))
    if isinstance(value, tuple | list):
        return (type(value).__name__, [bits(v) for v in value])
    return (type(value).__name__, value)


@settings(max_examples=300, deadline=None)
@given(ledger_rows())
def test_decode_of_encode_is_the_row_bit_for_bit(row: LedgerRow) -> None:
    record = encode(row)
    assert list(record) == list(RECORD_COLUMNS)
    back = decode(record)
    assert back == row
    assert bits(back) == bits(row), "every float, int, tuple, frozenset and int key comes back as it was"
    # what a store hands back has been through its own types: a copy of the dict is all decode may rely on
    assert decode(dict(record)) == row


def test_empty_totals_round_trip() -> None:
    printer = dataclasses.replace(printer_row(0, "mso-cpp-1", 1.0), totals=PrinterTotals())
    robot = dataclasses.replace(
        robot_row(0, "r01", 1.0), totals=FleetTotals(response_s=(), robot_ids=frozenset({"r01"}))
    )
    for row in (printer, robot):
        assert bits(decode(encode(row))) == bits(row)


def test_decoded_rows_sum_like_the_originals() -> None:
    rows = [robot_row(s, r, 1.5 * s + 0.1) for s in range(3) for r in ("r01", "r02")]
    total = sum((r.totals for r in rows), FleetTotals())
    decoded = sum((decode(encode(r)).totals for r in rows), FleetTotals())
    assert isinstance(decoded, FleetTotals)
    assert decoded == total and decoded.robot_ids == {"r01", "r02"}
    assert sorted(decoded.response_s) == sorted(total.response_s), "every response duration is kept (exact p90)"


def test_for_shift_takes_the_instance_and_the_kind_from_the_totals() -> None:
    instance = ShiftInstance("night", dt.date(2026, 11, 24), "crew-b", T0, T0 + 8 * 3600 * NS, ())
    row = LedgerRow.for_shift(
        instance,
        "r07",
        FleetTotals(robot_ids=frozenset({"r07"})),
        fleet_id="ev-robots",
        plant_version="sha256:00",
        annotation_version=4,
        watermark_ns=T0 + 9 * 3600 * NS,
        samples_read=28_800,
        computed_ns=T0 + 10 * 3600 * NS,
    )
    assert row.kind is EquipmentKind.ROBOT
    assert row.shift_key == instance.key == "2026-11-24/night"
    assert row.key == (T0, "r07")
    assert (row.crew, row.shift_start_ns, row.shift_end_ns) == ("crew-b", instance.start_ns, instance.end_ns)
    printer = LedgerRow.for_shift(
        instance,
        "mso-cpp-1",
        PrinterTotals(),
        plant_version="v",
        annotation_version=0,
        watermark_ns=0,
        samples_read=0,
        computed_ns=0,
    )
    assert printer.kind is EquipmentKind.PRINTER and printer.fleet_id is None


def payload_of(row: LedgerRow) -> dict[str, object]:
    payload: dict[str, object] = json.loads(encode(row)["payload"])
    return payload


def with_payload(row: LedgerRow, payload: object) -> dict[str, object]:
    return {**encode(row), "payload": json.dumps(payload)}


def test_an_unknown_payload_version_is_refused_with_the_version_this_code_reads() -> None:
    row = printer_row(0, "mso-cpp-1", 3.0)
    newer = {**payload_of(row), "v": PAYLOAD_VERSION + 1}
    with pytest.raises(LedgerFormatError, match=rf"payload format 2 .*this code reads format {PAYLOAD_VERSION}"):
        decode(with_payload(row, newer))
    with pytest.raises(LedgerFormatError, match="format version 'v'"):
        decode(with_payload(row, {"totals": payload_of(row)["totals"]}))
    with pytest.raises(LedgerFormatError, match="payload is not JSON"):
        decode({**encode(row), "payload": "{not json"})


def test_a_payload_missing_or_adding_a_field_is_refused_by_name() -> None:
    row = printer_row(1, "mso-cpp-1", 3.0)
    payload = payload_of(row)
    totals = dict(payload["totals"])  # type: ignore[call-overload]  # a JSON object, by construction
    del totals["energy_kwh"]
    with pytest.raises(LedgerFormatError, match=r"totals must be an object with exactly the keys .*'energy_kwh'"):
        decode(with_payload(row, {**payload, "totals": totals}))
    totals = {**payload["totals"], "co2_kg": 1.0}  # type: ignore[dict-item]  # a JSON object, by construction
    with pytest.raises(LedgerFormatError, match="co2_kg"):
        decode(with_payload(row, {**payload, "totals": totals}))


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("times", "micro_stops"), 1.5, r"totals\.times\.micro_stops must be an integer"),
        (("produced_m",), "12", r"totals\.produced_m must be a number"),
        (("produced_m",), True, r"totals\.produced_m must be a number"),
        (("stops_by_reason",), {"17": 3}, r"totals\.stops_by_reason must be a JSON array"),
        (("stops_by_reason",), [[17, 3], [17, 4]], r"has the key 17 twice"),
        (("stops_by_reason",), [["17", 3]], r"stops_by_reason key must be an integer"),
        (("downtime_s_by_reason",), [[1, 2, 3]], r"must hold \[key, value\] pairs"),
    ],
)
def test_a_payload_value_of_the_wrong_type_is_refused_by_name(
    path: tuple[str, ...], value: object, message: str
) -> None:
    row = printer_row(2, "mso-cpp-1", 3.0)
    payload = payload_of(row)
    node = payload["totals"]
    for key in path[:-1]:
        node = node[key]  # type: ignore[index]  # JSON objects, by construction
    node[path[-1]] = value  # type: ignore[index]  # a JSON object, by construction
    with pytest.raises(LedgerFormatError, match=message):
        decode(with_payload(row, payload))


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("shift_start_ns", 1.5e18, "column 'shift_start_ns' must be an integer"),
        ("annotation_version", True, "column 'annotation_version' must be an integer"),
        ("shift_key", "2026-11-24", "shift_key must read 'YYYY-MM-DD/<shift id>'"),
        ("shift_key", "24.11.2026/night", "shift_key must read 'YYYY-MM-DD/<shift id>'"),
        ("kind", "fleet", r"kind must be one of \['printer', 'robot'\]"),
        ("equipment", 7, "column 'equipment' must be a string"),
        ("equipment", "MSO 1", "equipment_id must be an id"),
    ],
)
def test_a_record_column_of_the_wrong_type_is_refused_by_name(column: str, value: object, message: str) -> None:
    record: dict[str, object] = {**encode(printer_row(0, "mso-cpp-1", 1.0))}
    record[column] = value
    with pytest.raises(LedgerFormatError, match=message):
        decode(record)
    del record[column]
    with pytest.raises(LedgerFormatError, match=rf"missing column\(s\) \['{column}'\]"):
        decode(record)


def test_empty_text_is_no_crew_and_no_fleet() -> None:
    """InfluxDB cannot keep a null field: it keeps "" and the codec reads it as None."""
    row = printer_row(0, "mso-cpp-1", 1.0, crew=None)
    assert decode({**encode(row), "crew": "", "fleet": ""}) == row


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_totals_json_cannot_carry_exactly_are_refused_naming_the_field(bad: float) -> None:
    row = printer_row(0, "mso-cpp-1", 1.0)
    broken = dataclasses.replace(row, totals=dataclasses.replace(row.totals, times=TimeTotals(repair_s=bad)))
    with pytest.raises(LedgerFormatError, match=r"'mso-cpp-1' '2026-09-21/early': totals\.times\.repair_s must be fi"):
        encode(broken)


def test_rows_that_cannot_be_what_they_claim_are_refused() -> None:
    printer = printer_row(0, "mso-cpp-1", 1.0)
    robot = robot_row(0, "r01", 1.0)
    cases: list[tuple[dict[str, object], LedgerRow, str]] = [
        ({"kind": EquipmentKind.ROBOT}, printer, "a robot row carries FleetTotals, got PrinterTotals"),
        ({"kind": "printer"}, printer, "kind must be an EquipmentKind"),
        ({"fleet_id": "ev-robots"}, printer, "a printer row has no fleet_id"),
        ({"fleet_id": None}, robot, "fleet_id must be an id"),
        ({"equipment_id": "r02"}, robot, r"robot_ids must be \{'r02'\}, got \{'r01'\}"),
        ({"totals": FleetTotals(seconds_by_state=(1.0,), robot_ids=frozenset({"r01"}))}, robot, "10 entries"),
        ({"shift_end_ns": printer.shift_start_ns}, printer, "shift_end_ns must be after shift_start_ns"),
        ({"watermark_ns": 1.0}, printer, "watermark_ns must be a 64-bit integer"),
        ({"computed_ns": False}, printer, "computed_ns must be a 64-bit integer"),
        ({"annotation_version": 2**63}, printer, "annotation_version must be a 64-bit integer"),
        ({"annotation_version": -1}, printer, "annotation_version must be >= 0"),
        ({"plant_version": ""}, printer, "plant_version must be 1 to 200 printable ASCII"),
        ({"plant_version": "a b"}, printer, "plant_version must be 1 to 200 printable ASCII"),
        ({"equipment_id": "MSO 1"}, printer, "equipment_id must be an id"),
        ({"shift_id": "night/2"}, printer, "shift_id must be an id"),
        ({"crew": ""}, printer, "crew must be an id"),
        ({"production_date": dt.datetime(2026, 1, 1)}, printer, "production_date must be a datetime.date"),
    ]
    for changes, row, message in cases:
        with pytest.raises(LedgerFormatError, match=message):
            dataclasses.replace(row, **changes)  # type: ignore[arg-type]  # wrong on purpose


# ------------------------------------------------------------------ plant version


@pytest.fixture(scope="module")
def plant() -> Plant:
    return load_plant(None)


def test_the_plant_version_is_the_same_in_another_process(plant: Plant) -> None:
    code = "from shopfloor.models.ledger import plant_version; from shopfloor.models.plant import load_plant;"
    code += " print(plant_version(load_plant(None)))"
    for seed in ("1", "2"):  # string hashing (and so set order) differs between these processes
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=REPO,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        )
        assert done.stdout.strip() == plant_version(plant)
    assert plant_version(plant).startswith("sha256:") and len(plant_version(plant)) == 7 + 64


def test_the_plant_version_follows_what_can_change_a_figure(plant: Plant) -> None:
    base = plant_version(plant)
    printer = plant.printers[0]
    faster = printer.model_copy(update={"ideal_speed_m_min": printer.ideal_speed_m_min + 1})
    assert plant_version(plant.model_copy(update={"printers": [faster, *plant.printers[1:]]})) != base
    kpi = plant.kpi.model_copy(update={"micro_stop_s": plant.kpi.micro_stop_s + 1})
    assert plant_version(plant.model_copy(update={"kpi": kpi})) != base
    reason = plant.stop_reasons[0].model_copy(update={"key": "renamed"})
    assert plant_version(plant.model_copy(update={"stop_reasons": [reason, *plant.stop_reasons[1:]]})) != base
    slower_polls = printer.modbus.model_copy(update={"poll_interval_s": printer.modbus.poll_interval_s * 2})
    polled = printer.model_copy(update={"modbus": slower_polls})
    assert plant_version(plant.model_copy(update={"printers": [polled, *plant.printers[1:]]})) != base


def test_the_plant_version_ignores_where_data_is_kept_and_devices_are_reached(plant: Plant) -> None:
    base = plant_version(plant)
    embedded = plant.storage.embedded.model_copy(update={"path": Path("/elsewhere/shopfloor.duckdb")})
    moved = plant.model_copy(update={"storage": plant.storage.model_copy(update={"embedded": embedded})})
    assert plant_version(moved) == base
    assert plant_version(plant.model_copy(update={"api": plant.api.model_copy(update={"port": 9999})})) == base
    printer = plant.printers[0]
    rewired = printer.model_copy(
        update={"modbus": printer.modbus.model_copy(update={"host": "10.0.0.9", "port": 1502})}
    )
    fleet = plant.fleets[0]
    opcua = fleet.opcua.model_copy(update={"endpoint": "opc.tcp://127.0.0.1:48999"})
    demo = plant.model_copy(
        update={
            "printers": [rewired, *plant.printers[1:]],
            "fleets": [fleet.model_copy(update={"opcua": opcua}), *plant.fleets[1:]],
        }
    )
    assert plant_version(demo) == base
