"""Operator input: stop-reason overrides, stop splits, notes, hour comments and print-order plans, with an audit
trail; andon alert events.

Kept in a stdlib sqlite3 file next to the sample store (``var/annotations.sqlite3``
by default), so it works the same whether samples live in DuckDB or InfluxDB,
and so a person's correction never rewrites a measured sample: the KPI layer
applies the overrides to the ``stop_reason`` series when it reads it
(``models.kpi.overrides.apply_reason_overrides``; the rule is in docs/api.md).

Every change appends one ``audit`` row (who, when, what, before, after) in the
same transaction as the change itself, so there is no change without its
audit record. Rows are never deleted: a correction is a newer override.
For a reason change, "before" is ``{"measured": [...], "overrides": [...]}``:
the reason(s) the machine reported for the stop (passed in by the caller,
which knows the stop) and the earlier overrides this one supersedes, so even
the first correction keeps the measured reason it replaced.

Andon alert events (``alert``: raised, cleared, acknowledged and by whom) are
kept here too, whatever the sample store: they are events of the plant, not
samples, and an acknowledgement and its audit row land in one transaction.

A plan of print orders (``import_plan``) gives an order its metres ordered for the order reports; the newest
import of an order number is in force, and its audit "before" holds the rows it replaced. A plan changes no KPI.

An operator's order events (``start_order``, ``end_order``; ``order_event``) override the PLC's order registers
over their spans (the rule: ``models.kpi.orders.operator_order_spans``, docs/kpi.md "Orders"). An event is never
deleted: withdrawing one marks it withdrawn (who, when), with its audit row.

Reason overrides, order events and their withdrawals take their ids from one change sequence
(``_next_change_id``), so a ledger row's ``annotation_version`` (``last_change_id``) compares with both kinds.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from shopfloor.models.alerts import AlertEvent, Change, Transition
from shopfloor.models.plant import Severity
from shopfloor.store.base import StoreError, StoreUnavailable
from shopfloor.store.diagnose import cannot_open, damaged, disk_full, is_damaged, is_disk_full, one_line
from shopfloor.store.outage import DEFAULT_PERIOD_S, OutageLog

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_PATH = Path("var/annotations.sqlite3")
_OPEN_END_NS = 2**63 - 1  # an order event with no later one changes the line's orders from its time onward

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reason_override (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    equipment TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    reason_code INTEGER NOT NULL,
    operator TEXT NOT NULL,
    created_ns INTEGER NOT NULL,
    comment TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS reason_override_eq ON reason_override (equipment, start_ns, end_ns);
CREATE TABLE IF NOT EXISTS note (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    equipment TEXT NOT NULL,
    ts_ns INTEGER NOT NULL,
    text TEXT NOT NULL,
    operator TEXT NOT NULL,
    created_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS note_eq ON note (equipment, ts_ns);
CREATE TABLE IF NOT EXISTS hour_comment (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    equipment TEXT NOT NULL,
    shift TEXT NOT NULL,
    hour_index INTEGER NOT NULL,
    hour_start_ns INTEGER NOT NULL,
    text TEXT NOT NULL,
    operator TEXT NOT NULL,
    created_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS hour_comment_eq ON hour_comment (equipment, shift, hour_index);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ns INTEGER NOT NULL,
    operator TEXT NOT NULL,
    action TEXT NOT NULL,
    equipment TEXT NOT NULL,
    before TEXT NOT NULL,
    after TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_eq ON audit (equipment, ts_ns);
CREATE TABLE IF NOT EXISTS order_plan (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    equipment TEXT NOT NULL,
    order_number INTEGER NOT NULL,
    design_code INTEGER NOT NULL,
    colourway TEXT NOT NULL,
    fabric TEXT NOT NULL,
    metres_ordered REAL NOT NULL,
    operator TEXT NOT NULL,
    created_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS order_plan_number ON order_plan (order_number, id);
CREATE TABLE IF NOT EXISTS alert (
    id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    equipment TEXT NOT NULL,
    severity TEXT NOT NULL,
    message TEXT NOT NULL,
    message_zh TEXT NOT NULL,
    raised_ns INTEGER NOT NULL,
    cleared_ns INTEGER,
    acknowledged_ns INTEGER,
    acknowledged_by TEXT
);
CREATE INDEX IF NOT EXISTS alert_raised ON alert (raised_ns);
CREATE INDEX IF NOT EXISTS alert_active ON alert (cleared_ns);
CREATE TABLE IF NOT EXISTS order_event (
    id INTEGER PRIMARY KEY,
    equipment TEXT NOT NULL,
    kind TEXT NOT NULL,
    at_ns INTEGER NOT NULL,
    order_number INTEGER NOT NULL,
    design_code INTEGER NOT NULL,
    operator TEXT NOT NULL,
    created_ns INTEGER NOT NULL,
    withdrawn_id INTEGER,
    withdrawn_ns INTEGER,
    withdrawn_by TEXT
);
CREATE INDEX IF NOT EXISTS order_event_eq ON order_event (equipment, at_ns);
CREATE INDEX IF NOT EXISTS order_event_withdrawn ON order_event (withdrawn_id);
"""

