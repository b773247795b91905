"""The OPC UA collector of one fleet: connect, subscribe (or poll), watch, reconnect.

One :class:`OpcUaFleetCollector` owns one endpoint (``Fleet.opcua``). Its
life is a loop of *links*; each link is one session:

1. open the session (security, credentials) — :mod:`collectors.opcua.session`;
2. resolve node ids against this session's namespace array, and translate
   browse paths to node ids on this session (a restarted server may number
   its nodes differently);
3. record the link as connected;
4. subscribe every variable in batches, or poll when the server cannot
   subscribe (``poll_fallback``) or polling is forced;
5. serve until stopped or lost: lost is a closed socket, asyncua's failed
   health probe, a bad subscription status, a failed read, or silence (no
   publish response, not even a keep-alive) longer than the stall timeout;
6. record the loss, wait a capped exponential backoff, go to 1.

Refused items are retried every ``retry_interval_s`` while the link is up.
Nothing is written for the time the link is down: the connectivity records
make that a gap, never zeros.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Sequence

from asyncua import Client, ua

from shopfloor.collectors.base import Backoff, ConnectivityTracker, GuardedSink, next_tick
from shopfloor.collectors.opcua.browse import translate_browse_paths
from shopfloor.collectors.opcua.plan import FleetPlan, plan_fleet, resolve_node_ids
from shopfloor.collectors.opcua.polling import FleetPoller
from shopfloor.collectors.opcua.session import (
    ConnectError,
    close_client,
    describe_loss,
    failures_reported_to,
    open_client,
)
from shopfloor.collectors.opcua.stats import CollectorStats, Mode
from shopfloor.collectors.opcua.subscription import FleetSubscription, SubscriptionUnavailable
from shopfloor.models.plant import Fleet
from shopfloor.models.samples import SampleSink
from shopfloor.models.timebase import Clock, SystemClock

log = logging.getLogger("shopfloor.collectors.opcua")


class OpcUaFleetCollector:
    """Collects every robot variable of ``fleet`` into ``sink`` until ``run``'s stop event is set.

    ``force_polling`` skips the subscription (for servers known not to
    support one). ``ready`` is set while values are being delivered on a
    live link and cleared when the link is lost. ``password`` is the
    endpoint user's, read where the process starts (``opcua_password``).
    """

    def __init__(
        self,
        fleet: Fleet,
        sink: SampleSink,
        *,
        clock: Clock | None = None,
        force_polling: bool = False,
        reconnect_initial_s: float = 0.5,
        reconnect_max_s: float | None = None,
        retry_interval_s: float = 5.0,
        password: str | None = None,
    ) -> None:
        self.fleet = fleet
        self.endpoint = fleet.opcua
        self._password = password
        self.plan: FleetPlan = plan_fleet(fleet)  # raises PlanError for an unusable node id, before any I/O
        self._browse_set = frozenset(self.plan.browse_indices)
        self.clock = clock or SystemClock()
        self.force_polling = force_polling
        self.retry_interval_s = retry_interval_s
        self.source = f"opcua:{fleet.id}"
        self.stats = CollectorStats()
        # Sink failures (a store refusing a batch) are counted and logged once: they never tear down a
        # healthy link nor kill asyncua's publish loop.
        self.sink = GuardedSink(sink, self.source, log, on_failure=self._count_sink_error)
        self.ready = asyncio.Event()
        cap_s = self.endpoint.reconnect_max_s if reconnect_max_s is None else reconnect_max_s
        self.backoff = Backoff(min(reconnect_initial_s, cap_s), cap_s)
        self.link = ConnectivityTracker(fleet.id, self.source, log)
        self._lost = asyncio.Event()
        self._lost_reason = ""
        self._last_failure = ""

    def _count_sink_error(self) -> None:
        self.stats.sink_errors += 1

    @property
    def is_connected(self) -> bool:
        return self.link.is_connected

    def counts(self) -> dict[str, int]:
        return {name: value for name, value in dataclasses.asdict(self.stats).items() if type(value) is int}

    @property
    def mode(self) -> str:
        return self.stats.mode

    # ------------------------------------------------------------------ main loop

    async def run(self, stop: asyncio.Event) -> None:
        """Collect until ``stop`` is set. Never raises for device or network trouble."""
        while not stop.is_set():
            self.stats.attempts += 1
            with failures_reported_to(self._link_failed_callback(self.stats.attempts)):
                try:
                    client = await open_client(self.endpoint, on_lost=self._asyncua_lost, password=self._password)
                except ConnectError as exc:
                    self._down(str(exc))
                    await self._wait(stop, self.backoff.next_delay())
                    continue
                self.stats.connects += 1
                if self.stats.connects > 1:
                    self.stats.reconnects += 1
                reason = None
                try:
                    reason = await self._serve(client, stop)
                except (ConnectionError, OSError, TimeoutError, ua.UaError) as exc:
                    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                except Exception as exc:  # e.g. a sink refusing a batch: log it, start a new link
                    log.exception("%s: unexpected error, reconnecting", self.source)
                    reason = f"internal error: {type(exc).__name__}: {exc}"
                finally:
                    self.ready.clear()
                    self.stats.mode = "idle"
                    await close_client(client, graceful=stop.is_set(), timeout_s=self.endpoint.timeout_s)
            if stop.is_set():
                break
            self._down(reason or "link lost")
            await self._wait(stop, self.backoff.next_delay())

    async def _serve(self, client: Client, stop: asyncio.Event) -> str | None:
        """Deliver values over one session; returns why it ended (None when stopped)."""
        self._lost.clear()
        self._lost_reason = ""
        node_ids = await self._resolve(client)
        if not self.force_polling:
            subscription = FleetSubscription(
                client, self.plan, self.endpoint, self.sink, self.stats, self.clock, self._mark_lost
            )
            try:
                await subscription.create()
            except SubscriptionUnavailable as exc:
                if not self.endpoint.poll_fallback:
                    raise ConnectionError(f"{exc} and poll_fallback is off") from None
                log.warning("%s: %s; falling back to polling", self.source, exc)
            else:
                self._up("subscription")
                await subscription.add_items(node_ids, range(len(self.plan)))
                self.ready.set()
                return await self._watch_subscription(client, subscription, stop)
        self._up("polling")
        return await self._poll(client, node_ids, stop)

    async def _watch_subscription(self, client: Client, sub: FleetSubscription, stop: asyncio.Event) -> str | None:
        """Wait for stop or loss; retry refused items; declare a stall when the server falls silent."""
        next_retry = self.clock.monotonic() + self.retry_interval_s
        while True:
            tick_s = min(1.0, sub.timing.stall_timeout_s / 4)
            if await self._wait_lost_or_stop(stop, tick_s):
                return None if stop.is_set() else self._lost_reason
            if sub.silent_for_s() > sub.timing.stall_timeout_s:
                return f"stalled: no publish response or keep-alive for {sub.silent_for_s():.1f} s"
            if sub.pending and self.clock.monotonic() >= next_retry:
                # After a restart the server may re-register a namespace or node a moment later.
                retry = sorted(sub.pending)
                node_ids = await self._resolve(client, retry)
                accepted = await sub.add_items(node_ids, retry)
                if accepted:
                    log.info(
                        "%s: %d refused item(s) now monitored, %d still refused",
                        self.source,
                        accepted,
                        len(sub.pending),
                    )
                next_retry = self.clock.monotonic() + self.retry_interval_s

    async def _poll(self, client: Client, node_ids: Sequence[ua.NodeId | str], stop: asyncio.Event) -> str | None:
        poller = FleetPoller(client, self.plan, self.endpoint, self.sink, self.stats, self.clock)
        interval_s = self.endpoint.publishing_interval_ms / 1000.0
        t0 = self.clock.monotonic()
        index = -1
        while True:
            await poller.poll_once(node_ids)
            self.ready.set()
            tick = next_tick(t0, interval_s, index, self.clock.monotonic())
            index = tick.index
            if await self._wait_lost_or_stop(stop, tick.deadline - self.clock.monotonic()):
                return None if stop.is_set() else self._lost_reason
            unresolved = [i for i, n in enumerate(node_ids) if isinstance(n, str)]
            if unresolved:
                fresh = await self._resolve(client, unresolved)
                node_ids = [fresh[i] if isinstance(n, str) else n for i, n in enumerate(node_ids)]

    async def _resolve(self, client: Client, indices: Sequence[int] | None = None) -> list[ua.NodeId | str]:
        """Node id of every plan item on this session, or why it has none (a text, recorded as BAD_STATUS).

        Browse paths are translated only for ``indices`` (all when None): a
        retry asks the server again for the paths that failed, not for all.
        """
        namespaces = await client.get_namespace_array()
        node_ids = resolve_node_ids(self.plan, namespaces)
        wanted = self.plan.browse_indices if indices is None else [i for i in indices if i in self._browse_set]
        if wanted:
            translated = await translate_browse_paths(
                client, self.plan, namespaces, wanted, self.endpoint.subscribe_batch_size
            )
            for i, node in translated.items():
                node_ids[i] = node
        return node_ids

    # ------------------------------------------------------------------ link state

    def _up(self, mode: Mode) -> None:
        self.stats.mode = mode
        self.stats.last_error = ""
        self._last_failure = ""
        self.backoff.reset()
        event = self.link.connected(self.clock.now_ns(), f"{mode}, {len(self.plan)} variables")
        if event is not None:
            self.sink.write_connectivity([event])

    def _down(self, reason: str) -> None:
        self.stats.last_error = reason
        event = self.link.lost(self.clock.now_ns(), reason)
        if event is not None:
            self.sink.write_connectivity([event])
        elif reason != self._last_failure:
            # Still down, for a new reason (e.g. the server is back but rejects our password).
            log.warning("%s: still cannot reach %s: %s", self.source, self.fleet.id, reason)
        self._last_failure = reason

    def _mark_lost(self, reason: str) -> None:
        if not self._lost.is_set():
            self._lost_reason = reason
            self._lost.set()

    async def _asyncua_lost(self, exc: Exception) -> None:
        """asyncua's health probe failed, or it saw the socket close."""
        self._mark_lost(describe_loss(exc, "the health probe"))

    def _link_failed_callback(self, attempt: int) -> Callable[[str], None]:
        """What asyncua's tasks of link ``attempt`` call when they fail (its publish loop, see session.py)."""

        def failed(reason: str) -> None:
            if attempt == self.stats.attempts:  # not a late word from a link already replaced
                self._mark_lost(reason)

        return failed

    # ------------------------------------------------------------------ waiting

    async def _wait_lost_or_stop(self, stop: asyncio.Event, timeout_s: float) -> bool:
        """True when stop or loss happened within ``timeout_s``."""
        if stop.is_set() or self._lost.is_set():
            return True
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._lost.wait())]
        try:
            done, _ = await asyncio.wait(waiters, timeout=max(0.0, timeout_s), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        return bool(done)

    async def _wait(self, stop: asyncio.Event, delay_s: float) -> None:
        """Sleep ``delay_s`` on the collector's clock, waking early when stopped."""
        sleeper = asyncio.ensure_future(self.clock.sleep(delay_s))
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait([sleeper, stopper], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, stopper):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
