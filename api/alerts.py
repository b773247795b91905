"""The alert service: evaluates the plant's andon rules on every new sample, keeps and sends the events.

It runs as a task in the API's event loop, never in a collector: the live hub
pokes it after each write (the collectors' reader thread only sets an event),
and it also wakes every ``TICK_S`` for conditions that become true with time
alone (a stop growing longer than its limit, data growing old). Each
evaluation reads the hub's latest facts, asks ``models.alerts`` what holds and
what changed, then for each change: the store (the annotations file, in a
worker thread), the live channel (``{"type": "alert", ...}``), the webhook's
queue and the counters on /metrics. The store being away does not stop
alerts reaching the display: it is said once per stretch and retried with the
next evaluation. Hourly attainment reads the hour-by-hour board once per closed
hour (api/hourly_alerts.py), never per evaluation.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from shopfloor.api.hourly_alerts import HourlyWatch
from shopfloor.api.live import LiveHub
from shopfloor.api.timerange import iso
from shopfloor.api.webhook import WebhookSender
from shopfloor.models.alerts import (
    AlertBook,
    AlertEvent,
    Change,
    ClosedHour,
    EquipmentView,
    Transition,
    conditions,
)
from shopfloor.models.plant import Plant
from shopfloor.models.timebase import NS_PER_S
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.base import StoreError
from shopfloor.store.outage import OutageLog

log = logging.getLogger("shopfloor.api.alerts")

TICK_S = 0.5  # time-driven conditions are seen within this of becoming true
MAX_UNSAVED = 10_000  # events waiting for a store that is away; older ones are dropped (memory stays bounded)


def alert_json(plant: Plant, a: AlertEvent) -> dict[str, Any]:
    def at(ns: int | None) -> str | None:
        return None if ns is None else iso(plant, ns)

    return {
        "id": a.id,
        "rule": a.rule,
        "equipment": a.equipment,
        "severity": a.severity.value,
        "message": a.message,
        "message_zh": a.message_zh,
        "active": a.active,
        "raised": at(a.raised_ns),
        "raised_ns": a.raised_ns,
        "cleared": at(a.cleared_ns),
        "cleared_ns": a.cleared_ns,
        "acknowledged": at(a.acknowledged_ns),
        "acknowledged_ns": a.acknowledged_ns,
        "acknowledged_by": a.acknowledged_by,
    }


def event_json(plant: Plant, change: Change) -> dict[str, Any]:
    """What the live channel and the webhook receive for one change."""
    return {
        "type": "alert",
        "transition": change.transition.value,
        "idempotency_key": f"{change.alert.id}:{change.transition.value}",
        "plant": plant.plant.id,
        "alert": alert_json(plant, change.alert),
    }


def view_of(hub: LiveHub, closed_hours: Mapping[str, ClosedHour] | None = None) -> EquipmentView:
    states, values, links = hub.facts()
    return EquipmentView(
        states={e: (s.code, s.since_ns) for e, s in states.items()},
        values={e: {f: tv[1] for f, tv in fields.items()} for e, fields in values.items()},
        newest_ns={e: max(tv[0] for tv in fields.values()) for e, fields in values.items() if fields},
        links={e: link.connected for e, link in links.items()},
        closed_hours=closed_hours or {},
    )


class AlertService:
    def __init__(
        self,
        plant: Plant,
        hub: LiveHub,
        annotations: AnnotationStore,
        *,
        clock_ns: Callable[[], int] = time.time_ns,
        webhook: WebhookSender | None = None,
        poll_scale: float = 1.0,
    ) -> None:
        """``poll_scale``: a poll interval's length on the plant's clock per second of the plant file's (the demo's
        time scale; models.alerts.conditions)."""
        self.plant = plant
        self.poll_scale = poll_scale
        self.hub = hub
        self.annotations = annotations
        self.clock_ns = clock_ns
        self.webhook = webhook
        self.hourly: HourlyWatch | None = None  # set by the app once the board service exists
        self.raised_total: collections.Counter[tuple[str, str]] = collections.Counter()  # (rule, severity)
        self._rules = [r.id for r in plant.alerts.rules]
        self._book = AlertBook()
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsaved: list[Change] = []  # what the store could not take yet, oldest first
        self._outage = OutageLog(log, "alert events (annotations file)")
        self._saving = asyncio.Lock()
        self.unsaved_dropped = 0

    @property
    def active(self) -> list[AlertEvent]:
        return self._book.active

    def load(self) -> None:
        """The alerts still active when the service last stopped: they stay active until data ends them."""
        self._book = AlertBook(self.annotations.alerts(active=True, limit=100_000))

    def _poke(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: the app is stopping
                loop.call_soon_threadsafe(wake.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        try:
            await asyncio.to_thread(self.load)
        except StoreError as exc:
            log.warning("alerts: cannot read the alerts active before this start (%s); starting with none", exc)
        self.hub.add_listener(self._poke)
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), TICK_S)
                self._wake.clear()
                try:
                    await self.evaluate()
                except Exception:  # a bug: its traceback, but alerts must go on
                    log.exception("alert evaluation failed; retrying at the next sample")
        finally:
            self.hub.remove_listener(self._poke)
            if self.hourly is not None:
                self.hourly.cancel()

    def poke(self) -> None:
        """Evaluate again soon (callable from any thread)."""
        self._poke()

    async def evaluate(self) -> list[Change]:
        now = self.clock_ns()
        hours = None
        if self.hourly is not None:
            self.hourly.check(now)
            hours = self.hourly.facts
        found = conditions(self.plant, view_of(self.hub, hours), now, poll_scale=self.poll_scale)
        changes = self._book.update(found, now, self._rules)
        await self._apply(changes)
        return changes

    async def acknowledge(self, alert_id: str, who: str) -> AlertEvent | None:
        """The acknowledged alert (already acknowledged: as it was); None if no active alert has this id."""
        found = self._book.find(alert_id)
        if found is None:
            return None
        if found.acknowledged_ns is not None:
            return found
        now = self.clock_ns()
        # The acknowledgement and its audit row are kept before anyone is told: a StoreError here is the
        # caller's 503, and nothing changed.
        acked = replace(found, acknowledged_ns=now, acknowledged_by=who)
        async with self._saving:  # after what still waits for the store (the alert's own raising, maybe)
            await asyncio.to_thread(self._save)
            await asyncio.to_thread(self.annotations.record_alert, Change(Transition.ACKNOWLEDGED, acked))
        change = self._book.acknowledge(alert_id, who, now)
        if change is None:  # cleared while the store was written: the record stands, nothing to announce
            return acked
        self._announce([change])
        return change.alert

    async def _apply(self, changes: list[Change]) -> None:
        """Announce ``changes``, then store them after whatever still waits (retried at every evaluation)."""
        if changes:
            self._announce(changes)
            self._unsaved.extend(changes)
            excess = len(self._unsaved) - MAX_UNSAVED
            if excess > 0:
                del self._unsaved[:excess]
                self.unsaved_dropped += excess
        if not self._unsaved:
            return
        async with self._saving:
            try:
                await asyncio.to_thread(self._save)
                self._outage.recovered()
            except StoreError as exc:
                self._outage.failed(
                    f"cannot keep alert events ({exc}); kept in memory and retried", f"{len(self._unsaved)} waiting"
                )

    def _announce(self, changes: list[Change]) -> None:
        for change in changes:
            if change.transition is Transition.RAISED:
                self.raised_total[(change.alert.rule, change.alert.severity.value)] += 1
            event = event_json(self.plant, change)
            self.hub.publish(event)
            if self.webhook is not None:
                self.webhook.offer(event)

    def _save(self) -> None:
        while self._unsaved:
            self.annotations.record_alert(self._unsaved[0])
            self._unsaved.pop(0)

    def recent(self, limit: int) -> list[AlertEvent]:
        since = self.clock_ns() - self.plant.alerts.recent_hours * 3600 * NS_PER_S
        return self.annotations.alerts(active=False, since_ns=since, limit=limit)
