"""The KPI ledger's row: one shift instance of one piece of equipment, its additive totals computed once.

When a shift closes, the KPI core's additive totals of each printer
(:class:`PrinterTotals`) and each robot (:class:`FleetTotals` of that one
robot) are kept as ledger rows, so a month or a year is a sum of rows
instead of a re-read of every sample. A fleet's figures are the sum of its
robots' rows (``FleetTotals.__add__`` unites their ``robot_ids``); the
response durations themselves are kept, so a month's p90 stays exact.

Each row says what it was computed from: the plant file (:func:`plant_version`),
the annotations (their version number) and the data (``watermark_ns``: the
stored data the row was computed from reached this time). A row whose inputs
have changed since is stale and is computed again; a row written again for
the same shift and equipment replaces the old one.

Pure: the codec turns a row into the flat record a store keeps
(:func:`encode`) and back (:func:`decode`). The totals travel as one JSON
string whose numbers read back bit for bit (Python writes a float as its
shortest round-trip repr), in a versioned format: a store holding a format
this code does not know gets a clear error, never a guess.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import math
import re
import sys
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, Final, TypedDict, get_args, get_origin, get_type_hints

from shopfloor.models.calendar import ShiftInstance
from shopfloor.models.kpi.fleet import FleetTotals
from shopfloor.models.kpi.printer import PrinterTotals
from shopfloor.models.plant import Plant

PAYLOAD_VERSION: Final = 1
# The plant model's pattern for ids (models.plant.common.Identifier): equipment, fleets, shifts and crews.
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# A version is a name, not text: printable ASCII without spaces, so every store keeps it as it is.
_VERSION = re.compile(r"^[!-~]{1,200}$")


class EquipmentKind(StrEnum):
    PRINTER = "printer"
    ROBOT = "robot"


Totals = PrinterTotals | FleetTotals
_TOTALS_OF: Final[dict[EquipmentKind, type[PrinterTotals] | type[FleetTotals]]] = {
    EquipmentKind.PRINTER: PrinterTotals,
    EquipmentKind.ROBOT: FleetTotals,
}


class LedgerFormatError(ValueError):
    """A ledger row or record that cannot be what it claims; the message names the field and what was expected."""


@dataclasses.dataclass(frozen=True, slots=True)
class LedgerRow:
    """The totals of one equipment over one shift instance, and what they were computed from."""

    shift_id: str
    production_date: dt.date  # local date on which the shift started (ShiftInstance.production_date)
    crew: str | None  # the crew on shift; None where the calendar names none
    shift_start_ns: int  # UTC epoch ns; with equipment_id, the row's key
    shift_end_ns: int
    equipment_id: str  # a printer id, or a robot id (never a fleet id)
    kind: EquipmentKind
    fleet_id: str | None  # the robot's fleet; None for a printer
    totals: Totals
    plant_version: str  # plant_version() of the plant file the totals were computed with
    annotation_version: int  # the annotation store's version the totals include
    watermark_ns: int  # the stored data the totals were computed from reached this time (UTC epoch ns)
    # GOOD samples of this equipment stored inside the shift when it was computed: more now means late data came
    samples_read: int
    computed_ns: int  # when the totals were computed (UTC epoch ns)

    def __post_init__(self) -> None:
        where = f"ledger row {self.equipment_id!r} {self.shift_id!r}"
        _check_id(self.shift_id, "shift_id", where)
        _check_id(self.equipment_id, "equipment_id", where)
        date: object = self.production_date  # checked at run time: rows also come from callers not type-checked
        if not isinstance(date, dt.date) or isinstance(date, dt.datetime):
            raise LedgerFormatError(f"{where}: production_date must be a datetime.date, got {date!r}")
        if self.crew is not None:
            _check_id(self.crew, "crew", where)
        for name in (
            "shift_start_ns",
            "shift_end_ns",
            "annotation_version",
            "watermark_ns",
            "samples_read",
            "computed_ns",
        ):
            _check_int(getattr(self, name), name, where)
        if self.shift_end_ns <= self.shift_start_ns:
            raise LedgerFormatError(
                f"{where}: shift_end_ns must be after shift_start_ns, got {self.shift_start_ns}..{self.shift_end_ns}"
            )
        if self.samples_read < 0:
            raise LedgerFormatError(f"{where}: samples_read must be >= 0, got {self.samples_read}")
        if self.annotation_version < 0:
            raise LedgerFormatError(f"{where}: annotation_version must be >= 0, got {self.annotation_version}")
        version: object = self.plant_version  # checked at run time, as the date
        if not isinstance(version, str) or not _VERSION.match(version):
            raise LedgerFormatError(
                f"{where}: plant_version must be 1 to 200 printable ASCII characters without spaces"
                f" (what plant_version() returns), got {version!r}"
            )
        if not isinstance(self.kind, EquipmentKind):
            raise LedgerFormatError(f"{where}: kind must be an EquipmentKind, got {self.kind!r}")
        expected = _TOTALS_OF[self.kind]
        if type(self.totals) is not expected:
            raise LedgerFormatError(
                f"{where}: a {self.kind.value} row carries {expected.__name__}, got {type(self.totals).__name__}"
            )
        if self.kind is EquipmentKind.PRINTER:
            if self.fleet_id is not None:
                raise LedgerFormatError(f"{where}: a printer row has no fleet_id, got {self.fleet_id!r}")
        else:
            _check_id(self.fleet_id, "fleet_id", where)
            assert isinstance(self.totals, FleetTotals)  # checked against the kind above
            robots = self.totals.robot_ids
            # Rows are summed into fleets: totals naming another robot (or none) would miscount the fleet's robots.
            if robots != frozenset({self.equipment_id}):
                raise LedgerFormatError(
                    f"{where}: a robot row holds that robot's totals, robot_ids must be"
                    f" {{{self.equipment_id!r}}}, got {set(robots)!r}"
                )
            states = len(FleetTotals().seconds_by_state)
            if len(self.totals.seconds_by_state) != states:
                raise LedgerFormatError(
                    f"{where}: seconds_by_state must hold {states} entries (one per RobotState),"
                    f" got {len(self.totals.seconds_by_state)}"
                )

    @property
    def shift_key(self) -> str:
        """The shift instance's stable identifier, e.g. ``2026-11-24/night`` (ShiftInstance.key)."""
        return f"{self.production_date.isoformat()}/{self.shift_id}"

    @property
    def key(self) -> tuple[int, str]:
        """What a store keeps one row per: a later row with the same key replaces the earlier one."""
        return self.shift_start_ns, self.equipment_id

    @classmethod
    def for_shift(
        cls,
        instance: ShiftInstance,
        equipment_id: str,
        totals: Totals,
        *,
        fleet_id: str | None = None,
        plant_version: str,
        annotation_version: int,
        watermark_ns: int,
        samples_read: int,
        computed_ns: int,
    ) -> LedgerRow:
        """The row of ``equipment_id`` for a closed shift instance; the kind follows from the totals."""
        return cls(
            shift_id=instance.shift_id,
            production_date=instance.production_date,
            crew=instance.crew,
            shift_start_ns=instance.start_ns,
            shift_end_ns=instance.end_ns,
            equipment_id=equipment_id,
            kind=EquipmentKind.ROBOT if isinstance(totals, FleetTotals) else EquipmentKind.PRINTER,
            fleet_id=fleet_id,
            totals=totals,
            plant_version=plant_version,
            annotation_version=annotation_version,
            watermark_ns=watermark_ns,
            samples_read=samples_read,
            computed_ns=computed_ns,
        )


