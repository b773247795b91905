"""ISO 22400-2 time model: printer state (+ stop category) -> time element, in one table.

Element names follow ISO 22400-2:2014 (section 5.5):

=========  ============================  =======================================
element    ISO 22400-2                   PrinterState (PackML / OPC UA Machinery)
=========  ============================  =======================================
APT        actual production time        RUNNING (PackML Execute)
AUST       actual unit setup time        SETUP, or any stop with a *setup* reason
ADOT       actual unit down time         FAULT, HELD; any stop with an *unplanned* reason
ADET       actual unit delay time        SUSPENDED, IDLE, STOPPED; any stop with an *external* reason
PDOT       planned down time             MAINTENANCE, OFFLINE; any stop with a *planned* reason;
                                         every non-running moment of a planned break
=========  ============================  =======================================

PBT (planned busy time) = APT + AUST + ADOT + ADET = shift time - PDOT - no data.
Time outside every shift and time with no data belong to no element.
A stop reason, when one is given, overrides the state's default element
(a FAULT with reason "planned maintenance" is planned down time).
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
import numpy.typing as npt

from shopfloor.models.kpi.intervals import NO_DATA, Intervals
from shopfloor.models.plant import StopCategory, StopReason
from shopfloor.models.states import PrinterState


class Element(IntEnum):
    NO_DATA = 0
    OUTSIDE_SHIFT = 1
    PDOT = 2  # planned down time (outside PBT)
    APT = 3  # actual production time
    AUST = 4  # actual unit setup time
    ADOT = 5  # actual unit down time (unplanned)
    ADET = 6  # actual unit delay time (external)


N_ELEMENTS = len(Element)

DEFAULT_ELEMENT: dict[PrinterState, Element] = {
    PrinterState.STOPPED: Element.ADET,  # powered, no order: waiting on the outside world
    PrinterState.IDLE: Element.ADET,  # ready, waiting for material or an order
    PrinterState.SETUP: Element.AUST,
    PrinterState.RUNNING: Element.APT,
    PrinterState.HELD: Element.ADOT,  # paused by an internal condition
    PrinterState.SUSPENDED: Element.ADET,  # starved / blocked
    PrinterState.FAULT: Element.ADOT,
    PrinterState.MAINTENANCE: Element.PDOT,
    PrinterState.OFFLINE: Element.PDOT,  # switched off on purpose: not scheduled
}

CATEGORY_ELEMENT: dict[StopCategory, Element] = {
    StopCategory.PLANNED: Element.PDOT,
    StopCategory.SETUP: Element.AUST,
    StopCategory.UNPLANNED: Element.ADOT,
    StopCategory.EXTERNAL: Element.ADET,
}


def classify(intervals: Intervals, stop_reasons: list[StopReason]) -> npt.NDArray[np.int64]:
    """Element of every interval (vectorised lookups in the two tables above)."""
    by_state = np.full(max(PrinterState) + 2, Element.ADOT, dtype=np.int64)  # unknown code: a fault
    for printer_state, default in DEFAULT_ELEMENT.items():
        by_state[printer_state] = default
    codes = np.array([r.code for r in stop_reasons] + [0], dtype=np.int64)
    by_reason = np.full(int(codes.max()) + 1, -1, dtype=np.int64)
    for r in stop_reasons:
        by_reason[r.code] = CATEGORY_ELEMENT[r.category]
    state = intervals.state
    known = state != NO_DATA
    unknown = (state < 0) | (state >= len(by_state))
    state_c = np.where(unknown, len(by_state) - 1, state)
    element = by_state[state_c]
    reason = intervals.reason
    in_table = (reason > 0) & (reason < len(by_reason))
    from_reason = np.where(in_table, by_reason[np.clip(reason, 0, len(by_reason) - 1)], -1)
    stopped = state != PrinterState.RUNNING
    element = np.where(stopped & (from_reason >= 0), from_reason, element)
    element = np.where(intervals.in_break & stopped, Element.PDOT, element)
    element = np.where(intervals.instance < 0, Element.OUTSIDE_SHIFT, element)
    return np.where(known, element, Element.NO_DATA)
