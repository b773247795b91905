"""docs/data-contract.md is the reader's copy of models/contract.py and models/states.py."""

from __future__ import annotations

import re
from pathlib import Path

from shopfloor.models import contract
from shopfloor.models.contract import (
    LEDGER_INTEGER_FIELDS,
    LEDGER_TEXT_FIELDS,
    PRINTER_FIELDS,
    PRINTER_ORDER_FIELDS,
    ROBOT_FIELDS,
)
from shopfloor.models.ledger import RECORD_COLUMNS
from shopfloor.models.states import PrinterState, Quality, RobotState

DOC = (Path(__file__).resolve().parents[2] / "docs" / "data-contract.md").read_text(encoding="utf-8")


def table_rows(heading: str) -> list[list[str]]:
    section = DOC.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip().strip("|").split("|") for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row] for row in rows[1:]]  # drop the header row


def test_every_field_is_documented_with_its_unit() -> None:
    for heading, fields in (
        ("Printer fields", PRINTER_FIELDS),
        ("Printer order fields", PRINTER_ORDER_FIELDS),
        ("Robot fields", ROBOT_FIELDS),
    ):
        rows = {row[0].strip("`"): row for row in table_rows(heading)}
        assert set(rows) == {f.name for f in fields}
        for spec in fields:
            assert rows[spec.name][1] == (spec.unit or "—")
            assert (rows[spec.name][2] == "yes") == spec.counter


def test_every_state_and_quality_code_is_documented() -> None:
    for heading, enum in (("Printer states", PrinterState), ("Robot states", RobotState), ("Quality codes", Quality)):
        documented = {int(row[0]): row[1].strip("`") for row in table_rows(heading)}
        assert documented == {member.value: member.name for member in enum}


def test_field_names_carry_units() -> None:
    for spec in PRINTER_FIELDS + PRINTER_ORDER_FIELDS + ROBOT_FIELDS:
        if spec.unit and spec.unit != "":
            assert re.search(r"_(m|m_min|kwh|l|kg|c|pct|kw)(_total)?$", spec.name), spec.name


def test_every_measurement_is_in_the_layout() -> None:
    names = {value for name, value in vars(contract).items() if name.startswith("MEASUREMENT_")}
    assert {row[0].strip("`") for row in table_rows("Layout")} == names


def test_every_ledger_field_is_documented_with_its_type() -> None:
    rows = {row[0].strip("`"): row[1] for row in table_rows("KPI ledger")}
    assert rows == {**dict.fromkeys(LEDGER_TEXT_FIELDS, "string"), **dict.fromkeys(LEDGER_INTEGER_FIELDS, "integer")}
    # the point's time is the shift's start and its equipment a tag: with the fields, the whole ledger record
    assert {"shift_start_ns", "equipment", *LEDGER_TEXT_FIELDS, *LEDGER_INTEGER_FIELDS} == set(RECORD_COLUMNS)