def _check_id(value: object, name: str, where: str) -> None:
    if not isinstance(value, str) or not _ID.match(value):
        raise LedgerFormatError(f"{where}: {name} must be an id (lower-case letters, digits, '_', '-'), got {value!r}")


def _check_int(value: object, name: str, where: str) -> None:
    # 64 bits: what every store keeps (a DuckDB BIGINT, an InfluxDB integer field)
    if not isinstance(value, int) or isinstance(value, bool) or not -(2**63) <= value < 2**63:
        raise LedgerFormatError(f"{where}: {name} must be a 64-bit integer, got {value!r}")


# ------------------------------------------------------------------ plant version

# Left out of the plant version: settings that cannot change a figure computed from stored data. Where the data
# is kept and how the API is served differ between the machines that share one ledger; the simulators' settings
# only shape what they serve; the devices' network addresses are where this process reaches them (the demo
# points them at its simulators). Anything else counts, even where it only might matter: a needless recompute
# costs time, a missed one a wrong figure.
_NOT_IN_VERSION: Final[dict[str, Any]] = {
    "storage": True,
    "api": True,
    "simulation": True,
    "kpi": {"ledger_settle_s"},  # when a row is written, not what it holds
    "printers": {"__all__": {"modbus": {"host", "port"}}},
    "fleets": {"__all__": {"opcua": {"endpoint"}}},
}


