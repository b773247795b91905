"""The read results (:data:`SeriesMap`, :class:`QualityLog`) and how long columns from any backend become them.

Pure and vectorised; both stores end their reads here so they return the same
shapes and the same tie rule: two values of one field at the same timestamp
are one point, the one written last wins (InfluxDB's own rule, applied to
DuckDB too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from shopfloor.models.samples import Series

# equipment -> field -> Series
SeriesMap = dict[str, dict[str, Series]]

_EMPTY_TS = np.empty(0, dtype=np.int64)
_EMPTY_VALUE = np.empty(0, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class QualityLog:
    """Bad-quality samples, sorted by (ts_ns, equipment, field). Columns of equal length."""

    ts_ns: npt.NDArray[np.int64]
    equipment: npt.NDArray[np.object_]
    field: npt.NDArray[np.object_]
    code: npt.NDArray[np.uint8]  # models.states.Quality, never GOOD
    detail: npt.NDArray[np.object_]

    def __len__(self) -> int:
        return len(self.ts_ns)


def empty_series() -> Series:
    return Series(_EMPTY_TS.copy(), _EMPTY_VALUE.copy())


def factorize(values: npt.NDArray[np.object_]) -> tuple[npt.NDArray[np.int64], list[object]]:
    """Integer codes for an object column (codes follow first appearance)."""
    lookup: dict[object, int] = {}
    codes = np.fromiter((lookup.setdefault(v, len(lookup)) for v in values), dtype=np.int64, count=len(values))
    return codes, list(lookup)


def assemble_series(
    equipment_ids: Sequence[str],
    fields: Sequence[str] | None,
    equipment: npt.NDArray[np.object_],
    field: npt.NDArray[np.object_],
    ts_ns: npt.NDArray[np.int64],
    value: npt.NDArray[np.float64],
) -> SeriesMap:
    """Group rows (in write order) into sorted, de-duplicated series per equipment and field."""
    result: SeriesMap = {e: {} for e in equipment_ids}
    if fields is not None:
        for e in equipment_ids:
            result[e] = {f: empty_series() for f in fields}
    if len(ts_ns) == 0:
        return result
    eq_codes, eq_names = factorize(equipment)
    f_codes, f_names = factorize(field)
    # Stable: rows of one timestamp keep write order, so "last" below is the last written.
    order = np.lexsort((ts_ns, f_codes, eq_codes))
    eq_codes, f_codes = eq_codes[order], f_codes[order]
    ts_sorted, value_sorted = ts_ns[order], value[order]
    n = len(order)
    group_start = np.flatnonzero(np.r_[True, (eq_codes[1:] != eq_codes[:-1]) | (f_codes[1:] != f_codes[:-1])])
    group_end = np.r_[group_start[1:], n]
    # keep a row unless the next row is the same group and the same timestamp
    keep = np.ones(n, dtype=bool)
    same_next = (ts_sorted[1:] == ts_sorted[:-1]) & (eq_codes[1:] == eq_codes[:-1]) & (f_codes[1:] == f_codes[:-1])
    keep[:-1] = ~same_next
    for start, end in zip(group_start.tolist(), group_end.tolist(), strict=True):
        e = eq_names[eq_codes[start]]
        f = f_names[f_codes[start]]
        if e not in result:
            continue
        if fields is not None and f not in result[e]:
            continue
        k = keep[start:end]
        result[e][f] = Series(ts_sorted[start:end][k].copy(), value_sorted[start:end][k].copy())
    return result


def sort_quality(
    ts_ns: npt.NDArray[np.int64],
    equipment: npt.NDArray[np.object_],
    field: npt.NDArray[np.object_],
    code: npt.NDArray[np.uint8],
    detail: npt.NDArray[np.object_],
) -> QualityLog:
    if len(ts_ns) == 0:
        return QualityLog(
            _EMPTY_TS.copy(), np.empty(0, object), np.empty(0, object), np.empty(0, np.uint8), np.empty(0, object)
        )
    eq_codes, eq_names = factorize(equipment)
    f_codes, f_names = factorize(field)
    # sort by name, not by first appearance, so both backends order ties alike
    eq_rank = np.argsort(np.argsort(np.array(eq_names, dtype=object)))
    f_rank = np.argsort(np.argsort(np.array(f_names, dtype=object)))
    order = np.lexsort((f_rank[f_codes], eq_rank[eq_codes], ts_ns))
    # one record per (ts, equipment, field), the last written (InfluxDB's rule)
    key_e, key_f, key_t = eq_codes[order], f_codes[order], ts_ns[order]
    keep = np.ones(len(order), dtype=bool)
    keep[:-1] = ~((key_t[1:] == key_t[:-1]) & (key_e[1:] == key_e[:-1]) & (key_f[1:] == key_f[:-1]))
    order = order[keep]
    return QualityLog(
        ts_ns[order].astype(np.int64, copy=False),
        equipment[order],
        field[order],
        code[order].astype(np.uint8, copy=False),
        detail[order],
    )
