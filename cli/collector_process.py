"""The collectors in a process of their own, so no client of the API can delay a poll.

``shopfloor run`` and ``shopfloor demo`` serve the API from the main process
and poll the devices from this child (the demo's simulators run here too, as a
plant's devices would not share the server's fate). The child sends what it
collects over a pipe; a reader thread in the main process hands it to the
store and the live hub, exactly as a collector in the same process would.

Why a process and not a thread: a thread shares the interpreter lock with the
server, and under a flood of connections a poll then started hundreds of
milliseconds late (measured: 232 ms and more, against 20 ms idle), enough to
miss a 0.5 s tick. A process is scheduled by the OS on its own. The store
stays in the main process because the embedded DuckDB file admits one
process; a slow store therefore delays only *storing* (what waits sits in the
pipe and in a bounded queue here), never polling. See docs/api.md, "Isolation".

Protocol (pickled tuples): child -> main ``("ready", plant, endpoints)``,
``("batch", SampleBatch)``, ``("link", [ConnectivityEvent])``,
``("status", [(source, connected, counts)])``, ``("error", text)``;
main -> child ``"stop"`` (or the pipe closing, when the main process dies).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shopfloor.cli.logs import configure_logging
from shopfloor.collectors.base import GuardedSink
from shopfloor.models.plant import Plant
from shopfloor.models.samples import ConnectivityEvent, SampleBatch, SampleSink
from shopfloor.models.timebase import Clock
from shopfloor.simulators.clock import SimClock

if TYPE_CHECKING:  # the main process never loads the simulators: the child does, through cli.simulate
    from shopfloor.simulators.fleet.server import FleetSimulator
    from shopfloor.simulators.printer.server import PrinterSimulator

log = logging.getLogger("shopfloor.collectors.process")

STATUS_INTERVAL_S = 0.5  # how often the child reports its collectors' counters (for /metrics)
MAX_QUEUED = 100_000  # messages the child holds while the main process is not reading (about an hour)


@dataclass(frozen=True)
class FieldJob:
    """What the child runs: the plant's collectors, on ``clock``; with ``simulate``, the demo's
    simulators first (on free loopback ports, on ``sim_clock``), the collectors pointed at them."""

    plant: Plant
    clock: Clock
    simulate: bool = False
    sim_clock: SimClock | None = None
    seed: int | None = None
    # the main process's (``shopfloor --log-level``), read when the job is made
    log_level: str = field(default_factory=lambda: logging.getLevelName(logging.getLogger().level))


@dataclass(frozen=True, slots=True)
class RemoteCollector:
    """A collector of the child as /metrics sees it (``collectors.base.CollectorStatus``)."""

    source: str
    is_connected: bool
    counters: tuple[tuple[str, int], ...]

    def counts(self) -> dict[str, int]:
        return dict(self.counters)


class CollectorProcessError(RuntimeError):
    """The collectors' process could not start (the reason comes from the child)."""


class CollectorProcess:
    """The parent's handle: start the child, feed ``sink`` with what it sends, stop it."""

    def __init__(self, job: FieldJob, sink: SampleSink) -> None:
        self.job = job
        self.sink = GuardedSink(sink, "collectors", log)
        context = multiprocessing.get_context("spawn")  # never fork a process that runs threads
        self._data_in, data_out = context.Pipe(duplex=False)
        control_in, self._control_out = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_child_main, args=(job, data_out, control_in), name="shopfloor-collectors", daemon=True
        )
        self._child_ends = (data_out, control_in)
        self._statuses: tuple[RemoteCollector, ...] = ()
        self._reader: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready: asyncio.Future[tuple[Plant, tuple[str, ...]]] | None = None
        self._ended: asyncio.Future[None] | None = None

    @property
    def statuses(self) -> Sequence[RemoteCollector]:
        return self._statuses

    async def start(self) -> tuple[Plant, tuple[str, ...]]:
        """Start the child; returns the plant as it collects it (the demo's: wired to its simulators) and
        the endpoints it reads, once every collector is built and running."""
        self._loop = asyncio.get_running_loop()
        self._ready = self._loop.create_future()
        self._ended = self._loop.create_future()
        self._process.start()
        for end in self._child_ends:
            end.close()  # the child holds them now; the parent sees EOF when the child is gone
        self._reader = threading.Thread(target=self._read, name="collectors-reader", daemon=True)
        self._reader.start()
        return await self._ready

    async def wait(self) -> None:
        """Until the child ends (it only ends when told to stop, unless it fails)."""
        assert self._ended is not None, "start() first"
        await asyncio.shield(self._ended)

    async def stop(self, timeout_s: float = 15.0) -> None:
        if self._process.pid is None:
            return
        with contextlib.suppress(OSError):  # already gone
            self._control_out.send("stop")
        if self._ended is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._ended), timeout_s)
            except TimeoutError:
                log.warning("the collectors' process did not stop within %.0f s; terminating it", timeout_s)
        await asyncio.to_thread(self._process.join, 5)
        if self._process.is_alive():
            self._process.terminate()
            await asyncio.to_thread(self._process.join, 5)
        if self._reader is not None:
            await asyncio.to_thread(self._reader.join, 5)
        self._control_out.close()

    # ------------------------------------------------------------------ the reader thread

    def _read(self) -> None:
        error = "the collectors' process ended before it was ready"
        try:
            while True:
                try:
                    message = self._data_in.recv()
                except (EOFError, OSError):
                    break
                kind = message[0]
                if kind == "batch":
                    self.sink.write(message[1])
                elif kind == "link":
                    self.sink.write_connectivity(message[1])
                elif kind == "status":
                    self._statuses = tuple(RemoteCollector(s, c, tuple(n.items())) for s, c, n in message[1])
                elif kind == "ready":
                    self._settle(self._ready, (message[1], message[2]))
                elif kind == "error":
                    error = message[1]
                    break
        finally:
            self._data_in.close()
            self._settle(self._ready, CollectorProcessError(error))
            self._settle(self._ended, None)

    def _settle(self, future: asyncio.Future[Any] | None, value: object) -> None:
        assert self._loop is not None

        def settle() -> None:
            if future is None or future.done():
                return
            if isinstance(value, BaseException):
                future.set_exception(value)
            else:
                future.set_result(value)

        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(settle)


