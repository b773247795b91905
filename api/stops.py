"""Stops of a printer in a time range, with the reasons in force after operator overrides.

The unit everything counts is the KPI core's **stop event** (docs/kpi.md,
"Stop events"): a maximal run of contiguous non-running time with data that
keeps one reason code, one ISO element and one shift instance. The Pareto's
stop counts, failures (MTBF/MTTR) and this list all come from
``models.kpi.printer_stop_events``, run with the app's ``KpiConfig``, the
same shift calendar and the same connectivity outages as the KPIs.

A listed **stop** is a maximal run of contiguous stop events (the machine did
not run in between); its ``segments`` are those events, so a stop an operator
splits into two reasons shows two segments and counts as two events. Each
stop also lists its ``measured`` segments: the events as the machine reported
them, before any operator override (what the audit trail records as "before").
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shopfloor.api.ledger import with_operator_orders
from shopfloor.api.timerange import iso
from shopfloor.models.calendar import ShiftInstance, shift_instances
from shopfloor.models.contract import MEASUREMENT_PRINTER, ORDER_NUMBER_FIELD
from shopfloor.models.kpi import NO_DATA, KpiConfig, outage_spans
from shopfloor.models.kpi.context import OPEN_END_NS, read_end_ns
from shopfloor.models.kpi.downtime import StopEvents
from shopfloor.models.kpi.intervals import Intervals
from shopfloor.models.kpi.overrides import apply_reason_overrides
from shopfloor.models.kpi.pipeline import printer_stop_events
from shopfloor.models.kpi.time_model import Element
from shopfloor.models.plant import Plant
from shopfloor.models.samples import Series
from shopfloor.models.timebase import NS_PER_DAY, NS_PER_S
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.base import SampleStore

MAX_STOPS = 500  # per response: a day has tens of stops; more means the range is too wide
# Same look-back as the KPI service (api/kpi_service.py): an outage that began before the range still counts.
CONNECTIVITY_LOOKBACK_NS = 7 * NS_PER_DAY


def list_stops(
    plant: Plant,
    store: SampleStore,
    annotations: AnnotationStore,
    printer_id: str,
    start_ns: int,
    end_ns: int,
    *,
    config: KpiConfig,
) -> list[dict[str, Any]]:
    """``config`` is the app's (``KpiService.config``): required, so no caller silently uses the defaults."""
    printer = plant.printer(printer_id)
    # Read in context, as the KPIs are (docs/kpi.md, "Context"): a stop going on at the range's start is a stop
    # from its first moment, as the KPIs count it, not "no data" until the first sample inside.
    # The order number too: a stop between two orders is setup, in this list as in the KPIs (docs/kpi.md, "Orders").
    names = ["state", "stop_reason", ORDER_NUMBER_FIELD]
    read = store.read_series_in_context(MEASUREMENT_PRINTER, [printer_id], names, start_ns, end_ns)
    last_ns = read_end_ns(read.values(), end_ns)
    # an operator's orders over the registers, as in the KPIs (docs/kpi.md, "Orders")
    data = with_operator_orders(annotations, read, [printer_id], start_ns, last_ns + 1)[printer_id]
    measured = data["stop_reason"]
    overrides = annotations.overrides([printer_id], start_ns, last_ns + 1)
    corrected = apply_reason_overrides(measured, overrides, last_ns + 1) if overrides else measured
    events = store.read_connectivity([printer_id], start_ns - CONNECTIVITY_LOOKBACK_NS, last_ns + 1)
    outages = outage_spans(events, printer_id, start_ns, OPEN_END_NS)
    inst = shift_instances(plant.shift_calendar, plant.tz, start_ns, end_ns)

    def events_with(reason: Series) -> tuple[Intervals, StopEvents]:
        return printer_stop_events(
            printer,
            plant.stop_reasons,
            {**data, "stop_reason": reason},
            start_ns,
            end_ns,
            inst,
            outages,
            config,
        )

    iv, ev = events_with(corrected)
    m_ev = ev if not overrides else events_with(measured)[1]
    if len(ev) == 0:
        return []
    # A new stop wherever an event does not start where the previous one ended (running or no data between).
    first = np.flatnonzero(np.r_[True, ev.start_ns[1:] != ev.end_ns[:-1]])
    last = np.r_[first[1:] - 1, len(ev) - 1]
    with_data = iv.state != NO_DATA
    data_end = int(iv.end_ns[with_data].max()) if with_data.any() else start_ns
    stops = []
    for a, b in zip(first[:MAX_STOPS].tolist(), last[:MAX_STOPS].tolist(), strict=True):
        s0, s1 = int(ev.start_ns[a]), int(ev.end_ns[b])
        k0, k1 = np.searchsorted(iv.start_ns, [s0, s1])
        m0, m1 = np.searchsorted(m_ev.start_ns, [s0, s1])
        stops.append(
            {
                "equipment": printer_id,
                "start": iso(plant, s0),
                "end": iso(plant, s1),
                "start_ns": s0,
                "end_ns": s1,
                "duration_s": (s1 - s0) / NS_PER_S,
                "ongoing": s1 >= data_end,  # nothing known after it yet: it may still go on
                "states": sorted({int(c) for c in iv.state[k0:k1].tolist()}),
                "segments": [_segment(plant, inst, ev, k) for k in range(a, b + 1)],
                "measured": [_segment(plant, inst, m_ev, k) for k in range(m0, m1)],
            }
        )
    return stops


def _segment(plant: Plant, inst: list[ShiftInstance], ev: StopEvents, k: int) -> dict[str, Any]:
    code = int(ev.reason[k])
    reason = plant.stop_reason(code)
    i = int(ev.instance[k])
    return {
        "start_ns": int(ev.start_ns[k]),
        "end_ns": int(ev.end_ns[k]),
        "reason_code": code,
        "reason_key": reason.key if reason else None,
        "reason": reason.name if reason else None,
        "reason_zh": reason.name_zh if reason else None,
        "element": Element(int(ev.element[k])).name,
        "shift": inst[i].key if i >= 0 else None,
        "micro_stop": bool(ev.micro[k]),
        "failure": bool(ev.failure[k]),
        "pareto_stop": bool(ev.counted[k]),
    }
