"""The hour-by-hour board of one printer and one shift: reads, then hands everything to ``models.board``.

Actual metres are the counter's hourly buckets (``KpiService.throughput``,
read in context with gaps and outages handled as the KPIs handle them); the
ideal speed is that of the running print orders' designs (the order registers,
``models.board.order_speeds``), the printer's ``ideal_speed_m_min`` where the
line reports none. Comments come from the annotation store; the shift's stops from the
operator's stop list (api/stops.py), each flagged ``needs_reason`` when a
part of it has no reason the plant knows.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from shopfloor.api.ledger import with_operator_orders
from shopfloor.api.presenters import range_json
from shopfloor.api.raw_window import require_raw
from shopfloor.api.stops import list_stops
from shopfloor.api.timerange import TimeRange, iso
from shopfloor.models.board import Board, board, order_speeds
from shopfloor.models.calendar import ShiftInstance
from shopfloor.models.contract import DESIGN_CODE_FIELD, MEASUREMENT_PRINTER, ORDER_NUMBER_FIELD
from shopfloor.models.kpi.orders import order_steps
from shopfloor.store.annotations import HourComment

if TYPE_CHECKING:  # deps holds the BoardService: the services are only named here
    from shopfloor.api.deps import Services


def compute_board(services: Services, printer_id: str, shift: ShiftInstance, rng: TimeRange) -> Board:
    now_ns = services.clock_ns()
    printer = services.plant.printer(printer_id)
    tp = services.kpi.throughput(printer_id, rng, 3600.0)  # 410 before the raw window, 503 on a full disk
    actual = [None if v != v else float(v) for v in tp.amount.tolist()]  # NaN: no data that hour
    # The order registers, read in context: the order loaded before the shift is the one running at its start.
    read = services.store.read_series_in_context(
        MEASUREMENT_PRINTER, [printer_id], [ORDER_NUMBER_FIELD, DESIGN_CODE_FIELD], shift.start_ns, rng.end_ns
    )
    # and an operator's orders over them, as the KPIs see them (docs/kpi.md, "Orders")
    read = with_operator_orders(services.annotations, read, [printer_id], shift.start_ns, rng.end_ns)
    fields = read.get(printer_id, {})
    speeds = order_speeds(shift, order_steps(fields), services.plant.designs, printer.ideal_speed_m_min)
    return board(shift, speeds, actual, now_ns, across_gap_m=tp.across_gap)


def _comment_json(services: Services, c: HourComment) -> dict[str, Any]:
    return asdict(c) | {"at": iso(services.plant, c.created_ns)}


def board_json(services: Services, printer_id: str, rng: TimeRange) -> dict[str, Any]:
    """The whole answer of GET /printers/{id}/hour-by-hour (blocking: run in a thread)."""
    shift = rng.shift
    assert shift is not None, "the board's range is always one shift instance"
    plant = services.plant
    require_raw(plant, services.store, rng.start_ns, services.clock_ns(), "an hour-by-hour board")
    b = compute_board(services, printer_id, shift, rng)
    comments = services.annotations.hour_comments(printer_id, shift.key)
    stops = list_stops(
        plant, services.store, services.annotations, printer_id, rng.start_ns, rng.end_ns, config=services.kpi.config
    )
    return {
        "range": range_json(plant, rng),
        "equipment": printer_id,
        "ideal_speed_m_min": plant.printer(printer_id).ideal_speed_m_min,
        "target_m": b.target_m,
        "due_m": b.due_m,
        "actual_m": b.actual_m,
        "across_gap_m": b.across_gap_m,
        "rate_m_min": b.rate_m_min,
        "planned_min_left": b.planned_min_left,
        "projected_m": b.projected_m,
        "projected_band": b.projected_band,
        "hours": [
            asdict(h)
            | {
                "start": iso(plant, h.start_ns),
                "end": iso(plant, h.end_ns),
                "comment": None if h.index not in comments else _comment_json(services, comments[h.index]),
            }
            for h in b.hours
        ],
        "stops": [s | {"needs_reason": any(seg["reason_key"] is None for seg in s["segments"])} for s in stops],
    }


CACHE_ENTRIES = 64  # boards of a few lines and shifts


class BoardService:
    """Boards cached for a moment per (printer, shift, annotation version): every line-side screen asks for the
    same board every few seconds, and a flood of them must not read the shift's counter and stops once each.
    Concurrent requests for one board wait for one computation; a correction (a new annotation version, so a new
    key) shows at once."""

    def __init__(self, cache_s: float) -> None:
        self.cache_s = cache_s
        # key -> (monotonic time, plant clock, answer) of the computation
        self._cache: OrderedDict[tuple[str, int, int, int], tuple[float, int, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[tuple[str, int, int, int], threading.Lock] = {}
        self.computations = 0  # for tests: how often a board was really computed

    def get(self, services: Services, printer_id: str, rng: TimeRange, *, computed_after_ns: int = 0) -> dict[str, Any]:
        """``board_json`` of the printer and shift, computed at most once per ``cache_s`` (blocking); a cached
        answer computed before ``computed_after_ns`` (plant clock) is not used (the hourly alerts need the board
        of after an hour closed)."""
        key = (printer_id, rng.start_ns, rng.nominal_end_ns, services.annotations.version)
        with self._lock:
            found = self._fresh(key, computed_after_ns)
            if found is not None:
                return found
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                found = self._fresh(key, computed_after_ns)
            if found is not None:
                return found
            computed_ns = services.clock_ns()
            answer = board_json(services, printer_id, rng)
            with self._lock:
                self.computations += 1
                self._cache[key] = (time.monotonic(), computed_ns, answer)
                self._cache.move_to_end(key)
                while len(self._cache) > CACHE_ENTRIES:
                    old, _ = self._cache.popitem(last=False)
                    self._key_locks.pop(old, None)
            return answer

    def _fresh(self, key: tuple[str, int, int, int], computed_after_ns: int = 0) -> dict[str, Any] | None:
        entry = self._cache.get(key)
        if entry is None or time.monotonic() - entry[0] > self.cache_s or entry[1] < computed_after_ns:
            return None
        return entry[2]
