"""The in-process live hub: a SampleSink that pushes state changes to connected clients.

The demo tees collector output into the store *and* this hub (both implement
``models.samples.SampleSink``). The hub keeps, per equipment, the newest value
of each field, the current state and since when, and the link state. A state
change is pushed to every subscriber the moment ``write()`` sees it; periodic
snapshots (status, KPIs) are published by the app's snapshot task through
:meth:`LiveHub.publish`.

``write()`` may be called from any thread (a collector in its own loop): the
hub updates its tables under a lock and hands messages to subscribers with
``loop.call_soon_threadsafe``. Each subscriber has a bounded queue; a client
too slow to keep up loses its oldest messages, never the server's memory, and
keeps at most one unsent snapshot of each kind (a newer one replaces it).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shopfloor.models.plant import Plant
from shopfloor.models.samples import ConnectivityEvent, SampleBatch
from shopfloor.models.states import (
    PRINTER_STATE_LABELS,
    ROBOT_STATE_LABELS,
    PrinterState,
    RobotState,
    state_family,
)

Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class StateInfo:
    code: int
    since_ns: int  # when this state began (as far as anyone saw)
    ts_ns: int  # newest sample confirming it


@dataclass(frozen=True, slots=True)
class LinkInfo:
    connected: bool
    ts_ns: int
    source: str
    detail: str


def state_labels(kind: str, code: int) -> tuple[str, str]:
    """(English, Chinese) label of a state code; unknown codes are shown as such, not hidden."""
    try:
        if kind == "printer":
            return PRINTER_STATE_LABELS[PrinterState(code)]
        return ROBOT_STATE_LABELS[RobotState(code)]
    except ValueError:
        return (f"Unknown state {code}", f"未知状态 {code}")


# Periodic snapshots: each replaces the one before, so an unsent one is stale once a newer one comes.
SUPERSEDED_TYPES = frozenset({"status", "kpi"})


class Subscription:
    """One client's pending messages: at most ``maxsize``, and at most one snapshot of each kind.

    A client too slow to keep up loses its oldest messages; a snapshot waiting to be sent is replaced by
    a newer one (which goes to the back, after the changes it already includes). So what waits for one
    client is bounded in bytes as well as in count, whatever the plant's size: two snapshots (about
    80 kB for 3 lines and 100 robots, bench/display.py) and small state messages.
    """

    def __init__(self, hub: LiveHub, loop: asyncio.AbstractEventLoop, maxsize: int) -> None:
        self.loop = loop
        self.maxsize = maxsize
        self.dropped = 0
        self.superseded = 0
        self._items: deque[Message] = deque()
        self._ready = asyncio.Event()
        self._hub = hub

    def offer(self, message: Message) -> None:
        """Runs on the subscriber's loop."""
        kind = message.get("type")
        if kind in SUPERSEDED_TYPES:
            for i, waiting in enumerate(self._items):
                if waiting.get("type") == kind:
                    del self._items[i]
                    self.superseded += 1
                    break
        if len(self._items) >= self.maxsize:
            self._items.popleft()  # drop the oldest: fresh state matters more than history
            self.dropped += 1
        self._items.append(message)
        self._ready.set()

    @property
    def pending(self) -> int:
        return len(self._items)

    async def get(self) -> Message:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    def close(self) -> None:
        self._hub.unsubscribe(self)


