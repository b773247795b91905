"""OPC UA data values → a columnar SampleBatch. Pure: no sockets, no clock.

Timestamp of a sample, in order of preference:

1. the **source timestamp** (when the robot measured the value);
2. the **server timestamp** (when the server last saw it), for servers that
   do not stamp at the source;
3. the **receive time** passed in by the caller (when the publish response
   or read answer arrived).

Timestamps before 1970 count as missing: OPC UA encodes "no time" as 1601.

Status and value → quality (only GOOD samples carry a value):

* Bad status (severity bits 10 or 11)  → ``BAD_STATUS``, detail = status name;
* Uncertain status (severity bits 01)  → ``UNCERTAIN``, detail = status name;
* Good, but not a number (text, array, null) or NaN/inf → ``BAD_DECODE``;
* Good number outside the variable's ``min``/``max`` → ``BAD_OUT_OF_RANGE``;
* otherwise ``GOOD`` with the value as float64 (booleans as 0.0/1.0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

import numpy as np
from asyncua import ua
from asyncua.ua import status_codes

from shopfloor.collectors.opcua.plan import FleetPlan
from shopfloor.models.calendar import to_ns
from shopfloor.models.contract import MEASUREMENT_ROBOT
from shopfloor.models.samples import SampleBatch
from shopfloor.models.states import Quality

_SEVERITY_MASK = 0xC000_0000
_SEVERITY_GOOD = 0x0000_0000
_SEVERITY_UNCERTAIN = 0x4000_0000
# The low 16 bits carry info flags (overflow, limits); the name is in the high ones.
_CODE_MASK = 0xFFFF_0000


def status_name(code: int) -> str:
    """Symbolic name of a status code, ignoring its info bits; hex when unknown."""
    entry = status_codes.code_to_name_doc.get(code & _CODE_MASK)
    return entry[0] if entry else f"0x{code:08X}"


def _ts_ns(moment: datetime | None) -> int | None:
    if moment is None or moment.year < 1970:
        return None
    return to_ns(moment)


def sample_ts_ns(dv: ua.DataValue, receive_ns: int) -> int:
    """Source timestamp, else server timestamp, else receive time (see module doc)."""
    ts = _ts_ns(dv.SourceTimestamp)
    if ts is None:
        ts = _ts_ns(dv.ServerTimestamp)
    return receive_ns if ts is None else ts


def _number(raw: object) -> tuple[float, str]:
    """(value, "") or (NaN, why it is not a usable number)."""
    if isinstance(raw, bool):
        return (1.0 if raw else 0.0), ""
    if isinstance(raw, int | float):
        value = float(raw)
        if math.isfinite(value):
            return value, ""
        return math.nan, f"not a finite number: {value!r}"
    return math.nan, f"not a number: {type(raw).__name__}"


def decode_values(
    plan: FleetPlan, indices: Sequence[int], values: Sequence[ua.DataValue], receive_ns: int
) -> SampleBatch:
    """One sample per data value; ``indices[k]`` is the plan item ``values[k]`` belongs to."""
    n = len(indices)
    if len(values) != n:
        raise ValueError(f"{len(values)} data values for {n} items")
    rows = np.asarray(indices, dtype=np.intp)
    ts = np.empty(n, dtype=np.int64)
    value = np.empty(n, dtype=np.float64)
    quality = np.empty(n, dtype=np.uint8)
    detail = np.full(n, "", dtype=object)
    for k, dv in enumerate(values):
        ts[k] = sample_ts_ns(dv, receive_ns)
        code = 0 if dv.StatusCode is None else dv.StatusCode.value
        severity = code & _SEVERITY_MASK
        if severity != _SEVERITY_GOOD:
            quality[k] = Quality.UNCERTAIN if severity == _SEVERITY_UNCERTAIN else Quality.BAD_STATUS
            detail[k] = status_name(code)
            value[k] = math.nan
            continue
        raw = dv.Value.Value if isinstance(dv.Value, ua.Variant) else dv.Value
        number, why = _number(raw)
        value[k] = number
        if why:
            quality[k] = Quality.BAD_DECODE
            detail[k] = why
        else:
            quality[k] = Quality.GOOD
    good = quality == Quality.GOOD
    outside = good & ((value < plan.min_value[rows]) | (value > plan.max_value[rows]))
    if outside.any():
        for k in np.flatnonzero(outside).tolist():
            lo, hi = plan.min_value[rows[k]], plan.max_value[rows[k]]
            detail[k] = f"{value[k]:g} outside [{lo:g}, {hi:g}]"
        quality[outside] = Quality.BAD_OUT_OF_RANGE
        value[outside] = math.nan
    return SampleBatch(
        MEASUREMENT_ROBOT, ts, plan.robot_ids[rows], plan.fields[rows], value, quality, detail, fleet=plan.fleet_id
    )


def bad_samples(
    plan: FleetPlan, indices: Sequence[int], quality: Quality, details: Sequence[str], ts_ns: int
) -> SampleBatch:
    """Bad samples for items that produced no value (refused by the server, unresolvable)."""
    n = len(indices)
    rows = np.asarray(indices, dtype=np.intp)
    return SampleBatch(
        MEASUREMENT_ROBOT,
        np.full(n, ts_ns, dtype=np.int64),
        plan.robot_ids[rows],
        plan.fields[rows],
        np.full(n, math.nan),
        np.full(n, quality, dtype=np.uint8),
        np.array(list(details), dtype=object) if n else np.empty(0, dtype=object),
        fleet=plan.fleet_id,
    )