# ---------------------------------------------------------------------------------- the child


class _Outbox:
    """The child's sink: queued for a sender thread, so a poll never waits on the pipe."""

    def __init__(self, conn: multiprocessing.connection.Connection) -> None:
        self._conn = conn
        self._queue: queue.Queue[tuple[Any, ...] | None] = queue.Queue(MAX_QUEUED)
        self.dropped = 0
        self._thread = threading.Thread(target=self._send, name="collectors-sender", daemon=True)
        self._thread.start()

    def put(self, message: tuple[Any, ...]) -> None:
        try:
            self._queue.put_nowait(message)
        except queue.Full:
            if self.dropped == 0:
                log.error(
                    "the main process has not read the collectors' output for a long while: %d messages"
                    " are waiting; further ones are dropped and counted until it reads again",
                    MAX_QUEUED,
                )
            self.dropped += 1

    def write(self, batch: SampleBatch) -> None:
        self.put(("batch", batch))

    def write_connectivity(self, events: Sequence[ConnectivityEvent]) -> None:
        self.put(("link", list(events)))

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(30)

    def _send(self) -> None:
        while (message := self._queue.get()) is not None:
            try:
                self._conn.send(message)
            except OSError:
                return  # the main process is gone; the control pipe's EOF stops the child
            if self.dropped and self._queue.empty():
                log.warning("the main process reads the collectors' output again (%d dropped)", self.dropped)
                self.dropped = 0


def _child_main(
    job: FieldJob, data: multiprocessing.connection.Connection, control: multiprocessing.connection.Connection
) -> None:
    # Ctrl-C reaches the whole process group; the main process decides when the collectors stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_logging(job.log_level)
    try:
        asyncio.run(_child(job, data, control))
    finally:
        data.close()


async def _child(
    job: FieldJob, data: multiprocessing.connection.Connection, control: multiprocessing.connection.Connection
) -> None:
    from shopfloor.cli.collect import build_collectors, run_collectors
    from shopfloor.cli.simulate import start_simulators, stop_simulators, wire_to_simulators

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def watch_parent() -> None:
        with contextlib.suppress(EOFError, OSError):
            control.recv()  # "stop", or EOF when the main process is gone
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch_parent, name="collectors-control", daemon=True).start()
    outbox = _Outbox(data)
    simulators: list[PrinterSimulator | FleetSimulator] = []
    try:
        plant = job.plant
        endpoints = tuple(
            f"modbus-tcp://{p.modbus.host}:{p.modbus.port} unit {p.modbus.unit_id}" for p in plant.printers
        ) + tuple(f.opcua.endpoint for f in plant.fleets)
        if job.simulate:
            simulators = await start_simulators(
                plant,
                {"printer", "fleet"},
                time_scale=job.sim_clock.time_scale if job.sim_clock else None,
                seed=job.seed,
                loopback_free_ports=True,
                clock=job.sim_clock,
            )
            plant = wire_to_simulators(plant, simulators)
            endpoints = tuple(s.endpoint for s in simulators)
        collectors = build_collectors(plant, outbox, clock=job.clock)
    except Exception as exc:  # the reason goes to the main process, which ends the command with it
        await stop_simulators(simulators)
        outbox.put(("error", f"{type(exc).__name__}: {exc}"))
        outbox.close()
        return

    async def report_status() -> None:
        while True:
            outbox.put(("status", [(c.source, c.is_connected, c.counts()) for c in collectors]))
            await asyncio.sleep(STATUS_INTERVAL_S)

    outbox.put(("ready", plant, endpoints))
    reporter = asyncio.create_task(report_status())
    try:
        await run_collectors(collectors, stop)
    finally:
        reporter.cancel()
        outbox.put(("status", [(c.source, c.is_connected, c.counts()) for c in collectors]))
        await stop_simulators(simulators)
        outbox.close()
        log.debug("collectors' process %d done", os.getpid())
