"""What a computation of [start, end) reads: the range's samples plus context (docs/kpi.md, "Context").

Exactness: computing a range made of whole shift instances in one pass must
give each shift exactly (==) the totals a computation of that shift alone
gives, so per-shift ledger rows add up to any such range. Three things at a
range's edges depend on samples outside it:

* the last increment of a range is closed by the first reading at or after
  ``end`` (the closing reading of a shift belongs to that shift);
* the state at ``start`` is the state of the last sample before it, held into
  the range under the gap rule, not "no data" until the first sample inside;
* a robot dispatched late in the range connects after ``end``, up to the
  response horizon later.

So the rule, per field: the samples in [start, end + lookahead), plus the last
sample before ``start`` and the first at or after ``end + lookahead``, of any
age (a gap is seen in the timestamps, so an old neighbour gives an across-gap
increment or no-data time, as in a longer computation). ``lookahead`` is the
response horizon for a robot's ``state`` and 0 for every other field.

The pipeline (pipeline.py) uses samples outside [start, end) only as context:
it counts no increment, dispatch or second that starts outside the range.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from shopfloor.models.kpi.clean import clean_series
from shopfloor.models.kpi.pipeline import KpiConfig
from shopfloor.models.plant import Plant
from shopfloor.models.samples import Series
from shopfloor.models.timebase import NS_PER_S

# Robot fields read past the range's end up to the response horizon: arrivals are seen in the state.
RESPONSE_FIELDS = ("state",)
# Where a computation cuts connectivity outages after its range: nowhere. An increment or a response that
# starts inside the range may end at a context sample after ``end``, and an outage in between is what makes it
# across-gap (or no response); inside the range an uncut span gives the same figures as a cut one.
OPEN_END_NS = int(np.iinfo(np.int64).max)


def with_context(series: Series | None, start_ns: int, end_ns: int, lookahead_ns: int = 0) -> Series:
    """``series`` cut to what a computation of [start_ns, end_ns) reads, cleaned (docs/kpi.md, "Context").

    Cleaned first (clean.py: last write of a timestamp wins, non-finite values
    dropped), so the neighbours are the samples a computation would keep.
    """
    if lookahead_ns < 0:
        raise ValueError(f"lookahead_ns must be >= 0, got {lookahead_ns}")
    ts, value = clean_series(series)
    before = int(np.searchsorted(ts, start_ns, side="left")) - 1
    after = int(np.searchsorted(ts, end_ns + lookahead_ns, side="left"))
    first, stop = max(before, 0), min(after + 1, len(ts))
    return Series(ts[first:stop], value[first:stop])


def robot_lookahead_ns(config: KpiConfig) -> dict[str, int]:
    """How far past a range's end each robot field is read (fields not named: not at all)."""
    return dict.fromkeys(RESPONSE_FIELDS, round(config.response_horizon_s * NS_PER_S))


def fields_with_context(
    fields: Mapping[str, Series], start_ns: int, end_ns: int, lookahead_ns: Mapping[str, int] | None = None
) -> dict[str, Series]:
    """Every field of one equipment cut by ``with_context`` (``lookahead_ns``: per field, 0 where absent)."""
    ahead = lookahead_ns or {}
    return {name: with_context(s, start_ns, end_ns, ahead.get(name, 0)) for name, s in fields.items()}


def report_context(
    plant: Plant,
    series: Mapping[str, Mapping[str, Series]],
    start_ns: int,
    end_ns: int,
    config: KpiConfig = KpiConfig(),
) -> dict[str, dict[str, Series]]:
    """What ``build_report`` of [start_ns, end_ns) must be given, cut from longer series.

    A store read for the report returns exactly this; tests cut it from whole
    series to compare ranges.
    """
    robots = {r.id for f in plant.fleets for r in f.robots}
    robot_ahead = robot_lookahead_ns(config)
    return {
        equipment: fields_with_context(fields, start_ns, end_ns, robot_ahead if equipment in robots else None)
        for equipment, fields in series.items()
    }


def read_end_ns(fields: Iterable[Mapping[str, Series]], end_ns: int) -> int:
    """The later of ``end_ns`` and the last sample read: how far connectivity events and operator overrides
    must be read, and the ``range_end_ns`` (plus one) for applying the overrides (docs/kpi.md, "Context")."""
    last = end_ns
    for one in fields:
        for s in one.values():
            ts = np.asarray(s.ts_ns, dtype=np.int64)
            if len(ts):
                last = max(last, int(ts.max()))
    return last