class LiveHub:
    def __init__(self, plant: Plant, *, clock_ns: Callable[[], int] = time.time_ns, queue_size: int = 256) -> None:
        self.plant = plant
        self._clock_ns = clock_ns
        self._queue_size = queue_size
        self._lock = threading.Lock()
        self._subs: list[Subscription] = []
        self._kind: dict[str, str] = {p.id: "printer" for p in plant.printers}
        self._kind.update({r.id: "robot" for f in plant.fleets for r in f.robots})
        self._states: dict[str, StateInfo] = {}
        self._values: dict[str, dict[str, tuple[int, float]]] = {}
        self._links: dict[str, LinkInfo] = {}
        self._first_seen: set[str] = set()
        self.last_write_ns: int | None = None
        self.state_changes = 0
        self._listeners: list[Callable[[], None]] = []

    def add_listener(self, poke: Callable[[], None]) -> None:
        """``poke()`` is called after every write (samples or links), on the writer's thread: it must only
        signal (e.g. ``loop.call_soon_threadsafe(event.set)``), never do the work (the alert service)."""
        with self._lock:
            self._listeners.append(poke)

    def remove_listener(self, poke: Callable[[], None]) -> None:
        with self._lock:
            if poke in self._listeners:
                self._listeners.remove(poke)

    def _poke(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for poke in listeners:
            poke()

    # ------------------------------------------------------------------ SampleSink

    def write(self, batch: SampleBatch) -> None:
        good = batch.good
        if not good.any():
            return
        ts, eq, field, value = batch.ts_ns[good], batch.equipment[good], batch.field[good], batch.value[good]
        is_state = field == "state"
        # Every state sample, oldest first (each transition matters); for other fields only the
        # newest sample of each (equipment, field) - a replayed hour costs one pass, not a loop per row.
        state_rows = np.flatnonzero(is_state)
        state_rows = state_rows[np.argsort(ts[state_rows], kind="stable")]
        other = np.flatnonzero(~is_state)
        newest: list[int] = []
        if len(other):
            keys = np.char.add(np.char.add(eq[other].astype(str), "\x00"), field[other].astype(str))
            order = np.lexsort((ts[other], keys))
            k_sorted = keys[order]
            last = np.r_[k_sorted[1:] != k_sorted[:-1], True]
            newest = other[order[last]].tolist()
        messages: list[Message] = []
        with self._lock:
            self.last_write_ns = self._clock_ns()
            for i in newest:
                self._merge(str(eq[i]), str(field[i]), int(ts[i]), float(value[i]))
            for i in state_rows.tolist():
                e, t = str(eq[i]), int(ts[i])
                if self._merge(e, "state", t, float(value[i])):
                    message = self._update_state(e, round(float(value[i])), t, self._values[e])
                    if message is not None:
                        messages.append(message)
        for message in messages:
            self.publish(message)
        self._poke()

    def _merge(self, equipment: str, field: str, ts_ns: int, value: float) -> bool:
        """Keep the newest value; False for a late, out-of-order sample (the newer value stands)."""
        fields = self._values.setdefault(equipment, {})
        current = fields.get(field)
        if current is not None and ts_ns < current[0]:
            return False
        fields[field] = (ts_ns, value)
        return True

    def write_connectivity(self, events: Sequence[ConnectivityEvent]) -> None:
        messages = []
        with self._lock:
            for ev in sorted(events, key=lambda x: x.ts_ns):
                self._links[ev.equipment] = LinkInfo(ev.connected, ev.ts_ns, ev.source, ev.detail)
                messages.append(
                    {
                        "type": "connectivity",
                        "equipment": ev.equipment,
                        "connected": ev.connected,
                        "ts_ns": ev.ts_ns,
                        "source": ev.source,
                        "detail": ev.detail,
                    }
                )
        for message in messages:
            self.publish(message)
        self._poke()

    def _update_state(
        self, equipment: str, code: int, ts_ns: int, fields: dict[str, tuple[int, float]]
    ) -> Message | None:
        previous = self._states.get(equipment)
        if previous is not None and previous.code == code:
            self._states[equipment] = StateInfo(code, previous.since_ns, max(ts_ns, previous.ts_ns))
            return None
        self._states[equipment] = StateInfo(code, ts_ns, ts_ns)
        if previous is None:
            self._first_seen.add(equipment)  # since = first sample seen, not a transition
        else:
            self._first_seen.discard(equipment)
        self.state_changes += 1
        kind = self._kind.get(equipment, "robot")
        label_en, label_zh = state_labels(kind, code)
        message: Message = {
            "type": "state",
            "equipment": equipment,
            "kind": kind,
            "state": code,
            "label_en": label_en,
            "label_zh": label_zh,
            "family": state_family(kind, code).value,
            "since_ns": ts_ns,
            "previous": None if previous is None else previous.code,
        }
        if kind == "printer" and "stop_reason" in fields:
            message["stop_reason"] = int(fields["stop_reason"][1])
        return message

    # ------------------------------------------------------------------ reads

    def state(self, equipment: str) -> StateInfo | None:
        with self._lock:
            return self._states.get(equipment)

    def seed_state(self, equipment: str, info: StateInfo) -> None:
        """Since-when from stored history, for equipment the hub has not seen change yet."""
        with self._lock:
            current = self._states.get(equipment)
            # Only the "first seen" since of a state may be moved back; a transition the hub saw is exact.
            if current is None or (
                equipment in self._first_seen and current.code == info.code and info.since_ns < current.since_ns
            ):
                self._states[equipment] = StateInfo(
                    info.code, info.since_ns, max(info.ts_ns, current.ts_ns if current else 0)
                )
                self._first_seen.discard(equipment)

    def link(self, equipment: str) -> LinkInfo | None:
        with self._lock:
            return self._links.get(equipment)

    def values(self, equipment: str) -> dict[str, tuple[int, float]]:
        with self._lock:
            return dict(self._values.get(equipment, {}))

    def facts(self) -> tuple[dict[str, StateInfo], dict[str, dict[str, tuple[int, float]]], dict[str, LinkInfo]]:
        """States, newest values and links of every equipment, copied under one lock (one consistent view)."""
        with self._lock:
            return dict(self._states), {e: dict(v) for e, v in self._values.items()}, dict(self._links)

    # ------------------------------------------------------------------ subscribers

    def subscribe(self) -> Subscription:
        """Call from the event loop that will read the subscription."""
        sub = Subscription(self, asyncio.get_running_loop(), self._queue_size)
        with self._lock:
            self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    @property
    def clients(self) -> int:
        with self._lock:
            return len(self._subs)

    def publish(self, message: Message) -> None:
        """Thread-safe broadcast to every subscriber."""
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            try:
                sub.loop.call_soon_threadsafe(sub.offer, message)
            except RuntimeError:  # its loop is closed: the client is gone
                self.unsubscribe(sub)
