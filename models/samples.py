"""Columnar sample batches: what collectors produce and stores consume.

A batch is a set of equal-length numpy columns, so a store can write or
spool 100 000 samples without building 100 000 Python objects. A sample
whose quality is not GOOD carries NaN as its value and is stored as a
``quality`` record, never as a value (see models.contract).

:class:`SampleSink` is where batches and link events go: it sits here, beside
what it carries, so a sink (a store, the live hub, a tee of both) need not
know the collectors that feed it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from shopfloor.models.states import Quality


@dataclass(frozen=True, slots=True)
class SampleBatch:
    measurement: str  # models.contract.MEASUREMENT_PRINTER or MEASUREMENT_ROBOT
    ts_ns: npt.NDArray[np.int64]  # UTC epoch ns: poll time (Modbus) or source timestamp (OPC UA)
    equipment: npt.NDArray[np.object_]  # printer or robot id
    field: npt.NDArray[np.object_]  # field name from the data contract / plant file
    value: npt.NDArray[np.float64]  # NaN where quality != GOOD
    quality: npt.NDArray[np.uint8]  # models.states.Quality
    detail: npt.NDArray[np.object_]  # why a sample is bad ("" when good)
    fleet: str = ""  # fleet id for robot samples (a tag in the contract)

    def __post_init__(self) -> None:
        n = len(self.ts_ns)
        for name in ("equipment", "field", "value", "quality", "detail"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"SampleBatch column {name!r} has {len(getattr(self, name))} rows, ts_ns has {n}")
        bad_with_value = (self.quality != Quality.GOOD) & ~np.isnan(self.value)
        if bad_with_value.any():
            raise ValueError("a sample of bad quality must not carry a value (use NaN)")

    def __len__(self) -> int:
        return len(self.ts_ns)

    @property
    def good(self) -> npt.NDArray[np.bool_]:
        return self.quality == Quality.GOOD

    @classmethod
    def from_rows(
        cls,
        measurement: str,
        rows: Sequence[tuple[int, str, str, float | None, Quality, str]],
        fleet: str = "",
    ) -> SampleBatch:
        """Build from (ts_ns, equipment, field, value or None, quality, detail) rows."""
        n = len(rows)
        ts = np.empty(n, dtype=np.int64)
        equipment = np.empty(n, dtype=object)
        fields = np.empty(n, dtype=object)
        values = np.empty(n, dtype=np.float64)
        quality = np.empty(n, dtype=np.uint8)
        detail = np.empty(n, dtype=object)
        for i, (t, e, f, v, q, d) in enumerate(rows):
            ts[i] = t
            equipment[i] = e
            fields[i] = f
            good = q == Quality.GOOD and v is not None
            values[i] = v if good else np.nan
            quality[i] = q if (q != Quality.GOOD or v is not None) else Quality.BAD_DECODE
            detail[i] = d
        return cls(measurement, ts, equipment, fields, values, quality, detail, fleet)

    @classmethod
    def concat(cls, batches: Sequence[SampleBatch]) -> SampleBatch:
        if not batches:
            raise ValueError("nothing to concatenate")
        first = batches[0]
        if any(b.measurement != first.measurement or b.fleet != first.fleet for b in batches):
            raise ValueError("only batches of one measurement and fleet can be concatenated")
        return cls(
            first.measurement,
            np.concatenate([b.ts_ns for b in batches]),
            np.concatenate([b.equipment for b in batches]),
            np.concatenate([b.field for b in batches]),
            np.concatenate([b.value for b in batches]),
            np.concatenate([b.quality for b in batches]),
            np.concatenate([b.detail for b in batches]),
            first.fleet,
        )


@dataclass(frozen=True, slots=True)
class ConnectivityEvent:
    """A collector's link to a device went up or down at ts_ns."""

    ts_ns: int
    equipment: str  # printer id, or fleet id for an OPC UA endpoint
    source: str  # collector id, e.g. "modbus:mso-cpp-1"
    connected: bool
    detail: str = ""


@runtime_checkable
class SampleSink(Protocol):
    """Where a collector hands its output. Both calls must not block on the network."""

    def write(self, batch: SampleBatch) -> None: ...

    def write_connectivity(self, events: Sequence[ConnectivityEvent]) -> None: ...


@dataclass(frozen=True, slots=True)
class Series:
    """Good values of one field of one equipment over a time range, sorted by time."""

    ts_ns: npt.NDArray[np.int64]
    value: npt.NDArray[np.float64]
