"""The simulated fleet as a real OPC UA server (asyncua).

One ``FleetSimulator`` serves one fleet of the plant model: it owns the
asyncua ``Server`` (the only object here that touches sockets), steps the
pure ``FleetProcess`` in fixed simulated steps until it catches up with the
clock, and writes every value that changed with the simulated time as its
source timestamp. Fault injection works on the live server so that real
clients see what a misbehaving robot controller would show them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlparse

from asyncua import Server, ua

from shopfloor.models.calendar import from_ns
from shopfloor.models.plant import Fleet, Plant
from shopfloor.models.timebase import NS_PER_S, Clock
from shopfloor.simulators.clock import SimClock
from shopfloor.simulators.fleet.address_space import RobotNodes, build_address_space, to_variant
from shopfloor.simulators.fleet.faults import FaultState, Key, status_code_from_name
from shopfloor.simulators.fleet.process import FleetProcess
from shopfloor.simulators.fleet.security import FleetSecurity, apply_security, ensure_server_certificate

log = logging.getLogger("shopfloor.simulators.fleet")

DEFAULT_UPDATE_INTERVAL_S = 0.1  # wall seconds between catch-ups with the clock
# A long catch-up (a fast clock after a stall, a manual clock moved by hours) steps the model in slices and lets
# the event loop run between them, so the server it shares the loop with keeps answering its clients.
CATCHUP_SLICE_S = 0.02  # wall seconds of stepping before yielding
CATCHUP_CHUNK_STEPS = 100  # steps between looks at the wall clock
_UNSIGNED_LIMITS = {ua.VariantType.UInt16: 0xFFFF, ua.VariantType.UInt32: 0xFFFFFFFF}


def default_clock(time_scale: float) -> Clock:
    """The project's SimClock (simulators/clock.py) running ``time_scale`` times real time.

    It starts at the current whole second, so with whole-second steps every
    source timestamp is a whole second too (OPC UA DateTime keeps only 100 ns).
    """
    start_ns = time.time_ns() // NS_PER_S * NS_PER_S
    return SimClock(start_ns=start_ns, time_scale=time_scale)


class _StallableTransports(list[Any]):
    """Stands in for asyncua's list of open transports, to stall new connections too.

    asyncua appends every accepted transport here in ``connection_made``,
    before any byte is read, so pausing it there means a stalled server
    never answers even the Hello of a client that connects during the stall.
    """

    def __init__(self, faults: FaultState) -> None:
        super().__init__()
        self._faults = faults

    def append(self, transport: Any) -> None:
        super().append(transport)
        if self._faults.stalled:
            transport.pause_reading()

    def set_reading(self, reading: bool) -> None:
        for transport in list(self):
            if transport.is_closing():
                continue
            if reading and not transport.is_reading():
                transport.resume_reading()
            elif not reading and transport.is_reading():
                transport.pause_reading()


class FleetSimulator:
    """A fleet of EV-charging robots behind an OPC UA server.

    Without ``security`` the plant file's endpoint decides; ``password`` is then its user's,
    read from ``password_env`` where the process starts.
    """

    def __init__(
        self,
        plant: Plant,
        fleet_id: str | None = None,
        *,
        endpoint: str | None = None,
        port: int | None = None,
        seed: int | None = None,
        time_scale: float | None = None,
        clock: Clock | None = None,
        security: FleetSecurity | None = None,
        password: str | None = None,
        step_s: float = 1.0,
        update_interval_s: float = DEFAULT_UPDATE_INTERVAL_S,
    ) -> None:
        if not plant.fleets:
            raise ValueError("the plant has no fleets to simulate")
        self.plant = plant
        self.fleet: Fleet = plant.fleets[0] if fleet_id is None else plant.fleet(fleet_id)
        url = urlparse(endpoint or self.fleet.opcua.endpoint)
        if url.scheme != "opc.tcp" or not url.hostname:
            raise ValueError(f"endpoint must look like opc.tcp://host:port/path, got {endpoint!r}")
        if port is not None and not 0 <= port <= 65535:
            raise ValueError(f"port must be 0 (any free port) to 65535, got {port}")
        self._host: str = url.hostname
        self._port: int = port if port is not None else (url.port if url.port is not None else 4840)
        self._path: str = url.path
        scale = plant.simulation.time_scale if time_scale is None else time_scale
        if not (scale > 0 and math.isfinite(scale)):
            raise ValueError(f"time_scale must be a positive number, got {time_scale!r}")
        self.time_scale = scale
        self.clock: Clock = clock if clock is not None else default_clock(scale)
        # Simulated time starts on the step grid (whole seconds for 1 s steps), so every source
        # timestamp is exact in OPC UA's 100 ns DateTime and identical for every client.
        step_ns = round(step_s * NS_PER_S)
        start_ns = self.clock.now_ns() // step_ns * step_ns if step_ns > 0 else self.clock.now_ns()
        self._process = FleetProcess(plant, self.fleet.id, seed=seed, start_ns=start_ns, step_s=step_s)
        self.security = security if security is not None else FleetSecurity.from_endpoint(self.fleet.opcua, password)
        self.update_interval_s = update_interval_s
        self._faults = FaultState()
        self._published: dict[Key, Any] = {}
        self._server: Server | None = None
        self._transports: _StallableTransports | None = None
        self._nodes: dict[str, RobotNodes] = {}
        self._namespace_index: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # one writer of the address space at a time
        self._workdir: tempfile.TemporaryDirectory[str] | None = None

    # ------------------------------------------------------------------ properties

    @property
    def process(self) -> FleetProcess:
        return self._process

    @property
    def endpoint(self) -> str:
        """The URL clients connect to (the real port once started, also when port 0 was asked)."""
        return f"opc.tcp://{self._host}:{self._port}{self._path}"

    @property
    def port(self) -> int:
        return self._port

    @property
    def namespace_index(self) -> int:
        if self._namespace_index is None:
            raise RuntimeError("the simulator has not been started")
        return self._namespace_index

    @property
    def server(self) -> Server:
        if self._server is None:
            raise RuntimeError("the simulator has not been started")
        return self._server

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def server_certificate(self) -> Path | None:
        """The certificate clients should pin (None while only SecurityPolicy None is offered)."""
        if not self.security.needs_certificate:
            return None
        return ensure_server_certificate(self.security, self._work_path()).certificate

    def node_id(self, robot_id: str, variable_name: str) -> ua.NodeId:
        """Node id served for a robot variable (field name or browse name)."""
        robot_id, name = self._key(robot_id, variable_name)
        return self._nodes[robot_id].variables[name]

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name(f"{self.fleet.name} (simulator)")
        await server.set_application_uri(self.security.application_uri)
        self._transports = _StallableTransports(self._faults)
        server.iserver.asyncio_transports = self._transports
        certificate = None
        if self.security.needs_certificate:
            certificate = ensure_server_certificate(self.security, self._work_path())
        await apply_security(server, self.security, certificate, self._work_path() / "trusted")
        self._namespace_index, self._nodes = await build_address_space(server, self.fleet)
        self._server = server
        self._published.clear()
        try:
            self._process.run_until(self.clock.now_ns())
            await self._publish(force=True)
            await server.start()
        except BaseException:
            self._server = None
            raise
        if server.bserver is not None and self._port == 0:
            self._port = server.bserver.port
            self._rewrite_endpoint_urls(server)
        self._task = asyncio.create_task(self._run(), name=f"fleet-simulator-{self.fleet.id}")
        log.info("fleet %s: %d robots served on %s", self.fleet.id, len(self.fleet.robots), self.endpoint)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        server, self._server = self._server, None
        if server is not None:
            # Paused transports never see their close completing: let them go first.
            if self._transports is not None:
                self._transports.set_reading(True)
            await server.stop()
            log.info("fleet %s: server on %s stopped", self.fleet.id, self.endpoint)

    async def restart(self) -> None:
        """Stop and start again on the same port with the same model (a controller reboot)."""
        await self.stop()
        await self.start()

    async def __aenter__(self) -> FleetSimulator:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # ------------------------------------------------------------------ stepping and publishing

    async def sync(self) -> int:
        """Step the model up to the clock and publish what changed; return the number of steps taken."""
        async with self._lock:
            steps = await self._catch_up(self.clock.now_ns())
            if self._server is not None and not self._faults.stalled:
                await self._publish()
            return steps

    async def _catch_up(self, t_ns: int) -> int:
        """Step the model up to ``t_ns``, yielding to the event loop every ``CATCHUP_SLICE_S`` of stepping.

        Only the moments of the yields depend on the machine's speed: the steps are the same fixed
        steps, and nothing is published before the model has reached ``t_ns``.
        """
        steps = 0
        slice_start = time.monotonic()
        while True:
            taken = self._process.run_until(t_ns, max_steps=CATCHUP_CHUNK_STEPS)
            steps += taken
            if taken < CATCHUP_CHUNK_STEPS:
                return steps
            if time.monotonic() - slice_start >= CATCHUP_SLICE_S:
                await asyncio.sleep(0)
                slice_start = time.monotonic()

    async def _run(self) -> None:
        while True:
            try:
                await self.sync()
            except Exception:  # one failed update must not stop the device
                log.exception("fleet %s: update failed", self.fleet.id)
            await asyncio.sleep(self._sleep_s())

    def _sleep_s(self) -> float:
        """Until the next step is due on the clock, but never longer than the update interval."""
        due_ns = self._process.now_ns + self._process.step_ns - self.clock.now_ns()
        wall_s = due_ns / NS_PER_S / self.time_scale
        return min(self.update_interval_s, max(0.001, wall_s))

    async def _publish(self, *, force: bool = False) -> None:
        source_ts = from_ns(self._process.now_ns)
        server_ts = dt.datetime.now(dt.UTC)
        for robot in self._process.robots:
            nodes = self._nodes[robot.robot_id]
            values = robot.values()
            for name, node_id in nodes.variables.items():
                key = (robot.robot_id, name)
                if name not in values or self._faults.overridden(key):
                    continue  # extra variables the model does not know keep their initial value
                variant = to_variant(values[name], nodes.variant_types[name])
                if not force and self._published.get(key) == variant.Value:
                    continue  # unchanged values are not rewritten: subscriptions see real changes only
                dv = ua.DataValue(variant, SourceTimestamp=source_ts, ServerTimestamp=server_ts)  # type: ignore[arg-type]  # asyncua's ua.DateTime marker type stands for datetime
                await self._write(node_id, dv)
                self._published[key] = variant.Value

    async def _write(self, node_id: ua.NodeId, value: ua.DataValue) -> None:
        status = await self.server.iserver.aspace.write_attribute_value(node_id, ua.AttributeIds.Value, value)
        if not status.is_good():
            raise RuntimeError(f"writing {node_id.to_string()} failed: {status.name}")

    # ------------------------------------------------------------------ fault injection

    async def inject_drop_connections(self) -> int:
        """Close every client session and abort its TCP connection now; return how many were dropped."""
        server = self.server
        clients = list(server.bserver.clients) if server.bserver is not None else []
        for protocol in clients:
            session = protocol.processor.session if protocol.processor is not None else None
            if session is not None:
                await session.close_session(True)
            if protocol.transport is not None:
                protocol.transport.abort()
        log.info("fleet %s: dropped %d connections", self.fleet.id, len(clients))
        return len(clients)

    async def inject_stall(self, active: bool) -> None:
        """Stop (or resume) answering requests and publishing values, keeping connections open.

        While stalled the server reads nothing from its sockets (requests and
        new Hellos queue up unanswered, so clients time out) and writes no
        value, so subscriptions see no data change. The model keeps running:
        on resume the current values are published.
        """
        async with self._lock:
            self._faults.stalled = active
            if self._transports is not None:
                self._transports.set_reading(not active)
        if not active:
            await self.sync()

    async def inject_bad_status(self, robot_id: str, variable_name: str, status_code_name: str | None) -> None:
        """Serve a variable with a bad StatusCode and no value (None: back to the model's value)."""
        key = self._key(robot_id, variable_name)
        async with self._lock:
            if status_code_name is None:
                self._faults.bad_status.pop(key, None)
                self._published.pop(key, None)
                await self._publish()
                return
            status = status_code_from_name(status_code_name)
            self._faults.bad_status[key] = status
            self._published.pop(key, None)
            await self._write(
                self.node_id(*key),
                ua.DataValue(
                    None,
                    StatusCode=status,
                    SourceTimestamp=from_ns(self._process.now_ns),  # type: ignore[arg-type]  # asyncua's ua.DateTime marker type stands for datetime
                    ServerTimestamp=dt.datetime.now(dt.UTC),  # type: ignore[arg-type]  # asyncua's ua.DateTime marker type stands for datetime
                ),
            )

    async def inject_value(self, robot_id: str, variable_name: str, value: float | int | bool) -> None:
        """Serve ``value`` (e.g. a state of charge of 150 %, or NaN) instead of the model's, until cleared."""
        key = self._key(robot_id, variable_name)
        variant_type = self._nodes[key[0]].variant_types[key[1]]
        limit = _UNSIGNED_LIMITS.get(variant_type)
        given: object = value  # checked at run time too: not every caller is type-checked
        if limit is not None and not (isinstance(given, int | float) and 0 <= given <= limit):
            raise ValueError(f"{key[1]} is {variant_type.name}: a value must be 0..{limit}, got {value!r}")
        async with self._lock:
            self._faults.forced_values[key] = value
            self._published.pop(key, None)
            await self._write(
                self.node_id(*key),
                ua.DataValue(
                    to_variant(value, variant_type),
                    SourceTimestamp=from_ns(self._process.now_ns),  # type: ignore[arg-type]  # asyncua's ua.DateTime marker type stands for datetime
                    ServerTimestamp=dt.datetime.now(dt.UTC),  # type: ignore[arg-type]  # asyncua's ua.DateTime marker type stands for datetime
                ),
            )

    async def clear_faults(self) -> None:
        """End every injected fault; the model's current values are served again."""
        async with self._lock:
            for key in self._faults.clear():
                self._published.pop(key, None)
            if self._transports is not None:
                self._transports.set_reading(True)
        await self.sync()

    # ------------------------------------------------------------------ helpers

    def _key(self, robot_id: str, variable_name: str) -> Key:
        robot = next((r for r in self.fleet.robots if r.id == robot_id), None)
        if robot is None:
            raise KeyError(f"fleet {self.fleet.id!r} has no robot {robot_id!r}")
        for variable in self.fleet.variables:
            if variable_name in (variable.name, variable.browse_name):
                return robot.id, variable.name
        raise KeyError(f"fleet {self.fleet.id!r} has no variable {variable_name!r}")

    def _work_path(self) -> Path:
        if self._workdir is None:
            self._workdir = tempfile.TemporaryDirectory(prefix=f"fleet-sim-{self.fleet.id}-")
        return Path(self._workdir.name)

    def _rewrite_endpoint_urls(self, server: Server) -> None:
        """asyncua fixed the endpoint descriptions before the OS chose the port: put the real URL in."""
        url = self.endpoint
        server.set_endpoint(url)
        for description in server.iserver.endpoints:
            description.EndpointUrl = url
            description.Server.DiscoveryUrls = [url]
