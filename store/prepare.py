"""Check a batch against the data contract and split it into values and quality records.

Pure and vectorised; both stores call it first, so they agree on what a value
is. A GOOD sample whose value is not finite (NaN, ±inf: a device returning
garbage that slipped through) cannot be a value: it becomes a BAD_DECODE
quality record, never a number in the store.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from shopfloor.models.contract import MEASUREMENT_PRINTER, MEASUREMENT_ROBOT
from shopfloor.models.ledger import LedgerRecord, LedgerRow, encode
from shopfloor.models.samples import ConnectivityEvent, SampleBatch
from shopfloor.models.states import Quality

VALUE_MEASUREMENTS = (MEASUREMENT_PRINTER, MEASUREMENT_ROBOT)
# The same patterns the plant model enforces for ids and field names: what is
# stored can always be named in a plant file, a tag and an SQL literal.
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_FIELD = re.compile(r"^[a-z][a-z0-9_]*$")
NON_FINITE_DETAIL = "non-finite value from a sample marked good"


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    measurement: str
    fleet: str  # "" for printers
    # GOOD, finite samples: the values
    ts_ns: npt.NDArray[np.int64]
    equipment: npt.NDArray[np.object_]
    field: npt.NDArray[np.object_]
    value: npt.NDArray[np.float64]
    # everything else: the quality records
    q_ts_ns: npt.NDArray[np.int64]
    q_equipment: npt.NDArray[np.object_]
    q_field: npt.NDArray[np.object_]
    q_code: npt.NDArray[np.uint8]
    q_detail: npt.NDArray[np.object_]

    def __len__(self) -> int:
        return len(self.ts_ns) + len(self.q_ts_ns)


def check_measurement(measurement: str) -> str:
    if measurement not in VALUE_MEASUREMENTS:
        raise ValueError(f"measurement must be one of {VALUE_MEASUREMENTS}, got {measurement!r}")
    return measurement


def check_ids(values: Iterable[object], what: str, pattern: re.Pattern[str] = _ID) -> None:
    for value in set(values):
        if not isinstance(value, str) or not pattern.match(value):
            raise ValueError(f"{what} {value!r} is not a valid id (lower-case letters, digits, '_' and '-')")


def check_range(start_ns: int, end_ns: int) -> None:
    if start_ns > end_ns:
        raise ValueError(f"start_ns ({start_ns}) is after end_ns ({end_ns})")


# measurement -> the field names a plant declares for it (printer signals, robot variables)
KnownFields = Mapping[str, frozenset[str]]


def prepare_batch(batch: SampleBatch, known_fields: KnownFields | None = None) -> PreparedBatch:
    """Validate ``batch`` (ValueError naming the problem) and split it.

    With ``known_fields`` (what :func:`store.open_store` passes, from the plant
    file) a field the plant does not declare for the measurement is refused
    too: a store must not quietly grow a series nothing reads.
    """
    check_measurement(batch.measurement)
    if batch.measurement == MEASUREMENT_ROBOT:
        check_ids([batch.fleet], "robot batch fleet")
    elif batch.fleet:
        raise ValueError(f"printer batches carry no fleet, got {batch.fleet!r}")
    ts = np.asarray(batch.ts_ns)
    if ts.dtype.kind not in "iu":
        raise ValueError(f"ts_ns must be integer epoch nanoseconds, got dtype {ts.dtype}")
    ts = ts.astype(np.int64, copy=False)
    check_ids(batch.equipment, "equipment")
    check_ids(batch.field, "field", _FIELD)
    if known_fields is not None and batch.measurement in known_fields:
        unknown_fields = set(batch.field) - known_fields[batch.measurement]
        if unknown_fields:
            raise ValueError(
                f"field(s) {sorted(unknown_fields)} not declared for {batch.measurement!r} in the plant"
                " file (data contract)"
            )
    value = np.asarray(batch.value, dtype=np.float64)
    quality = np.asarray(batch.quality, dtype=np.uint8)
    unknown = set(np.unique(quality).tolist()) - {q.value for q in Quality}
    if unknown:
        raise ValueError(f"unknown quality codes {sorted(unknown)}")
    finite = np.isfinite(value)
    good = (quality == Quality.GOOD) & finite
    bad = ~good
    code = quality[bad].copy()
    code[code == Quality.GOOD] = Quality.BAD_DECODE  # good but not finite
    detail = np.asarray(batch.detail, dtype=object)[bad].copy()
    garbage = quality[bad] == Quality.GOOD
    if garbage.any():
        detail[garbage] = NON_FINITE_DETAIL
    detail = np.array([d if isinstance(d, str) else ("" if d is None else str(d)) for d in detail], dtype=object)
    return PreparedBatch(
        measurement=batch.measurement,
        fleet=batch.fleet,
        ts_ns=ts[good],
        equipment=batch.equipment[good],
        field=batch.field[good],
        value=value[good],
        q_ts_ns=ts[bad],
        q_equipment=batch.equipment[bad],
        q_field=batch.field[bad],
        q_code=code,
        q_detail=detail,
    )


def check_events(events: Sequence[ConnectivityEvent]) -> None:
    for event in events:
        if not isinstance(event, ConnectivityEvent):
            raise ValueError(f"expected ConnectivityEvent, got {type(event).__name__}")
        if not isinstance(event.ts_ns, int | np.integer):
            raise ValueError(f"connectivity ts_ns must be integer epoch ns, got {event.ts_ns!r}")
        check_ids([event.equipment], "connectivity equipment")
        source: object = event.source  # checked at run time: the callers are not all type-checked
        if not isinstance(source, str) or not source or source != source.strip():
            raise ValueError(f"connectivity source must be a non-empty string, got {source!r}")


def check_equipment_ids(equipment_ids: Sequence[str]) -> list[str]:
    """A list of well-formed equipment ids (a bare string is refused: it would be read as its characters)."""
    if isinstance(equipment_ids, str):
        raise ValueError(f"equipment_ids must be a sequence of ids, got the string {equipment_ids!r}")
    ids = list(equipment_ids)
    check_ids(ids, "equipment")
    return ids


def prepare_ledger(rows: Sequence[LedgerRow]) -> list[LedgerRecord]:
    """The records of one ledger write, checked: rows only, one per key (a store keeps one row per key, so two in
    one call would leave it to chance which stays)."""
    if isinstance(rows, LedgerRow):
        raise ValueError("write_ledger takes a sequence of LedgerRow, got one LedgerRow (wrap it in a list)")
    records: list[LedgerRecord] = []
    seen: dict[tuple[int, str], str] = {}
    for row in rows:
        if not isinstance(row, LedgerRow):
            raise ValueError(f"write_ledger takes LedgerRow items, got {type(row).__name__}")
        if row.key in seen:
            raise ValueError(
                f"two ledger rows of equipment {row.equipment_id!r} for the shift starting at {row.shift_start_ns}"
                f" ({seen[row.key]!r} and {row.shift_key!r}) in one write: a store keeps one per shift and equipment"
            )
        seen[row.key] = row.shift_key
        records.append(encode(row))
    return records