def plant_version(plant: Plant) -> str:
    """A stable name of the plant model's content: the same in every process and on every machine.

    SHA-256 of the model as canonical JSON (keys sorted, no whitespace), less
    the settings that cannot change a figure (``_NOT_IN_VERSION``).
    """
    document = plant.model_dump(mode="json", exclude=_NOT_IN_VERSION)
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return "sha256:" + hashlib.sha256(text.encode("ascii")).hexdigest()


# ------------------------------------------------------------------ codec


class LedgerRecord(TypedDict):
    """A row as a store keeps it: flat columns, the totals as a JSON string (:data:`RECORD_COLUMNS` order)."""

    shift_start_ns: int
    equipment: str
    shift_end_ns: int
    shift_key: str
    crew: str | None
    kind: str
    fleet: str | None
    plant_version: str
    annotation_version: int
    watermark_ns: int
    samples_read: int
    computed_ns: int
    payload: str


RECORD_COLUMNS: Final[tuple[str, ...]] = tuple(LedgerRecord.__annotations__)


def encode(row: LedgerRow) -> LedgerRecord:
    """The record a store keeps for ``row``; raises LedgerFormatError for totals JSON cannot carry exactly."""
    where = f"ledger row {row.equipment_id!r} {row.shift_key!r}"
    payload = {"v": PAYLOAD_VERSION, "totals": _encode_value(row.totals, type(row.totals), f"{where}: totals")}
    return LedgerRecord(
        shift_start_ns=row.shift_start_ns,
        equipment=row.equipment_id,
        shift_end_ns=row.shift_end_ns,
        shift_key=row.shift_key,
        crew=row.crew,
        kind=row.kind.value,
        fleet=row.fleet_id,
        plant_version=row.plant_version,
        annotation_version=row.annotation_version,
        watermark_ns=row.watermark_ns,
        samples_read=row.samples_read,
        computed_ns=row.computed_ns,
        payload=json.dumps(payload, separators=(",", ":"), allow_nan=False),
    )


