"""Small builders of sample batches for the storage tests (plain Python, easy to check by eye)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from shopfloor.models.samples import SampleBatch, Series
from shopfloor.models.states import Quality

T0 = 1_790_000_000_000_000_000  # 2026-09-21, inside one InfluxDB shard group with the rest of a test
S = 1_000_000_000


def batch(
    measurement: str, rows: Iterable[tuple[int, str, str, float | None, Quality, str]], fleet: str = ""
) -> SampleBatch:
    return SampleBatch.from_rows(measurement, list(rows), fleet=fleet)


def good(measurement: str, rows: Iterable[tuple[int, str, str, float]], fleet: str = "") -> SampleBatch:
    return batch(measurement, [(t, e, f, v, Quality.GOOD, "") for t, e, f, v in rows], fleet)


def poll_batch(ts_ns: int, equipment: str, fields: list[str], rng: np.random.Generator) -> SampleBatch:
    """What one poll of one device looks like: one timestamp, one value per field."""
    n = len(fields)
    return SampleBatch(
        "printer",
        np.full(n, ts_ns, dtype=np.int64),
        np.full(n, equipment, dtype=object),
        np.array(fields, dtype=object),
        rng.normal(100.0, 30.0, n),
        np.zeros(n, dtype=np.uint8),
        np.full(n, "", dtype=object),
    )


def reference_series(
    batches: Iterable[SampleBatch], start_ns: int, end_ns: int
) -> dict[tuple[str, str], dict[int, float]]:
    """Plain-Python model of a store: good values in [start, end), last write of a timestamp wins."""
    out: dict[tuple[str, str], dict[int, float]] = {}
    for b in batches:
        for t, e, f, v, q in zip(
            b.ts_ns.tolist(), b.equipment, b.field, b.value.tolist(), b.quality.tolist(), strict=True
        ):
            if q == Quality.GOOD and np.isfinite(v) and start_ns <= t < end_ns:
                out.setdefault((e, f), {})[t] = v
    return out


def as_dict(series: Series) -> dict[int, float]:
    return dict(zip(series.ts_ns.tolist(), series.value.tolist(), strict=True))
