"""Ledger rows for tests: Hypothesis strategies of random totals, and plain rows built from a few numbers."""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

from shopfloor.models.kpi.fleet import N_ROBOT_STATES, FleetTotals
from shopfloor.models.kpi.oee import TimeTotals
from shopfloor.models.kpi.printer import PrinterTotals
from shopfloor.models.ledger import EquipmentKind, LedgerRow

NS = 1_000_000_000
T0 = 1_790_000_000 * NS  # late 2026
SHIFT_NS = 8 * 3600 * NS
PLANT_VERSION = "sha256:" + "ab" * 32

# Every finite float, the extremes included (huge, tiny, subnormal, -0.0): what JSON must carry bit for bit.
finite = st.floats(allow_nan=False, allow_infinity=False)
counts = st.integers(min_value=0, max_value=2**63 - 1)
reason_codes = st.integers(min_value=0, max_value=65535)
ids = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,15}", fullmatch=True)


@st.composite
def time_totals(draw: st.DrawFn) -> TimeTotals:
    return TimeTotals(*(draw(finite) for _ in range(8)), draw(counts), draw(counts), draw(finite))


@st.composite
def printer_totals(draw: st.DrawFn) -> PrinterTotals:
    return PrinterTotals(
        draw(time_totals()),
        *(draw(finite) for _ in range(9)),
        draw(counts),
        draw(counts),
        draw(st.dictionaries(reason_codes, finite, max_size=6)),
        draw(st.dictionaries(reason_codes, counts, max_size=6)),
        draw(finite),
    )


@st.composite
def robot_totals(draw: st.DrawFn, robot_id: str) -> FleetTotals:
    return FleetTotals(
        tuple(draw(finite) for _ in range(N_ROBOT_STATES)),
        *(draw(finite) for _ in range(5)),
        tuple(draw(st.lists(finite, max_size=20))),
        frozenset({robot_id}),
    )


@st.composite
def ledger_rows(draw: st.DrawFn) -> LedgerRow:
    kind = draw(st.sampled_from(EquipmentKind))
    equipment = draw(ids)
    start_ns = draw(st.integers(min_value=-(2**62), max_value=2**62))
    return LedgerRow(
        shift_id=draw(ids),
        production_date=draw(st.dates(dt.date(1971, 1, 1), dt.date(2999, 12, 31))),
        crew=draw(st.none() | ids),
        shift_start_ns=start_ns,
        shift_end_ns=start_ns + draw(st.integers(min_value=1, max_value=2**40)),
        equipment_id=equipment,
        kind=kind,
        fleet_id=draw(ids) if kind is EquipmentKind.ROBOT else None,
        totals=draw(robot_totals(equipment) if kind is EquipmentKind.ROBOT else printer_totals()),
        plant_version=draw(st.from_regex(r"[!-~]{1,80}", fullmatch=True)),
        annotation_version=draw(counts),
        watermark_ns=draw(st.integers(min_value=-(2**63), max_value=2**63 - 1)),
        samples_read=draw(st.integers(min_value=0, max_value=2**63 - 1)),
        computed_ns=draw(st.integers(min_value=-(2**63), max_value=2**63 - 1)),
    )


def printer_row(
    shift: int, equipment: str, value: float, *, annotation_version: int = 0, crew: str | None = "crew-a"
) -> LedgerRow:
    """Shift number ``shift`` (8 h each from T0) of a printer, its totals made of ``value``."""
    start = T0 + shift * SHIFT_NS
    totals = PrinterTotals(
        TimeTotals(apt_s=value, adot_s=value / 3, micro_stops=shift, failures=2),
        produced_m=value * 7.1,
        energy_kwh=value / 9,
        downtime_s_by_reason={0: value / 3, 17: 0.1 + 0.2},
        stops_by_reason={17: 3},
    )
    return LedgerRow(
        shift_id=("early", "late", "night")[shift % 3],
        production_date=dt.date(2026, 9, 21) + dt.timedelta(days=shift // 3),
        crew=crew,
        shift_start_ns=start,
        shift_end_ns=start + SHIFT_NS,
        equipment_id=equipment,
        kind=EquipmentKind.PRINTER,
        fleet_id=None,
        totals=totals,
        plant_version=PLANT_VERSION,
        annotation_version=annotation_version,
        watermark_ns=start + SHIFT_NS + 5 * NS,
        samples_read=1_000,
        computed_ns=start + SHIFT_NS + 60 * NS,
    )


def robot_row(shift: int, robot: str, value: float, *, annotation_version: int = 0) -> LedgerRow:
    """Shift number ``shift`` of a robot of fleet ``ev-robots``, its totals made of ``value``."""
    start = T0 + shift * SHIFT_NS
    totals = FleetTotals(
        seconds_by_state=tuple(value * k for k in range(N_ROBOT_STATES)),
        sessions_completed=value,
        energy_delivered_kwh=value * 40.5,
        response_s=(value, 1 / 3, 2.0**-1074),
        robot_ids=frozenset({robot}),
    )
    return LedgerRow(
        shift_id=("early", "late", "night")[shift % 3],
        production_date=dt.date(2026, 9, 21) + dt.timedelta(days=shift // 3),
        crew=None,
        shift_start_ns=start,
        shift_end_ns=start + SHIFT_NS,
        equipment_id=robot,
        kind=EquipmentKind.ROBOT,
        fleet_id="ev-robots",
        totals=totals,
        plant_version=PLANT_VERSION,
        annotation_version=annotation_version,
        watermark_ns=start + SHIFT_NS + 5 * NS,
        samples_read=1_000,
        computed_ns=start + SHIFT_NS + 60 * NS,
    )
