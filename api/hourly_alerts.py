"""Hourly attainment for the alerts: the hour-by-hour board read once when an hour closes, never per poll.

The alert service asks ``check(now_ns)`` at every evaluation; that is one
comparison per watched printer until the plant clock passes the printer's
next "hour closed and settled" moment (worked out from the calendar once per
hour). Then the printer's board (``BoardService``, cached, computed in a
worker thread so nothing waits for it) is read for the shift of that hour, and
its hour becomes the printer's ``ClosedHour`` fact in the alerts' view; the
service is poked to evaluate again. "Settled": the hour's end plus the gap
rule's wait (``max_gap_polls`` + 1 polls), after which the hour's last readings
are in, or count as missing whatever arrives later. A cached board computed
before that moment is not used. A board that cannot be read (store away) is
said once per stretch and asked again a second of plant time later.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shopfloor.api.timerange import TimeRange, current_shift
from shopfloor.models.alerts import ClosedHour
from shopfloor.models.board import HOUR_NS, hour_edges
from shopfloor.models.calendar import ShiftInstance, shift_at, shift_instances
from shopfloor.models.plant import AlertKind, Plant
from shopfloor.models.timebase import NS_PER_DAY, NS_PER_S
from shopfloor.store.outage import OutageLog

if TYPE_CHECKING:  # deps holds the alert service: the services are only named here
    from shopfloor.api.deps import Services

log = logging.getLogger("shopfloor.api.hourly_alerts")

# (printer id, shift instance, computed after this plant time) -> the board's JSON (api/board.py), blocking
BoardOf = Callable[[str, ShiftInstance, int], dict[str, Any]]


def hourly_board(services: Services) -> BoardOf:
    """The board as the hour-by-hour route answers it, through the same cache."""

    def board_of(printer_id: str, shift: ShiftInstance, computed_after_ns: int) -> dict[str, Any]:
        rng = TimeRange(shift.start_ns, min(shift.end_ns, services.clock_ns()), shift, shift.end_ns)
        return services.boards.get(services, printer_id, rng, computed_after_ns=computed_after_ns)

    return board_of


def watched_printers(plant: Plant) -> list[str]:
    """The printers some ``hourly_attainment_low`` rule watches (none: the watch costs nothing)."""
    out: set[str] = set()
    for rule in plant.alerts.rules:
        if rule.kind is AlertKind.HOURLY_ATTAINMENT_LOW:
            out.update(rule.equipment or [p.id for p in plant.printers])
    return sorted(out)


def newest_closed_hour(plant: Plant, settled_ns: int) -> tuple[ShiftInstance, int] | None:
    """The shift and index of the newest hour ended at or before ``settled_ns`` (this shift's or the last one's)."""
    shift = current_shift(plant, settled_ns)
    for candidate in (shift, current_shift(plant, shift.start_ns - 1)):
        closed = [k for k, (_, end) in enumerate(hour_edges(candidate)) if end <= settled_ns]
        if closed:
            return candidate, closed[-1]
    return None


def next_hour_end(plant: Plant, shift: ShiftInstance, index: int) -> int:
    """When the hour after ``shift``'s hour ``index`` ends: the shift's next hour, or the next shift's first."""
    edges = hour_edges(shift)
    if index + 1 < len(edges):
        return edges[index + 1][1]
    later = shift_instances(plant.shift_calendar, plant.tz, shift.end_ns, shift.end_ns + 2 * NS_PER_DAY)
    following = [i for i in later if i.start_ns >= shift.end_ns]
    return hour_edges(following[0])[0][1] if following else shift.end_ns + HOUR_NS


def closed_hour_of(plant: Plant, shift: ShiftInstance, answer: dict[str, Any], index: int) -> ClosedHour:
    """The board's hour; the last hour of a shift no shift follows at once holds an hour past its end (nothing
    would replace its verdict: the shift is over)."""
    h = answer["hours"][index]
    holds_until = None
    if index == len(answer["hours"]) - 1 and shift_at(plant.shift_calendar, plant.tz, shift.end_ns) is None:
        holds_until = h["end_ns"] + HOUR_NS
    return ClosedHour(
        start_ns=h["start_ns"],
        end_ns=h["end_ns"],
        target_m=h["target_m"],
        actual_m=h["actual_m"],
        attainment_pct=h["attainment_pct"],
        holds_until_ns=holds_until,
    )


class HourlyWatch:
    def __init__(self, plant: Plant, board_of: BoardOf, *, max_gap_polls: float, on_new: Callable[[], None]) -> None:
        self.plant = plant
        self.board_of = board_of
        self.on_new = on_new
        self.printers = watched_printers(plant)
        self.settle_ns = {
            p: round((max_gap_polls + 1) * plant.printer(p).modbus.poll_interval_s * NS_PER_S) for p in self.printers
        }
        self.facts: dict[str, ClosedHour] = {}  # printer -> its newest closed hour, as the board answered
        self.boards_read = 0  # for tests: how often a board was asked for
        self._due_ns = dict.fromkeys(self.printers, 0)  # printer -> when its next hour has closed and settled
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._outage = OutageLog(log, "hour-by-hour board for the hourly attainment alerts")

    def check(self, now_ns: int) -> None:
        """Start reading the board of every watched printer whose newest closed hour is not known yet (on the
        event loop; returns at once)."""
        for printer in self.printers:
            if now_ns < self._due_ns[printer] or printer in self._tasks:
                continue
            settle = self.settle_ns[printer]
            found = newest_closed_hour(self.plant, now_ns - settle)
            if found is None:
                self._due_ns[printer] = now_ns + NS_PER_S
                continue
            shift, index = found
            known = self.facts.get(printer)
            if known is not None and known.end_ns >= hour_edges(shift)[index][1]:
                self._due_ns[printer] = next_hour_end(self.plant, shift, index) + settle
                continue
            self._due_ns[printer] = now_ns + NS_PER_S  # while it is read, and again a second later if that fails
            task = asyncio.create_task(self._read(printer, shift, index), name=f"hourly-{printer}")
            self._tasks[printer] = task

    async def _read(self, printer: str, shift: ShiftInstance, index: int) -> None:
        settled = hour_edges(shift)[index][1] + self.settle_ns[printer]
        try:
            self.boards_read += 1
            answer = await asyncio.to_thread(self.board_of, printer, shift, settled)
            self._outage.recovered()
        except Exception as exc:  # the store away, a range refused (410 before the raw window): ask again later
            self._outage.failed(f"cannot read the board of {printer} ({type(exc).__name__}: {exc}); asked again")
            return
        finally:
            self._tasks.pop(printer, None)
        self.facts[printer] = closed_hour_of(self.plant, shift, answer, index)
        self._due_ns[printer] = next_hour_end(self.plant, shift, index) + self.settle_ns[printer]
        self.on_new()

    def cancel(self) -> None:
        for task in self._tasks.values():
            task.cancel()