def decode(record: Mapping[str, object]) -> LedgerRow:
    """The row a store's record holds; LedgerFormatError naming the column and what was expected otherwise.

    ``crew`` and ``fleet`` may be ``""`` for none (a store that cannot keep a null, InfluxDB, writes that).
    """
    equipment = record.get("equipment")
    where = f"ledger record {equipment!r} {record.get('shift_key')!r}"
    missing = [c for c in RECORD_COLUMNS if c not in record]
    if missing:
        raise LedgerFormatError(f"{where}: missing column(s) {missing}")
    shift_key = _text(record, "shift_key", where)
    date_text, slash, shift_id = shift_key.partition("/")
    try:
        production_date = dt.date.fromisoformat(date_text)
    except ValueError:
        production_date = None
    if not slash or production_date is None:
        raise LedgerFormatError(f"{where}: shift_key must read 'YYYY-MM-DD/<shift id>', got {shift_key!r}")
    kind_text = _text(record, "kind", where)
    try:
        kind = EquipmentKind(kind_text)
    except ValueError:
        raise LedgerFormatError(
            f"{where}: kind must be one of {[k.value for k in EquipmentKind]}, got {kind_text!r}"
        ) from None
    try:
        document = json.loads(_text(record, "payload", where))
    except json.JSONDecodeError as exc:
        raise LedgerFormatError(f"{where}: payload is not JSON ({exc})") from None
    if not isinstance(document, dict) or "v" not in document:
        raise LedgerFormatError(f"{where}: payload must be a JSON object with a format version 'v'")
    if document["v"] != PAYLOAD_VERSION or set(document) != {"v", "totals"}:
        raise LedgerFormatError(
            f"{where}: payload format {document['v']!r} with keys {sorted(document)}; this code reads format"
            f" {PAYLOAD_VERSION} with keys ['totals', 'v'] (rows written by a newer version: recompute or upgrade)"
        )
    cls = _TOTALS_OF[kind]
    totals = _decode_value(document["totals"], cls, f"{where}: totals")
    crew, fleet = _optional_text(record, "crew", where), _optional_text(record, "fleet", where)
    # Interned: a year of rows repeats a handful of ids and one or two versions thousands of times.
    return LedgerRow(
        shift_id=sys.intern(shift_id),
        production_date=production_date,
        crew=None if crew is None else sys.intern(crew),
        shift_start_ns=_integer(record, "shift_start_ns", where),
        shift_end_ns=_integer(record, "shift_end_ns", where),
        equipment_id=sys.intern(_text(record, "equipment", where)),
        kind=kind,
        fleet_id=None if fleet is None else sys.intern(fleet),
        totals=totals,
        plant_version=sys.intern(_text(record, "plant_version", where)),
        annotation_version=_integer(record, "annotation_version", where),
        watermark_ns=_integer(record, "watermark_ns", where),
        samples_read=_integer(record, "samples_read", where),
        computed_ns=_integer(record, "computed_ns", where),
    )


def _text(record: Mapping[str, object], column: str, where: str) -> str:
    value = record[column]
    if not isinstance(value, str):
        raise LedgerFormatError(f"{where}: column {column!r} must be a string, got {value!r}")
    return value


def _optional_text(record: Mapping[str, object], column: str, where: str) -> str | None:
    value = record[column]
    if value is None or value == "":
        return None
    return _text(record, column, where)


def _integer(record: Mapping[str, object], column: str, where: str) -> int:
    value = record[column]
    if not isinstance(value, int) or isinstance(value, bool):
        raise LedgerFormatError(f"{where}: column {column!r} must be an integer, got {value!r}")
    return value


