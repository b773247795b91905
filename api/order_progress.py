"""The running order's progress per line, for the display's order tile: reads, then ``models.order_progress``.

What it reads: the order registers and the metres counter of the last ``LOOKBACK_NS`` (no further back than
the raw samples are kept), in context, so an order loaded before then is known from its start; the operator's
order events over the registers, as every KPI reads them (api/ledger.py ``with_operator_orders``); the plan's
metres ordered from the annotation store. A day of raw samples is a large read (about half a second for a line
polled twice a second), so each line's samples are held between computations and only what came since is read
(``SampleWindow``), with a full re-read every ``FULL_READ_S`` that picks up samples a collector's spool delivered
late. Each line's answer is cached and recomputed at most every ``REFRESH_S`` (or at once when an annotation -
a new plan, an operator's order event - changed): the live snapshot task (api/snapshots.py) asks for it once per
KPI snapshot, never per WebSocket client, and the ``/orders/current`` route answers from the same cache.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from shopfloor.api.ledger import with_operator_orders
from shopfloor.api.presenters import design_json, plan_json
from shopfloor.api.timerange import iso
from shopfloor.models.contract import DESIGN_CODE_FIELD, MEASUREMENT_PRINTER, ORDER_NUMBER_FIELD
from shopfloor.models.kpi.clean import clean_series
from shopfloor.models.kpi.counters import increments, starting_in
from shopfloor.models.kpi.orders import order_steps
from shopfloor.models.order_progress import RATE_WINDOW_NS, order_progress, running_order
from shopfloor.models.samples import Series
from shopfloor.models.timebase import NS_PER_S

if TYPE_CHECKING:  # deps holds the service: the services are only named here
    from shopfloor.api.deps import Services

METRES_FIELD = "printed_m_total"
FIELDS = (ORDER_NUMBER_FIELD, DESIGN_CODE_FIELD, METRES_FIELD)
# How far back an order's metres are looked for: a print order runs hours, not days. An order loaded longer
# ago than this counts its metres from then on (docs/kpi.md, "Order progress").
LOOKBACK_NS = 24 * 3600 * NS_PER_S
REFRESH_S = 5.0  # the tile shows metres and an ETA in minutes: a few seconds old is fresh enough
FULL_READ_S = 300.0  # a late sample (a spool emptied after an outage) shows within this
OVERLAP_NS = 60 * NS_PER_S  # each read since the last goes back this far: samples stored a moment late

Arrays = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]


def merged(held: Arrays, new: Arrays, from_ns: int) -> Arrays:
    """``held`` before ``from_ns``, then ``new`` from it on (a read of [from_ns, …) replaces what it covers)."""
    keep, take = held[0] < from_ns, new[0] >= from_ns
    return np.concatenate([held[0][keep], new[0][take]]), np.concatenate([held[1][keep], new[1][take]])


def trimmed(arrays: Arrays, since_ns: int) -> Arrays:
    """The samples from ``since_ns`` on and the last one before it (the context that says what held then)."""
    first = max(int(np.searchsorted(arrays[0], since_ns, side="left")) - 1, 0)
    return arrays[0][first:], arrays[1][first:]


@dataclass
class SampleWindow:
    """One line's order registers and metres counter over [since_ns, read_to_ns), clean, with context."""

    arrays: dict[str, Arrays]
    read_to_ns: int
    full_read_at: float  # time.monotonic() of the last full read

    def fields(self) -> dict[str, Series]:
        return {name: Series(ts, value) for name, (ts, value) in self.arrays.items()}


def read_window(
    services: Services, printer_id: str, since_ns: int, now_ns: int, held: SampleWindow | None
) -> SampleWindow:
    """The line's samples of [since_ns, now_ns): what came since ``held`` was read, or all of it (blocking)."""
    full = (
        held is None
        or time.monotonic() - held.full_read_at > FULL_READ_S
        or now_ns < held.read_to_ns  # the clock went back (a simulation restarted): nothing held is sure
    )
    from_ns = since_ns if full or held is None else max(since_ns, held.read_to_ns - OVERLAP_NS)
    read = services.store.read_series_in_context(MEASUREMENT_PRINTER, [printer_id], FIELDS, from_ns, now_ns)
    new = {name: clean_series(read.get(printer_id, {}).get(name)) for name in FIELDS}
    if not full and held is not None:
        new = {name: merged(held.arrays[name], new[name], from_ns) for name in FIELDS}
    arrays = {name: trimmed(a, since_ns) for name, a in new.items()}
    return SampleWindow(arrays, now_ns, time.monotonic() if full or held is None else held.full_read_at)