ORDER_START = "start"
ORDER_END = "end"


@dataclass(frozen=True, slots=True)
class ReasonOverride:
    id: int
    equipment: str
    start_ns: int
    end_ns: int
    reason_code: int
    operator: str
    created_ns: int
    comment: str


@dataclass(frozen=True, slots=True)
class Note:
    id: int
    equipment: str
    ts_ns: int
    text: str
    operator: str
    created_ns: int


@dataclass(frozen=True, slots=True)
class HourComment:
    """A comment on one hour of the hour-by-hour board (why the hour missed its target)."""

    id: int
    equipment: str
    shift: str  # shift instance key, e.g. 2026-11-24/early
    hour_index: int  # 0 = the hour starting at the shift's start
    hour_start_ns: int
    text: str
    operator: str
    created_ns: int


@dataclass(frozen=True, slots=True)
class PlannedOrder:
    """One row of a shift's plan, as a planner imported it (the newest row of an order number is in force)."""

    order_number: int
    design_code: int
    colourway: str
    fabric: str
    metres_ordered: float


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """An operator started (order and design given) or ended (both 0) the order on a line at ``at_ns``."""

    id: int  # from the shared change sequence
    equipment: str
    kind: str  # ORDER_START or ORDER_END
    at_ns: int
    order_number: int
    design_code: int
    operator: str
    created_ns: int
    withdrawn_id: int | None = None  # the change that withdrew it (shared sequence), None while in force
    withdrawn_ns: int | None = None
    withdrawn_by: str | None = None


_EVENT_COLUMNS = (
    "id, equipment, kind, at_ns, order_number, design_code, operator, created_ns, withdrawn_id, withdrawn_ns,"
    " withdrawn_by"
)


