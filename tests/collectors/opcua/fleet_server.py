"""A real asyncua fleet server on a free loopback port, with the faults the collector must survive.

The address space follows the plant model exactly as the fleet simulator's
(``Objects/Robots/R01/<browse name>``, node ids from ``Fleet.node_id``), but
values are set by the test, so every assertion compares against a value and
a source timestamp the test chose. Security reuses the simulator's helpers.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from asyncua import Node, Server, ua
from asyncua.common.utils import ServiceError

from shopfloor.models.plant import Fleet, Robot
from shopfloor.simulators.fleet.address_space import VARIANT_TYPES
from shopfloor.simulators.fleet.security import FleetSecurity, apply_security, ensure_server_certificate


def expected_value(fleet: Fleet, robot_index: int, field: str) -> float:
    """A distinct, in-range value per (robot, variable), so a mix-up cannot go unnoticed."""
    variable = fleet.variable(field)
    span_top = variable.max if variable.max is not None else 1000.0
    span_bottom = variable.min if variable.min is not None else 0.0
    names = [v.name for v in fleet.variables]
    raw = (robot_index * 7 + names.index(field) * 3) % int(span_top - span_bottom + 1)
    return float(span_bottom + raw)


def source_time(robot_index: int, field_index: int) -> dt.datetime:
    """A source timestamp unlike "now", so a collector that stamps on receipt is caught."""
    base = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)
    return base + dt.timedelta(seconds=robot_index, milliseconds=field_index * 10 + 1)


class FleetServer:
    def __init__(self, fleet: Fleet, workdir: Path, security: FleetSecurity | None = None) -> None:
        self.fleet = fleet
        self.workdir = workdir
        self.security = security
        self.port = 0  # chosen by the OS on first start, kept across restarts
        self.server: Server | None = None
        self.ns_index = 0
        self._robots_folder: Node | None = None
        self.node_ids: dict[tuple[str, str], ua.NodeId] = {}
        self.stalled = False
        # Status with which CreateSubscription is refused (None: subscriptions work); kept across restarts.
        self.subscription_refusal: str | None = None
        # Serve numeric node ids from here instead of the plan's (a server that renumbered its nodes).
        self.numeric_ids_from: int | None = None

    @property
    def url(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}/fleet"

    async def start(self, *, without: tuple[str, ...] = ()) -> None:
        """Start serving every robot except those in ``without`` (add them later with :meth:`add_robot`)."""
        server = Server()
        await server.init()
        server.set_endpoint(self.url)
        server.set_server_name("test fleet server")
        self._apply_refusal(server)
        if self.security is not None:
            cert = ensure_server_certificate(self.security, self.workdir) if self.security.needs_certificate else None
            await apply_security(server, self.security, cert, self.workdir / "trusted")
        self.ns_index = await server.register_namespace(self.fleet.opcua.namespace_uri)
        self._robots_folder = await server.nodes.objects.add_folder(
            ua.NodeId("Robots", self.ns_index), ua.QualifiedName("Robots", self.ns_index)
        )
        self.server = server
        self.node_ids = {}
        for robot in self.fleet.robots:
            if robot.id not in without:
                await self.add_robot(robot.id)
        await server.start()
        if self.port == 0:
            assert server.bserver is not None
            self.port = server.bserver.port
        self.stalled = False

    def refuse_subscriptions(self, status: str | None) -> None:
        """Make CreateSubscription fail with ``status`` as a ServiceFault (None: serve subscriptions again).

        ``BadTooManySubscriptions`` uses asyncua's own limit (``max_subscriptions = 0``), the way a
        server at its limit answers; any other status (``BadServiceUnsupported``: a server without the
        subscription service set) is raised by the server's subscription service itself. Either way
        the refusal crosses the wire as the server's answer to a real request.
        """
        self.subscription_refusal = status
        if self.server is not None:
            self._apply_refusal(self.server)

    def _apply_refusal(self, server: Server) -> None:
        status = self.subscription_refusal
        iserver = server.iserver
        service = iserver.subscription_service
        service.__dict__.pop("create_subscription", None)  # back to the class's method
        iserver.max_subscriptions = 1_000
        if status == "BadTooManySubscriptions":
            iserver.max_subscriptions = 0
        elif status is not None:
            code = getattr(ua.StatusCodes, status)

            async def refuse(*_args: Any, **_kwargs: Any) -> ua.CreateSubscriptionResult:
                raise ServiceError(code)

            service.create_subscription = refuse

    async def add_robot(self, robot_id: str) -> None:
        assert self.server is not None and self._robots_folder is not None
        robot = next(r for r in self.fleet.robots if r.id == robot_id)
        index = self.fleet.robots.index(robot)
        name = self.fleet.robot_browse_name(robot)
        obj = await self._robots_folder.add_object(
            ua.NodeId(f"Robots.{name}", self.ns_index), ua.QualifiedName(name, self.ns_index)
        )
        for f_index, variable in enumerate(self.fleet.variables):
            node_id = (
                self._node_id(robot, variable.name)
                if self.numeric_ids_from is None
                else ua.NodeId(self.numeric_ids_from + 100 * index + f_index, self.ns_index)
            )
            vtype = VARIANT_TYPES[variable.variant_type]
            await obj.add_variable(
                node_id,
                ua.QualifiedName(variable.browse_name, self.ns_index),
                ua.Variant(self._typed(0, vtype), vtype),
                vtype,
            )
            self.node_ids[(robot.id, variable.name)] = node_id
            await self.set_value(
                robot.id, variable.name, expected_value(self.fleet, index, variable.name), source_time(index, f_index)
            )

    def _node_id(self, robot: Robot, field: str) -> ua.NodeId:
        uri, identifier = self.fleet.node_id(robot, self.fleet.variable(field))
        assert uri == self.fleet.opcua.namespace_uri, "the test server serves template node ids only"
        return ua.NodeId.from_string(f"ns={self.ns_index};{identifier}")

    @staticmethod
    def _typed(value: float, vtype: ua.VariantType) -> float | int | bool:
        if vtype is ua.VariantType.Boolean:
            return bool(value)
        if vtype in (ua.VariantType.Double, ua.VariantType.Float):
            return float(value)
        return int(value)

    async def set_value(
        self, robot_id: str, field: str, value: float, source_ts: dt.datetime | None = None, status: str = "Good"
    ) -> None:
        """Write a value (as the variable's type) with a source timestamp and a status code."""
        assert self.server is not None
        vtype = VARIANT_TYPES[self.fleet.variable(field).variant_type]
        dv = ua.DataValue(
            Value=ua.Variant(self._typed(value, vtype), vtype),
            StatusCode=ua.StatusCode(getattr(ua.StatusCodes, status)),
            SourceTimestamp=source_ts or dt.datetime.now(dt.UTC),
            ServerTimestamp=dt.datetime.now(dt.UTC),
        )
        await self.server.write_attribute_value(self.node_ids[(robot_id, field)], dv)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None

    async def restart(self, *, without: tuple[str, ...] = ()) -> None:
        await self.stop()
        await self.start(without=without)

    def drop_connections(self) -> int:
        """Close every client socket, as a flaky network or a server crash would."""
        assert self.server is not None
        transports = list(self.server.iserver.asyncio_transports)
        for transport in transports:
            transport.close()
        return len(transports)

    def stall(self) -> int:
        """Stop reading from every connected client: requests go unanswered, sockets stay open."""
        assert self.server is not None
        transports = list(self.server.iserver.asyncio_transports)
        for transport in transports:
            transport.pause_reading()
        self.stalled = True
        return len(transports)