# The totals' JSON follows their dataclasses' type hints, so a field added to a totals class is carried without a
# change here, and a field of a kind this codec cannot carry exactly fails the first encode, naming it.


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _encode_value(value: object, hint: Any, where: str) -> object:
    origin, args = get_origin(hint), get_args(hint)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if type(value) is not hint:
            raise LedgerFormatError(f"{where} must be {hint.__name__}, got {type(value).__name__}")
        return {
            f.name: _encode_value(getattr(value, f.name), _hints(hint)[f.name], f"{where}.{f.name}")
            for f in dataclasses.fields(hint)
        }
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise LedgerFormatError(f"{where} must be a number, got {value!r}")
        number = float(value)
        if not math.isfinite(number):
            raise LedgerFormatError(f"{where} must be finite, got {number!r}")
        return number
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise LedgerFormatError(f"{where} must be an integer, got {value!r}")
        return int(value)
    if hint is str:
        if not isinstance(value, str):
            raise LedgerFormatError(f"{where} must be a string, got {value!r}")
        return value
    if origin is dict and isinstance(value, dict):
        # pairs, not an object: JSON object keys are strings, and the reason codes are ints
        return [
            [_encode_value(k, args[0], f"{where} key"), _encode_value(v, args[1], f"{where}[{k!r}]")]
            for k, v in sorted(value.items())
        ]
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis and isinstance(value, tuple):
        return [_encode_value(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is frozenset and isinstance(value, frozenset):
        return [_encode_value(v, args[0], f"{where} member") for v in sorted(value)]
    if origin in (dict, tuple, frozenset):
        raise LedgerFormatError(f"{where} must be a {origin.__name__}, got {type(value).__name__}")
    raise LedgerFormatError(f"{where}: the ledger codec cannot carry a field of type {hint!r}")


class _Bad(Exception):
    """A value that is not what its type hint says: the message, and the path to it, built as the error rises
    (the happy path builds no location strings: a year of rows is decoded per report)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.path: list[str] = []


def _decode_value(value: object, hint: Any, where: str) -> Any:
    try:
        return _decoder(hint)(value)
    except _Bad as bad:
        raise LedgerFormatError(where + "".join(bad.path) + bad.message) from None


def _at(segment: str, bad: _Bad) -> _Bad:
    bad.path.insert(0, segment)
    return bad


@functools.cache
def _decoder(hint: Any) -> Callable[[object], Any]:
    """A decoder for values of ``hint``, made once per type from its hints (the reflection is done here, not
    per value)."""
    origin, args = get_origin(hint), get_args(hint)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        cls: Any = hint
        names = [f.name for f in dataclasses.fields(hint)]
        name_set = frozenset(names)
        fields = [(n, _decoder(_hints(hint)[n])) for n in names]

        def dataclass_value(value: object) -> Any:
            if not isinstance(value, dict) or value.keys() != name_set:
                got = sorted(value) if isinstance(value, dict) else type(value).__name__
                raise _Bad(f" must be an object with exactly the keys {names}, got {got}")
            kwargs: dict[str, Any] = {}
            for n, decode_field in fields:
                try:
                    kwargs[n] = decode_field(value[n])
                except _Bad as bad:
                    raise _at(f".{n}", bad) from None
            return cls(**kwargs)

        return dataclass_value
    if hint is float:

        def number(value: object) -> float:
            if type(value) is float:
                return value
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _Bad(f" must be a number, got {value!r}")
            return float(value)

        return number
    if hint is int:

        def integer(value: object) -> int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise _Bad(f" must be an integer, got {value!r}")
            return value

        return integer
    if hint is str:

        def text(value: object) -> str:
            if not isinstance(value, str):
                raise _Bad(f" must be a string, got {value!r}")
            return value

        return text

    def array(value: object) -> list[object]:
        if not isinstance(value, list):
            raise _Bad(f" must be a JSON array, got {value!r}")
        return value

    if origin is dict:
        decode_key, decode_item = _decoder(args[0]), _decoder(args[1])

        def mapping(value: object) -> dict[object, object]:
            out: dict[object, object] = {}
            for pair in array(value):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise _Bad(f" must hold [key, value] pairs, got {pair!r}")
                try:
                    key = decode_key(pair[0])
                except _Bad as bad:
                    raise _at(" key", bad) from None
                if key in out:
                    raise _Bad(f" has the key {key!r} twice")
                try:
                    out[key] = decode_item(pair[1])
                except _Bad as bad:
                    raise _at(f"[{key!r}]", bad) from None
            return out

        return mapping
    if origin is tuple:
        decode_item = _decoder(args[0])

        def sequence(value: object) -> tuple[object, ...]:
            items = array(value)
            try:
                return tuple(map(decode_item, items))
            except _Bad as bad:
                # rare: find which one, for the message
                index = next(i for i, v in enumerate(items) if not _decodes(decode_item, v))
                raise _at(f"[{index}]", bad) from None

        return sequence
    if origin is frozenset:
        decode_item = _decoder(args[0])

        def members(value: object) -> frozenset[object]:
            try:
                return frozenset(map(decode_item, array(value)))
            except _Bad as bad:
                raise _at(" member", bad) from None

        return members

    def unknown(value: object) -> Any:
        raise _Bad(f": the ledger codec cannot carry a field of type {hint!r}")

    return unknown


def _decodes(decode: Callable[[object], Any], value: object) -> bool:
    try:
        decode(value)
    except _Bad:
        return False
    return True