def progress_json(
    services: Services, printer_id: str, window: SampleWindow, since_ns: int, now_ns: int
) -> dict[str, Any] | None:
    """The running order's progress on ``printer_id`` from the window's samples, or None when no order runs."""
    plant = services.plant
    printer = plant.printer(printer_id)
    # The operator's orders over the PLC's registers, as every KPI reads them (api/ledger.py read_inputs).
    fields = with_operator_orders(
        services.annotations, {printer_id: window.fields()}, [printer_id], since_ns, now_ns + 1
    )[printer_id]
    steps = order_steps(fields)
    ts, value = clean_series(fields.get(METRES_FIELD))
    # Every increment counts, across a gap too: the metres were printed (the order report counts them so).
    printed = starting_in(increments(ts, value, printer.signal(METRES_FIELD).wrap_m, None), since_ns, now_ns)
    number = running_order(steps, now_ns)
    if number is None:
        return None
    planned = services.annotations.planned_orders(printer_id, [number]).get(number)
    p = order_progress(steps, printed, now_ns, None if planned is None else planned.metres_ordered, since_ns=since_ns)
    assert p is not None  # the same steps: the same order runs
    return {
        "equipment": printer_id,
        "order_number": p.order_number,
        "design_code": p.design_code,
        "design": design_json(plant, p.design_code),
        "started": iso(plant, p.started_ns),
        "started_ns": p.started_ns,
        "done_m": p.done_m,
        **plan_json(planned),
        "remaining_m": p.remaining_m,
        "progress_pct": None if not p.ordered_m else 100.0 * p.done_m / p.ordered_m,
        "rate_m_min": p.rate_m_min,
        "rate_window_s": RATE_WINDOW_NS // NS_PER_S,
        "eta": None if p.eta_ns is None else iso(plant, p.eta_ns),
        "eta_ns": p.eta_ns,
        "eta_reason": p.eta_reason,
        "as_of": iso(plant, now_ns),
        "as_of_ns": now_ns,
    }


class OrderProgressService:
    """Each line's ``progress_json``, recomputed at most every ``refresh_s`` per line and annotation version, from
    a ``SampleWindow`` per line. Concurrent callers for one line wait for one computation."""

    def __init__(self, refresh_s: float = REFRESH_S) -> None:
        self.refresh_s = refresh_s
        self._cache: dict[str, tuple[float, int, dict[str, Any] | None]] = {}
        self._windows: dict[str, SampleWindow] = {}
        self._lock = threading.Lock()
        self._line_locks: dict[str, threading.Lock] = {}
        self.computations = 0  # for tests: how often an answer was really computed

    def get(self, services: Services, printer_id: str) -> dict[str, Any] | None:
        """The line's running order's progress (blocking: call from a thread). ``printer_id`` must be a printer
        of the plant file (the caller checks: this cache holds one entry per line)."""
        version = services.annotations.version
        with self._lock:
            line_lock = self._line_locks.setdefault(printer_id, threading.Lock())
        with line_lock:
            entry = self._cache.get(printer_id)
            if entry is not None and entry[1] == version and time.monotonic() - entry[0] <= self.refresh_s:
                return entry[2]
            now_ns = services.clock_ns()
            since_ns = now_ns - LOOKBACK_NS
            kept = services.store.raw_kept_since_ns(now_ns)
            if kept is not None:
                since_ns = max(since_ns, kept)
            window = read_window(services, printer_id, since_ns, now_ns, self._windows.get(printer_id))
            answer = progress_json(services, printer_id, window, since_ns, now_ns)
            with self._lock:
                self.computations += 1
                self._windows[printer_id] = window
                self._cache[printer_id] = (time.monotonic(), version, answer)
            return answer