class NotFound(LookupError):
    """The thing named does not exist (the API answers 404)."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    ts_ns: int
    operator: str
    # "set_reason", "split_stop", "add_note", "hour_comment", "import_plan", "acknowledge_alert", "start_order",
    # "end_order", "withdraw_order_event"
    action: str
    equipment: str
    before: Any  # JSON-decoded
    after: Any


class AnnotationStore:
    """Thread-safe (one lock around one connection): the API calls it from a thread pool."""

    def __init__(
        self,
        path: Path | str = DEFAULT_PATH,
        *,
        clock_ns: Any = time.time_ns,
        outage_log_period_s: float = DEFAULT_PERIOD_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Raises StoreError with one line (the file, what is wrong, what to do) if the file cannot be used."""
        self.path = Path(path)
        self._clock_ns = clock_ns
        self._lock = threading.Lock()
        self._changes = 0  # changes made through this object
        # Writes fail per request (a full disk): said once, once a period while it lasts, once when it ends.
        self._outage = OutageLog(log, f"annotations file {self.path}", period_s=outage_log_period_s, clock=clock)
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            # check_same_thread=False: guarded by self._lock instead.
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(cannot_open("annotations file", self.path, exc)) from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            self._db.execute("SELECT count(*) FROM audit").fetchone()
        except sqlite3.Error as exc:
            self._db.close()
            raise StoreError(
                cannot_open("annotations file", self.path, exc, also=" (with its -wal and -shm)")
            ) from None

    @property
    def version(self) -> int:
        """Changes whenever anything was written, by this process or another one sharing the file.

        ``PRAGMA data_version`` moves when *another* connection commits; our own commits are counted
        here. Readers (the KPI cache) key on it, so a correction is seen at once.
        """
        with self._lock:
            other = int(self._db.execute("PRAGMA data_version").fetchone()[0])
        return self._changes * 1_000_003 + other

    @classmethod
    def next_to(cls, store_path: Path | str) -> AnnotationStore:
        """The annotation file beside an embedded store file (``x.duckdb`` -> ``annotations.sqlite3``)."""
        return cls(Path(store_path).parent / "annotations.sqlite3")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------------ writes

    def set_reason(
        self,
        equipment: str,
        start_ns: int,
        end_ns: int,
        reason_code: int,
        operator: str,
        comment: str = "",
        *,
        measured: Sequence[dict[str, Any]] = (),
    ) -> ReasonOverride:
        """Assign or correct the reason of the stop ``[start_ns, end_ns)``; the newest override wins.

        ``measured``: the stop's reason segments as collected (JSON-able dicts), recorded in the audit's "before".
        """
        if end_ns <= start_ns:
            raise ValueError("end must be after start")

        def change() -> ReasonOverride:
            before = self._before(equipment, start_ns, end_ns, measured)
            row = self._insert_override(equipment, start_ns, end_ns, reason_code, operator, comment)
            self._audit(operator, "set_reason", equipment, before, [asdict(row)])
            return row

        return self._write(change)

    def split_stop(
        self,
        equipment: str,
        start_ns: int,
        end_ns: int,
        split_ns: int,
        reason_before: int,
        reason_after: int,
        operator: str,
        comment: str = "",
        *,
        measured: Sequence[dict[str, Any]] = (),
    ) -> tuple[ReasonOverride, ReasonOverride]:
        """Split the stop ``[start_ns, end_ns)`` at ``split_ns`` into two stops with their own reasons."""
        if not start_ns < split_ns < end_ns:
            raise ValueError("the split time must lie strictly inside the stop")

        def change() -> tuple[ReasonOverride, ReasonOverride]:
            before = self._before(equipment, start_ns, end_ns, measured)
            first = self._insert_override(equipment, start_ns, split_ns, reason_before, operator, comment)
            second = self._insert_override(equipment, split_ns, end_ns, reason_after, operator, comment)
            self._audit(operator, "split_stop", equipment, before, [asdict(first), asdict(second)])
            return first, second

        return self._write(change)

    def add_note(self, equipment: str, ts_ns: int, text: str, operator: str) -> Note:
        def change() -> Note:
            created = self._clock_ns()
            cur = self._db.execute(
                "INSERT INTO note (equipment, ts_ns, text, operator, created_ns) VALUES (?, ?, ?, ?, ?)",
                (equipment, ts_ns, text, operator, created),
            )
            note = Note(int(cur.lastrowid or 0), equipment, ts_ns, text, operator, created)
            self._audit(operator, "add_note", equipment, None, asdict(note))
            return note

        return self._write(change)

    def comment_hour(
        self, equipment: str, shift: str, hour_index: int, hour_start_ns: int, text: str, operator: str
    ) -> HourComment:
        """Comment on an hour of the board; a newer comment on the same hour replaces it on the board (both kept,
        the audit's "before" is the one replaced)."""

        def change() -> HourComment:
            before = self._hour_comment(equipment, shift, hour_index)
            created = self._clock_ns()
            cur = self._db.execute(
                "INSERT INTO hour_comment (equipment, shift, hour_index, hour_start_ns, text, operator, created_ns)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (equipment, shift, hour_index, hour_start_ns, text, operator, created),
            )
            row = HourComment(
                int(cur.lastrowid or 0), equipment, shift, hour_index, hour_start_ns, text, operator, created
            )
            self._audit(operator, "hour_comment", equipment, None if before is None else asdict(before), asdict(row))
            return row

        return self._write(change)

    def record_alert(self, change: Change) -> None:
        """Keep an alert event: a raised alert is inserted, a clearance or an acknowledgement updates it; an
        acknowledgement (a person's act) also leaves an audit row, in the same transaction."""
        a = change.alert

        def write() -> None:
            if change.transition is Transition.RAISED:
                self._db.execute(
                    "INSERT OR IGNORE INTO alert (id, rule, equipment, severity, message, message_zh, raised_ns)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (a.id, a.rule, a.equipment, a.severity.value, a.message, a.message_zh, a.raised_ns),
                )
            elif change.transition is Transition.CLEARED:
                self._db.execute("UPDATE alert SET cleared_ns = ? WHERE id = ?", (a.cleared_ns, a.id))
            else:
                found = self._db.execute(
                    "UPDATE alert SET acknowledged_ns = ?, acknowledged_by = ?"
                    " WHERE id = ? AND acknowledged_ns IS NULL",
                    (a.acknowledged_ns, a.acknowledged_by, a.id),
                ).rowcount
                if found:
                    before = {"id": a.id, "acknowledged_ns": None}
                    after = {"id": a.id, "acknowledged_ns": a.acknowledged_ns, "rule": a.rule, "message": a.message}
                    self._audit(a.acknowledged_by or "", "acknowledge_alert", a.equipment, before, after)

        self._write(write)

    def alerts(self, *, active: bool, since_ns: int = 0, limit: int = 500) -> list[AlertEvent]:
        """Active alerts (oldest first), or every alert raised since ``since_ns`` (newest first)."""
        columns = (
            "SELECT id, rule, equipment, severity, message, message_zh, raised_ns, cleared_ns, acknowledged_ns,"
            " acknowledged_by FROM alert"
        )
        with self._lock:
            if active:
                rows = self._db.execute(
                    f"{columns} WHERE cleared_ns IS NULL ORDER BY raised_ns, id LIMIT ?", (limit,)
                ).fetchall()
            else:
                rows = self._db.execute(
                    f"{columns} WHERE raised_ns >= ? ORDER BY raised_ns DESC, id LIMIT ?", (since_ns, limit)
                ).fetchall()
        return [AlertEvent(r[0], r[1], r[2], Severity(r[3]), *r[4:]) for r in rows]

    def import_plan(self, equipment: str, rows: Sequence[PlannedOrder], operator: str) -> list[PlannedOrder]:
        """Store a plan's rows for ``equipment``; an order number planned again is replaced (audit: the rows it
        replaced as "before")."""

        def change() -> list[PlannedOrder]:
            before = self._planned(equipment, [r.order_number for r in rows])
            created = self._clock_ns()
            self._db.executemany(
                "INSERT INTO order_plan (equipment, order_number, design_code, colourway, fabric, metres_ordered,"
                " operator, created_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        equipment,
                        r.order_number,
                        r.design_code,
                        r.colourway,
                        r.fabric,
                        r.metres_ordered,
                        operator,
                        created,
                    )
                    for r in rows
                ],
            )
            self._audit(
                operator, "import_plan", equipment, [asdict(r) for r in before.values()], [asdict(r) for r in rows]
            )
            return list(rows)

        return self._write(change)

    def start_order(self, equipment: str, at_ns: int, order_number: int, design_code: int, operator: str) -> OrderEvent:
        """An operator starts an order on a line at ``at_ns``; an operator order running then ends there (the
        audit's "before" is the event of the order it ends, or None)."""
        if order_number < 1 or not 0 <= design_code <= 65535:
            raise ValueError("order number must be 1.., design code 0..65535")

        def change() -> OrderEvent:
            before = self._running_at(equipment, at_ns)
            row = self._insert_event(equipment, ORDER_START, at_ns, order_number, design_code, operator)
            self._audit(operator, "start_order", equipment, None if before is None else asdict(before), asdict(row))
            return row

        return self._write(change)

    def end_order(self, equipment: str, at_ns: int, operator: str) -> OrderEvent:
        """An operator ends the operator order running on a line at ``at_ns``; ValueError if none is running."""

        def change() -> OrderEvent:
            before = self._running_at(equipment, at_ns)
            if before is None:
                raise ValueError(f"no order started by an operator is running on {equipment} at that time")
            row = self._insert_event(equipment, ORDER_END, at_ns, 0, 0, operator)
            self._audit(operator, "end_order", equipment, asdict(before), asdict(row))
            return row

        return self._write(change)

    def withdraw_order_event(self, equipment: str, event_id: int, operator: str) -> OrderEvent:
        """Withdraw an event entered by mistake (kept, marked withdrawn); NotFound if the line has no such event
        in force."""

        def change() -> OrderEvent:
            row = self._db.execute(
                f"SELECT {_EVENT_COLUMNS} FROM order_event WHERE id = ? AND equipment = ? AND withdrawn_id IS NULL",
                (event_id, equipment),
            ).fetchone()
            if row is None:
                raise NotFound(f"{equipment} has no order event {event_id} in force")
            before = OrderEvent(*row)
            change_id, now = self._next_change_id(), self._clock_ns()
            self._db.execute(
                "UPDATE order_event SET withdrawn_id = ?, withdrawn_ns = ?, withdrawn_by = ? WHERE id = ?",
                (change_id, now, operator, event_id),
            )
            after = replace(before, withdrawn_id=change_id, withdrawn_ns=now, withdrawn_by=operator)
            self._audit(operator, "withdraw_order_event", equipment, asdict(before), asdict(after))
            return after

        return self._write(change)

    def _insert_event(
        self, equipment: str, kind: str, at_ns: int, order_number: int, design_code: int, operator: str
    ) -> OrderEvent:
        change_id, created = self._next_change_id(), self._clock_ns()
        self._db.execute(
            "INSERT INTO order_event (id, equipment, kind, at_ns, order_number, design_code, operator, created_ns)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (change_id, equipment, kind, at_ns, order_number, design_code, operator, created),
        )
        return OrderEvent(change_id, equipment, kind, at_ns, order_number, design_code, operator, created)

    def _running_at(self, equipment: str, at_ns: int) -> OrderEvent | None:
        """The start event of the operator order running on a line at ``at_ns`` (the last event in force at or
        before it, if a start), or None."""
        row = self._db.execute(
            f"SELECT {_EVENT_COLUMNS} FROM order_event WHERE equipment = ? AND withdrawn_id IS NULL AND at_ns <= ?"
            " ORDER BY at_ns DESC, id DESC LIMIT 1",
            (equipment, at_ns),
        ).fetchone()
        event = None if row is None else OrderEvent(*row)
        return event if event is not None and event.kind == ORDER_START else None

    def _write(self, change: Callable[[], T]) -> T:
        """``change`` and its audit row in one transaction; a full disk or a damaged file is a StoreUnavailable
        saying so (the API answers 503), logged as an outage rather than once per request."""
        with self._lock:
            changes = self._changes
            try:
                with self._tx():
                    result = change()
            except sqlite3.Error as exc:
                self._changes = changes  # rolled back: nothing changed
                if not (is_disk_full(exc) or is_damaged(exc) or isinstance(exc, sqlite3.OperationalError)):
                    raise
                reason = self._problem_of(exc)
                self._outage.failed(reason)
                raise StoreUnavailable(reason) from None
            self._outage.recovered()
        return result

    def _problem_of(self, exc: sqlite3.Error) -> str:
        if is_disk_full(exc):
            return disk_full("annotations file", self.path, exc)
        if is_damaged(exc):
            return damaged("annotations file", self.path, exc, also=" (with its -wal and -shm)")
        return f"cannot write annotations file {self.path}: {one_line(exc)}"

    # ------------------------------------------------------------------ reads

    def overrides(self, equipment_ids: Sequence[str], start_ns: int, end_ns: int) -> list[ReasonOverride]:
        """Overrides overlapping ``[start_ns, end_ns)``, oldest first (apply in this order: newest wins)."""
        if not equipment_ids:
            return []
        marks = ",".join("?" * len(equipment_ids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT id, equipment, start_ns, end_ns, reason_code, operator, created_ns, comment"
                f" FROM reason_override WHERE equipment IN ({marks}) AND start_ns < ? AND end_ns > ? ORDER BY id",
                (*equipment_ids, end_ns, start_ns),
            ).fetchall()
        return [ReasonOverride(*r) for r in rows]

    def last_change_id(self) -> int:
        """The newest change of the KPI inputs (a reason override, an order event or its withdrawal; 0 for none):
        a ledger row keeps the one it includes as its ``annotation_version``."""
        with self._lock:
            return self._last_change_id()

    def overrides_after(self, override_id: int) -> list[ReasonOverride]:
        """Overrides made after the one with ``override_id``, oldest first: the ledger rows they touch are stale."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, equipment, start_ns, end_ns, reason_code, operator, created_ns, comment"
                " FROM reason_override WHERE id > ? ORDER BY id",
                (override_id,),
            ).fetchall()
        return [ReasonOverride(*r) for r in rows]

    def order_events(self, equipment_ids: Sequence[str], start_ns: int, end_ns: int) -> list[OrderEvent]:
        """The order events in force that decide the spans overlapping [start_ns, end_ns): per line the last one
        at or before ``start_ns`` and every one inside, in (at, id) order."""
        out: list[OrderEvent] = []
        with self._lock:
            for equipment in equipment_ids:
                before = self._db.execute(
                    f"SELECT {_EVENT_COLUMNS} FROM order_event WHERE equipment = ? AND withdrawn_id IS NULL"
                    " AND at_ns <= ? ORDER BY at_ns DESC, id DESC LIMIT 1",
                    (equipment, start_ns),
                ).fetchall()
                inside = self._db.execute(
                    f"SELECT {_EVENT_COLUMNS} FROM order_event WHERE equipment = ? AND withdrawn_id IS NULL"
                    " AND at_ns > ? AND at_ns < ? ORDER BY at_ns, id",
                    (equipment, start_ns, end_ns),
                ).fetchall()
                out += [OrderEvent(*r) for r in [*before, *inside]]
        return out

    def recent_order_events(self, equipment: str, limit: int) -> list[OrderEvent]:
        """The newest ``limit`` order events of a line (withdrawn ones too), newest first."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_EVENT_COLUMNS} FROM order_event WHERE equipment = ? ORDER BY at_ns DESC, id DESC LIMIT ?",
                (equipment, limit),
            ).fetchall()
        return [OrderEvent(*r) for r in rows]

    def order_changes_after(self, change_id: int) -> list[tuple[int, str, int, int]]:
        """Per order event made or withdrawn after ``change_id``: (the change's id, equipment, from_ns, to_ns), the
        stretch whose order it may have changed - from its time to the next event in force on that line (none:
        onward)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT max(id, coalesce(withdrawn_id, 0)), equipment, at_ns FROM order_event"
                " WHERE id > ? OR withdrawn_id > ?",
                (change_id, change_id),
            ).fetchall()
            out: list[tuple[int, str, int, int]] = []
            for newest, equipment, at_ns in rows:
                nxt = self._db.execute(
                    "SELECT min(at_ns) FROM order_event WHERE equipment = ? AND withdrawn_id IS NULL AND at_ns > ?",
                    (equipment, at_ns),
                ).fetchone()[0]
                out.append((int(newest), str(equipment), int(at_ns), _OPEN_END_NS if nxt is None else int(nxt)))
        return out

    def planned_orders(self, equipment: str, order_numbers: Sequence[int]) -> dict[int, PlannedOrder]:
        """The plan in force for these order numbers on ``equipment`` (the newest import of each)."""
        with self._lock:
            return self._planned(equipment, order_numbers)

    def plan(self, equipment: str, limit: int) -> list[PlannedOrder]:
        """The plan in force for the ``limit`` order numbers imported last on ``equipment``, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT order_number FROM order_plan WHERE equipment = ? GROUP BY order_number"
                " ORDER BY max(id) DESC LIMIT ?",
                (equipment, limit),
            ).fetchall()
            numbers = [int(r[0]) for r in rows]
            found = self._planned(equipment, numbers)
        return [found[n] for n in numbers]

    def _planned(self, equipment: str, order_numbers: Sequence[int]) -> dict[int, PlannedOrder]:
        wanted = sorted(set(order_numbers))
        out: dict[int, PlannedOrder] = {}
        for k in range(0, len(wanted), 500):  # SQLite bounds the number of parameters of one statement
            chunk = wanted[k : k + 500]
            rows = self._db.execute(
                f"SELECT order_number, design_code, colourway, fabric, metres_ordered FROM order_plan"
                f" WHERE equipment = ? AND order_number IN ({','.join('?' * len(chunk))}) ORDER BY id",
                (equipment, *chunk),
            ).fetchall()
            for r in rows:
                out[int(r[0])] = PlannedOrder(int(r[0]), int(r[1]), str(r[2]), str(r[3]), float(r[4]))
        return out

    def notes(self, equipment_ids: Sequence[str], start_ns: int, end_ns: int) -> list[Note]:
        if not equipment_ids:
            return []
        marks = ",".join("?" * len(equipment_ids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT id, equipment, ts_ns, text, operator, created_ns FROM note"
                f" WHERE equipment IN ({marks}) AND ts_ns >= ? AND ts_ns < ? ORDER BY ts_ns, id",
                (*equipment_ids, start_ns, end_ns),
            ).fetchall()
        return [Note(*r) for r in rows]

    def hour_comments(self, equipment: str, shift: str) -> dict[int, HourComment]:
        """The comment in force on each commented hour of one shift (the newest per hour)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, equipment, shift, hour_index, hour_start_ns, text, operator, created_ns FROM hour_comment"
                " WHERE equipment = ? AND shift = ? ORDER BY id",
                (equipment, shift),
            ).fetchall()
        return {c.hour_index: c for c in (HourComment(*r) for r in rows)}

    def _hour_comment(self, equipment: str, shift: str, hour_index: int) -> HourComment | None:
        row = self._db.execute(
            "SELECT id, equipment, shift, hour_index, hour_start_ns, text, operator, created_ns FROM hour_comment"
            " WHERE equipment = ? AND shift = ? AND hour_index = ? ORDER BY id DESC LIMIT 1",
            (equipment, shift, hour_index),
        ).fetchone()
        return None if row is None else HourComment(*row)

    def audit(self, equipment: str | None = None, limit: int = 200) -> list[AuditEntry]:
        """Newest first."""
        query = "SELECT id, ts_ns, operator, action, equipment, before, after FROM audit"
        params: tuple[Any, ...] = ()
        if equipment is not None:
            query += " WHERE equipment = ?"
            params = (equipment,)
        query += " ORDER BY id DESC LIMIT ?"
        with self._lock:
            rows = self._db.execute(query, (*params, limit)).fetchall()
        return [AuditEntry(i, ts, op, act, eq, json.loads(b), json.loads(a)) for i, ts, op, act, eq, b, a in rows]

    # ------------------------------------------------------------------ internals

    def _tx(self) -> _Transaction:
        return _Transaction(self)

    def _insert_override(
        self, equipment: str, start_ns: int, end_ns: int, reason_code: int, operator: str, comment: str
    ) -> ReasonOverride:
        created = self._clock_ns()
        change_id = self._next_change_id()
        self._db.execute(
            "INSERT INTO reason_override (id, equipment, start_ns, end_ns, reason_code, operator, created_ns, comment)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (change_id, equipment, start_ns, end_ns, reason_code, operator, created, comment),
        )
        return ReasonOverride(change_id, equipment, start_ns, end_ns, reason_code, operator, created, comment)

    def _next_change_id(self) -> int:
        """The next id of the one change sequence (inside the write's transaction: BEGIN IMMEDIATE holds the
        file, so two processes never take the same id)."""
        return self._last_change_id() + 1

    def _last_change_id(self) -> int:
        row = self._db.execute(
            "SELECT max(coalesce((SELECT max(id) FROM reason_override), 0),"
            " coalesce((SELECT max(id) FROM order_event), 0),"
            " coalesce((SELECT max(withdrawn_id) FROM order_event), 0))"
        ).fetchone()
        return int(row[0])

    def _reasons_overlapping(self, equipment: str, start_ns: int, end_ns: int) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT id, equipment, start_ns, end_ns, reason_code, operator, created_ns, comment FROM reason_override"
            " WHERE equipment = ? AND start_ns < ? AND end_ns > ? ORDER BY id",
            (equipment, end_ns, start_ns),
        ).fetchall()
        return [asdict(ReasonOverride(*r)) for r in rows]

    def _before(self, equipment: str, start_ns: int, end_ns: int, measured: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """The audit's "before" of a reason change: what was measured and which overrides were in force."""
        return {
            "measured": [dict(m) for m in measured],
            "overrides": self._reasons_overlapping(equipment, start_ns, end_ns),
        }

    def _audit(self, operator: str, action: str, equipment: str, before: Any, after: Any) -> None:
        self._db.execute(
            "INSERT INTO audit (ts_ns, operator, action, equipment, before, after) VALUES (?, ?, ?, ?, ?, ?)",
            (self._clock_ns(), operator, action, equipment, json.dumps(before), json.dumps(after)),
        )
        self._changes += 1


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT/ROLLBACK: a change and its audit row land together or not at all."""

    def __init__(self, owner: AnnotationStore) -> None:
        self._db = owner._db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error:
                self._rollback()
                raise
        else:
            self._rollback()

    def _rollback(self) -> None:
        # SQLite may have rolled back already (SQLITE_FULL does): a ROLLBACK then fails with "cannot rollback -
        # no transaction is active", and raising that would hide the real error.
        if self._db.in_transaction:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error as exc:
                log.warning("annotations: rollback failed too (%s)", one_line(exc))
