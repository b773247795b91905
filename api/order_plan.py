"""A shift's plan of print orders as CSV: parsed and checked row by row (docs/api.md, "Print orders").

Columns (a header row names them, in any order): ``order_number``, ``design_code``, ``colourway``, ``fabric``,
``metres_ordered``. Every problem is reported with its line and column, all of them at once (at most
``MAX_PROBLEMS``), so a planner fixes the file in one go.
"""

from __future__ import annotations

import csv
import io
import math

from shopfloor.models.plant import Plant
from shopfloor.store.annotations import PlannedOrder

COLUMNS = ("order_number", "design_code", "colourway", "fabric", "metres_ordered")
MAX_ROWS = 500  # a shift runs a handful of orders; a week's plan fits many times over
MAX_TEXT = 60  # colourway and fabric, as the plant file bounds a design's colourway
MAX_ORDER_NUMBER = 4_294_967_295  # the PLC's register is a uint32
MAX_PROBLEMS = 20


class PlanError(ValueError):
    """The plan cannot be imported; ``problems`` are "line N, column C: …" lines."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def parse_plan(plant: Plant, text: str) -> list[PlannedOrder]:
    """The rows of a plan, or PlanError naming every bad line and column."""
    reader = csv.DictReader(io.StringIO(text))
    try:
        return _rows(plant, reader)
    except csv.Error as exc:  # not CSV at all (a NUL byte, an unclosed quote at the end)
        raise PlanError([f"line {reader.line_num}: not CSV ({exc})"]) from None


def _rows(plant: Plant, reader: csv.DictReader[str]) -> list[PlannedOrder]:
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in COLUMNS if c not in header]
    unknown = [h for h in header if h not in COLUMNS]
    if missing or unknown:
        raise PlanError(
            [
                f"line 1 (header): expected the columns {', '.join(COLUMNS)}; missing {missing or 'none'},"
                f" unknown {unknown or 'none'}"
            ]
        )
    reader.fieldnames = header
    known_designs = {d.code for d in plant.designs}
    rows: list[PlannedOrder] = []
    problems: list[str] = []
    seen: dict[int, int] = {}
    for record in reader:
        line = reader.line_num
        if len(rows) >= MAX_ROWS:
            raise PlanError([f"line {line}: a plan has at most {MAX_ROWS} orders"])
        if None in record:
            problems.append(f"line {line}: more fields than the {len(header)} columns of the header")
            continue
        cells = {column: (record.get(column) or "").strip() for column in COLUMNS}

        number = _integer(cells["order_number"], 1, MAX_ORDER_NUMBER)
        if number is None:
            problems.append(
                f"line {line}, column order_number: expected a whole number 1..{MAX_ORDER_NUMBER},"
                f" got {cells['order_number']!r}"
            )
        elif number in seen:
            problems.append(
                f"line {line}, column order_number: order {number} is already planned on line {seen[number]}"
            )
        else:
            seen[number] = line
        design = _integer(cells["design_code"], 1, 65535)
        if design is None or design not in known_designs:
            problems.append(
                f"line {line}, column design_code: expected a design code of the plant file"
                f" ({', '.join(str(c) for c in sorted(known_designs)) or 'none defined'}),"
                f" got {cells['design_code']!r}"
            )
        for column in ("colourway", "fabric"):
            if len(cells[column]) > MAX_TEXT:
                problems.append(f"line {line}, column {column}: at most {MAX_TEXT} characters")
        metres = _positive(cells["metres_ordered"])
        if metres is None:
            problems.append(f"line {line}, column metres_ordered: expected metres > 0, got {cells['metres_ordered']!r}")
        if not problems and number is not None and design is not None and metres is not None:
            rows.append(PlannedOrder(number, design, cells["colourway"], cells["fabric"], metres))
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        raise PlanError(problems[:MAX_PROBLEMS])
    if not rows:
        raise PlanError(["the plan has no order rows after its header"])
    return rows


def _integer(text: str, low: int, high: int) -> int | None:
    try:
        value = int(text)
    except ValueError:
        return None
    return value if low <= value <= high else None


def _positive(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and 0 < value <= 1e9 else None
